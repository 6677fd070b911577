"""Adaptive and global pooling, forward and backward, in numpy (PyTorch's semantics).

Adaptive pooling asks for the output size and lets the windows follow: along an axis of input
size ``I`` and output size ``o``, output ``i`` pools the input from ``start = floor(i*I/o)`` to
``end = ceil((i+1)*I/o)`` (end excluded), PyTorch's rule. Windows may overlap and differ in size
by one. Global pooling is the case ``o = 1``: one window, the whole map.

Both pools are separable: the average (or maximum) over a rectangle is the average (maximum)
over its rows of the average (maximum) over its columns, so each op works on one axis at a
time. Averaging along an axis is a small matrix ``A`` (``o x I``, row ``i`` holding ``1/L_i``
on its window), so ``y = A_h @ x @ A_w.T`` and its adjoint ``grad_x = A_h.T @ g @ A_w``. The
maximum gathers the windows of each distinct window length (at most a few) and reduces them.

See: chapter Pooling.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from convlib._validate import _is_int, as_array
from convlib.functional._batch import accepts_unbatched
from convlib.functional.pooling import check_indices, check_input_shape, scatter_add

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "global_max_pool2d",
    "global_max_pool2d_backward",
]

OutputSize = Union[int, None, Sequence[Optional[int]]]


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(start, end)`` of the ``out`` windows over ``size`` pixels: PyTorch's adaptive rule.

    ``start[i] = floor(i*size/out)``, ``end[i] = ceil((i+1)*size/out)``.

    >>> adaptive_windows(5, 3)
    (array([0, 1, 3]), array([2, 4, 5]))
    """
    i = np.arange(out, dtype=np.int64)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _output_hw(output_size, hw: tuple[int, int]) -> tuple[int, int]:
    """``output_size`` (int, or a pair whose ``None`` entries keep the input size) as ``(oh, ow)``."""
    if _is_int(output_size):
        pair = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2 and all(
            v is None or _is_int(v) for v in output_size):
        pair = output_size
    elif isinstance(output_size, (tuple, list)) and all(
            v is None or _is_int(v) for v in output_size):
        raise ValueError(f"output_size must be an int or a pair (PyTorch's adaptive pools take "
                         f"exactly 2 entries, None keeping the input size), got {output_size!r}")
    else:
        raise TypeError(f"output_size must be an int or a pair of ints (or None), "
                        f"got {output_size!r}")
    out = tuple(int(i) if v is None else int(v) for v, i in zip(pair, hw))
    if min(out) < 0:
        raise ValueError(f"output_size must be >= 0, got {output_size!r}")
    return out  # type: ignore[return-value]


def _check_x(x) -> np.ndarray:
    x = as_array(x, "x", ndim=4)
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"x must have a non-empty feature map (H, W >= 1), got shape {x.shape}")
    return x


