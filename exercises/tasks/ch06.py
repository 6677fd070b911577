"""Exercises for the chapter "Dilated (atrous) convolution": the dilated kernel, an im2col that
honours ``dilation``, and a dilated convolution as one matrix product.

References are ``convlib.widgets.dilate_kernel`` (tested against PyTorch's dilated conv2d in
tests/test_dilation_widget.py), ``convlib.functional.im2col`` (= ``torch.nn.functional.unfold``)
and ``convlib.functional.conv2d``; every diagnosis recomputes the output one specific mistake
gives.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from convlib.widgets.dilation import dilate_kernel as _dilate
from exercises.rules import library, no_loops, uses
from exercises.checking import Case, Chapter
from exercises.mistakes import (Mistake, bias_ignored, kernel_flipped, padding_ignored,
                                stride_ignored)

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch06", "Dilated (atrous) convolution", notebook="ch06_dilated_conv")


def _ints(rng, *shape, low=-3, high=3, dtype=np.float64):
    """Small whole numbers (as floats): easy to read in a message, exact in any sum order."""
    return rng.integers(low, high + 1, size=shape).astype(dtype)


def _dilation_ignored(ref, a):
    return ref(**{**a, "dilation": 1}) if a["dilation"] != 1 else None


def _dilation_as_stride(ref, a):
    d = a["dilation"]
    if d == 1 or a.get("stride", 1) != 1:
        return None
    return ref(**{**a, "dilation": 1, "stride": d})


_DILATION_IGNORED = Mistake("dilation ignored", (
    "your output is what dilation=1 gives. With dilation d, tap (u, v) of window (i, j) reads "
    "x_pad[i*s + u*d, j*s + v*d]: the taps are d pixels apart, and the window spans "
    "d*(k-1) + 1 pixels."), _dilation_ignored)
_DILATION_AS_STRIDE = Mistake("dilation used as the stride", (
    "your windows move d pixels at a time, with neighbouring taps. Dilation spaces the TAPS of "
    "one window (u*d), the stride spaces the WINDOWS (i*s); with stride 1 the windows start at "
    "every pixel."), _dilation_as_stride)


# ---- q1: the dilated kernel --------------------------------------------------------------------
def _ref_kernel(weight, dilation):
    return _dilate(weight, dilation)


q1 = chapter.task(
    "q1", "the kernel with holes", function="dilate_kernel",
    forbid=library("dilate_kernel", "widgets", what="the dilated kernel"),
    reference=_ref_kernel,
    cases=lambda rng: [
        Case("a 1x3 kernel, dilation 2", (np.array([[1.0, 2.0, 3.0]]), 2)),
        Case("a 3x3 kernel, dilation 2 (5x5)", (np.arange(1.0, 10.0).reshape(3, 3), 2)),
        Case("dilation 1 changes nothing", (_ints(rng, 3, 3), 1)),
        Case("a 2x3 kernel, dilation 3", (_ints(rng, 2, 3), 3)),
        Case("float32 stays float32", (rng.standard_normal((3, 3)).astype(np.float32), 2)),
    ],
    mistakes=[
        Mistake("d zeros between taps instead of d-1", (
            "dilation d puts the taps d pixels apart, so there are d - 1 zeros between them: "
            "out[u*d, v*d] = weight[u, v], shape (d*(kh-1)+1, d*(kw-1)+1)."),
            lambda ref, a: ref(a["weight"], a["dilation"] + 1)),
        Mistake("zeros after the last tap too", (
            "the dilated kernel ends with a tap: its size is d*(k-1) + 1, not d*k. Put zeros only "
            "BETWEEN taps."),
            lambda ref, a: (np.pad(ref(**a), ((0, a["dilation"] - 1), (0, a["dilation"] - 1)))
                            if a["dilation"] > 1 else None)),
    ],
    hints=[
        "The result has shape (d*(kh-1) + 1, d*(kw-1) + 1) and the dtype of weight; "
        "tap (u, v) goes to (u*d, v*d); everything else is 0.",
        "out = np.zeros((d*(kh-1) + 1, d*(kw-1) + 1), dtype=weight.dtype); out[::d, ::d] = weight.",
    ])


# ---- q2: im2col with dilation ------------------------------------------------------------------
def _ref_im2col(x, kernel_size, dilation=1, padding=0, stride=1):
    return F.im2col(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


q2 = chapter.task(
    "q2", "im2col that honours dilation", function="im2col_dilated",
    forbid=library("im2col", "unfold", "conv2d", what="the dilated im2col"),
    reference=_ref_im2col,
    cases=lambda rng: [
        Case("one 5x5 channel, 3x3 windows, dilation 1 (plain im2col)", (np.arange(25.0).reshape(1, 1, 5, 5), 3)),
        Case("one 5x5 channel, 3x3 windows, dilation 2: a single window",
             (np.arange(25.0).reshape(1, 1, 5, 5), 3), {"dilation": 2}),
        Case("a 7x6 image, 2x2 windows, dilation 2", (_ints(rng, 1, 1, 7, 6), 2), {"dilation": 2}),
        Case("two channels, dilation 2, padding 2 ('same')", (_ints(rng, 1, 2, 5, 5), 3),
             {"dilation": 2, "padding": 2}),
        Case("a batch of two, dilation 3, stride 2", (_ints(rng, 2, 1, 9, 9), 3),
             {"dilation": 3, "stride": 2}),
        Case("float32 input", (rng.standard_normal((1, 2, 6, 6)).astype(np.float32), 2), {"dilation": 2}),
    ],
    mistakes=[_DILATION_IGNORED, _DILATION_AS_STRIDE, stride_ignored(), padding_ignored()],
    hints=[
        "Output positions: Ho = (H + 2p - (d*(kh-1) + 1)) // s + 1 (and the same for W); "
        "cols has shape (N, C*kh*kw, Ho*Wo), rows ordered (c, u, v) as in ch01's im2col.",
        "Pad, then for each i, j: window = xp[:, :, i*s : i*s + d*(kh-1) + 1 : d, "
        "j*s : j*s + d*(kw-1) + 1 : d] (a step of d inside the window); "
        "cols[:, :, i*Wo + j] = window.reshape(N, -1).",
    ])


# ---- q3: the dilated convolution as one matrix product -----------------------------------------
def _ref_conv(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


q3 = chapter.task(
    "q3", "dilated convolution as one matrix product", function="conv2d_dilated",
    forbid=library("conv2d", "im2col", "unfold", "conv_matrix", what="the dilated convolution"),
    rules=[uses("im2col_dilated", "the task says: with your im2col_dilated"), no_loops("one matrix product")],
    reference=_ref_conv,
    cases=lambda rng: [
        Case("one channel, 3x3 kernel, dilation 2", (_ints(rng, 1, 1, 7, 7), _ints(rng, 1, 1, 3, 3)),
             {"dilation": 2}),
        Case("three channels in, two out, dilation 2, padding 2 keeps the size",
             (_ints(rng, 1, 3, 6, 6), _ints(rng, 2, 3, 3, 3)), {"dilation": 2, "padding": 2}),
        Case("a batch of two, with a bias, dilation 3",
             (_ints(rng, 2, 2, 9, 8), _ints(rng, 3, 2, 3, 3), _ints(rng, 3)), {"dilation": 3}),
        Case("dilation 2 and stride 2, non-square kernel",
             (_ints(rng, 1, 2, 9, 9), _ints(rng, 2, 2, 3, 2)), {"dilation": 2, "stride": 2}),
        Case("float32 input", (rng.standard_normal((1, 2, 7, 7)).astype(np.float32),
                               rng.standard_normal((2, 2, 3, 3)).astype(np.float32)), {"dilation": 2}),
    ],
    mistakes=[_DILATION_IGNORED, _DILATION_AS_STRIDE, kernel_flipped(), stride_ignored(),
              padding_ignored(), bias_ignored()],
    hints=[
        "Use your im2col_dilated from q2: cols = im2col_dilated(x, (kh, kw), dilation, padding, "
        "stride) is (N, C*kh*kw, L). weight.reshape(O, -1) is (O, C*kh*kw); their product is "
        "(N, O, L).",
        "out = (weight.reshape(O, -1) @ cols).reshape(N, O, Ho, Wo) with "
        "Ho = (H + 2p - d*(kh-1) - 1) // s + 1; add bias[None, :, None, None] when given.",
    ])
