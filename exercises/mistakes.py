"""Deliberately wrong versions of a reference: the diagnoses of ``q.check``.

A :class:`Mistake` recomputes the output a learner would get with one specific error (the
kernel flipped, the stride ignored, ...) by calling the *reference* on altered arguments. When
the learner's output equals that wrong output, the checker names the mistake. Nothing is
guessed from the learner's text. The factories below suit any conv-like reference whose
arguments are called ``x``, ``weight``, ``stride``, ``padding``, ``bias``; a chapter can add
its own with ``Mistake(name, message, wrong)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from exercises._compare import compare

__all__ = ["Mistake", "AnyOf", "kernel_flipped", "stride_ignored", "stride_not_in_window", "padding_ignored", "padding_one_side",
           "bias_ignored", "generic_diagnosis"]


class AnyOf(list):
    """Several candidate wrong outputs (e.g. padding on the top/left or on the bottom/right);
    a mistake matches when the learner's output equals any of them."""


@dataclass
class Mistake:
    """``wrong(reference, arguments)`` returns the output of the mistaken computation (or an
    :class:`AnyOf` of several), or ``None`` when the mistake would not show on these arguments
    (e.g. stride ignored when the stride is 1)."""

    name: str
    message: str
    wrong: Callable[[Callable, dict], object] | None = None

    def matches(self, reference: Callable, arguments: dict, actual, names=None) -> bool:
        try:
            out = self.wrong(reference, arguments)
        except Exception:
            return False
        outs = out if isinstance(out, AnyOf) else [out]
        return any(o is not None and compare(o, actual, names) is None for o in outs)


def _nonzero(value) -> bool:
    return any(v != 0 for v in np.atleast_1d(value)) if not isinstance(value, str) else False


def _not_one(value) -> bool:
    return any(v != 1 for v in np.atleast_1d(value))


def kernel_flipped(weight: str = "weight") -> Mistake:
    def wrong(ref, a):
        return ref(**{**a, weight: np.ascontiguousarray(a[weight][..., ::-1, ::-1])})
    return Mistake("kernel flipped", (
        "your output is a true (mathematical) convolution: the kernel flipped upside down and "
        "left-right. Deep-learning 'convolution' is cross-correlation: "
        "out[i, j] = sum over u, v of x[i + u, j + v] * w[u, v] - no flip."), wrong)


def stride_ignored(stride: str = "stride") -> Mistake:
    def wrong(ref, a):
        return ref(**{**a, stride: 1}) if _not_one(a[stride]) else None
    return Mistake("stride ignored", (
        "your output is what stride 1 gives. With stride s the window moves s pixels at a time: "
        "output (i, j) starts at input (i * s, j * s), and H_out = (H + 2p - k) // s + 1."), wrong)


def stride_not_in_window(stride: str = "stride") -> Mistake:
    """The output size uses the stride, but window (i, j) starts at (i, j) instead of (i*s, j*s)."""
    def wrong(ref, a):
        if not _not_one(a[stride]):
            return None
        full = ref(**{**a, stride: 1})
        right = ref(**a)
        return full[..., :right.shape[-2], :right.shape[-1]]
    return Mistake("stride missing in the window position", (
        "your output has the right size, but window (i, j) starts at input (i, j). With stride s "
        "it starts at (i * s, j * s): xp[..., i*s : i*s + kh, j*s : j*s + kw]."), wrong)


def padding_ignored(padding: str = "padding") -> Mistake:
    def wrong(ref, a):
        return ref(**{**a, padding: 0}) if _nonzero(a[padding]) else None
    return Mistake("padding ignored", (
        "your output is what padding 0 gives. Add `padding` rows and columns of zeros on every "
        "side before sliding the window: np.pad over the last two axes."), wrong)


def padding_one_side(x: str = "x", padding: str = "padding") -> Mistake:
    """Zeros added on one side only (top/left or bottom/right), once or twice the amount."""
    def wrong(ref, a):
        p = a[padding]
        if not _nonzero(p):
            return None
        ph, pw = (p, p) if np.ndim(p) == 0 else p
        lead = [(0, 0)] * (a[x].ndim - 2)
        variants = []
        for k in (1, 2):
            variants.append(lead + [(k * ph, 0), (k * pw, 0)])
            variants.append(lead + [(0, k * ph), (0, k * pw)])
        return AnyOf([ref(**{**a, x: np.pad(a[x], v), padding: 0}) for v in variants])
    return Mistake("padding on one side only", (
        "your output is what you get with the zeros added only at the top/left or only at the "
        "bottom/right. `padding` is per side: p zeros before AND p zeros after, on both axes - "
        "np.pad(x, ((p, p), (p, p)))."), wrong)


def bias_ignored(bias: str = "bias") -> Mistake:
    def wrong(ref, a):
        return ref(**{**a, bias: None}) if a.get(bias) is not None else None
    return Mistake("bias ignored", "your output is right except that the bias was never added: "
                   "out[n, o] gets + bias[o] once, for every pixel.", wrong)


def generic_diagnosis(expected, actual) -> Mistake | None:
    """Mistakes that need no reference call: transposed, all zeros, sign flipped."""
    if not isinstance(expected, np.ndarray) or not isinstance(actual, np.ndarray) or expected.ndim < 2:
        return None
    if actual.dtype != object and actual.size and actual.shape == expected.shape and not np.any(actual):
        return Mistake("all zeros", "your output is all zeros: is the result written into the "
                       "output array (out[i, j] = ...), and is the sum accumulated (+=)?", None)
    swapped = np.swapaxes(expected, -1, -2)
    if expected.shape[-1] != expected.shape[-2] or actual.shape == swapped.shape:
        if compare(swapped, actual) is None:
            return Mistake("transposed output", "your output is the expected one with its last two "
                           "axes swapped: rows are i (height), columns are j (width); index as "
                           "out[..., i, j].", None)
    if actual.shape == expected.shape and compare(-expected, actual) is None:
        return Mistake("sign flipped", "your output is the expected one times -1.", None)
    return None
