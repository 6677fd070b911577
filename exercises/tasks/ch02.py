"""Exercises for the chapter "Padding, stride and dilation": an output-size calculator.

q1: the output size of a convolution along one axis (dilation included); q2: of a transposed
convolution; q3: the ``output_padding`` that makes a transposed conv give back a size. The
references are ``convlib.arithmetic``'s functions; tests/test_exercises_ch02.py proves they equal
PyTorch's shapes on every case. Each diagnosis recomputes the number a specific mistake gives
(dilation forgotten, total padding used as per-side, ceil instead of floor, ...).
"""

from __future__ import annotations

import math

from convlib import arithmetic as A
from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake

__all__ = ["chapter", "q1", "q2", "q3", "conv_size_reference", "transpose_size_reference",
           "output_padding_reference"]

chapter = Chapter("ch02", "Padding, stride and dilation", notebook="ch02_padding_stride_dilation")


# ---- q1: convolution ---------------------------------------------------------------------
def conv_size_reference(i, k, s=1, p=0, d=1):
    """``floor((i + 2p - d*(k-1) - 1) / s) + 1`` (convlib.arithmetic.conv_output_size)."""
    return A.conv_output_size(i, k, s, p, d)


def _conv(i, k, s, p, d, *, dilation=True, sides=2, rounding="floor", plus_one=True, span=None):
    k_hat = (d * (k - 1) + 1 if dilation else k) if span is None else span
    top = i + sides * p - k_hat
    q = top // s if rounding == "floor" else math.ceil(top / s)
    return q + (1 if plus_one else 0)


_CONV_MISTAKES = [
    Mistake("dilation forgotten", (
        "your size is what the kernel would give with dilation 1. A dilated kernel spans "
        "k_hat = d*(k-1) + 1 cells, and that span, not k, goes into the formula: "
        "o = (i + 2p - k_hat) // s + 1."),
        lambda ref, a: _conv(**a, dilation=False) if a["d"] > 1 else None),
    Mistake("dilation as d*k", (
        "you used d*k for the kernel's span. The taps are d apart, so k taps span "
        "d*(k-1) + 1 cells (3 taps with d = 2: cells 0, 2, 4, a span of 5, not 6)."),
        lambda ref, a: _conv(**a, span=a["d"] * a["k"]) if a["d"] > 1 else None),
    Mistake("total padding instead of per-side", (
        "you added p once. Here p is the padding on EACH side (PyTorch's padding=p, Dumoulin & "
        "Visin's p), so the padded input has i + 2p cells. Formulas that write p for the total "
        "padding (d2l's p_h) have p where this one has 2p."),
        lambda ref, a: _conv(**a, sides=1) if a["p"] > 0 else None),
    Mistake("ceil instead of floor", (
        "you rounded up. A window that would stick out past the padded input is not taken, so "
        "the division rounds down: o = floor((i + 2p - k_hat) / s) + 1. (Ceil belongs to "
        "pooling's ceil_mode and TensorFlow's SAME, not to a convolution.)"),
        lambda ref, a: _conv(**a, rounding="ceil")),
    Mistake("the +1 is missing", (
        "you counted the hops between windows, not the windows. The first window sits at 0; "
        "then (i + 2p - k_hat) // s more fit: o = (i + 2p - k_hat) // s + 1."),
        lambda ref, a: _conv(**a, plus_one=False)),
]

_CONV_CASES = [
    Case("no padding, unit stride (Dumoulin & Visin, Rel. 1): i=4, k=3", (4, 3)),
    Case("padding 2 on each side (Rel. 2): i=5, k=4, p=2", (5, 4), {"p": 2}),
    Case("half padding keeps the size (Rel. 3): i=5, k=3, p=1", (5, 3), {"p": 1}),
    Case("stride 2, nothing left over (Rel. 5): i=5, k=3, s=2", (5, 3), {"s": 2}),
    Case("stride 2 with padding, the last padded row unread (Rel. 6): i=6, k=3, s=2, p=1",
         (6, 3), {"s": 2, "p": 1}),
    Case("ResNet's stem: i=224, k=7, s=2, p=3", (224, 7), {"s": 2, "p": 3}),
    Case("dilation 2 (Rel. 15): i=7, k=3, d=2", (7, 3), {"d": 2}),
    Case("dilation, padding and stride together: i=10, k=3, s=3, p=2, d=3",
         (10, 3), {"s": 3, "p": 2, "d": 3}),
]

q1 = chapter.task(
    "q1", "output size of a convolution", function="conv_output_size",
    forbid=library("conv_output_size", "conv_output_size_2d", "pool_output_size",
                   "pool_output_size_2d", what="the formula"),
    reference=conv_size_reference, cases=_CONV_CASES, mistakes=_CONV_MISTAKES,
    hints=[
        "First the kernel's span: k_hat = d*(k - 1) + 1. The padded input has i + 2*p cells "
        "(p on each side). Windows start at 0, s, 2s, ... as long as start + k_hat <= i + 2p.",
        "o = (i + 2*p - k_hat) // s + 1. Use // (floor division) so the result is an int.",
    ])


# ---- q2: transposed convolution --------------------------------------------------------------
def transpose_size_reference(i, k, s=1, p=0, d=1, output_padding=0):
    """``(i-1)*s - 2p + d*(k-1) + output_padding + 1`` (convlib.arithmetic)."""
    return A.conv_transpose_output_size(i, k, s, p, d, output_padding)


def _tconv(i, k, s, p, d, output_padding, *, dilation=True, sides=2, use_a=True, i_minus_1=True):
    k_hat = d * (k - 1) + 1 if dilation else k
    return (i - 1 if i_minus_1 else i) * s - sides * p + k_hat + (output_padding if use_a else 0)


