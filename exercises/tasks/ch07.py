"""Exercises for the chapter "Pointwise, depthwise and depthwise-separable convolution":
a depthwise convolution with loops over the kernel taps, a depthwise-separable convolution on
top of it, and the cost formula.

References are ``convlib.functional`` (tested against PyTorch in tests/test_separable.py);
each diagnosis recomputes the output a specific mistake produces (see exercises/mistakes.py).
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from exercises.rules import library, max_loop_depth
from exercises.checking import Case, Chapter
from exercises.mistakes import (Mistake, bias_ignored, kernel_flipped, padding_ignored,
                                padding_one_side, stride_ignored, stride_not_in_window)

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch07", "Pointwise, depthwise and depthwise-separable convolution",
                  notebook="ch07_separable")


def _ints(rng, *shape, low=-3, high=3, dtype=np.float64):
    """Small whole numbers (as floats): easy to read in a message, exact in any sum order."""
    return rng.integers(low, high + 1, size=shape).astype(dtype)


# ---- q1: depthwise convolution, loops over the kernel taps ---------------------------------
def _ref_depthwise(x, weight, stride=1, padding=0):
    return F.depthwise_conv2d(x, weight, stride=stride, padding=padding)


def _cases_depthwise(rng):
    return [
        Case("one channel, 3x3 kernel (a plain convolution)", (_ints(rng, 1, 1, 5, 5), _ints(rng, 1, 1, 3, 3))),
        Case("three channels, each with its own filter", (_ints(rng, 1, 3, 5, 5), _ints(rng, 3, 1, 3, 3))),
        Case("depth multiplier 2: two filters per channel, output channel c*2 + m",
             (_ints(rng, 1, 2, 4, 4), _ints(rng, 4, 1, 2, 2))),
        Case("a batch of two, padding=1", (_ints(rng, 2, 3, 4, 4), _ints(rng, 3, 1, 3, 3)), {"padding": 1}),
        Case("stride=2, padding=1, non-square 3x2 kernel, multiplier 3",
             (_ints(rng, 1, 2, 7, 6), _ints(rng, 6, 1, 3, 2)), {"stride": 2, "padding": 1}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
              rng.standard_normal((2, 1, 3, 3)).astype(np.float32))),
    ]


def _multiplier_order(ref, a):
    """Output channel m*C + c instead of c*M + m."""
    out = ref(**a)
    c = a["x"].shape[1]
    m = a["weight"].shape[0] // c
    if c == 1 or m == 1:
        return None
    n, _, h, w = out.shape
    return out.reshape(n, c, m, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c * m, h, w)


def _wrong_input_channel(ref, a):
    """Output channel o filtered input channel o % C instead of o // M."""
    c = a["x"].shape[1]
    m = a["weight"].shape[0] // c
    if c == 1 or m == 1:
        return None
    x = a["x"][:, np.arange(c * m) % c]
    return F.conv2d(x, a["weight"], stride=a["stride"], padding=a["padding"], groups=c * m)


def _channels_summed(ref, a):
    c = a["x"].shape[1]
    if c == 1:
        return None
    full = np.repeat(a["weight"], c, axis=1)          # every filter applied to every channel
    return F.conv2d(a["x"], full, stride=a["stride"], padding=a["padding"])


_DW_MISTAKES = [
    Mistake("channels summed", (
        "each output channel summed the filtered versions of ALL input channels: that is a "
        "standard convolution with copies of one filter. A depthwise convolution never adds "
        "channels together: output channel c*M + m is input channel c filtered by weight[c*M + m, 0]."),
        _channels_summed),
    Mistake("depth-multiplier order m*C + c", (
        "your output channels are ordered filter by filter (m*C + c). The order is channel by "
        "channel: output channel o = c*M + m holds input channel c = o // M with its m-th filter "
        "(PyTorch's groups=C and TensorFlow agree)."), _multiplier_order),
    Mistake("input channel o % C", (
        "output channel o read input channel o % C. With a depth multiplier M, output channel o "
        "belongs to input channel o // M (M consecutive outputs per input channel)."),
        _wrong_input_channel),
    kernel_flipped(), stride_ignored(), stride_not_in_window(), padding_ignored(), padding_one_side(),
]

