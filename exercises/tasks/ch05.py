"""Exercises for the chapter "Transposed convolution and 'deconvolution'": the convolution
matrix of a small case, the transposed convolution by zero insertion and a direct convolution,
and the ``output_padding`` that gives back a chosen size.

References are ``convlib.functional.conv_matrix`` / ``conv_transpose2d`` and
``convlib.arithmetic.output_padding_for`` (tested against PyTorch and Dumoulin & Visin's
relationships in tests/); every diagnosis recomputes the output one specific mistake gives.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from convlib.arithmetic import output_padding_for
from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake, kernel_flipped, padding_ignored, stride_ignored

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch05", "Transposed convolution and 'deconvolution'", notebook="ch05_transposed_conv")


def _ints(rng, *shape, low=-3, high=3, dtype=np.float64):
    """Small whole numbers (as floats): easy to read in a message, exact in any sum order."""
    return rng.integers(low, high + 1, size=shape).astype(dtype)


# ---- q1: the convolution matrix ---------------------------------------------------------------
def _ref_matrix(weight, input_size, stride=1, padding=0):
    return F.conv_matrix(weight[None, None], input_size, stride=stride, padding=padding)


def _cases_matrix(rng):
    return [
        Case("a 1x2 kernel on a 1x3 input (two outputs)", (np.array([[1.0, 2.0]]), (1, 3))),
        Case("a 2x2 kernel on a 3x3 input", (np.array([[1.0, 2.0], [3.0, 4.0]]), (3, 3))),
        Case("a 3x3 kernel on a 4x4 input (the chapter's picture)", (np.arange(1.0, 10.0).reshape(3, 3), (4, 4))),
        Case("non-square: a 2x3 kernel on a 3x5 input", (_ints(rng, 2, 3), (3, 5))),
        Case("stride=2", (_ints(rng, 3, 3), (5, 5)), {"stride": 2}),
        Case("padding=1: taps on the padding have no column", (_ints(rng, 3, 3), (3, 3)), {"padding": 1}),
        Case("stride=2, padding=1, 4x5 input", (_ints(rng, 3, 3), (4, 5)), {"stride": 2, "padding": 1}),
    ]


def _columns_column_major(ref, a):
    h, w = a["input_size"]
    if h == 1 or w == 1:
        return None
    m = ref(**a)
    return m.reshape(m.shape[0], h, w).transpose(0, 2, 1).reshape(m.shape[0], h * w)


q1 = chapter.task(
    "q1", "the convolution matrix C", function="conv_matrix_single",
    forbid=library("conv_matrix", what="the convolution matrix"),
    reference=_ref_matrix, cases=_cases_matrix,
    mistakes=[
        kernel_flipped(),
        Mistake("C transposed", (
            "your matrix is C.T: one row per INPUT pixel. C has one row per output pixel "
            "(Ho*Wo rows) and one column per input pixel (H*W columns), so that "
            "C @ x.ravel() == conv2d(x).ravel()."), lambda ref, a: ref(**a).T),
        Mistake("input flattened column by column", (
            "your columns follow the input pixels column by column. Flatten row by row, as "
            "x.ravel() does: input pixel (r, c) is column r * W + c."), _columns_column_major),
        stride_ignored(), padding_ignored(),
    ],
    hints=[
        "C has shape (Ho*Wo, H*W) with Ho = (H + 2p - kh) // s + 1. Row i*Wo + j is output "
        "pixel (i, j). It holds weight[a, b] in the column of the input pixel that tap (a, b) "
        "reads: (r, c) = (i*s + a - p, j*s + b - p), column r * W + c.",
        "Start from np.zeros((Ho * Wo, H * W), dtype=weight.dtype) and loop over i, j, a, b; "
        "skip taps with r or c outside 0..H-1 / 0..W-1 (they fall on the zero padding).",
    ])


# ---- q2: the transposed convolution by zero insertion ----------------------------------------
def _ref_transposed(x, weight, stride=1, padding=0, output_padding=0):
    return F.conv_transpose2d(x[None, None], weight[None, None], stride=stride, padding=padding,
                              output_padding=output_padding)[0, 0]


def _cases_transposed(rng):
    return [
        Case("2x2 input, 2x2 kernel, stride 1", (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 2.0]]))),
        Case("3x3 input, 3x3 kernel, stride 1", (_ints(rng, 3, 3), _ints(rng, 3, 3))),
        Case("stride=2: zeros between the inputs", (_ints(rng, 2, 2), _ints(rng, 3, 3)), {"stride": 2}),
        Case("non-square 2x3 input, 2x2 kernel, stride 2", (_ints(rng, 2, 3), _ints(rng, 2, 2)), {"stride": 2}),
        Case("stride=2, padding=1: the padding is removed from the output",
             (_ints(rng, 3, 3), _ints(rng, 3, 3)), {"stride": 2, "padding": 1}),
        Case("stride=2, padding=1, output_padding=1: one more row and column",
             (_ints(rng, 3, 3), _ints(rng, 3, 3)), {"stride": 2, "padding": 1, "output_padding": 1}),
        Case("stride=3, 4x4 kernel, output_padding=2", (_ints(rng, 2, 3), _ints(rng, 4, 4)),
             {"stride": 3, "output_padding": 2}),
        Case("float32 input: the output should be float32 too",
             (rng.standard_normal((3, 3)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)),
             {"stride": 2}),
    ]


def _padding_added(ref, a):
    p = a["padding"]
    if not p:
        return None
    return np.pad(ref(**{**a, "padding": 0, "output_padding": 0}), p)


def _zeros_after_last(ref, a):
    s = a["stride"]
    if s == 1 or a["output_padding"]:
        return None
    return ref(**{**a, "output_padding": s - 1})


q2 = chapter.task(
    "q2", "the transposed convolution by zero insertion", function="conv_transpose2d_single",
    forbid=library("conv_transpose2d", "conv_transpose2d_backward", "conv2d_backward", "col2im",
                   "conv_matrix", what="the transposed convolution"),
    reference=_ref_transposed, cases=_cases_transposed,
    mistakes=[
        Mistake("kernel not flipped", (
            "your direct convolution used the kernel as it is. Written as a convolution over the "
            "zero-inserted input, the transposed convolution needs the kernel flipped in both "
            "axes: conv2d(z, weight[::-1, ::-1]) (each input stamps the kernel; reading the "
            "stamps back from the output's point of view reverses it)."),
            lambda ref, a: ref(**{**a, "weight": np.ascontiguousarray(a["weight"][::-1, ::-1])})),
        Mistake("output_padding missing", (
            "your output is what output_padding=0 gives. output_padding adds that many zeros to "
            "the border AFTER the input (bottom and right) before the convolution, so the output "
            "gets output_padding more rows and columns."),
            lambda ref, a: ref(**{**a, "output_padding": 0}) if a["output_padding"] else None),
        Mistake("padding added instead of removed", (
            "your output is p cells larger on every side than padding=0 gives, all zeros. In a "
            "transposed convolution `padding` is the padding of the convolution it transposes: "
            "it REMOVES p cells per side. The border of zeros is k - 1 - p, not k - 1 + p."),
            _padding_added),
        padding_ignored(),
        Mistake("zeros after the last input too", (
            "you inserted stride - 1 zeros after EVERY input pixel, the last one included. Zeros go "
            "only BETWEEN pixels: the zero-inserted input has (H - 1) * s + 1 rows."),
            _zeros_after_last),
        stride_ignored(),
    ],
    hints=[
        "Three steps: z = zeros of shape ((H-1)*s + 1, (W-1)*s + 1) with z[::s, ::s] = x; pad z "
        "with k - 1 - p zeros before and k - 1 - p + output_padding after, on both axes "
        "(np.pad(z, ((b, e), (b, e)))); convolve z with stride 1 and the FLIPPED kernel.",
        "The output has (H-1)*s - 2p + k + output_padding rows. Or skip the zeros: start from "
        "zeros((H-1)*s + k + output_padding, ...), add x[i, j] * weight at rows i*s .. i*s+k-1, "
        "columns j*s .. j*s+k-1 (no flip: a scatter), and crop p rows/columns from each side.",
    ])


# ---- q3: which output_padding? ---------------------------------------------------------------
def _ref_output_padding(input_size, kernel_size, stride, padding=0):
    return output_padding_for(input_size, kernel_size, stride, padding)


q3 = chapter.task(
    "q3", "the output_padding that gives back the input size", function="output_padding_needed",
    forbid=library("output_padding_for", "conv_transpose_output_size",
                   "conv_transpose_output_size_2d", what="the formula"),
    reference=_ref_output_padding,
    cases=[
        Case("5 pixels, k=3, s=2, p=1 (5 -> 3 -> 5)", (5, 3, 2, 1)),
        Case("6 pixels, k=3, s=2, p=1 (6 -> 3 -> 6?)", (6, 3, 2, 1)),
        Case("stride 1 is never ambiguous", (7, 3, 1, 0)),
        Case("8 pixels, k=3, s=3, no padding", (8, 3, 3, 0)),
        Case("224 pixels, k=7, s=2, p=3 (a ResNet stem)", (224, 7, 2, 3)),
        Case("11 pixels, k=4, s=3, p=1", (11, 4, 3, 1)),
    ],
    mistakes=[
        Mistake("padding forgotten", "the remainder is (i + 2p - k) mod s: the padding counts, "
                "twice (once per side).",
                lambda ref, a: (a["input_size"] - a["kernel_size"]) % a["stride"]),
        Mistake("the rounding of the wrong side", "you returned s - 1 - a. output_padding is the "
                "number of pixels the convolution's floor division dropped: (i + 2p - k) mod s.",
                lambda ref, a: a["stride"] - 1 - ref(**a) if a["stride"] > 1 else None),
    ],
    hints=[
        "The convolution gives o = (i + 2p - k) // s + 1 outputs; the transposed convolution "
        "gives back (o - 1) * s - 2p + k + output_padding. Set that equal to i.",
        "output_padding = i - ((o - 1) * s - 2p + k), which is (i + 2p - k) % s. Return an int.",
    ])
