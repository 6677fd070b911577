"""Max unpooling: put each pooled value back where its maximum came from (PyTorch's max_unpool2d).

Max pooling with ``return_indices=True`` remembers, for every output, the flat position
``h*W + w`` of its maximum in the input plane: Zeiler and Fergus' "switches". Unpooling writes
each value back at its switch and zeros everywhere else — a partial inverse of the pooling
(the deconvnet's way back through a pooling layer). Its backward reads the gradient at the
switches (a gather), the adjoint of that scatter.

See: chapter Pooling; chapter Seeing inside a CNN (deconvnet).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from convlib._validate import _is_int, as_array
from convlib.functional._batch import accepts_unbatched
from convlib.functional.pooling import check_indices, plane_offsets

__all__ = ["max_unpool2d", "max_unpool2d_backward"]

IntPair = Union[int, Sequence[int]]


def _strict_pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints; PyTorch's max_unpool2d fails on 1-tuples, so we refuse them."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair for max_unpool2d (PyTorch's "
                             f"max_unpool2d needs both entries: no 1-tuple or empty tuple), "
                             f"got {value!r}")
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a tuple of 2 ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def unpool_output_hw(in_hw: Sequence[int], kernel_size: IntPair, stride: Optional[IntPair],
                     padding: IntPair, output_size) -> tuple[int, int]:
    """The output ``(H, W)`` of :func:`max_unpool2d`, by PyTorch's rule.

    Default per axis ``(i - 1)*s + k - 2p`` (the input size of the pooling that gave ``i``).
    ``output_size`` (``(H, W)``, or ``(N, C, H, W)`` whose first two entries are ignored)
    picks another of the sizes that pool to ``i``: it must lie strictly between
    ``default - s`` and ``default + s``.
    """
    k = _strict_pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else _strict_pair(stride, "stride", 1)
    p = _strict_pair(padding, "padding", 0)
    default = tuple((i - 1) * si + ki - 2 * pi for i, ki, si, pi in zip(in_hw, k, s, p))
    if output_size is None:
        out = default
    else:
        if not isinstance(output_size, (tuple, list)) or not all(_is_int(v) for v in output_size):
            raise TypeError(f"output_size must be a tuple of ints, got {output_size!r}")
        if len(output_size) == 4:
            output_size = output_size[2:]
        if len(output_size) != 2:
            raise ValueError(f"output_size must have 2 entries (H, W) or 4 (N, C, H, W), "
                             f"got {output_size!r}")
        out = tuple(int(v) for v in output_size)
        for o, d, si in zip(out, default, s):
            if not d - si < o < d + si:
                raise ValueError(f"output_size {tuple(output_size)} must lie strictly between "
                                 f"{tuple(d - si for d, si in zip(default, s))} and "
                                 f"{tuple(d + si for d, si in zip(default, s))} (default size "
                                 f"{default} -/+ stride {s}), as in PyTorch")
    if min(out) < 1:
        raise ValueError(f"kernel_size={k}, stride={s}, padding={p} give an empty output {out}")
    return out  # type: ignore[return-value]


@accepts_unbatched(4, arrays=("x", "indices"))
def max_unpool2d(x: np.ndarray, indices: np.ndarray, kernel_size: IntPair,
                 stride: Optional[IntPair] = None, padding: IntPair = 0,
                 output_size: Optional[Sequence[int]] = None) -> np.ndarray:
    """Max unpooling, as ``torch.nn.functional.max_unpool2d``: values back to their switches.

    x, indices: ``(N, C, Hi, Wi)`` (or ``(C, Hi, Wi)``), indices from
    ``max_pool2d(..., return_indices=True)``. Returns zeros of ``(N, C, Ho, Wo)`` with::

        y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j]

    ``Ho = (Hi - 1)*sh + kh - 2*ph`` unless ``output_size`` chooses another size within one
    stride of it; ``stride`` defaults to ``kernel_size``. Every index must lie in
    ``[0, Ho*Wo)``. 反池化.

    >>> max_unpool2d(np.array([[[[3.0, 2.0]]]]), np.array([[[[1, 2]]]]), (1, 2))
    array([[[[0., 3., 2., 0.]]]])

    See: chapter Pooling; chapter Seeing inside a CNN.
    """
    x = as_array(x, "x", ndim=4)
    indices = check_indices(indices, x.shape, "x")
    n, c = x.shape[:2]
    ho, wo = unpool_output_hw(x.shape[2:], kernel_size, stride, padding, output_size)
    out = np.zeros(n * c * ho * wo, dtype=x.dtype)
    out[plane_offsets(indices, ho * wo)] = x.ravel()
    return out.reshape(n, c, ho, wo)


@accepts_unbatched(4, arrays=("grad_output", "indices"))
def max_unpool2d_backward(grad_output: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Gradient of :func:`max_unpool2d` with respect to ``x``: the gradient at each switch.

    grad_output: ``(N, C, Ho, Wo)``; indices: ``(N, C, Hi, Wi)``. Returns ``(N, C, Hi, Wi)``::

        grad_x[n, c, i, j] = grad_output[n, c].flat[indices[n, c, i, j]]

    — a gather, the adjoint of the forward scatter. See: chapter Pooling.
    """
    g = as_array(grad_output, "grad_output", ndim=4)
    if not isinstance(indices, np.ndarray) or indices.ndim != 4 or indices.shape[:2] != g.shape[:2]:
        raise ValueError(f"indices must be an integer array (N, C, Hi, Wi) with the batch and "
                         f"channels of grad_output {g.shape[:2]}, got "
                         f"{getattr(indices, 'shape', type(indices).__name__)}")
    indices = check_indices(indices, indices.shape, "indices")
    return g.ravel()[plane_offsets(indices, g.shape[2] * g.shape[3])].reshape(indices.shape)