_TCONV_MISTAKES = [
    Mistake("dilation forgotten", (
        "your size ignores the dilation. The transposed conv spreads each input over the "
        "dilated kernel's span k_hat = d*(k-1) + 1: o' = (i' - 1)*s - 2p + k_hat + a."),
        lambda ref, a: _tconv(**a, dilation=False) if a["d"] > 1 else None),
    Mistake("total padding instead of per-side", (
        "you took p off once. The transposed conv undoes a convolution that padded p on EACH "
        "side, so 2p cells come off: o' = (i' - 1)*s - 2p + k_hat + a."),
        lambda ref, a: _tconv(**a, sides=1) if a["p"] > 0 else None),
    Mistake("output_padding ignored", (
        "your size does not include output_padding (a). It adds a cells at the end (bottom / "
        "right) to pick the larger of the input sizes the convolution maps to i' (Rel. 14)."),
        lambda ref, a: _tconv(**a, use_a=False) if a["output_padding"] > 0 else None),
    Mistake("s*i' instead of s*(i'-1)", (
        "you multiplied i' by s. The i' inputs, spread s apart, span s*(i' - 1) + 1 cells: "
        "there are i' - 1 gaps between them, not i'."),
        lambda ref, a: _tconv(**a, i_minus_1=False)),
]

_TCONV_CASES = [
    Case("transposed of Rel. 1: i'=2, k=3 (Rel. 8)", (2, 3)),
    Case("transposed of half padding: i'=5, k=3, p=1 keeps the size (Rel. 10)", (5, 3), {"p": 1}),
    Case("stride 2, no padding (Rel. 12): i'=2, k=3, s=2", (2, 3), {"s": 2}),
    Case("stride 2 with padding (Rel. 13): i'=3, k=3, s=2, p=1", (3, 3), {"s": 2, "p": 1}),
    Case("output_padding picks the larger size (Rel. 14): i'=3, k=3, s=2, p=1, a=1",
         (3, 3), {"s": 2, "p": 1, "output_padding": 1}),
    Case("a DCGAN-style upsampling: i'=16, k=4, s=2, p=1", (16, 4), {"s": 2, "p": 1}),
    Case("dilation 2: i'=4, k=3, d=2", (4, 3), {"d": 2}),
    Case("everything: i'=5, k=3, s=3, p=2, d=2, a=2", (5, 3),
         {"s": 3, "p": 2, "d": 2, "output_padding": 2}),
]

q2 = chapter.task(
    "q2", "output size of a transposed convolution", function="conv_transpose_output_size",
    forbid=library("conv_transpose_output_size", "conv_transpose_output_size_2d", what="the formula"),
    reference=transpose_size_reference, cases=_TCONV_CASES, mistakes=_TCONV_MISTAKES,
    hints=[
        "Run the convolution's formula backwards. A conv with o = (i + 2p - k_hat) // s + 1 "
        "turns i into o; the transposed conv turns i' back into (i' - 1)*s + k_hat - 2p, plus "
        "output_padding cells at the end.",
        "o' = (i - 1)*s - 2*p + d*(k - 1) + output_padding + 1 (here i is the transposed conv's "
        "input size).",
    ])


# ---- q3: output_padding --------------------------------------------------------------------
def output_padding_reference(i, k, s=1, p=0, d=1):
    """``(i + 2p - d*(k-1) - 1) mod s`` (convlib.arithmetic.output_padding_for)."""
    return A.output_padding_for(i, k, s, p, d)


_AP_MISTAKES = [
    Mistake("padding ignored", (
        "your a ignores the padding. What is left over after the last window is "
        "(i + 2p - k_hat) mod s: the padded input is what the windows hop over."),
        lambda ref, a: (a["i"] - a["d"] * (a["k"] - 1) - 1) % a["s"] if a["p"] > 0 else None),
    Mistake("dilation forgotten", (
        "your a uses k instead of the dilated span k_hat = d*(k-1) + 1."),
        lambda ref, a: (a["i"] + 2 * a["p"] - a["k"]) % a["s"] if a["d"] > 1 else None),
    Mistake("always 0", (
        "0 is right only when (i + 2p - k_hat) is a multiple of s. Otherwise the convolution "
        "maps several input sizes to the same output, and a says how many cells the smallest "
        "of them is short of i."),
        lambda ref, a: 0),
]

_AP_CASES = [
    Case("i=5, k=3, s=2: nothing left over", (5, 3), {"s": 2}),
    Case("i=6, k=3, s=2: one row never read", (6, 3), {"s": 2}),
    Case("i=6, k=3, s=2, p=1 (Rel. 6's even case)", (6, 3), {"s": 2, "p": 1}),
    Case("i=10, k=3, s=4, p=1: here the padding matters", (10, 3), {"s": 4, "p": 1}),
    Case("i=12, k=3, s=3, d=2", (12, 3), {"s": 3, "d": 2}),
    Case("i=224, k=7, s=2, p=3 (ResNet's stem)", (224, 7), {"s": 2, "p": 3}),
]

q3 = chapter.task(
    "q3", "the output_padding that gives the size back", function="output_padding_for",
    forbid=library("output_padding_for", "conv_transpose_output_size",
                   "conv_transpose_output_size_2d", what="the formula"),
    reference=output_padding_reference, cases=_AP_CASES, mistakes=_AP_MISTAKES,
    hints=[
        "After the last window, (i + 2p - k_hat) mod s cells of the padded input are left over. "
        "The transposed conv cannot know about them: output_padding adds exactly that many.",
        "a = (i + 2*p - d*(k - 1) - 1) % s. Check: conv_transpose_output_size(conv_output_size("
        "i, k, s, p, d), k, s, p, d, a) == i.",
    ])