q1 = chapter.task(
    "q1", "depthwise convolution, loops over the kernel taps", function="depthwise_conv2d",
    forbid=library("depthwise_conv2d", "separable_conv2d", "conv2d", what="the depthwise convolution"),
    rules=[max_loop_depth(2, "loops over the kernel taps (u, v) only, not over pixels")],
    reference=_ref_depthwise, cases=_cases_depthwise, mistakes=_DW_MISTAKES,
    hints=[
        "C = x.shape[1], M = weight.shape[0] // C. Repeat every input channel M times, "
        "xr = np.repeat(x, M, axis=1): channel o of xr is input channel o // M, exactly the channel "
        "that filter weight[o, 0] needs. Pad xr's last two axes, make out = np.zeros((N, C*M, "
        "H_out, W_out), dtype=x.dtype).",
        "Loop over the taps only: for u in range(kh), for v in range(kw): take the strided slice "
        "patch = xp[:, :, u : u + s*(H_out-1) + 1 : s, v : v + s*(W_out-1) + 1 : s] (shape "
        "(N, C*M, H_out, W_out)) and add patch * weight[:, 0, u, v][None, :, None, None] to out.",
    ])


# ---- q2: depthwise-separable = depthwise, then pointwise -----------------------------------
def _ref_separable(x, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0):
    y = F.depthwise_conv2d(x, depthwise_weight, stride=stride, padding=padding)
    return F.pointwise_conv2d(y, pointwise_weight, bias)


def _cases_separable(rng):
    return [
        Case("3 channels -> 3, 3x3 depthwise", (_ints(rng, 1, 3, 5, 5), _ints(rng, 3, 1, 3, 3),
                                               _ints(rng, 3, 3, 1, 1))),
        Case("2 channels -> 3, with a bias", (_ints(rng, 1, 2, 4, 4), _ints(rng, 2, 1, 3, 3),
                                             _ints(rng, 3, 2, 1, 1), _ints(rng, 3))),
        Case("depth multiplier 2: the pointwise stage mixes C*M = 4 channels",
             (_ints(rng, 1, 2, 5, 5), _ints(rng, 4, 1, 3, 3), _ints(rng, 5, 4, 1, 1))),
        Case("a batch of two, stride=2, padding=1, with a bias",
             (_ints(rng, 2, 3, 6, 6), _ints(rng, 3, 1, 3, 3), _ints(rng, 4, 3, 1, 1), _ints(rng, 4)),
             {"stride": 2, "padding": 1}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
              rng.standard_normal((2, 1, 3, 3)).astype(np.float32),
              rng.standard_normal((3, 2, 1, 1)).astype(np.float32))),
    ]


def _square_pointwise(a):
    pw = a["pointwise_weight"]
    return pw.shape[0] == pw.shape[1] == a["x"].shape[1]


def _pointwise_first(ref, a):
    if not _square_pointwise(a):
        return None
    y = F.pointwise_conv2d(a["x"], a["pointwise_weight"])
    y = F.depthwise_conv2d(y, a["depthwise_weight"], stride=a["stride"], padding=a["padding"])
    return y if a["bias"] is None else y + a["bias"][None, :, None, None]


def _pointwise_transposed(ref, a):
    if not _square_pointwise(a):
        return None
    return ref(**{**a, "pointwise_weight": a["pointwise_weight"].transpose(1, 0, 2, 3).copy()})


q2 = chapter.task(
    "q2", "depthwise-separable convolution", function="separable_conv2d",
    forbid=library("separable_conv2d", "pointwise_conv2d", "conv2d", what="the separable convolution")
    | {"depthwise_conv2d": "use your own depthwise_conv2d from task 1, not the library's"},
    reference=_ref_separable, cases=_cases_separable,
    mistakes=[
        Mistake("pointwise before depthwise", (
            "you mixed the channels first and filtered them afterwards. MobileNet's (and TF-slim's) "
            "order is depthwise first (spatial filtering per channel), then pointwise (1x1, mixing "
            "channels). Xception's 'extreme Inception' uses the other order, but this exercise does not."),
            _pointwise_first),
        Mistake("pointwise weight transposed", (
            "the pointwise weight is (C_out, C*M, 1, 1): out[n, o] = sum over c of "
            "pointwise_weight[o, c] * y[n, c]. You used pointwise_weight[c, o]."), _pointwise_transposed),
        bias_ignored(), kernel_flipped("depthwise_weight"), stride_ignored(), padding_ignored(),
    ],
    hints=[
        "Two stages: y = depthwise_conv2d(x, depthwise_weight, stride, padding) with your q1 "
        "function (shape (N, C*M, H_out, W_out)), then the pointwise stage on y.",
        "The pointwise stage is a matrix product over the channel axis: "
        "np.einsum('oc,nchw->nohw', pointwise_weight[:, :, 0, 0], y), then add "
        "bias[None, :, None, None] if a bias is given.",
    ])


