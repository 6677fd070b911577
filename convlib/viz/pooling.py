"""Pooling drawn forward and backward, and the translation experiment's data and plot.

- :func:`draw_pooling` — input (with padding and ceil-mode overhang), output, grad_output and
  grad_input side by side; each input cell that wins a max is marked with how many windows
  chose it, so routing and accumulation can be read off the picture.
- :func:`shift_images` / :func:`cosine_distance` / :func:`shift_distances` — how much a
  feature vector moves when the input shifts by a few pixels (numpy; any feature function).
- :func:`plot_shift_distances` — those distances against the shift, one curve per feature.

The geometry and the gradients come from :func:`convlib.widgets.pooling.pooling_state`.
See: chapter Pooling.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convlib._validate import as_array, nonnegative_int
from convlib.viz.grid import CELL_INCHES, COLORS, _fmt, draw_grid
from convlib.widgets.pooling import INPUT, PADDING, IntPair, pooling_state

__all__ = ["draw_pooling", "shift_images", "cosine_distance", "shift_distances",
           "plot_shift_distances", "rotate_images", "rotation_distances"]


def draw_pooling(x: Any, kernel_size: IntPair = 2, stride: Optional[IntPair] = None,
                 padding: IntPair = 0, ceil_mode: bool = False, mode: str = "max",
                 count_include_pad: bool = True, grad_output: Optional[Any] = None,
                 position: Union[int, Sequence[int]] = 0, *, title: Optional[str] = None,
                 dpi: int = 100) -> Figure:
    """Forward and backward of one pooling layer on ``x (H, W)``, four grids in a row.

    1. the input with its padding (dashed; ``-inf`` for max, ``0`` for average) and, in ceil
       mode, the cells past the padding that the last window hangs over (dashed, empty); the
       window of output ``position`` is highlighted. In max mode a corner mark ``▲n`` says that
       ``n`` windows picked this cell as their maximum, and the current window's maximum is
       outlined in orange (gid "argmax");
    2. the output; 3. grad_output (default ``1, 2, ...``); 4. grad_input, coloured by value:
       max pooling routes each ``grad_output[i, j]`` to the argmax of window ``(i, j)``
       (overlapping windows add up), average pooling spreads ``g / D`` over the window.

    Arguments as in :func:`convlib.widgets.pooling.pooling_state`. Returns the Figure.
    See: chapter Pooling.
    """
    x = as_array(x, "x", ndim=2, layout="(H, W)")
    st = pooling_state(x, kernel_size, stride, padding, ceil_mode, mode, count_include_pad,
                       grad_output, position)
    kinds = st["grid_kinds"]
    top, left = st["grid_origin"]
    hg, wg = kinds.shape
    h, w = x.shape
    ho, wo = st["output_shape"]
    grid_vals = np.zeros((hg, wg))
    grid_vals[top:top + h, left:left + w] = x
    pad_text = "-∞" if mode == "max" else "0"
    labels = [[(_fmt(grid_vals[r, c]) if kinds[r, c] == INPUT else
                pad_text if kinds[r, c] == PADDING else "") for c in range(wg)] for r in range(hg)]
    corner = {}
    if st["argmax"] is not None:
        picks = np.zeros((h, w), int)
        np.add.at(picks, (st["argmax"][..., 0].ravel(), st["argmax"][..., 1].ravel()), 1)
        corner = {(int(r) + top, int(c) + left): f"▲{picks[r, c]}"
                  for r, c in zip(*np.nonzero(picks))}
    win = [(int(r) + top, int(c) + left) for r in st["rows"] for c in st["cols"]]

    ratios = [wg, wo, wo, w]
    width = max(5.0, (sum(ratios) + 4.0) * CELL_INCHES)
    height = max(2.0, (max(hg, ho) + 1.8) * CELL_INCHES)
    fig = plt.figure(figsize=(width, height), dpi=dpi)
    gs = fig.add_gridspec(1, 4, width_ratios=ratios, wspace=0.3, left=0.02, right=0.98,
                          top=0.80, bottom=0.02)
    axes = [fig.add_subplot(gs[0, i]) for i in range(4)]
    for ax in axes:
        ax.set_anchor("N")
    draw_grid(grid_vals, axes[0], highlight=win, padding=kinds != INPUT, labels=labels,
              corner_labels=corner, title="input" + (" + padding" if (kinds != INPUT).any() else ""))
    i, j = st["out_index"]
    if st["argmax"] is not None:  # the current window's maximum, outlined in orange
        r, c = (int(v) for v in st["argmax"][i, j])
        axes[0].add_patch(Rectangle((c + left + 0.1, r + top + 0.1), 0.8, 0.8, fill=False,
                                    edgecolor="#fd8d3c", linewidth=2.4, gid="argmax"))
    draw_grid(st["output"], axes[1], highlight=[(i, j)], color=COLORS["output"],
              highlight_color=COLORS["current"], title=f"{mode} pool -> output")
    draw_grid(st["grad_output"], axes[2], highlight=[(i, j)], color=COLORS["kernel"],
              highlight_color="#e6550d", title="grad_output")
    gin = st["grad_input"]
    draw_grid(gin, axes[3], cmap="Oranges", title="grad_input")
    k, s, p = st["kernel_size"], st["stride"], st["padding"]
    one = lambda t: str(t[0]) if t[0] == t[1] else str(t)
    default = (f"kernel {one(k)}, stride {one(s)}, padding {one(p)}"
               + (", ceil_mode" if ceil_mode else "")
               + ("" if mode == "max" else f", count_include_pad={count_include_pad}"))
    fig.suptitle(title or default, fontsize=10, y=0.99)
    return fig


# ---- the translation experiment -----------------------------------------------------------
def shift_images(images: Any, shift: int, axis: int = -1) -> np.ndarray:
    """``images (..., H, W)`` moved ``shift`` pixels right (``axis=-1``) or down (``axis=-2``).

    The border pixel is repeated into the gap (``np.pad`` mode "edge") and the far edge is
    cropped, so the size stays the same and no wrap-around appears. A new array.
    See: chapter Pooling.
    """
    images = as_array(images, "images")
    shift = nonnegative_int(shift, "shift")
    if axis not in (-1, -2):
        raise ValueError(f"axis must be -1 (width) or -2 (height), got {axis!r}")
    n = images.shape[axis]
    if shift >= n:
        raise ValueError(f"shift must be smaller than the image size {n}, got {shift}")
    pad = [(0, 0)] * images.ndim
    pad[axis] = (shift, 0)
    out = np.pad(images, pad, mode="edge")
    return np.ascontiguousarray(np.take(out, np.arange(n), axis=axis))


def cosine_distance(a: Any, b: Any) -> np.ndarray:
    """``1 - cos(a_n, b_n)`` for each row ``n`` of ``a, b (N, ...)`` (flattened per row).

    0 when the two vectors point the same way, 1 when orthogonal. A zero vector gives NaN.
    See: chapter Pooling.
    """
    a = as_array(a, "a")
    b = as_array(b, "b")
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(f"a and b must have the same shape (N, ...), got {a.shape} and {b.shape}")
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 1.0 - cos


def shift_distances(feature_fn: Callable[[np.ndarray], np.ndarray], images: Any,
                    shifts: Sequence[int] = (0, 1, 2, 3, 4), axis: int = -1) -> np.ndarray:
    """``(len(shifts), N)``: cosine distance between ``feature_fn(images)`` and the features
    of the same images shifted by each amount (:func:`shift_images`).

    ``feature_fn`` maps ``(N, C, H, W)`` to ``(N, ...)``; small distances mean the features
    barely notice the shift. See: chapter Pooling.
    """
    images = as_array(images, "images", ndim=4, layout="(N, C, H, W)")
    base = np.asarray(feature_fn(images))
    return np.stack([cosine_distance(base, np.asarray(feature_fn(shift_images(images, s, axis))))
                     for s in shifts])


def rotate_images(images: Any, degrees: float) -> np.ndarray:
    """``images (..., H, W)`` rotated by ``degrees`` about the image centre (counter-clockwise
    on screen, row 0 at the top), by bilinear interpolation.

    A sample that falls outside the image takes the nearest border pixel, as
    :func:`shift_images` repeats the border, so the size stays the same. A new array.
    See: chapter Pooling.
    """
    images = as_array(images, "images")
    if images.ndim < 2:
        raise ValueError(f"images must have at least 2 dimensions (..., H, W), got {images.ndim}")
    h, w = images.shape[-2:]
    t = -np.deg2rad(float(degrees))  # minus: counter-clockwise with row 0 at the top
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    # output pixel (y, x) reads the input at the point rotated back by -degrees
    ys = np.clip(cy + (yy - cy) * np.cos(t) - (xx - cx) * np.sin(t), 0, h - 1)
    xs = np.clip(cx + (yy - cy) * np.sin(t) + (xx - cx) * np.cos(t), 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    ly, lx = ys - y0, xs - x0
    out = (images[..., y0, x0] * (1 - ly) * (1 - lx) + images[..., y0, x1] * (1 - ly) * lx
           + images[..., y1, x0] * ly * (1 - lx) + images[..., y1, x1] * ly * lx)
    return out.astype(images.dtype, copy=False)


def rotation_distances(feature_fn: Callable[[np.ndarray], np.ndarray], images: Any,
                       angles: Sequence[float] = (0, 5, 10, 15, 20)) -> np.ndarray:
    """``(len(angles), N)``: cosine distance between ``feature_fn(images)`` and the features
    of the same images rotated by each angle in degrees (:func:`rotate_images`).
    See: chapter Pooling.
    """
    images = as_array(images, "images", ndim=4, layout="(N, C, H, W)")
    base = np.asarray(feature_fn(images))
    return np.stack([cosine_distance(base, np.asarray(feature_fn(rotate_images(images, a))))
                     for a in angles])


def plot_shift_distances(shifts: Sequence[int], curves: Mapping[str, np.ndarray], *,
                         ax: Any = None, title: Optional[str] = None, dpi: int = 100,
                         xlabel: str = "shift of the input (pixels)") -> Figure:
    """One line per feature: the mean cosine distance against the shift, with a band from
    the 25th to the 75th percentile over the images.

    curves: name -> ``(len(shifts), N)`` from :func:`shift_distances`. Returns the Figure.
    See: chapter Pooling.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.4, 3.4), dpi=dpi)
    shifts = np.asarray(list(shifts))
    markers = "osD^v<>px*h"
    for n, (name, d) in enumerate(curves.items()):
        d = np.asarray(d, dtype=float)
        if d.shape[0] != shifts.size:
            raise ValueError(f"curve {name!r} has {d.shape[0]} rows but there are {shifts.size} shifts")
        lo, hi = np.percentile(d, [25, 75], axis=1)
        line, = ax.plot(shifts, d.mean(1), marker=markers[n % len(markers)], label=name)
        ax.fill_between(shifts, lo, hi, color=line.get_color(), alpha=0.1, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cosine distance to\nthe original features")
    ax.set_xticks(shifts)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    # the legend sits right of the axes, off the data
    ax.legend(fontsize=10, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure
