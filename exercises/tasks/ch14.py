"""Exercises for the chapter "Upsampling done right": pixel shuffle and pixel unshuffle with
reshapes and transposes, and the bilinear kernel that makes a transposed convolution a bilinear
upsampling.

References are ``convlib.functional.pixel_shuffle`` / ``pixel_unshuffle`` / ``bilinear_kernel``
(tested against PyTorch and FCN's ``upsample_filt`` in tests/); every diagnosis recomputes the
output one specific mistake gives.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake
from exercises.rules import library, no_loops

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch14", "Upsampling done right", notebook="ch14_upsampling")


def _ints(rng, *shape, low=-9, high=9, dtype=np.float64):
    """Small whole numbers (as floats): easy to read in a message."""
    return rng.integers(low, high + 1, size=shape).astype(dtype)


# ---- q1: pixel shuffle -------------------------------------------------------------------------
def _ref_shuffle(x, upscale_factor):
    return F.pixel_shuffle(x, upscale_factor)


def _cases_shuffle(rng):
    return [
        Case("4 channels of one pixel -> one 2x2 image", (np.arange(4.0).reshape(1, 4, 1, 1), 2)),
        Case("4 channels of 2x2 -> one 4x4 channel", (np.arange(16.0).reshape(1, 4, 2, 2), 2)),
        Case("8 channels -> 2 output channels (two blocks of 4)", (np.arange(48.0).reshape(1, 8, 2, 3), 2)),
        Case("a batch of two, r = 3 (9 channels per block)", (_ints(rng, 2, 18, 2, 2), 3)),
        Case("r = 1 changes nothing", (_ints(rng, 1, 3, 2, 4), 1)),
        Case("non-square 3x5 maps, r = 2, 3 output channels", (_ints(rng, 2, 12, 3, 5), 2)),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 8, 3, 3)).astype(np.float32), 2)),
    ]


def _shuffle_with(order):
    """A pixel shuffle that reads the channel axis as ``order`` (a permutation of "cij") and
    lays out the output with axes ``(N, c, h, i, w, j)``."""
    def wrong(ref, a):
        x, r = a["x"], a["upscale_factor"]
        n, cin, h, w = x.shape
        c = cin // (r * r)
        sizes = {"c": c, "i": r, "j": r}
        if r == 1 or order == "cij" or (c == 1 and order[0] == "i"):
            return None
        v = x.reshape((n,) + tuple(sizes[a] for a in order) + (h, w))
        pos = {a: 1 + order.index(a) for a in "cij"}
        out = v.transpose(0, pos["c"], 4, pos["i"], 5, pos["j"])
        return out.reshape(n, c, h * r, w * r)
    return wrong


def _shuffle_tiled(ref, a):
    x, r = a["x"], a["upscale_factor"]
    n, cin, h, w = x.shape
    if r == 1 or (h == 1 and w == 1):
        return None
    c = cin // (r * r)
    return x.reshape(n, c, r, r, h, w).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, r * h, r * w)


q1 = chapter.task(
    "q1", "pixel shuffle: channel blocks become space", function="pixel_shuffle",
    forbid=library("pixel_shuffle", "pixel_unshuffle_backward", what="the shuffle"),
    rules=[no_loops("reshapes and a transpose, no loops")],
    reference=_ref_shuffle, cases=_cases_shuffle,
    mistakes=[
        Mistake("the two sub-pixel axes swapped", (
            "your sub-pixels go column first: channel c*r*r + i*r + j must land on row "
            "h*r + i and column w*r + j of the output (i is the row offset, j the column "
            "offset). Check the order of the two r axes in your transpose."), _shuffle_with("cji")),
        Mistake("TensorFlow's channel order (depth_to_space)", (
            "you read the channels as (i, j, c): sub-pixel block first, output channel last, "
            "as TensorFlow's depth_to_space does. PyTorch's (and this book's) order is (c, i, j): "
            "input channel c*r*r + i*r + j. Reshape to (N, C, r, r, H, W), not (N, r, r, C, H, W)."),
            _shuffle_with("ijc")),
        Mistake("sub-images tiled side by side, not interleaved", (
            "you placed the r*r sub-images next to each other as blocks (out[c, i*H + h, ...]). "
            "They must be interleaved: neighbouring output pixels come from different channels, "
            "out[c, h*r + i, w*r + j]. Transpose to (N, C, H, r, W, r) before the last reshape."),
            _shuffle_tiled),
    ],
    hints=[
        "Input channel c*r*r + i*r + j holds the sub-pixel (i, j) of output channel c. So "
        "x.reshape(N, C, r, r, H, W) has axes (n, c, i, j, h, w); the output, before its last "
        "reshape, needs the axes (n, c, h, i, w, j).",
        "y = x.reshape(N, C, r, r, H, W).transpose(0, 1, 4, 2, 5, 3).reshape(N, C, H*r, W*r) "
        "with C = x.shape[1] // (r * r). The dtype stays that of x.",
    ])


# ---- q2: pixel unshuffle -----------------------------------------------------------------------
def _ref_unshuffle(x, downscale_factor):
    return F.pixel_unshuffle(x, downscale_factor)


def _cases_unshuffle(rng):
    return [
        Case("one 2x2 image -> 4 channels of one pixel", (np.arange(4.0).reshape(1, 1, 2, 2), 2)),
        Case("one 4x4 channel -> 4 channels of 2x2", (np.arange(16.0).reshape(1, 1, 4, 4), 2)),
        Case("2 channels of 4x6 -> 8 channels of 2x3", (np.arange(48.0).reshape(1, 2, 4, 6), 2)),
        Case("a batch of two, r = 3", (_ints(rng, 2, 2, 6, 6), 3)),
        Case("r = 1 changes nothing", (_ints(rng, 1, 3, 2, 4), 1)),
        Case("undoes q1: 3 channels of 6x10, r = 2", (_ints(rng, 2, 3, 6, 10), 2)),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 2, 6, 6)).astype(np.float32), 2)),
    ]


def _unshuffle_with(order):
    """A pixel unshuffle that writes the channel axis in the ``order`` (a permutation of "cij")."""
    def wrong(ref, a):
        x, r = a["x"], a["downscale_factor"]
        n, c, hr, wr = x.shape
        if r == 1 or order == "cij":
            return None
        if c == 1 and order[0] == "i":
            return None
        h, w = hr // r, wr // r
        v = x.reshape(n, c, h, r, w, r)                      # axes n, c, h, i, w, j
        src = {"c": 1, "i": 3, "j": 5}
        out = v.transpose((0,) + tuple(src[a] for a in order) + (2, 4))
        return out.reshape(n, c * r * r, h, w)
    return wrong


def _unshuffle_tiled(ref, a):
    x, r = a["x"], a["downscale_factor"]
    n, c, hr, wr = x.shape
    h, w = hr // r, wr // r
    if r == 1 or (h == 1 and w == 1):
        return None
    return x.reshape(n, c, r, h, r, w).transpose(0, 1, 2, 4, 3, 5).reshape(n, c * r * r, h, w)


q2 = chapter.task(
    "q2", "pixel unshuffle: space becomes channels", function="pixel_unshuffle",
    forbid=library("pixel_unshuffle", "pixel_shuffle_backward", what="the unshuffle"),
    rules=[no_loops("reshapes and a transpose, no loops")],
    reference=_ref_unshuffle, cases=_cases_unshuffle,
    mistakes=[
        Mistake("the two sub-pixel axes swapped", (
            "the pixel at row h*r + i, column w*r + j must go to channel c*r*r + i*r + j; yours "
            "goes to c*r*r + j*r + i. Check the order of the two r axes in your transpose."),
            _unshuffle_with("cji")),
        Mistake("TensorFlow's channel order (space_to_depth)", (
            "your channels are ordered (i, j, c), as TensorFlow's space_to_depth does. PyTorch's "
            "order is (c, i, j): channel c*r*r + i*r + j."), _unshuffle_with("ijc")),
        Mistake("cut into blocks instead of sub-pixels", (
            "you cut the image into r x r large blocks (channel i*r + j = the block at rows "
            "i*H .. i*H + H - 1). Pixel unshuffle takes every r-th pixel: channel c*r*r + i*r + j "
            "holds x[c, i::r, j::r]."), _unshuffle_tiled),
    ],
    hints=[
        "It is q1 backwards. x.reshape(N, C, H, r, W, r) has axes (n, c, h, i, w, j); the output, "
        "before its last reshape, needs (n, c, i, j, h, w). Here H = x.shape[2] // r.",
        "y = x.reshape(N, C, H, r, W, r).transpose(0, 1, 3, 5, 2, 4).reshape(N, C*r*r, H, W). "
        "Check: pixel_unshuffle(pixel_shuffle(x, r), r) gives x back.",
    ])


# ---- q3: the bilinear kernel -------------------------------------------------------------------
def _ref_bilinear(factor):
    return F.bilinear_kernel(factor)


def _tent_kernel(k, centre, width):
    t = 1.0 - np.abs(np.arange(k) - centre) / width
    return np.outer(t, t)


def _centre_int(ref, a):
    f = a["factor"]
    k = 2 * f - f % 2
    return None if k % 2 else _tent_kernel(k, k // 2, f)


def _always_2f(ref, a):
    f = a["factor"]
    return None if f % 2 == 0 else _tent_kernel(2 * f, (2 * f - 1) / 2, f)


q3 = chapter.task(
    "q3", "the bilinear kernel of an f-times upsampling", function="bilinear_kernel",
    forbid=library("bilinear_kernel", "bilinear_upsample_weight", what="the kernel"),
    reference=_ref_bilinear,
    cases=[Case("factor 2: a 4x4 kernel", (2,)), Case("factor 3: a 5x5 kernel", (3,)),
           Case("factor 4: an 8x8 kernel", (4,)), Case("factor 1: the 1x1 kernel [[1]]", (1,)),
           Case("factor 5: a 9x9 kernel", (5,))],
    mistakes=[
        Mistake("centre on a tap for an even size", (
            "for an even kernel size the centre lies BETWEEN two taps: c = (k - 1) / 2, e.g. 1.5 "
            "for k = 4, so the kernel is symmetric (1 3 3 1)/4 along each axis. Yours is centred "
            "on tap k // 2."), _centre_int),
        Mistake("normalised to sum 1", (
            "you divided the kernel by its sum. The tent is 1 - |a - c| / f without "
            "normalising: with stride f the stamps of neighbouring pixels add up to 1 in every "
            "cell, and the kernel's own sum is f * f."),
            lambda ref, a: ref(**a) / ref(**a).sum() if a["factor"] > 1 else None),
        Mistake("only one axis", (
            "you returned the 1-D tent. The 2-D kernel is the outer product of the tent with "
            "itself: np.outer(t, t), shape (k, k)."),
            lambda ref, a: 1.0 - np.abs(np.arange(ref(**a).shape[0])
                                        - (ref(**a).shape[0] - 1) / 2) / a["factor"]),
        Mistake("size 2f for an odd factor", (
            "for an odd factor the kernel has 2f - 1 taps (5 for f = 3), centred on a tap; "
            "k = 2f - f % 2."), _always_2f),
    ],
    hints=[
        "k = 2 * factor - factor % 2 taps per axis, centre c = (k - 1) / 2. Along one axis the "
        "weight of tap a is 1 - |a - c| / factor: a tent that is 1 at the centre (or 1 - 1/(2f) "
        "on the two middle taps for an even k) and falls to about 0 at the ends.",
        "t = 1 - np.abs(np.arange(k) - (k - 1) / 2) / factor, then return np.outer(t, t). For "
        "factor 2: t = [0.25, 0.75, 0.75, 0.25].",
    ])
