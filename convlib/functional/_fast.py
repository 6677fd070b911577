"""Faster ways to compute the same convolution products (used by :mod:`convlib.functional.conv`).

Three ideas, each exact (same sums, only another order of memory accesses):

- **Flat columns** (stride 1). In the padded image flattened row by row (width ``Wp``), tap
  ``(a, b)`` of output pixel ``(i, j)`` reads index ``(i*Wp + j) + (a*dh*Wp + b*dw)``: for every
  output pixel of every row at once, one *contiguous* slice. So the column matrix is built by
  ``kh*kw`` block copies (fast, like memcpy) instead of a 6-D strided gather, and one matrix
  product follows. The product is computed on the padded width ``(Ho, Wp)``; the ``Wp - Wo``
  columns that wrap onto the next row are dropped at the end.
- **Phases** (stride ``s > 1``). Split the padded input into its ``s*s`` phases
  ``x[..., p::s, q::s]``: tap ``a`` of output ``i`` reads ``x[i*s + a] = x_{a % s}[i + a // s]``,
  so every tap is again one contiguous slice, of one phase.
- **Depthwise by taps, in cache-sized blocks** (one input channel per group): the output is
  ``sum_{a,b} w[a, b] * (x shifted by a, b)``; all ``kh*kw`` shifted products of a block of
  image planes are formed at once (a strided view, no copy) and summed. The loop runs over
  blocks of about ``_BLOCK_BYTES`` of (image, channel) planes so that the products stay in the
  CPU cache — over memory blocks, never over pixels.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convlib.functional._windows import ConvGeometry, pad_nchw

_BLOCK_BYTES = 1 << 19  # products of one block of planes: about half a typical L2 cache


def flat_image(x: np.ndarray, geom: ConvGeometry) -> tuple[np.ndarray, int]:
    """``x`` padded (plus one zero row at the bottom, which keeps every tap slice in bounds),
    flattened per plane: ``(N, C, (Hp + 1)*Wp)``, and ``Wp``."""
    top, bottom, left, right = geom.pads
    xp = pad_nchw(x, (top, bottom + 1, left, right))
    return xp.reshape(xp.shape[0], xp.shape[1], xp.shape[2] * xp.shape[3]), xp.shape[3]


def tap_starts(geom: ConvGeometry, wp: int) -> list[int]:
    """Where tap ``(a, b)`` starts in a flattened padded plane (stride 1), taps row-major."""
    (kh, kw), (dh, dw) = geom.kernel, geom.dilation
    return [a * dh * wp + b * dw for a in range(kh) for b in range(kw)]


def crop_width(y: np.ndarray, ho: int, wp: int, wo: int) -> np.ndarray:
    """``(N, C, Ho*Wp)`` computed on the padded width -> contiguous ``(N, C, Ho, Wo)``."""
    y = y.reshape(y.shape[0], y.shape[1], ho, wp)
    return y if wp == wo else np.ascontiguousarray(y[..., :wo])


def flat_columns(x: np.ndarray, geom: ConvGeometry) -> tuple[np.ndarray, int]:
    """The column matrix ``(N, C, kh*kw, Ho*Wq)`` built from contiguous slices, and ``Wq``.

    Stride 1: slices of the flattened padded image (width ``Wq = Wp``). Stride ``s``: the
    padded image is first split into its ``s*s`` phases ``xp[..., p::s, q::s]`` (each
    ``Hq x Wq``, flattened); tap ``(a, b)`` of output ``(i, j)`` reads padded pixel
    ``(i*s + a*d, j*s + b*d)``, which is pixel ``(i + a*d // s, j + b*d // s)`` of phase
    ``(a*d % s, b*d % s)``: again one contiguous slice per tap.
    """
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geom.kernel, geom.stride, geom.dilation, geom.out_hw
    if (sh, sw) == (1, 1):
        flat, wq = flat_image(x, geom)
        starts = [(0, 0, s) for s in tap_starts(geom, wq)]
        flat = flat[:, :, None, None]
    else:
        top, left = geom.pads[0], geom.pads[2]
        hq = ho + (kh - 1) * dh // sh + 1  # + 1: the zero row that keeps slices in bounds
        wq = wo + (kw - 1) * dw // sw
        full = np.zeros((n, c, hq * sh, wq * sw), x.dtype)
        rows, cols = min(x.shape[2], hq * sh - top), min(x.shape[3], wq * sw - left)
        full[:, :, top:top + rows, left:left + cols] = x[:, :, :rows, :cols]
        phases = full.reshape(n, c, hq, sh, wq, sw).transpose(0, 1, 3, 5, 2, 4)
        flat = np.ascontiguousarray(phases).reshape(n, c, sh, sw, hq * wq)
        starts = [(a * dh % sh, b * dw % sw, a * dh // sh * wq + b * dw // sw)
                  for a in range(kh) for b in range(kw)]
    length = ho * wq
    out = np.empty((n, c, kh * kw, length), x.dtype)
    for t, (p, q, start) in enumerate(starts):
        out[:, :, t] = flat[:, :, p, q, start:start + length]
    return out, wq


def forward_flat(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry,
                 groups: int) -> np.ndarray:
    """Any convolution: flat columns ``(N, G, Cg*kh*kw, Ho*Wq)``, then one matrix product."""
    n = x.shape[0]
    cout, cg, kh, kw = weight.shape
    ho, wo = geom.out_hw
    w = weight.reshape(groups, cout // groups, cg * kh * kw)
    if (kh, kw) == (1, 1) and geom.stride == (1, 1) and not any(geom.pads) \
            and x.shape[2:] == (ho, wo):  # a 1x1 kernel reads x itself: no copy
        return np.matmul(w, x.reshape(n, groups, cg, ho * wo)).reshape(n, cout, ho, wo)
    cols, wq = flat_columns(x, geom)
    length = ho * wq
    y = np.matmul(w, cols.reshape(n, groups, cg * kh * kw, length))  # (N, G, Cout/G, Ho*Wq)
    return crop_width(y.reshape(n, cout, length), ho, wq, wo)


def weight_grad_flat(grad_y: np.ndarray, x: np.ndarray, geom: ConvGeometry,
                     groups: int) -> np.ndarray:
    """``grad_weight = sum_n grad_y[n] @ columns(x[n]).T`` per group, with the flat columns
    (``grad_y`` widened to ``Wq`` with zeros, so the wrapped columns contribute nothing)."""
    n, cout, ho, wo = grad_y.shape
    cin = x.shape[1]
    kh, kw = geom.kernel
    cols, wq = flat_columns(x, geom)
    gy = grad_y
    if wq != wo:
        gy = np.zeros((n, cout, ho, wq), grad_y.dtype)
        gy[..., :wo] = grad_y
    gy = gy.reshape(n, groups, cout // groups, ho * wq)
    cols = cols.reshape(n, groups, cin // groups * kh * kw, ho * wq)
    gw = np.matmul(gy, cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, Cout/G, Cg*kh*kw)
    return gw.reshape(cout, cin // groups, kh, kw)


def forward_depthwise(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """Stride-1 convolution with one input channel per group (depthwise, multiplier ``M``).

    ``y[n, c*M + m] = sum_{a,b} weight[c*M + m, 0, a, b] * x_pad[n, c] shifted by (a*dh, b*dw)``.
    """
    n, c = x.shape[:2]
    cout, _, kh, kw = weight.shape
    m = cout // c
    (ho, wo), (dh, dw) = geom.out_hw, geom.dilation
    flat, wp = flat_image(x, geom)
    planes = np.ascontiguousarray(flat).reshape(n * c, flat.shape[2])
    length = ho * wp
    step, item = planes.strides[0], planes.itemsize
    # taps[p, a, b, l] = planes[p, a*dh*Wp + b*dw + l]: every shifted copy, as one view
    taps = as_strided(planes, (n * c, kh, kw, length), (step, dh * wp * item, dw * item, item),
                      writeable=False)
    w = np.broadcast_to(weight.reshape(1, c, m, kh, kw, 1), (n, c, m, kh, kw, 1))
    w = w.reshape(n * c, m, kh, kw, 1)
    y = np.empty((n * c, m, length), x.dtype)
    block = max(1, _BLOCK_BYTES // (m * kh * kw * length * item))
    products = np.empty((min(block, n * c), m, kh, kw, length), x.dtype)
    for p in range(0, n * c, block):  # blocks of planes, sized for the cache
        q = min(p + block, n * c)
        prod = products[:q - p]
        np.multiply(w[p:q], taps[p:q, None], out=prod)
        prod.sum(axis=(2, 3), out=y[p:q])
    return crop_width(y.reshape(n, cout, length), ho, wp, wo)


def weight_grad_depthwise(grad_y: np.ndarray, x: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """``grad_weight[c*M + m, 0, a, b] = sum_{n,i,j} grad_y[n, c*M + m, i, j] * x_pad[n, c, i + a*dh, j + b*dw]``
    for a stride-1 depthwise convolution: per tap, one batched dot product of whole planes."""
    n, c = x.shape[:2]
    cout = grad_y.shape[1]
    m = cout // c
    (kh, kw), (ho, wo) = geom.kernel, geom.out_hw
    flat, wp = flat_image(x, geom)
    gy = np.zeros((n, c, m, ho, wp), grad_y.dtype)  # grad_y on the padded width, zeros beyond Wo
    gy[..., :wo] = grad_y.reshape(n, c, m, ho, wo)
    gy = gy.reshape(n, c, m, ho * wp)
    length = ho * wp
    gw = np.empty((cout, kh * kw), grad_y.dtype)
    for t, start in enumerate(tap_starts(geom, wp)):
        dots = np.matmul(gy, flat[:, :, start:start + length, None])  # (N, C, M, 1)
        gw[:, t] = dots.sum(axis=0).reshape(cout)
    return gw.reshape(cout, 1, kh, kw)
