"""Exercises for Part III's first chapters: "Residual connections", "Inverted residuals and
linear bottlenecks" and "Bottleneck blocks".

The references run PyTorch (float64) on the learner's arguments; q3's is
``convlib.cost.count_macs`` on a ``convlib.blocks.Bottleneck`` built on the meta device. No
BatchNorm in q1/q2: the weights are given and the blocks are "folded" (BN absorbed), so the
learner writes only convolutions, activations and the shortcut. See ``exercises/checking.py``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as tF

from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch10", "Building blocks: residual, inverted residual, bottleneck",
                  notebook="ch10_blocks")


def _t(a):
    return None if a is None else torch.from_numpy(np.asarray(a))


def _np(t, like):
    return t.numpy().astype(np.asarray(like).dtype)


# ---- q1: a residual block -------------------------------------------------------------------
def _ref_residual(x, w1, w2, w_shortcut=None, stride=1):
    return _residual(x, w1, w2, w_shortcut, stride)


def _residual(x, w1, w2, w_shortcut=None, stride=1, relu_before_add=False, final_relu=True,
              skip=True):
    xt = _t(x)
    f = torch.relu(tF.conv2d(xt, _t(w1), stride=stride, padding=1))
    f = tF.conv2d(f, _t(w2), padding=1)
    if relu_before_add:
        f = torch.relu(f)
    s = xt if w_shortcut is None else tF.conv2d(xt, _t(w_shortcut), stride=stride)
    out = f + s if skip else f
    return _np(torch.relu(out) if final_relu else out, x)


def _cases_residual(rng):
    def w(*shape):
        return rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
    return [
        Case("identity shortcut, 4 channels, 6x6", (rng.standard_normal((1, 4, 6, 6)), w(4, 4, 3, 3),
                                                     w(4, 4, 3, 3))),
        Case("a batch of two, 3 channels", (rng.standard_normal((2, 3, 5, 5)), w(3, 3, 3, 3),
                                            w(3, 3, 3, 3))),
        Case("projection shortcut: 4 -> 6 channels, stride 1",
             (rng.standard_normal((1, 4, 6, 6)), w(6, 4, 3, 3), w(6, 6, 3, 3), w(6, 4, 1, 1))),
        Case("projection shortcut with stride 2: 4 -> 8 channels, 8x8 -> 4x4",
             (rng.standard_normal((2, 4, 8, 8)), w(8, 4, 3, 3), w(8, 8, 3, 3), w(8, 4, 1, 1)),
             {"stride": 2}),
        Case("odd size with stride 2: 7x7 -> 4x4",
             (rng.standard_normal((1, 2, 7, 7)), w(4, 2, 3, 3), w(4, 4, 3, 3), w(4, 2, 1, 1)),
             {"stride": 2}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 3, 5, 5)).astype(np.float32),
              w(3, 3, 3, 3).astype(np.float32), w(3, 3, 3, 3).astype(np.float32))),
    ]


q1 = chapter.task(
    "q1", "a residual block's forward pass", function="residual_block",
    forbid=library("blocks", "BasicBlock", "Residual", what="the block"),
    reference=_ref_residual, cases=_cases_residual,
    mistakes=[
        Mistake("ReLU before the addition", (
            "you applied a ReLU to F(x) before adding the shortcut. The second convolution goes "
            "into the sum as it is; the ReLU comes after: y = relu(F(x) + S(x))."),
            lambda ref, a: _residual(**a, relu_before_add=True)),
        Mistake("no ReLU after the addition", (
            "your output can be negative: the block ends with a ReLU applied to the sum, "
            "y = relu(F(x) + S(x))."), lambda ref, a: _residual(**a, final_relu=False)),
        Mistake("shortcut missing", (
            "your output is relu(F(x)) without the shortcut. Add S(x) (x itself, or the 1x1 "
            "projection of x when w_shortcut is given) before the last ReLU."),
            lambda ref, a: _residual(**a, skip=False)),
        Mistake("ReLU before the addition, and no ReLU after it", (
            "you computed relu(F(x)) + S(x). The order is the other way round: "
            "y = relu(F(x) + S(x))."), lambda ref, a: _residual(**a, relu_before_add=True, final_relu=False)),
    ],
    hints=[
        "F(x) = conv(relu(conv(x, w1, stride, padding 1)), w2, stride 1, padding 1). The shortcut "
        "S(x) is x when w_shortcut is None, else conv(x, w_shortcut, stride, padding 0). "
        "y = relu(F(x) + S(x)). You may use convlib.functional.conv2d.",
        "from convlib.functional import conv2d; f = np.maximum(conv2d(x, w1, stride=stride, "
        "padding=1), 0); f = conv2d(f, w2, padding=1); s = x if w_shortcut is None else "
        "conv2d(x, w_shortcut, stride=stride); return np.maximum(f + s, 0).",
    ])


# ---- q2: an inverted residual -----------------------------------------------------------------
def _ref_inverted(x, w_expand, w_depthwise, w_project, stride=1):
    return _inverted(x, w_expand, w_depthwise, w_project, stride)


def _inverted(x, w_expand, w_depthwise, w_project, stride=1, act_after_project=False,
              skip=True, relu6=True):
    act = (lambda t: tF.relu6(t)) if relu6 else torch.relu
    h = _t(x)
    if w_expand is not None:
        h = act(tF.conv2d(h, _t(w_expand)))
    hidden = w_depthwise.shape[0]
    h = act(tF.conv2d(h, _t(w_depthwise), stride=stride, padding=1, groups=hidden))
    out = tF.conv2d(h, _t(w_project))
    if act_after_project:
        out = act(out)
    if skip and stride == 1 and x.shape[1] == w_project.shape[0]:
        out = out + _t(x)
    return _np(out, x)


def _cases_inverted(rng):
    def w(*shape, scale=1.0):
        return scale * rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
    return [
        Case("4 channels, expansion 3, stride 1: with the residual",
             (rng.standard_normal((1, 4, 5, 5)), w(12, 4, 1, 1), w(12, 1, 3, 3), w(4, 12, 1, 1))),
        Case("no expansion conv (w_expand is None, ratio 1)",
             (rng.standard_normal((1, 6, 5, 5)), None, w(6, 1, 3, 3), w(6, 6, 1, 1))),
        Case("4 -> 6 channels: shapes differ, so no residual",
             (rng.standard_normal((2, 4, 6, 6)), w(16, 4, 1, 1), w(16, 1, 3, 3), w(6, 16, 1, 1))),
        Case("stride 2, 4 -> 4 channels: no residual either",
             (rng.standard_normal((1, 4, 7, 7)), w(8, 4, 1, 1), w(8, 1, 3, 3), w(4, 8, 1, 1)),
             {"stride": 2}),
        Case("large activations: ReLU6 clips at 6",
             (4 * rng.standard_normal((1, 3, 5, 5)), w(9, 3, 1, 1, scale=4.0), w(9, 1, 3, 3, scale=3.0),
              w(3, 9, 1, 1))),
        Case("float32 input", (rng.standard_normal((1, 4, 5, 5)).astype(np.float32),
                               w(8, 4, 1, 1).astype(np.float32), w(8, 1, 3, 3).astype(np.float32),
                               w(4, 8, 1, 1).astype(np.float32))),
    ]


q2 = chapter.task(
    "q2", "an inverted residual with a linear bottleneck", function="inverted_residual",
    forbid=library("blocks", "InvertedResidual", what="the block"),
    reference=_ref_inverted, cases=_cases_inverted,
    mistakes=[
        Mistake("activation after the projection", (
            "your last 1x1 convolution is followed by an activation. That is exactly what "
            "MobileNetV2 avoids: the projection is LINEAR (a ReLU in the narrow space destroys "
            "information). Remove it."), lambda ref, a: _inverted(**a, act_after_project=True)),
        Mistake("residual missing", (
            "with stride 1 and as many output channels as input channels, the block adds its "
            "input: out = project(...) + x."), lambda ref, a: _inverted(**a, skip=False)),
        Mistake("ReLU instead of ReLU6", (
            "your activations are not clipped at 6. MobileNetV2 uses ReLU6: "
            "np.clip(t, 0, 6)."), lambda ref, a: _inverted(**a, relu6=False)),
    ],
    hints=[
        "Three steps: (1) if w_expand is not None, h = relu6(conv1x1(x, w_expand)); (2) h = "
        "relu6(depthwise 3x3 of h with stride, padding 1) - a conv with groups = number of "
        "channels, weight (hidden, 1, 3, 3); (3) out = conv1x1(h, w_project) with NO "
        "activation. Add x only if stride == 1 and the channel counts match.",
        "With convlib.functional: conv2d(h, w_depthwise, stride=stride, padding=1, "
        "groups=w_depthwise.shape[0]). relu6 is np.clip(t, 0, 6). The residual condition: "
        "stride == 1 and x.shape[1] == w_project.shape[0].",
    ])


# ---- q3: the multiply-adds of a bottleneck, by formula ----------------------------------------
def _ref_macs(in_channels, planes, height, width, stride=1, groups=1, width_per_group=64):
    from convlib.blocks import Bottleneck
    from convlib.cost import count_macs

    with torch.device("meta"):
        block = Bottleneck(in_channels, planes, stride, groups, width_per_group)
    return int(count_macs(block, (1, in_channels, height, width)))


def _macs_variant(**change):
    def wrong(ref, a):
        cin, planes, h, w = a["in_channels"], a["planes"], a["height"], a["width"]
        s, g, wpg = a["stride"], a["groups"], a["width_per_group"]
        mid = int(planes * wpg / 64) * g
        out = 4 * planes
        ho, wo = (h - 1) // s + 1, (w - 1) // s + 1
        g_used = 1 if change.get("no_groups") else g
        total = h * w * cin * mid + ho * wo * 9 * (mid // g_used) * mid + ho * wo * mid * out
        if change.get("stride_ignored"):
            total = h * w * (cin * mid + 9 * (mid // g_used) * mid + mid * out)
        needs_projection = s != 1 or cin != out
        if needs_projection and not change.get("no_projection"):
            total += (h * w if change.get("stride_ignored") else ho * wo) * cin * out
        if change.get("no_projection") and not needs_projection:
            return None
        return total
    return wrong


q3 = chapter.task(
    "q3", "the multiply-adds of a bottleneck, by formula", function="bottleneck_macs",
    forbid=library("Bottleneck", "blocks", "count_macs", "profile", "cost",
                   what="the count (the task says: do not build the block)"),
    reference=_ref_macs,
    cases=[
        Case("ResNet-50 stage 1: 256 in, 64 planes, 56x56", (256, 64, 56, 56)),
        Case("the first block of ResNet-50: 64 in, 64 planes (projection to 256)", (64, 64, 56, 56)),
        Case("a downsampling block: 256 in, 128 planes, stride 2", (256, 128, 56, 56), {"stride": 2}),
        Case("ResNeXt 32x4d: groups 32, width per group 4", (256, 64, 56, 56),
             {"groups": 32, "width_per_group": 4}),
        Case("odd size and stride 2 with groups: 7x7 -> 4x4", (128, 32, 7, 7),
             {"stride": 2, "groups": 4, "width_per_group": 16}),
    ],
    mistakes=[
        Mistake("projection shortcut forgotten", (
            "the shortcut is a 1x1 convolution whenever stride != 1 or in_channels != 4 * planes; "
            "it costs H_out * W_out * in_channels * 4 * planes multiply-adds."),
            _macs_variant(no_projection=True)),
        Mistake("groups ignored", (
            "a grouped 3x3 convolution sees only width / groups input channels per output: "
            "9 * (width / groups) * width * H_out * W_out."), _macs_variant(no_groups=True)),
        Mistake("stride ignored", (
            "the stride sits on the 3x3 convolution: it, the last 1x1 and the shortcut all run "
            "at H_out = (H - 1) // stride + 1; only the first 1x1 runs at the input size."),
            _macs_variant(stride_ignored=True)),
    ],
    hints=[
        "width = int(planes * width_per_group / 64) * groups; out = 4 * planes. Costs: 1x1 "
        "reduce at H*W: in_channels*width; grouped 3x3 at H_out*W_out: 9*(width/groups)*width; "
        "1x1 expand at H_out*W_out: width*out; plus a 1x1 projection in_channels*out at "
        "H_out*W_out when stride != 1 or in_channels != out.",
        "H_out = (height + 2 - 3) // stride + 1 (padding 1), the same for W_out. Multiply each "
        "per-pixel cost by the number of output pixels of THAT layer and add them; return an int.",
    ])