def _mean_matrix(size: int, out: int, dtype) -> np.ndarray:
    """``A (out, size)``: row ``i`` is ``1/L_i`` on window ``i``, 0 elsewhere."""
    start, end = adaptive_windows(size, out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


@accepts_unbatched(4)
def adaptive_avg_pool2d(x: np.ndarray, output_size: OutputSize) -> np.ndarray:
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    x: ``(N, C, H, W)`` (or ``(C, H, W)``) -> ``(N, C, oh, ow)``; ``output_size``: an int, or
    a pair whose ``None`` entries keep that input size. With
    ``hs = floor(i*H/oh)``, ``he = ceil((i+1)*H/oh)`` (``ws``, ``we`` likewise)::

        y[n, c, i, j] = mean(x[n, c, hs:he, ws:we])

    computed as ``A_h @ x @ A_w.T`` with the averaging matrices of each axis. 自适应平均池化.

    >>> adaptive_avg_pool2d(np.arange(5.0).reshape(1, 1, 1, 5), (1, 3))[0, 0]
    array([[0.5, 2. , 3.5]])

    See: chapter Pooling.
    """
    x = _check_x(x)
    oh, ow = _output_hw(output_size, x.shape[2:])
    a_h, a_w = _mean_matrix(x.shape[2], oh, x.dtype), _mean_matrix(x.shape[3], ow, x.dtype)
    return np.matmul(np.matmul(a_h, x), a_w.T)


@accepts_unbatched(4, arrays=("grad_output",), shapes=("input_shape",), by="input_shape")
def adaptive_avg_pool2d_backward(grad_output: np.ndarray,
                                 input_shape: Sequence[int]) -> np.ndarray:
    """Gradient of :func:`adaptive_avg_pool2d` with respect to its input.

    grad_output: ``(N, C, oh, ow)``, input_shape ``(N, C, H, W)`` (unbatched: 3-D and 3
    entries). Each output gradient is shared equally by its window, overlaps add up::

        grad_input = A_h.T @ grad_output @ A_w

    See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output", ndim=4)
    n, c, h, w = _shape_for(g, input_shape)
    a_h, a_w = _mean_matrix(h, g.shape[2], g.dtype), _mean_matrix(w, g.shape[3], g.dtype)
    return np.matmul(np.matmul(a_h.T, g), a_w)


def _shape_for(g: np.ndarray, input_shape) -> tuple[int, int, int, int]:
    shape = check_input_shape(input_shape)
    if g.shape[:2] != shape[:2] or 0 in shape[2:]:
        raise ValueError(f"grad_output has batch/channels {g.shape[:2]} but input_shape is "
                         f"{shape} (H, W must be >= 1)")
    return shape


def _first_max(win: np.ndarray, axis: int) -> np.ndarray:
    """Position of the maximum along ``axis``, PyTorch's way: the first on ties, the last NaN."""
    arg = np.argmax(win, axis=axis)
    nan = np.isnan(win)
    if nan.any():
        last_nan = win.shape[axis] - 1 - np.argmax(np.flip(nan, axis), axis=axis)
        arg = np.where(nan.any(axis=axis), last_nan, arg)
    return arg


def _adaptive_max_axis(x: np.ndarray, out: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Max over the adaptive windows along ``axis``: values and the input position of each max."""
    start, end = adaptive_windows(x.shape[axis], out)
    length = end - start
    shape = list(x.shape)
    shape[axis] = out
    vals, arg = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    for size in np.unique(length):  # at most a few distinct window lengths
        sel = np.flatnonzero(length == size)
        win = np.take(x, start[sel][:, None] + np.arange(size), axis=axis)  # axis -> (k, size)
        a = _first_max(win, axis + 1)
        where = (slice(None),) * axis + (sel,)
        vals[where] = np.take_along_axis(win, np.expand_dims(a, axis + 1), axis + 1).squeeze(axis + 1)
        arg[where] = start[sel].reshape((-1,) + (1,) * (x.ndim - axis - 1)) + a
    return vals, arg


@accepts_unbatched(4)
def adaptive_max_pool2d(x: np.ndarray, output_size: OutputSize, return_indices: bool = False
                        ) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    x: ``(N, C, H, W)`` (or ``(C, H, W)``) -> ``(N, C, oh, ow)``, windows as in
    :func:`adaptive_avg_pool2d`::

        y[n, c, i, j] = max(x[n, c, hs:he, ws:we])

    With ``return_indices`` also int64 indices: the flat position ``h*W + w`` of each maximum
    in its input plane (the first on ties, NaN wins), as PyTorch's. Computed one axis at a time:
    the maximum of each row's window, then the maximum over the window's rows. 自适应最大池化.

    >>> adaptive_max_pool2d(np.array([[[[3.0, 1.0, 4.0, 1.0, 5.0]]]]), (1, 2), True)
    (array([[[[4., 5.]]]]), array([[[[2, 4]]]]))

    See: chapter Pooling.
    """
    x = _check_x(x)
    oh, ow = _output_hw(output_size, x.shape[2:])
    if not isinstance(return_indices, (bool, np.bool_)):
        raise TypeError(f"return_indices must be a bool, got {return_indices!r}")
    rows, cols = _adaptive_max_axis(x, ow, 3)       # (N, C, H, ow): max of each row's window
    y, best_row = _adaptive_max_axis(rows, oh, 2)   # (N, C, oh, ow)
    if not return_indices:
        return y
    best_col = np.take_along_axis(cols, best_row, axis=2)
    return y, best_row * x.shape[3] + best_col


@accepts_unbatched(4, arrays=("grad_output", "indices"), shapes=("input_shape",),
                   by="input_shape")
def adaptive_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                                 input_shape: Sequence[int]) -> np.ndarray:
    """Gradient of :func:`adaptive_max_pool2d`: each gradient goes to its maximum.

    ``grad_input[n, c].flat[indices[n, c, i, j]] += grad_output[n, c, i, j]`` (overlapping
    windows add up), as :func:`max_pool2d_backward`. See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output", ndim=4)
    indices = check_indices(indices, g.shape, "grad_output")
    return scatter_add(g, indices, _shape_for(g, input_shape))


def _keepdims(keepdims) -> bool:
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"keepdims must be a bool, got {keepdims!r}")
    return bool(keepdims)


@accepts_unbatched(4)
def global_avg_pool2d(x: np.ndarray, keepdims: bool = True) -> np.ndarray:
    """Mean of each feature map: ``(N, C, H, W) -> (N, C, 1, 1)`` (``(N, C)`` if not keepdims).

    Equals ``adaptive_avg_pool2d(x, 1)``; unbatched ``(C, H, W)`` gives ``(C, 1, 1)`` (or
    ``(C,)``). 全局平均池化. See: chapter Pooling.
    """
    x = _check_x(x)
    return x.mean(axis=(2, 3), keepdims=_keepdims(keepdims))


@accepts_unbatched(4, arrays=("grad_output",), shapes=("input_shape",), by="input_shape")
def global_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """Gradient of :func:`global_avg_pool2d`: ``grad_input[n, c, h, w] = grad_output[n, c] / (H*W)``.

    grad_output: ``(N, C, 1, 1)`` or ``(N, C)``; input_shape ``(N, C, H, W)``. See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output")
    shape = check_input_shape(input_shape)
    g = _global_grad(g, shape)
    h, w = shape[2:]
    return np.ascontiguousarray(np.broadcast_to(g / (h * w), shape))


def _global_grad(g: np.ndarray, shape) -> np.ndarray:
    if g.shape not in (shape[:2], shape[:2] + (1, 1)) or 0 in shape[2:]:
        raise ValueError(f"grad_output must have shape {shape[:2] + (1, 1)} or {shape[:2]} for "
                         f"input_shape {shape} (H, W >= 1), got {g.shape}")
    return g.reshape(shape[:2] + (1, 1))


@accepts_unbatched(4)
def global_max_pool2d(x: np.ndarray, keepdims: bool = True, return_indices: bool = False
                      ) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Maximum of each feature map: ``(N, C, H, W) -> (N, C, 1, 1)`` (``(N, C)`` if not keepdims).

    Equals ``adaptive_max_pool2d(x, 1)``; with ``return_indices`` also the flat position
    ``h*W + w`` of each maximum (int64, same shape; the first on ties, NaN wins), as PyTorch's.
    Unbatched ``(C, H, W)`` gives ``(C, 1, 1)`` (or ``(C,)``). 全局最大池化. See: chapter Pooling.
    """
    x = _check_x(x)
    keep = _keepdims(keepdims)
    if not return_indices:
        return x.max(axis=(2, 3), keepdims=keep)
    flat = x.reshape(x.shape[:2] + (-1,))
    arg = _first_max(flat, 2)[..., None]
    y = np.take_along_axis(flat, arg, axis=2)
    shape = x.shape[:2] + ((1, 1) if keep else ())
    return y.reshape(shape), arg.reshape(shape)


@accepts_unbatched(4, arrays=("grad_output", "indices"), shapes=("input_shape",),
                   by="input_shape")
def global_max_pool2d_backward(grad_output: np.ndarray, indices: np.ndarray,
                               input_shape: Sequence[int]) -> np.ndarray:
    """Gradient of :func:`global_max_pool2d`: all of ``grad_output[n, c]`` goes to the maximum.

    grad_output, indices: ``(N, C, 1, 1)`` or ``(N, C)`` (indices from ``return_indices=True``);
    ``grad_input[n, c].flat[indices[n, c]] = grad_output[n, c]``, 0 elsewhere. See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output")
    shape = check_input_shape(input_shape)
    indices = check_indices(indices, g.shape, "grad_output")
    return scatter_add(_global_grad(g, shape), indices.reshape(shape[:2] + (1, 1)), shape)
