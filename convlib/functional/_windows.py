"""Sliding windows over an NCHW array, and their adjoint — the two moves every op is made of.

``windows`` is im2col without the copy: a strided *view* of shape ``(N, C, Ho, Wo, kh, kw)``
whose entry ``[n, c, i, j, a, b]`` is ``x[n, c, i*sh + a*dh, j*sw + b*dw]``.
``add_windows`` is its adjoint (col2im): it adds each window entry back to the pixel it
came from. It loops over the ``kh * kw`` kernel taps only — never over pixels or batch.
``conv_geometry`` validates stride/padding/dilation for an input size once, for every op.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convlib._validate import nonnegative_pair, one_of, positive_pair

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


def resolve_padding(padding, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int]) -> Pads:
    """``padding`` (int, pair, "valid" or "same") as per-side pads ``(top, bottom, left, right)``.

    "same" follows PyTorch: stride must be 1; total ``d*(k-1)``, the odd pixel goes after.
    """
    if isinstance(padding, str):
        one_of(padding, "padding", ("valid", "same"))
        if padding == "valid":
            return (0, 0, 0, 0)
        if stride != (1, 1):
            raise ValueError(
                f"padding='same' needs stride 1 (as in PyTorch), got stride={stride}; "
                "use an explicit padding, or convlib.arithmetic.padding_for('same', ...) "
                "for TensorFlow's asymmetric SAME"
            )
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)  # type: ignore[return-value]
    ph, pw = nonnegative_pair(padding, "padding")
    return (ph, ph, pw, pw)


def pad_nchw(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """A new array: ``x`` with ``pads = (top, bottom, left, right)`` rows/columns of ``value``."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + top + bottom, w + left + right), value, x.dtype)  # np.pad: 4x slower
    out[:, :, top:top + h, left:left + w] = x
    return out


def padded_rows(x: np.ndarray, geom: "ConvGeometry", r0: int, r1: int) -> np.ndarray:
    """A new array: the padded rows of ``x (N, C, H, W)`` that output rows ``r0 .. r1-1`` read,
    i.e. padded rows ``r0*sh .. (r1-1)*sh + dh*(kh-1)``, padded left and right too."""
    n, c, h, w = x.shape
    top, bottom, left, right = geom.pads
    if r0 == 0 and r1 == geom.out_hw[0]:
        return pad_nchw(x, geom.pads)
    p0 = r0 * geom.stride[0]
    p1 = (r1 - 1) * geom.stride[0] + geom.dilation[0] * (geom.kernel[0] - 1) + 1
    slab = np.zeros((n, c, p1 - p0, w + left + right), x.dtype)
    s0, s1 = max(p0, top), min(p1, top + h)  # padded rows that hold image rows
    if s1 > s0:
        slab[:, :, s0 - p0:s1 - p0, left:left + w] = x[:, :, s0 - top:s1 - top]
    return slab


def wrapped_columns(shift: int, width: int) -> slice:
    """In rows kept at the input's ``width``, the output columns ``j`` whose tap at column
    ``j + shift`` lies outside ``0 .. width-1``: read as one flat slice, that tap took a pixel of
    the neighbouring row, where the padding should be zero. Empty for ``shift = 0``."""
    if shift < 0:
        return slice(0, min(width, -shift))
    return slice(max(0, width - shift), width)


def output_hw(hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int]) -> tuple[int, int]:
    """``floor((i - d*(k-1) - 1) / s) + 1`` per axis, for an already padded size ``hw``."""
    return tuple((i - d * (k - 1) - 1) // s + 1 for i, k, s, d in zip(hw, kernel, stride, dilation))  # type: ignore[return-value]


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int], out_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read-only strided view ``(N, C, Ho, Wo, kh, kw)`` of the (already padded) ``xp``."""
    n, c, h, w = xp.shape
    ho, wo = out_hw if out_hw is not None else output_hw((h, w), kernel, stride, dilation)
    sn, sc, sh, sw = xp.strides
    return as_strided(
        xp,
        shape=(n, c, ho, wo, kernel[0], kernel[1]),
        strides=(sn, sc, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1]),
        writeable=False,
    )


def add_windows(cols: np.ndarray, padded_hw: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int]) -> np.ndarray:
    """Adjoint of :func:`windows`: sum ``cols (N, C, Ho, Wo, kh, kw)`` into a padded image.

    Returns a new array ``(N, C, Hp, Wp)``; crop the padding off afterwards.
    """
    n, c, ho, wo, kh, kw = cols.shape
    out = np.zeros((n, c) + tuple(padded_hw), dtype=cols.dtype)
    sh, sw = stride
    dh, dw = dilation
    for a in range(kh):
        for b in range(kw):
            out[:, :, a * dh: a * dh + sh * (ho - 1) + 1: sh,
                b * dw: b * dw + sw * (wo - 1) + 1: sw] += cols[:, :, :, :, a, b]
    return out


def crop_nchw(xp: np.ndarray, pads: Pads) -> np.ndarray:
    """Remove ``pads = (top, bottom, left, right)`` from the border of ``xp``."""
    top, bottom, left, right = pads
    h, w = xp.shape[-2:]
    return xp[..., top: h - bottom, left: w - right]


class ConvGeometry(NamedTuple):
    """Everything about a conv2d call except the numbers in the arrays."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: Pads
    dilation: tuple[int, int]
    out_hw: tuple[int, int]


def conv_geometry(in_hw: tuple[int, int], kernel: tuple[int, int], stride, padding, dilation,
                  what: str = "x") -> ConvGeometry:
    """Validate ``stride``/``padding``/``dilation`` of a convolution over an ``in_hw`` image.

    Raises ValueError/TypeError naming the argument, including when the dilated kernel does
    not fit in the padded input (PyTorch refuses that too).
    """
    stride = positive_pair(stride, "stride")
    dilation = positive_pair(dilation, "dilation")
    pads = resolve_padding(padding, kernel, stride, dilation)
    padded = (in_hw[0] + pads[0] + pads[1], in_hw[1] + pads[2] + pads[3])
    for axis, p, k, d in zip(("height", "width"), padded, kernel, dilation):
        if d * (k - 1) + 1 > p:
            raise ValueError(
                f"kernel size {k} (dilated to {d * (k - 1) + 1}) is larger than the padded {what} "
                f"{axis} {p}; use a smaller kernel or dilation, or more padding"
            )
    return ConvGeometry(kernel, stride, pads, dilation, output_hw(padded, kernel, stride, dilation))
