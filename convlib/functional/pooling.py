"""Max, average and global pooling, forward and backward, in numpy (NCHW).

Semantics are those of ``torch.nn.functional.max_pool2d`` / ``avg_pool2d``: ``stride=None``
means ``stride = kernel_size``; ``padding`` is per side and at most ``kernel_size // 2``;
with ``ceil_mode`` the output size is rounded up, but the last window must still start
inside the input or its left padding. Every op loops over the ``kh * kw`` kernel taps only.

Backward passes, as the notes put it: average pooling spreads each output gradient equally
over its window (平均值池化: 残差等比例传至上一层); max pooling remembers where each maximum
was and routes the gradient there, zero elsewhere (最大值池化: 残差传至最大值位置处).

See: chapter Pooling.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from convlib._validate import as_array, as_pair, positive_pair, torch_sequence
from convlib.arithmetic import pool_output_size
from convlib.functional._batch import accepts_unbatched
from convlib.functional._windows import add_windows, crop_nchw, pad_nchw, windows

IntPair = Union[int, Sequence[int]]

__all__ = [
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
]


def _pool_geometry(hw, kernel_size, stride, padding, dilation, ceil_mode):
    """Validated ``(kernel, stride, padding, dilation, out_hw, pads)`` of a 2-D pooling.

    ``pads = (top, bottom, left, right)`` covers the padding plus, in ceil mode, the extra
    rows/columns the last window reads past the padded input (never used by a real value).
    """
    k = positive_pair(torch_sequence(kernel_size, "kernel_size", "pooling"), "kernel_size")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k  # PyTorch reads an empty stride as "the default", kernel_size
    else:
        s = positive_pair(torch_sequence(stride, "stride", "pooling"), "stride")
    if isinstance(padding, str):
        raise TypeError(f"padding must be an int or a tuple of 2 ints for pooling, got {padding!r}")
    p = as_pair(torch_sequence(padding, "padding", "pooling"), "padding")
    if min(p) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    d = positive_pair(torch_sequence(dilation, "dilation", "pooling"), "dilation")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool, got {ceil_mode!r}")
    for pi, ki in zip(p, k):
        if pi > ki // 2:
            raise ValueError(
                f"padding must be at most half the kernel size (as in PyTorch), "
                f"got padding={p} for kernel_size={k}"
            )
    out, extra = [], []
    for i, ki, si, pi, di in zip(hw, k, s, p, d):
        try:  # PyTorch's rule, ceil_mode's "last window starts inside" included
            o = pool_output_size(i, ki, si, pi, di, bool(ceil_mode))
        except ValueError as exc:
            raise ValueError(
                f"kernel_size={k} with dilation={d} does not fit the input {tuple(hw)} padded by {p}"
            ) from exc
        taps = np.arange(o)[:, None] * si - pi + di * np.arange(ki)[None, :]
        if not ((taps >= 0) & (taps < i)).any(axis=1).all():
            # PyTorch returns -inf and an index outside the window here, and its backward
            # then writes out of bounds; we refuse such windows instead.
            raise ValueError(
                f"dilation={d} with padding={p} and kernel_size={k} gives a window that reads "
                f"only padding for an input of size {tuple(hw)}"
            )
        out.append(o)
        extra.append(max(0, (o - 1) * si + di * (ki - 1) + 1 - (i + 2 * pi)))
    pads = (p[0], p[0] + extra[0], p[1], p[1] + extra[1])
    return k, s, p, d, tuple(out), pads


@accepts_unbatched(4)
def max_pool2d(x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Max pooling: ``y[n,c,i,j] = max_{a,b} x[n,c, i*sh - ph + a*dh, j*sw - pw + b*dw]``.

    x: ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) -> y: ``(N, C, Ho, Wo)`` with
    ``Ho = floor_or_ceil((H + 2*ph - dh*(kh-1) - 1) / sh) + 1``. Padding never wins the max.
    ``kernel_size``, ``stride``, ``padding``, ``dilation``: an int, a pair or a 1-tuple (both
    axes); ``stride=None`` or ``()`` means ``kernel_size``, as in PyTorch.
    With ``return_indices`` also returns int64 ``indices (N, C, Ho, Wo)``: the flat position
    ``h*W + w`` of each maximum in its input plane (the first one on ties; NaN propagates),
    exactly as PyTorch's. One deliberate difference: a dilated window that reads only padding
    raises ValueError (PyTorch returns -inf with an index outside the window). See: chapter Pooling.

    >>> max_pool2d(np.arange(16.).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    x = as_array(x, "x", ndim=4)
    n, c, h, w = x.shape
    k, s, p, d, (ho, wo), pads = _pool_geometry((h, w), kernel_size, stride, padding, dilation,
                                                ceil_mode)
    win = windows(pad_nchw(x, pads, value=-np.inf), k, s, d, (ho, wo))
    best = np.full((n, c, ho, wo), -np.inf, dtype=x.dtype)
    taps = [(a, b) for a in range(k[0]) for b in range(k[1])]
    for a, b in taps:
        np.maximum(best, win[..., a, b], out=best)  # NaN propagates, as in PyTorch
    if not return_indices:
        return best
    # Which tap holds the maximum: PyTorch keeps the first one on ties (strict >), so walk
    # the taps backwards and let earlier equal taps overwrite; a NaN wins as the last NaN.
    tap = np.zeros((n, c, ho, wo), dtype=np.int32)
    for t in range(len(taps) - 1, -1, -1):
        np.copyto(tap, t, where=win[(...,) + taps[t]] == best)
    if np.isnan(best).any():
        for t, ab in enumerate(taps):
            np.copyto(tap, t, where=np.isnan(win[(...,) + ab]))
    # Flat index h*W + w of tap (a, b) of output (i, j).
    rows0 = (np.arange(ho) * s[0] - p[0])[:, None]
    cols0 = (np.arange(wo) * s[1] - p[1])[None, :]
    arg = (rows0 + (tap // k[1]) * d[0]) * w + cols0 + (tap % k[1]) * d[1]
    arg = arg.astype(np.int64, copy=False)
    minus_inf = np.isneginf(best)
    if minus_inf.any():
        # Only -inf (and padding) in the window: PyTorch's index is its first in-bounds tap.
        first_r = rows0 + d[0] * ((-np.minimum(rows0, 0) + d[0] - 1) // d[0])
        first_c = cols0 + d[1] * ((-np.minimum(cols0, 0) + d[1] - 1) // d[1])
        np.copyto(arg, np.broadcast_to(first_r * w + first_c, arg.shape), where=minus_inf)
    return best, arg


@accepts_unbatched(4, arrays=("grad_output", "indices"), shapes=("input_shape",),
                   by="input_shape")
def max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                        input_shape: Sequence[int]) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to its input.

    grad_output, indices: ``(N, C, Ho, Wo)`` (indices from ``return_indices=True``);
    input_shape: ``(N, C, H, W)`` (unbatched: ``(C, H, W)`` and 3-D arrays). Returns
    ``grad_input (N, C, H, W)`` with
    ``grad_input[n,c].flat[indices[n,c,i,j]] += grad_output[n,c,i,j]``: each gradient goes
    to the position of its maximum, overlapping windows add up, every other entry is 0.
    See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output", ndim=4)
    indices = check_indices(indices, g.shape, "grad_output")
    shape = check_input_shape(input_shape)
    if g.shape[:2] != shape[:2]:
        raise ValueError(f"grad_output has batch/channels {g.shape[:2]} but input_shape is {shape}")
    return scatter_add(g, indices, shape)


def check_indices(indices, shape: tuple[int, ...], like: str) -> np.ndarray:
    """``indices`` must be an integer array of the given shape (that of ``like``)."""
    if not isinstance(indices, np.ndarray) or not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"indices must be an integer numpy array, got "
                        f"{getattr(indices, 'dtype', type(indices).__name__)}")
    if indices.shape != tuple(shape):
        raise ValueError(f"indices must have the shape of {like} {tuple(shape)}, "
                         f"got {indices.shape}")
    return indices


def plane_offsets(indices: np.ndarray, hw: int) -> np.ndarray:
    """Flat positions ``(n*C + c)*H*W + indices[n, c, ...]`` into the whole ``(N, C, H, W)`` array.

    Raises ValueError unless every index lies in ``[0, H*W)``.
    """
    if indices.size and (indices.min() < 0 or indices.max() >= hw):
        raise ValueError(f"indices must lie in [0, H*W) = [0, {hw}), got values in "
                         f"[{indices.min()}, {indices.max()}]")
    n, c = indices.shape[:2]
    plane = (np.arange(n * c, dtype=np.int64) * hw).reshape((n, c) + (1,) * (indices.ndim - 2))
    return (indices + plane).ravel()


def scatter_add(g: np.ndarray, indices: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """``out[n, c].flat[indices[n, c, i, j]] += g[n, c, i, j]``: a new ``shape`` array."""
    n, c, h, w = shape
    out = np.bincount(plane_offsets(indices, h * w), weights=g.ravel(), minlength=n * c * h * w)
    return out.astype(g.dtype, copy=False).reshape(shape)


def check_input_shape(input_shape) -> tuple[int, int, int, int]:
    try:
        shape = tuple(int(v) for v in input_shape)
        ok = len(shape) == 4 and all(int(v) == v for v in input_shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(f"input_shape must be 4 ints (N, C, H, W), got {input_shape!r}")
    if min(shape) < 0:
        raise ValueError(f"input_shape must be non-negative, got {shape}")
    return shape  # type: ignore[return-value]


def _avg_divisor(hw, k, s, p, out_hw, count_include_pad, divisor_override, dtype):
    """``(Ho, Wo)`` divisor of each average window, by PyTorch's rule.

    The window ``[start, start + k)`` is clipped to the padded input ``[-p, H + p)``; with
    ``count_include_pad`` its size there is the divisor, else its size within ``[0, H)``.
    """
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)):
            raise TypeError(f"divisor_override must be an int or None, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError("divisor_override must not be zero")
        return np.full(out_hw, divisor_override, dtype=dtype)
    sizes = []
    for i, ki, si, pi, oi in zip(hw, k, s, p, out_hw):
        start = np.arange(oi) * si - pi
        end = np.minimum(start + ki, i + pi)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, i)
        sizes.append(end - start)
    return np.outer(sizes[0], sizes[1]).astype(dtype)


@accepts_unbatched(4)
def avg_pool2d(x: np.ndarray, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> np.ndarray:
    """Average pooling: ``y[n,c,i,j] = sum_{a,b} x_pad[n,c, i*sh + a, j*sw + b] / D[i,j]``.

    x: ``(N, C, H, W)`` (or ``(C, H, W)``) -> ``(N, C, Ho, Wo)`` (zero padding). The divisor ``D`` is
    ``divisor_override`` if given; else the window's size inside the zero-padded input
    (``count_include_pad=True``; ceil-mode windows that run past the padding count only up to
    it) or inside the real input (``False``) — PyTorch's rule. See: chapter Pooling.

    >>> avg_pool2d(np.arange(16.).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    x = as_array(x, "x", ndim=4)
    n, c, h, w = x.shape
    k, s, p, d, out_hw, pads = _pool_geometry((h, w), kernel_size, stride, padding, 1, ceil_mode)
    div = _avg_divisor((h, w), k, s, p, out_hw, count_include_pad, divisor_override, x.dtype)
    win = windows(pad_nchw(x, pads), k, s, d, out_hw)
    total = np.zeros((n, c) + out_hw, dtype=x.dtype)
    for a in range(k[0]):
        for b in range(k[1]):
            total += win[..., a, b]
    return total / div


@accepts_unbatched(4, arrays=("grad_output",), shapes=("input_shape",), by="input_shape")
def avg_pool2d_backward(grad_output: np.ndarray, input_shape: Sequence[int],
                        kernel_size: IntPair, stride: Optional[IntPair] = None,
                        padding: IntPair = 0, ceil_mode: bool = False,
                        count_include_pad: bool = True,
                        divisor_override: Optional[int] = None) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` (same arguments) with respect to its input.

    grad_output: ``(N, C, Ho, Wo)``; returns ``grad_input`` of ``input_shape (N, C, H, W)``:
    ``grad_input[n,c,h,w] = sum over windows (i,j) containing (h,w) of g[n,c,i,j] / D[i,j]``
    — each gradient is shared equally by its window (the adjoint of the forward pass).
    See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output", ndim=4)
    shape = check_input_shape(input_shape)
    n, c, h, w = shape
    k, s, p, d, out_hw, pads = _pool_geometry((h, w), kernel_size, stride, padding, 1, ceil_mode)
    if g.shape != (n, c) + out_hw:
        raise ValueError(f"grad_output must have shape {(n, c) + out_hw} for input_shape {shape}, "
                         f"got {g.shape}")
    div = _avg_divisor((h, w), k, s, p, out_hw, count_include_pad, divisor_override, g.dtype)
    share = (g / div)[..., None, None]
    cols = np.broadcast_to(share, share.shape[:4] + k)
    padded = add_windows(cols, (h + pads[0] + pads[1], w + pads[2] + pads[3]), s, d)
    return np.ascontiguousarray(crop_nchw(padded, pads))
