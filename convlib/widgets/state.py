"""What the sliding-window explorer shows, computed without any drawing or widget library.

The pure half of the explorer pattern: given an image, a kernel and the conv hyper-parameters,
:func:`sliding_window_state` says which input cells the window covers at one output position,
which of them are padding, and the value the kernel produces there. Numpy only, so the
drawings (:mod:`convlib.viz`), the widget shell and the tests all share it.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from convlib import functional as F
from convlib._validate import as_array, as_pair, nonnegative_int, positive_pair
from convlib.functional._windows import output_hw, resolve_padding

__all__ = ["sliding_window_state", "window_cells", "conv_output_map"]

Position = Union[int, Sequence[int]]


def _geometry(input_hw, kernel_hw, stride, padding, dilation):
    """Validated (stride, dilation, pads, padded_hw, out_hw) — ValueError for an empty output."""
    stride = positive_pair(stride, "stride")
    dilation = positive_pair(dilation, "dilation")
    pads = resolve_padding(padding, tuple(kernel_hw), stride, dilation)
    padded = (input_hw[0] + pads[0] + pads[1], input_hw[1] + pads[2] + pads[3])
    for axis, name in ((0, "height"), (1, "width")):
        footprint = dilation[axis] * (kernel_hw[axis] - 1) + 1
        if footprint > padded[axis]:
            raise ValueError(
                f"kernel_size: the kernel spans {footprint} cells in {name} "
                f"(dilation {dilation[axis]} x (kernel {kernel_hw[axis]} - 1) + 1) but the padded "
                f"input is only {padded[axis]} cells ({input_hw[axis]} + padding "
                f"{pads[2 * axis]} + {pads[2 * axis + 1]}); use a smaller kernel or dilation, "
                "or more padding"
            )
    out = output_hw(padded, tuple(kernel_hw), stride, dilation)
    return stride, dilation, pads, padded, out


def window_cells(out_index: tuple[int, int], kernel_size, stride=1, dilation=1,
                 pads: tuple[int, int, int, int] = (0, 0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Input rows and columns ``(kh, kw)`` read by the window at output ``(i, j)``.

    ``row[a, b] = i*stride_h + a*dilation_h - pad_top`` (and likewise for columns), in the
    coordinates of the *unpadded* input: negative or too-large indices are padding cells.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    kh, kw = positive_pair(kernel_size, "kernel_size")
    sh, sw = positive_pair(stride, "stride")
    dh, dw = positive_pair(dilation, "dilation")
    i, j = as_pair(out_index, "out_index")
    a = np.arange(kh)[:, None]
    b = np.arange(kw)[None, :]
    rows = np.broadcast_to(i * sh + a * dh - pads[0], (kh, kw)).copy()
    cols = np.broadcast_to(j * sw + b * dw - pads[2], (kh, kw)).copy()
    return rows, cols


def sliding_window_state(x: Any, weight: Any, stride=1, padding=0, dilation=1,
                         position: Position = 0, bias: float = 0.0) -> dict:
    """Everything the explorer shows at one output position of a single-channel conv.

    x: ``(H, W)`` image; weight: ``(kh, kw)`` kernel; ``stride``, ``dilation``: int or pair;
    ``padding``: int, pair, ``"valid"`` or ``"same"`` (per side, zeros, as in PyTorch);
    ``position``: the output cell, a flat index ``i * Wo + j`` or a pair ``(i, j)``.

    The value is the cross-correlation at that cell (what deep-learning "convolution" means):
    ``out[i, j] = bias + sum_{a,b} xpad[i*s_h + a*d_h, j*s_w + b*d_w] * weight[a, b]``.

    Returns a dict: ``input_shape``, ``kernel_size``, ``stride``, ``dilation``, ``pads``
    (top, bottom, left, right), ``padded_shape``, ``output_shape``, ``n_positions``,
    ``position`` (flat), ``out_index`` (i, j), ``rows`` / ``cols`` ``(kh, kw)`` (input
    coordinates, padding cells fall outside ``0..H-1`` / ``0..W-1``), ``is_padding``
    ``(kh, kw)`` bool, ``window`` (the values read, 0 at padding), ``products``
    (``window * weight``) and ``value`` (float). Raises ValueError with an explanation for
    combinations that leave no output (kernel wider than the padded input) or a position
    outside the output. Inputs are not modified.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    x = as_array(x, "x", ndim=2, layout="(H, W)")
    weight = as_array(weight, "weight", ndim=2, layout="(kh, kw)")
    if not np.isfinite(float(bias)):
        raise ValueError(f"bias must be finite, got {bias!r}")
    stride, dilation, pads, padded, out = _geometry(x.shape, weight.shape, stride, padding, dilation)
    n_positions = out[0] * out[1]
    if isinstance(position, (tuple, list)):
        i, j = as_pair(position, "position")
        if not (0 <= i < out[0] and 0 <= j < out[1]):
            raise ValueError(f"position {(i, j)} is outside the {out[0]}x{out[1]} output")
    else:
        flat = nonnegative_int(position, "position")
        if not 0 <= flat < n_positions:
            raise ValueError(
                f"position must be in 0..{n_positions - 1} (the output has {out[0]}x{out[1]} "
                f"cells), got {flat}"
            )
        i, j = divmod(flat, out[1])
    rows, cols = window_cells((i, j), weight.shape, stride, dilation, pads)
    inside = (rows >= 0) & (rows < x.shape[0]) & (cols >= 0) & (cols < x.shape[1])
    window = np.where(inside, x[np.clip(rows, 0, x.shape[0] - 1), np.clip(cols, 0, x.shape[1] - 1)], 0.0)
    products = window * weight
    return {
        "input_shape": tuple(x.shape),
        "kernel_size": tuple(weight.shape),
        "stride": stride,
        "dilation": dilation,
        "pads": pads,
        "padded_shape": padded,
        "output_shape": out,
        "n_positions": n_positions,
        "position": i * out[1] + j,
        "out_index": (i, j),
        "rows": rows,
        "cols": cols,
        "is_padding": ~inside,
        "window": window,
        "products": products,
        "value": float(products.sum() + bias),
    }


def conv_output_map(x, weight, stride=1, padding=0, dilation=1, bias: float = 0.0) -> np.ndarray:
    """``(Ho, Wo)``: convlib's ``conv2d`` of one ``(H, W)`` image with one ``(kh, kw)`` kernel.

    The whole output map the explorer and the drawings show around the current cell.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    x = as_array(x, "x", ndim=2, layout="(H, W)")
    weight = as_array(weight, "weight", ndim=2, layout="(kh, kw)")
    b = np.array([bias], dtype=np.result_type(x, weight)) if bias else None
    return F.conv2d(x[None, None], weight[None, None], b, stride=stride, padding=padding,
                    dilation=dilation)[0, 0]
