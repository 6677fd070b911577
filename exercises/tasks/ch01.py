"""Exercises for chapter 1, "Convolution: from a sliding window to a matrix product".

Each task: the function the learner writes, a reference built on ``convlib.functional``, cases
from easy to tricky, the mistakes it can recognise, two hints. See ``exercises/checking.py``.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from exercises.rules import explicit_loops, library, no_loops, uses
from exercises.checking import Case, Chapter, GradientCheck
from exercises.mistakes import (AnyOf, Mistake, bias_ignored, kernel_flipped, padding_ignored,
                                padding_one_side, stride_ignored, stride_not_in_window)

__all__ = ["chapter", "q1", "q2", "q3", "q4", "q5", "q6"]

chapter = Chapter("ch01", "Convolution: from a sliding window to a matrix product",
                  notebook="ch01_convolution")


def _ints(rng, *shape, low=-3, high=3, dtype=np.float64):
    """Small whole numbers (as floats): easy to read in a message, exact in any sum order."""
    return rng.integers(low, high + 1, size=shape).astype(dtype)


# ---- q1: one channel, explicit loops ------------------------------------------------------
def _ref_single(x, weight, stride=1, padding=0):
    return F.conv2d(x[None, None], weight[None, None], stride=stride, padding=padding)[0, 0]


def _cases_single(rng):
    return [
        Case("3x3 input, 2x2 kernel", (np.arange(9.0).reshape(3, 3), np.array([[1.0, 2.0], [3.0, 4.0]]))),
        Case("5x5 input, 3x3 kernel", (_ints(rng, 5, 5), _ints(rng, 3, 3))),
        Case("non-square: 4x6 input, 2x3 kernel", (_ints(rng, 4, 6), _ints(rng, 2, 3))),
        Case("padding=1", (_ints(rng, 4, 4), _ints(rng, 3, 3)), {"padding": 1}),
        Case("stride=2", (_ints(rng, 7, 7), _ints(rng, 3, 3)), {"stride": 2}),
        Case("stride=2, padding=1, 6x5 input, 3x2 kernel (the output size rounds down)",
             (_ints(rng, 6, 5), _ints(rng, 3, 2)), {"stride": 2, "padding": 1}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((5, 5)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32))),
    ]


_CONV_MISTAKES = [kernel_flipped(), stride_ignored(), stride_not_in_window(), padding_ignored(),
                  padding_one_side()]

q1 = chapter.task(
    "q1", "one channel, explicit loops", function="conv2d_single_channel",
    forbid=library("conv2d", "im2col", "conv_matrix", "correlate", "correlate2d", "convolve",
                   "convolve2d", what="the convolution"),
    rules=[explicit_loops("two loops over the output positions")],
    reference=_ref_single, cases=_cases_single, mistakes=_CONV_MISTAKES,
    hints=[
        "First the output size: H_out = (H + 2 * padding - kh) // stride + 1, and the same for W. "
        "Pad with np.pad(x, padding), create out = np.zeros((H_out, W_out), dtype=x.dtype), then "
        "loop over i in range(H_out) and j in range(W_out).",
        "The window for output (i, j) starts at row i * stride and column j * stride of the padded "
        "input: window = xp[i*stride : i*stride + kh, j*stride : j*stride + kw]; "
        "out[i, j] = np.sum(window * weight). No flip of the kernel.",
    ])


# ---- q2: several channels in and out, a batch, a bias -------------------------------------
def _ref_multi(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)


def _cases_multi(rng):
    return [
        Case("one image, one channel in and out (as in q1)", (_ints(rng, 1, 1, 4, 4), _ints(rng, 1, 1, 2, 2))),
        Case("three channels in, three out: each output sums over all input channels",
             (_ints(rng, 1, 3, 5, 5), _ints(rng, 3, 3, 3, 3))),
        Case("two input channels, one output channel", (_ints(rng, 1, 2, 4, 4), _ints(rng, 1, 2, 3, 3))),
        Case("a batch of two images, with a bias",
             (_ints(rng, 2, 2, 5, 5), _ints(rng, 3, 2, 3, 3), _ints(rng, 3))),
        Case("stride=2, padding=1, non-square input and kernel",
             (_ints(rng, 2, 3, 7, 6), _ints(rng, 4, 3, 3, 2), _ints(rng, 4)), {"stride": 2, "padding": 1}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
              rng.standard_normal((2, 2, 3, 3)).astype(np.float32))),
    ]


def _swapped_axes(ref, a):
    w = a["weight"]
    return ref(**{**a, "weight": w.transpose(1, 0, 2, 3).copy()}) if w.shape[0] == w.shape[1] > 1 else None


def _no_channel_sum(ref, a):
    x, w = a["x"], a["weight"]
    if not w.shape[0] == w.shape[1] == x.shape[1] > 1:
        return None
    b = a.get("bias")
    return np.concatenate([ref(**{**a, "x": x[:, o:o + 1], "weight": w[o:o + 1, o:o + 1],
                                   "bias": None if b is None else b[o:o + 1]})
                           for o in range(w.shape[0])], axis=1)


def _batch_summed(ref, a):
    if a["x"].shape[0] < 2:
        return None
    out = ref(**{**a, "bias": None}).sum(axis=0, keepdims=True) * np.ones((a["x"].shape[0], 1, 1, 1))
    if a.get("bias") is not None:
        out = out + a["bias"][None, :, None, None]
    return out.astype(a["x"].dtype)


_CHANNEL_MISTAKES = [
    Mistake("channels summed over the wrong axis", (
        "your output uses weight[c, o] where it should use weight[o, c]. The weight is "
        "(out_channels, in_channels, kh, kw): out[n, o] = sum over c of x[n, c] (*) weight[o, c]."),
        _swapped_axes),
    Mistake("no sum over input channels", (
        "each output channel o sees only input channel o. Every output channel must sum the "
        "correlations of ALL input channels: out[n, o] = sum over c of x[n, c] (*) weight[o, c]."),
        _no_channel_sum),
    Mistake("sum over the batch axis", (
        "your sum also runs over the images of the batch, so every image gets the same output. "
        "Keep n fixed: sum over the channel axis only, np.sum(x[n, :, ...] * weight[o])."),
        _batch_summed),
]

q2 = chapter.task(
    "q2", "several channels in and out, with a bias", function="conv2d_multi",
    forbid=library("conv2d", "im2col", "conv_matrix", "correlate", "convolve", what="the convolution"),
    reference=_ref_multi, cases=_cases_multi,
    mistakes=_CONV_MISTAKES + [bias_ignored()] + _CHANNEL_MISTAKES,
    hints=[
        "x is (N, C, H, W) and weight is (O, C, kh, kw); the output is (N, O, H_out, W_out). "
        "Loop over n, o, i, j: each output value is one number, the sum of a (C, kh, kw) window "
        "times the (C, kh, kw) kernel weight[o].",
        "Pad only the last two axes: np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))). Then "
        "out[n, o, i, j] = np.sum(xp[n, :, i*s:i*s+kh, j*s:j*s+kw] * weight[o]), plus bias[o] "
        "when a bias is given.",
    ])


# ---- q3: im2col ----------------------------------------------------------------------------
def _ref_im2col(x, kernel_size, stride=1, padding=0):
    return F.im2col(x, kernel_size, dilation=1, padding=padding, stride=stride)


def _cases_im2col(rng):
    return [
        Case("one 3x3 channel, 2x2 windows", (np.arange(9.0).reshape(1, 1, 3, 3), 2)),
        Case("non-square 2x3 windows on a 4x5 image", (_ints(rng, 1, 1, 4, 5), (2, 3))),
        Case("two channels: rows go channel by channel", (_ints(rng, 1, 2, 3, 3), 2)),
        Case("padding=1", (_ints(rng, 1, 1, 3, 3), 2), {"padding": 1}),
        Case("a batch of two, stride=2", (_ints(rng, 2, 2, 5, 5), 3), {"stride": 2}),
        Case("stride=2, padding=1, 3x2 windows", (_ints(rng, 1, 3, 6, 5), (3, 2)), {"stride": 2, "padding": 1}),
        Case("float32 input", (rng.standard_normal((1, 2, 4, 4)).astype(np.float32), 2)),
    ]


def _rows_position_major(ref, a):
    out = ref(**a)
    n, rows, length = out.shape
    c = a["x"].shape[1]
    if c == 1:
        return None
    return out.reshape(n, c, rows // c, length).transpose(0, 2, 1, 3).reshape(n, rows, length)


def _columns_column_major(ref, a):
    out = ref(**a)
    k = np.broadcast_to(a["kernel_size"], 2)
    s = np.broadcast_to(a["stride"], 2)
    p = np.broadcast_to(a["padding"], 2)
    h, w = a["x"].shape[-2:]
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    if ho == 1 or wo == 1:
        return None
    n, rows, _ = out.shape
    return out.reshape(n, rows, ho, wo).swapaxes(-1, -2).reshape(n, rows, ho * wo)


q3 = chapter.task(
    "q3", "im2col: every window becomes a column", function="im2col",
    forbid=library("im2col", "unfold", "conv_matrix", what="im2col"),
    reference=_ref_im2col, cases=_cases_im2col,
    mistakes=[stride_ignored(), stride_not_in_window(), padding_ignored(), padding_one_side(),
              Mistake("rows in the wrong order", (
                  "your rows go kernel position by kernel position, each over all channels. "
                  "The order is channel first: row index = c * kh * kw + u * kw + v (as in "
                  "torch.nn.functional.unfold)."), _rows_position_major),
              Mistake("windows in the wrong order", (
                  "your columns walk the windows column by column. Take them row by row: "
                  "column index = i * W_out + j."), _columns_column_major),
              Mistake("one row per window", (
                  "your result is the transpose of the expected one: windows must be the "
                  "COLUMNS, shape (N, C * kh * kw, L). Return cols.transpose(0, 2, 1) "
                  "(or build it that way)."),
                  lambda ref, a: ref(**a).transpose(0, 2, 1))],
    hints=[
        "The result has shape (N, C * kh * kw, L) with L = H_out * W_out. Column l holds the "
        "window of output position (i, j) = divmod(l, W_out), flattened in the order (c, u, v).",
        "Pad the last two axes, then for each i, j: "
        "cols[:, :, i * W_out + j] = xp[:, :, i*s:i*s+kh, j*s:j*s+kw].reshape(N, -1). "
        "reshape(N, -1) flattens (C, kh, kw) in exactly the right order.",
    ])


# ---- q4: convolution as one matrix product ---------------------------------------------------
def _cases_matmul(rng):
    return [
        Case("one channel in and out", (_ints(rng, 1, 1, 4, 4), _ints(rng, 1, 1, 2, 2))),
        Case("three channels in, two out", (_ints(rng, 1, 3, 5, 5), _ints(rng, 2, 3, 3, 3))),
        Case("a batch of two images, with a bias", (_ints(rng, 2, 2, 5, 5), _ints(rng, 3, 2, 3, 3), _ints(rng, 3))),
        Case("stride=2, padding=1, non-square",
             (_ints(rng, 2, 3, 7, 6), _ints(rng, 4, 3, 3, 2), _ints(rng, 4)), {"stride": 2, "padding": 1}),
        Case("float32 input", (rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
                               rng.standard_normal((2, 2, 3, 3)).astype(np.float32))),
    ]


q4 = chapter.task(
    "q4", "convolution as one matrix product", function="conv2d_matmul",
    forbid=library("conv2d", "conv_matrix", what="the convolution")
    | {"im2col": "use your own im2col from task 3, not the library's"},
    rules=[uses("im2col", "the task says: use your im2col from task 3"),
           no_loops("one matrix product and no loop over pixels")],
    reference=_ref_multi, cases=_cases_matmul,
    mistakes=_CONV_MISTAKES + [bias_ignored()] + _CHANNEL_MISTAKES[:1],
    hints=[
        "cols = im2col(x, (kh, kw), stride, padding) is (N, C*kh*kw, L). Flatten the kernels the "
        "same way: weight.reshape(O, -1) is (O, C*kh*kw). Their product is (N, O, L).",
        "out = weight.reshape(O, -1) @ cols (matmul broadcasts over N), then "
        "out.reshape(N, O, H_out, W_out), then + bias[None, :, None, None] if a bias is given.",
    ])


# ---- q5: a question answered in code: the cost of a layer -----------------------------------
def _out(size, k, stride, padding):
    return (size + 2 * padding - k) // stride + 1


def _ref_cost(in_channels, out_channels, kernel_size, height, width, stride=1, padding=0):
    k = kernel_size
    params = out_channels * (in_channels * k * k + 1)
    outputs = out_channels * _out(height, k, stride, padding) * _out(width, k, stride, padding)
    return params, outputs * in_channels * k * k


def _cost_variant(**change):
    def wrong(ref, a):
        c, o, k, h, w, s, p = (a[n] for n in ("in_channels", "out_channels", "kernel_size",
                                              "height", "width", "stride", "padding"))
        bias = 0 if change.get("no_bias") else 1
        kk = k if change.get("k_once") else k * k
        cin = 1 if change.get("no_cin") else c
        if change.get("input_size"):
            ho, wo = h, w
        else:
            ho = _out(h, k, 1 if change.get("no_stride") else s, 0 if change.get("no_padding") else p)
            wo = _out(w, k, 1 if change.get("no_stride") else s, 0 if change.get("no_padding") else p)
        return o * (c * kk + bias), o * ho * wo * cin * kk
    return wrong


q5 = chapter.task(
    "q5", "the cost of a layer, answered in code", function="conv_layer_cost",
    forbid=library("conv_output_size", "conv_output_size_2d", "count_macs", "count_params", what="the count"),
    reference=_ref_cost, output_names=("parameters", "multiplications"),
    cases=[
        Case("1 channel in and out, 3x3 kernel, 5x5 input", (1, 1, 3, 5, 5)),
        Case("the question: 3 -> 16 channels, 5x5 kernel, 32x32 input, padding 2", (3, 16, 5, 32, 32), {"padding": 2}),
        Case("64 -> 128 channels, 3x3, 56x56 input, stride 2, padding 1", (64, 128, 3, 56, 56), {"stride": 2, "padding": 1}),
        Case("3 -> 8 channels, 3x3, a 7x9 input, stride 2", (3, 8, 3, 7, 9), {"stride": 2}),
    ],
    mistakes=[
        Mistake("bias not counted", "each output channel has one bias: parameters = "
                "out_channels * (in_channels * k * k + 1).", _cost_variant(no_bias=True)),
        Mistake("input size instead of output size", "every OUTPUT value costs in_channels * k * k "
                "multiplications; count H_out * W_out outputs per channel, not H * W.",
                _cost_variant(input_size=True)),
        Mistake("input channels forgotten", "each output value sums over all input channels: "
                "in_channels * k * k multiplications, not k * k.", _cost_variant(no_cin=True)),
        Mistake("k instead of k * k", "the kernel is k x k: it has k * k weights per channel.",
                _cost_variant(k_once=True)),
        Mistake("padding ignored", "H_out = (H + 2 * padding - k) // stride + 1: the padding "
                "counts twice, once per side.", _cost_variant(no_padding=True)),
        Mistake("stride ignored", "with stride s, H_out = (H + 2 * padding - k) // s + 1.",
                _cost_variant(no_stride=True)),
    ],
    hints=[
        "Parameters: each of the out_channels filters has in_channels * k * k weights and one "
        "bias. Multiplications: each output value is one dot product of length in_channels * k * k.",
        "H_out = (height + 2 * padding - kernel_size) // stride + 1 (the same for W_out); "
        "multiplications = out_channels * H_out * W_out * in_channels * kernel_size ** 2. "
        "Return the pair (parameters, multiplications) as ints.",
    ])


# ---- q6 (bonus): the backward pass of q1 -----------------------------------------------------
def _ref_backward(grad_output, x, weight):
    gi, gw, _ = F.conv2d_backward(grad_output[None, None], x[None, None], weight[None, None])
    return gi[0, 0], gw[0, 0]


def _cases_backward(rng):
    cases = []
    for label, (h, w), (kh, kw) in [("3x3 input, 2x2 kernel", (3, 3), (2, 2)),
                                    ("non-square: 4x5 input, 2x3 kernel", (4, 5), (2, 3)),
                                    ("5x5 input, 3x3 kernel", (5, 5), (3, 3))]:
        x, weight = _ints(rng, h, w), _ints(rng, kh, kw)
        cases.append(Case(label, (_ints(rng, h - kh + 1, w - kw + 1), x, weight)))
    return cases


def _flip(a):
    return np.ascontiguousarray(a[::-1, ::-1])


q6 = chapter.task(
    "q6", "bonus: the backward pass", function="conv2d_single_channel_backward",
    forbid=library("conv2d_backward", "conv2d", "conv_transpose2d", "conv_transpose2d_backward",
                   what="the backward pass"),
    reference=_ref_backward, cases=_cases_backward, output_names=("grad_x", "grad_weight"),
    gradient=GradientCheck(forward=lambda x, weight: _ref_single(x, weight),
                           wrt={"grad_x": "x", "grad_weight": "weight"}, h=0.5),
    mistakes=[
        Mistake("grad_x without the flip", (
            "grad_x is a FULL convolution of grad_output with the kernel flipped: "
            "grad_x[i + u, j + v] += grad_output[i, j] * weight[u, v]. Yours slides the kernel "
            "unflipped."), lambda ref, a: (ref(**{**a, "weight": _flip(a["weight"])})[0], ref(**a)[1])),
        Mistake("grad_weight flipped", (
            "grad_weight[u, v] = sum over i, j of grad_output[i, j] * x[i + u, j + v]; yours is "
            "upside down and left-right."), lambda ref, a: (ref(**a)[0], _flip(ref(**a)[1]))),
    ],
    hints=[
        "out[i, j] = sum over u, v of x[i + u, j + v] * weight[u, v]. Each term sends "
        "grad_output[i, j] * weight[u, v] to grad_x[i + u, j + v] and "
        "grad_output[i, j] * x[i + u, j + v] to grad_weight[u, v].",
        "Loop over i, j: grad_x[i:i+kh, j:j+kw] += grad_output[i, j] * weight and "
        "grad_weight += grad_output[i, j] * x[i:i+kh, j:j+kw]. Start both from np.zeros_like.",
    ])
