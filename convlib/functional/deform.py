"""Deformable convolution (v1 and v2, modulated), forward and backward, in plain numpy.

A deformable convolution is an ordinary convolution whose kernel taps do not sit on a fixed
grid: every tap of every output pixel reads the input at its grid position plus a learned,
fractional offset ``(dy, dx)`` (Dai et al., 2017, "Deformable Convolutional Networks"), read
by bilinear interpolation, and in v2 is also scaled by a learned modulation scalar ``m``
(Zhu et al., 2019, "Deformable ConvNets v2: More Deformable, Better Results").

Semantics, argument names and layouts are those of ``torchvision.ops.deform_conv2d``.
The computation is a "deformable im2col": sample every tap of every output pixel at once
(four bilinear corners, gathered with ``np.take_along_axis``), then one matrix product with
the weight per group. The backward pass scatters into the input with ``np.bincount`` and
differentiates the bilinear weights in closed form for the offsets.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from convlib._validate import IntPair, as_array, check_groups, nonnegative_pair, positive_pair
from convlib.functional._windows import output_hw

__all__ = ["deform_conv2d", "deform_conv2d_backward"]


class _Args(NamedTuple):
    x: np.ndarray
    offset: np.ndarray
    weight: np.ndarray
    bias: Optional[np.ndarray]
    mask: Optional[np.ndarray]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    offset_groups: int
    dtype: np.dtype


def _check(input, offset, weight, bias, stride, padding, dilation, mask) -> _Args:
    """Validate every argument once; return them as arrays of one common float dtype."""
    x = as_array(input, "input", 4, "(N, C_in, H, W)")
    offset = as_array(offset, "offset", 4, "(N, 2 * offset_groups * kh * kw, H_out, W_out)")
    weight = as_array(weight, "weight", 4, "(C_out, C_in / groups, kh, kw)")
    if mask is not None:
        mask = as_array(mask, "mask", 4, "(N, offset_groups * kh * kw, H_out, W_out)")
    if bias is not None:
        bias = as_array(bias, "bias", 1, "(C_out,)")
    stride = positive_pair(stride, "stride")
    padding = nonnegative_pair(padding, "padding")
    dilation = positive_pair(dilation, "dilation")

    n, c_in, h, w = x.shape
    c_out, c_in_g, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"weight must have no empty dimension, got shape {weight.shape}")
    if c_in % c_in_g:
        raise ValueError(
            f"input has {c_in} channels but weight expects a multiple of {c_in_g} "
            f"(weight.shape[1] = C_in / groups)"
        )
    groups = check_groups(c_in // c_in_g, c_in, c_out)
    if bias is not None and bias.shape[0] != c_out:
        raise ValueError(f"bias must have {c_out} entries (C_out), got {bias.shape[0]}")

    taps = kh * kw
    if offset.shape[0] != n:
        raise ValueError(f"offset has batch size {offset.shape[0]} but input has {n}")
    if offset.shape[1] == 0 or offset.shape[1] % (2 * taps):
        raise ValueError(
            f"offset must have 2 * offset_groups * kh * kw channels, a positive multiple of "
            f"2 * {kh} * {kw} = {2 * taps}, got {offset.shape[1]}"
        )
    offset_groups = offset.shape[1] // (2 * taps)
    if c_in % offset_groups:
        raise ValueError(
            f"offset_groups = {offset_groups} (offset channels / (2 * kh * kw)) must divide "
            f"the input channels ({c_in})"
        )
    out = output_hw((h + 2 * padding[0], w + 2 * padding[1]), (kh, kw), stride, dilation)
    if min(out) < 1:
        raise ValueError(
            f"kernel {kh}x{kw} with dilation {dilation} is larger than the padded input "
            f"{h + 2 * padding[0]}x{w + 2 * padding[1]}"
        )
    if offset.shape[2:] != out:
        raise ValueError(
            f"offset has spatial size {offset.shape[2:]} but the convolution output is {out}"
        )
    if mask is not None:
        expected = (n, offset_groups * taps) + out
        if mask.shape != expected:
            raise ValueError(
                f"mask must have shape (N, offset_groups * kh * kw, H_out, W_out) = {expected}, "
                f"got {mask.shape}"
            )
    if not np.isfinite(offset).all():
        raise ValueError("offset must be finite (found NaN or inf)")
    if mask is not None and not np.isfinite(mask).all():
        raise ValueError("mask must be finite (found NaN or inf)")

    arrays = [a for a in (x, offset, weight, bias, mask) if a is not None]
    dtype = np.result_type(*arrays)
    return _Args(x, offset, weight, bias, mask, stride, padding, dilation, groups,
                 offset_groups, dtype)


def _corners(a: _Args) -> list[tuple[np.ndarray, ...]]:
    """The four bilinear corners of every sampling position ``(N, G, K, H_out, W_out)``.

    Returns, per corner ``(ay, ax)`` in {0, 1}^2, a tuple ``(index, weight, dweight_dy,
    dweight_dx)``: ``index (N, G, K * H_out * W_out)`` is the flat pixel index ``y * W + x``,
    or ``H * W`` (one extra zero pixel) when the corner lies outside the image;
    ``weight (N, G, K, H_out, W_out)`` is its bilinear weight and the last two are the
    derivatives of that weight with respect to the sampling position.
    """
    n, _, h, w = a.x.shape
    kh, kw = a.weight.shape[2:]
    ho, wo = a.offset.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = a.stride, a.padding, a.dilation
    off = a.offset.astype(a.dtype, copy=False).reshape(n, a.offset_groups, kh * kw, 2, ho, wo)
    i, j = np.divmod(np.arange(kh * kw), kw)                      # tap t = i * kw + j
    base_y = (np.arange(ho) * sh - ph)[None, :, None] + (i * dh)[:, None, None]   # (K, Ho, 1)
    base_x = (np.arange(wo) * sw - pw)[None, None, :] + (j * dw)[:, None, None]   # (K, 1, Wo)
    y = base_y.astype(a.dtype) + off[:, :, :, 0]                  # (N, G, K, Ho, Wo)
    x = base_x.astype(a.dtype) + off[:, :, :, 1]
    y0, x0 = np.floor(y), np.floor(x)
    ly, lx = y - y0, x - x0                                       # fractional parts in [0, 1)
    corners = []
    for ay in (0, 1):
        yc = y0 + ay
        wy, dwy = (ly, 1.0) if ay else (1 - ly, -1.0)
        for ax in (0, 1):
            xc = x0 + ax
            wx, dwx = (lx, 1.0) if ax else (1 - lx, -1.0)
            inside = (yc >= 0) & (yc <= h - 1) & (xc >= 0) & (xc <= w - 1)
            flat = (np.clip(yc, 0, max(h - 1, 0)).astype(np.int64) * w
                    + np.clip(xc, 0, max(w - 1, 0)).astype(np.int64))
            index = np.where(inside, flat, h * w).reshape(n, a.offset_groups, -1)
            corners.append((index, wy * wx, dwy * wx, wy * dwx))
    return corners


def _flat_image(a: _Args) -> np.ndarray:
    """``input`` as ``(N, G, C / G, H * W + 1)``: a copy with one trailing zero pixel."""
    n, c, h, w = a.x.shape
    g = a.offset_groups
    flat = np.zeros((n, g, c // g, h * w + 1), dtype=a.dtype)
    flat[..., :-1] = a.x.reshape(n, g, c // g, h * w)
    return flat


def _sample(flat: np.ndarray, index: np.ndarray, taps: int, out: tuple[int, int]) -> np.ndarray:
    """Gather ``flat[n, g, c, index[n, g, :]]`` as ``(N, G, C / G, K, H_out, W_out)``."""
    v = np.take_along_axis(flat, index[:, :, None, :], axis=3)
    return v.reshape(v.shape[:3] + (taps,) + out)


def deform_conv2d(
    input: np.ndarray,
    offset: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Deformable 2-D convolution (v1; v2 when ``mask`` is given), as ``torchvision.ops.deform_conv2d``.

    Shapes: ``input (N, C_in, H, W)``, ``offset (N, 2 * G * kh * kw, H_out, W_out)``,
    ``weight (C_out, C_in / groups, kh, kw)``, ``bias (C_out,)``,
    ``mask (N, G * kh * kw, H_out, W_out)`` -> ``(N, C_out, H_out, W_out)``.
    ``groups = C_in / weight.shape[1]``; ``G = offset.shape[1] / (2 * kh * kw)`` offset groups,
    each of ``C_in / G`` consecutive input channels sharing one set of offsets and masks.
    Offsets are interleaved per tap ``t = i * kw + j``: channel ``2 * (g * kh * kw + t)`` is
    ``dy`` and the next one ``dx``.

    Formula (Dai et al. 2017; the mask ``m`` from Zhu et al. 2019, else ``m = 1``)::

        out[n, o, p, q] = bias[o] + sum_{c in group(o)} sum_{i, j}
                          weight[o, c, i, j] * m[n, g(c), t, p, q] * X[n, c](y, x)
        y = p * stride_h - padding_h + i * dilation_h + dy[n, g(c), t, p, q]
        x = q * stride_w - padding_w + j * dilation_w + dx[n, g(c), t, p, q]

    where ``X(y, x)`` is bilinear interpolation of the four pixels around ``(y, x)``, a pixel
    outside the image reading 0 (so a sample with ``y <= -1``, ``y >= H``, ``x <= -1`` or
    ``x >= W`` is 0). Zero offsets and no mask give ``conv2d``.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2))
    >>> deform_conv2d(x, np.zeros((1, 8, 3, 3)), w)[0, 0, 0]        # plain 2x2 box sums
    array([10., 14., 18.])
    >>> shift = np.zeros((1, 8, 3, 3)); shift[:, 1::2] = 0.5         # every dx = +0.5
    >>> deform_conv2d(x, shift, w)[0, 0, 0]
    array([12., 16., 14.])

    See: chapter Deformable convolution
    """
    a = _check(input, offset, weight, bias, stride, padding, dilation, mask)
    n, c_in = a.x.shape[:2]
    c_out, c_in_g, kh, kw = a.weight.shape
    ho, wo = a.offset.shape[2:]
    g = a.offset_groups
    taps = kh * kw
    flat = _flat_image(a)
    cols = np.zeros((n, g, c_in // g, taps, ho, wo), dtype=a.dtype)
    for index, wgt, _, _ in _corners(a):
        cols += wgt[:, :, None] * _sample(flat, index, taps, (ho, wo))
    if a.mask is not None:
        cols *= a.mask.reshape(n, g, 1, taps, ho, wo)
    cols = cols.reshape(n, a.groups, c_in_g * taps, ho * wo)
    wmat = a.weight.astype(a.dtype, copy=False).reshape(a.groups, c_out // a.groups, c_in_g * taps)
    out = np.matmul(wmat, cols).reshape(n, c_out, ho, wo)           # one product per group
    if a.bias is not None:
        out += a.bias.reshape(1, c_out, 1, 1)
    return out


def deform_conv2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    offset: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
    """Gradients of :func:`deform_conv2d` given ``grad_output (N, C_out, H_out, W_out)``.

    Takes the forward's arguments after ``grad_output`` and returns
    ``(grad_input, grad_offset, grad_weight, grad_bias, grad_mask)``, each shaped like its
    argument; ``grad_bias`` is None when ``bias`` is None and ``grad_mask`` is None when
    ``mask`` is None (the bias value itself is not used).

    With ``S = X(y, x)`` the bilinear sample and ``G = dL/d(column) = weight^T grad_output``::

        dL/dinput  : each sample adds m * G * (bilinear weight) to each of its four pixels
        dL/ddy     = sum_c m * G * [(1 - lx) (X[y0+1, x0] - X[y0, x0]) + lx (X[y0+1, x0+1] - X[y0, x0+1])]
        dL/ddx     = sum_c m * G * [(1 - ly) (X[y0, x0+1] - X[y0, x0]) + ly (X[y0+1, x0+1] - X[y0+1, x0])]
        dL/dm      = sum_c G * S,   dL/dweight = grad_output x columns,   dL/dbias = sum grad_output

    with ``y0 = floor(y)``, ``ly = y - y0`` (likewise for x) and pixels outside the image 0.
    At integer sampling positions the offset gradient is the one-sided (right) derivative,
    as in torchvision.

    See: chapter Deformable convolution
    """
    a = _check(input, offset, weight, bias, stride, padding, dilation, mask)
    n, c_in, h, w = a.x.shape
    c_out, c_in_g, kh, kw = a.weight.shape
    ho, wo = a.offset.shape[2:]
    go = as_array(grad_output, "grad_output", 4, "(N, C_out, H_out, W_out)")
    if go.shape != (n, c_out, ho, wo):
        raise ValueError(
            f"grad_output must have the output's shape {(n, c_out, ho, wo)}, got {go.shape}"
        )
    dtype = np.result_type(a.dtype, go.dtype)
    go = go.astype(dtype, copy=False)
    g, taps, cg = a.offset_groups, kh * kw, c_in // a.offset_groups

    go_g = go.reshape(n, a.groups, c_out // a.groups, ho * wo)
    wmat = a.weight.astype(dtype, copy=False).reshape(a.groups, c_out // a.groups, c_in_g * taps)
    grad_cols = np.matmul(wmat.transpose(0, 2, 1), go_g).reshape(n, g, cg, taps, ho, wo)
    m = 1.0 if a.mask is None else a.mask.astype(dtype, copy=False).reshape(n, g, 1, taps, ho, wo)
    grad_sampled = grad_cols * m

    flat = _flat_image(a)
    sampled = np.zeros((n, g, cg, taps, ho, wo), dtype=dtype)
    grad_flat = np.zeros(flat.size, dtype=np.float64)
    grad_dy = np.zeros((n, g, taps, ho, wo), dtype=dtype)
    grad_dx = np.zeros_like(grad_dy)
    base = (np.arange(n * g * cg) * (h * w + 1)).reshape(n, g, cg, 1)
    for index, wgt, dwgt_dy, dwgt_dx in _corners(a):
        v = _sample(flat, index, taps, (ho, wo))
        sampled += wgt[:, :, None] * v
        s = np.einsum("ngckpq,ngckpq->ngkpq", grad_sampled, v)    # sum over channels
        grad_dy += dwgt_dy * s
        grad_dx += dwgt_dx * s
        grad_flat += np.bincount((base + index[:, :, None, :]).ravel(),
                                 weights=(grad_sampled * wgt[:, :, None]).ravel(),
                                 minlength=flat.size)
    grad_input = grad_flat.reshape(n, g, cg, h * w + 1)[..., :-1].reshape(n, c_in, h, w)
    grad_offset = np.stack([grad_dy, grad_dx], axis=3).reshape(n, 2 * g * taps, ho, wo)
    grad_mask = None
    if a.mask is not None:
        grad_mask = np.einsum("ngckpq,ngckpq->ngkpq", grad_cols, sampled).reshape(
            n, g * taps, ho, wo)
    cols = (sampled * m).reshape(n, a.groups, c_in_g * taps, ho * wo)
    grad_weight = np.matmul(go_g, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(a.weight.shape)
    grad_bias = None if a.bias is None else go.sum(axis=(0, 2, 3))
    return grad_input.astype(dtype), grad_offset, grad_weight, grad_bias, grad_mask
