"""Pictures of where numbers live: the im2col patch matrix, and NCHW vs NHWC in memory."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convlib import functional as F
from convlib._validate import as_array, as_pair, nonnegative_int, positive_pair
from convlib.viz.grid import CELL_INCHES, COLORS, draw_grid
from convlib.widgets.state import sliding_window_state

__all__ = ["draw_im2col", "draw_memory_layout", "memory_order"]


def draw_im2col(x, kernel_size, stride=1, padding=0, dilation=1, column: int = 0, *,
                dpi: int = 100) -> Figure:
    """The input with one window highlighted, beside ``im2col(x)`` with that window's column.

    x: ``(H, W)`` (one image, one channel). The matrix is convlib's ``im2col`` of
    ``x[None, None]``: shape ``(kh*kw, L)`` with ``L = Ho*Wo`` columns, column ``l`` holding the
    window of output position ``l`` (row-major), exactly as ``torch.nn.functional.unfold``.
    Highlight patches: ``kh*kw`` in the input, ``kh*kw`` in the matrix.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    x = as_array(x, "x", ndim=2, layout="(H, W)")
    kh, kw = positive_pair(kernel_size, "kernel_size")
    column = nonnegative_int(column, "column")
    st = sliding_window_state(x, np.ones((kh, kw)), stride, padding, dilation, 0)
    if column >= st["n_positions"]:
        raise ValueError(f"column must be in 0..{st['n_positions'] - 1}, got {column}")
    st = sliding_window_state(x, np.ones((kh, kw)), stride, padding, dilation, column)
    cols = F.im2col(x[None, None], (kh, kw), dilation=dilation, padding=padding, stride=stride)[0]
    top, bottom, left, right = st["pads"]
    xp = np.pad(x, ((top, bottom), (left, right)))
    pad_mask = np.pad(np.zeros(x.shape, bool), ((top, bottom), (left, right)), constant_values=True)
    win = list(zip((st["rows"] + top).ravel(), (st["cols"] + left).ravel()))
    hp, wp = xp.shape
    n_rows, n_cols = cols.shape
    fig = plt.figure(figsize=((wp + n_cols + 2.5) * CELL_INCHES,
                              (max(hp, n_rows) + 1.6) * CELL_INCHES), dpi=dpi)
    gs = fig.add_gridspec(1, 2, width_ratios=[wp, n_cols], wspace=0.12, left=0.02, right=0.98,
                          top=0.85, bottom=0.02)
    ax_in, ax_m = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])
    for ax in (ax_in, ax_m):
        ax.set_anchor("N")
    i, j = st["out_index"]
    draw_grid(xp, ax_in, highlight=win, padding=pad_mask,
              title=f"input: window of output ({i}, {j})")
    col_mask = np.zeros(cols.shape, bool)
    col_mask[:, column] = True
    draw_grid(cols, ax_m, highlight=col_mask,
              title=f"im2col: ({n_rows}, {n_cols}), column {column}")
    return fig


def memory_order(shape, data_format: str) -> np.ndarray:
    """``(n, 3)`` array: the ``(c, h, w)`` index of the element at each address 0..n-1.

    shape: ``(C, H, W)`` of one image; data_format "NCHW" (channels outermost, PyTorch) or
    "NHWC" (channels innermost, TensorFlow's default). Derived from numpy's own C-order
    layout of an array with the axes in that order.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    c, h, w = positive_pair(shape, "shape", n=3)
    idx = np.stack(np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij"), -1)
    if data_format == "NCHW":
        return idx.reshape(-1, 3)
    if data_format == "NHWC":
        return np.ascontiguousarray(idx.transpose(1, 2, 0, 3)).reshape(-1, 3)
    raise ValueError(f"data_format must be one of 'NCHW', 'NHWC', got {data_format!r}")


def draw_memory_layout(shape=(3, 2, 2), highlight_pixel=None, *, dpi: int = 100) -> Figure:
    """One image of ``shape (C, H, W)`` as it lies in memory, NCHW above, NHWC below.

    Each cell is one address (0, 1, ...) labelled with the element ``c, h, w`` it holds and
    coloured by channel. ``highlight_pixel=(h, w)`` outlines that pixel's C values: one run of
    C neighbours in NHWC, C cells ``H*W`` apart in NCHW. Titles give the element strides.
    Highlight patches: ``2*C`` (C per row) when a pixel is given.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    c, h, w = positive_pair(shape, "shape", n=3)
    n = c * h * w
    if n > 48:
        raise ValueError(f"shape {(c, h, w)} has {n} elements; draw at most 48")
    if highlight_pixel is not None:
        ph, pw = as_pair(highlight_pixel, "highlight_pixel")
        if not (0 <= ph < h and 0 <= pw < w):
            raise ValueError(f"highlight_pixel {(ph, pw)} is outside the {h}x{w} image")
    fig, axes = plt.subplots(2, 1, figsize=(max(4.0, n * 0.55 + 0.8), 2.9), dpi=dpi)
    for ax, fmt in zip(axes, ("NCHW", "NHWC")):
        order = memory_order((c, h, w), fmt)
        labels = [[f"{ci},{hi},{wi}" for ci, hi, wi in order]]
        mask = None
        if highlight_pixel is not None:
            mask = ((order[:, 1] == ph) & (order[:, 2] == pw))[None, :]
        axes_order = (1, c, h, w) if fmt == "NCHW" else (1, h, w, c)
        strides = np.empty(axes_order, np.float32).strides
        names = fmt[1:]
        stride_txt = ", ".join(f"{a}: {s // 4}" for a, s in zip(names, strides[1:]))
        draw_grid(order[:, 0][None, :].astype(float), ax, cmap="Pastel1" if c > 1 else None,
                  highlight=mask, highlight_color=None, labels=labels,
                  title=f"{fmt}: element strides {stride_txt}  (label c,h,w)")
        for a in range(n):
            ax.text(a + 0.5, 1.12, str(a), ha="center", va="top", fontsize=8, color="#666")
        ax.text(-0.1, 1.12, "address", ha="right", va="top", fontsize=8, color="#666")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.88, bottom=0.12, hspace=1.0)
    return fig
