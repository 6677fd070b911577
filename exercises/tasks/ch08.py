"""Exercises for the chapter "Group convolution and channel shuffle": the channel shuffle as
reshape → transpose → reshape, and a group convolution built from g ordinary convolutions.

References are ``convlib.functional`` (tested against PyTorch in tests/test_shuffle.py and
tests/test_conv.py); each diagnosis recomputes the output a specific mistake produces.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from exercises.rules import library, no_keyword, no_loops
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake, bias_ignored, padding_ignored, stride_ignored

__all__ = ["chapter", "q1", "q2"]

chapter = Chapter("ch08", "Group convolution and channel shuffle", notebook="ch08_group_shuffle")


def _ints(rng, *shape, low=-3, high=3, dtype=np.float64):
    return rng.integers(low, high + 1, size=shape).astype(dtype)


# ---- q1: channel shuffle ---------------------------------------------------------------------
def _ref_shuffle(x, groups):
    return F.channel_shuffle(x, groups)


def _labelled(n, c, h=1, w=1):
    """Channel k holds the number k everywhere (plus 100 * image), so a message shows the order."""
    return (np.arange(c)[None, :, None, None] + 100 * np.arange(n)[:, None, None, None]
            + np.zeros((n, c, h, w))).astype(np.float64)


def _cases_shuffle(rng):
    return [
        Case("6 channels, 2 groups (each channel holds its own number)", (_labelled(1, 6), 2)),
        Case("12 channels, 3 groups", (_labelled(1, 12), 3)),
        Case("a batch of two 3x3 images, 8 channels, 4 groups", (_labelled(2, 8, 3, 3), 4)),
        Case("groups=1: nothing to shuffle", (_labelled(1, 4), 1)),
        Case("random float32 values, 6 channels, 3 groups, a 2x5 map",
             (rng.standard_normal((1, 6, 2, 5)).astype(np.float32), 3)),
    ]


def _swapped(ref, a):
    c, g = a["x"].shape[1], a["groups"]
    if g == c // g or c % g:
        return None
    return ref(**{**a, "groups": c // g})


def _no_transpose(ref, a):
    c, g = a["x"].shape[1], a["groups"]
    return None if g in (1, c) else a["x"].copy()


q1 = chapter.task(
    "q1", "channel shuffle", function="channel_shuffle", reference=_ref_shuffle,
    forbid=library("channel_shuffle", "ChannelShuffle", what="the shuffle"),
    rules=[no_loops("reshape, transpose, reshape and no loops")],
    cases=_cases_shuffle,
    mistakes=[
        Mistake("groups and channels per group swapped", (
            "you reshaped the channels to (C // groups, groups) before transposing: that is the "
            "INVERSE shuffle (a shuffle with C // groups groups). Reshape to (N, groups, C // groups, "
            "H, W) so that row j is group j, then swap axes 1 and 2."), _swapped),
        Mistake("no transpose", (
            "your output has the channels in their original order: a reshape alone moves nothing. "
            "Swap the two channel axes (groups and channels per group) between the two reshapes."),
            _no_transpose),
    ],
    hints=[
        "N, C, H, W = x.shape; n = C // groups. x.reshape(N, groups, n, H, W) puts group j in "
        "row j of a (groups, n) grid of channels.",
        "Transpose that grid, .transpose(0, 2, 1, 3, 4), then .reshape(N, C, H, W). Output channel "
        "i * groups + j is then input channel j * n + i.",
    ])


# ---- q2: a group convolution from g plain convolutions ---------------------------------------
def _ref_group(x, weight, bias=None, stride=1, padding=0, groups=1):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups)


def _cases_group(rng):
    return [
        Case("groups=1: an ordinary convolution", (_ints(rng, 1, 2, 4, 4), _ints(rng, 3, 2, 3, 3))),
        Case("4 -> 4 channels, 2 groups", (_ints(rng, 1, 4, 4, 4), _ints(rng, 4, 2, 3, 3)), {"groups": 2}),
        Case("6 -> 9 channels, 3 groups, with a bias",
             (_ints(rng, 1, 6, 5, 5), _ints(rng, 9, 2, 3, 3), _ints(rng, 9)), {"groups": 3}),
        Case("3 -> 6 channels, 3 groups (depthwise with multiplier 2)",
             (_ints(rng, 1, 3, 4, 4), _ints(rng, 6, 1, 3, 3)), {"groups": 3}),
        Case("a batch of two, 4 -> 6 channels, 2 groups, stride=2, padding=1",
             (_ints(rng, 2, 4, 6, 6), _ints(rng, 6, 2, 3, 3), _ints(rng, 6)),
             {"stride": 2, "padding": 1, "groups": 2}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 4, 5, 5)).astype(np.float32),
              rng.standard_normal((4, 2, 3, 3)).astype(np.float32)), {"groups": 2}),
    ]


def _interleaved(ref, a):
    c, g = a["x"].shape[1], a["groups"]
    if g in (1, c):
        return None
    order = np.concatenate([np.arange(j, c, g) for j in range(g)])    # x[:, j::g] for group j
    return ref(**{**a, "x": a["x"][:, order]})


def _outputs_interleaved(ref, a):
    out = ref(**a)
    cout, g = out.shape[1], a["groups"]
    if g in (1, cout):
        return None
    # position i * g + j holds output i of group j, i.e. channel j * (C_out / g) + i
    return out[:, np.arange(cout).reshape(g, cout // g).T.reshape(-1)]


q2 = chapter.task(
    "q2", "group convolution from g ordinary convolutions", function="group_conv2d",
    forbid=library("conv2d_backward", what="the grouping"),
    rules=[no_keyword("groups", "the task says: call conv2d with its default groups=1, once per group, so that the grouping is yours")],
    reference=_ref_group, cases=_cases_group,
    mistakes=[
        Mistake("input channels split by stride, not in blocks", (
            "group j got the input channels x[:, j::groups] (every groups-th channel). PyTorch's "
            "groups are contiguous blocks: group j is x[:, j*C_in/g : (j+1)*C_in/g]."), _interleaved),
        Mistake("outputs interleaved", (
            "your output channels are interleaved between groups. Concatenate the g results one "
            "after the other along the channel axis: group j fills output channels "
            "j*C_out/g to (j+1)*C_out/g - 1."), _outputs_interleaved),
        bias_ignored(), stride_ignored(), padding_ignored(),
    ],
    hints=[
        "cin_g = x.shape[1] // groups and cout_g = weight.shape[0] // groups. Group j uses the "
        "input channels x[:, j*cin_g:(j+1)*cin_g] and the filters weight[j*cout_g:(j+1)*cout_g] "
        "(and bias[j*cout_g:(j+1)*cout_g]).",
        "Call conv2d(x_j, w_j, b_j, stride=stride, padding=padding) (groups left at 1) for each "
        "j and join the g results with np.concatenate(results, axis=1).",
    ])