# ---- q3: the cost ----------------------------------------------------------------------------
def _ref_cost(in_channels, out_channels, kernel_size, height, width, depth_multiplier=1):
    k, m, hw = kernel_size, depth_multiplier, height * width
    standard = k * k * in_channels * out_channels * hw
    separable = (k * k * in_channels * m + in_channels * m * out_channels) * hw
    return standard, separable


def _cost_variant(**change):
    def wrong(ref, a):
        cin, cout, k, h, w, m = (a[n] for n in ("in_channels", "out_channels", "kernel_size",
                                                "height", "width", "depth_multiplier"))
        kk = k if change.get("k_once") else k * k
        std = kk * cin * cout * h * w
        dw = kk * cin * m * h * w
        pw = cin * m * cout * h * w
        if change.get("dw_with_cout"):
            dw = kk * cin * cout * h * w
        if change.get("no_m"):
            if m == 1:
                return None
            dw, pw = kk * cin * h * w, cin * cout * h * w
        if change.get("pw_without_m"):
            if m == 1:
                return None
            pw = cin * cout * h * w
        sep = {"no_pw": dw, "no_dw": pw}.get(change.get("drop"), dw + pw)
        return std, sep
    return wrong


q3 = chapter.task(
    "q3", "the cost: standard against separable", function="separable_cost",
    forbid=library("count_macs", "count_params", "profile", what="the count"),
    reference=_ref_cost, output_names=("standard_macs", "separable_macs"),
    cases=[
        Case("8 -> 16 channels, 3x3, a 10x10 map", (8, 16, 3, 10, 10)),
        Case("MobileNet's 512 -> 512, 3x3, 14x14", (512, 512, 3, 14, 14)),
        Case("32 -> 64, 5x5 kernel, a non-square 7x9 map", (32, 64, 5, 7, 9)),
        Case("depth multiplier 2: the depthwise stage outputs C_in*2 channels",
             (16, 32, 3, 8, 8), {"depth_multiplier": 2}),
    ],
    mistakes=[
        Mistake("pointwise stage not counted", "the separable cost is depthwise PLUS pointwise: "
                "k*k*C_in*M*H*W + C_in*M*C_out*H*W.", _cost_variant(drop="no_pw")),
        Mistake("depthwise stage not counted", "the depthwise stage costs k*k multiply-adds per "
                "output value and has C_in*M*H*W output values.", _cost_variant(drop="no_dw")),
        Mistake("depthwise counted with C_out", "the depthwise stage does not produce C_out "
                "channels: it produces C_in*M, each from ONE input channel: k*k*C_in*M*H*W.",
                _cost_variant(dw_with_cout=True)),
        Mistake("k instead of k * k", "a k x k kernel has k*k taps.", _cost_variant(k_once=True)),
        Mistake("depth multiplier ignored", "with multiplier M the depthwise stage outputs C_in*M "
                "channels, and the pointwise stage reads all C_in*M of them.", _cost_variant(no_m=True)),
        Mistake("pointwise reads C_in channels", "the pointwise stage's input is the depthwise "
                "output: C_in*M channels, not C_in.", _cost_variant(pw_without_m=True)),
    ],
    hints=[
        "Stride 1 and 'same' padding: every map is height x width. Standard: each of the "
        "C_out*H*W output values is a dot product of length k*k*C_in.",
        "Depthwise: C_in*M output channels, each value a dot product of length k*k. Pointwise: "
        "C_out output channels, each value a dot product of length C_in*M. Return the pair "
        "(standard, depthwise + pointwise) as ints.",
    ])
