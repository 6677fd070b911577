"""Drawings of deformable convolution.

- :func:`draw_sampling_grids` — the sampling points of one output on an image, for several
  hand-set grids (regular, shifted, scaled, rotated) side by side;
- :func:`draw_bilinear` — one fractional sample and its four neighbours, each weighted by the
  area of the opposite rectangle;
- :func:`plot_offset_fit` — a fit of the offsets by gradient descent: the loss, and the learned
  sampling points against the target ones.

Every function returns a Figure and never calls ``plt.show()``.
See: chapter Deformable convolution.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convlib._validate import as_array
from convlib.viz.grid import COLORS
from convlib.widgets.deformable import bilinear_terms, deform_state

__all__ = ["draw_sampling_grids", "draw_bilinear", "plot_offset_fit"]

_SAMPLE = "#d94801"
_REGULAR = "#2171b5"


def _draw_points(ax, regular: np.ndarray, positions: np.ndarray, label: bool = True) -> None:
    for (ry, rx), (sy, sx) in zip(regular, positions):
        ax.plot([rx, sx], [ry, sy], color=_SAMPLE, linewidth=0.9, alpha=0.7)
    ax.scatter(regular[:, 1], regular[:, 0], s=55, facecolors="none", edgecolors=_REGULAR,
               linewidths=1.5, label="regular grid R" if label else None, zorder=3, gid="regular")
    ax.scatter(positions[:, 1], positions[:, 0], s=28, color=_SAMPLE,
               label="p + r + Δp" if label else None, zorder=4, gid="sample")


def draw_sampling_grids(image, configs: dict, position: Optional[tuple[int, int]] = None,
                        *, margin: float = 1.5, dpi: int = 100) -> Figure:
    """One panel per ``title -> (dy, dx, scale, angle)``: ``image (H, W)`` in grey, the regular
    3×3 grid of output ``position`` (hollow blue circles, gid "regular") and the sampling
    points after the offsets of :func:`convlib.widgets.grid_offsets` (orange dots, gid
    "sample"), each joined to its tap. The title gives the output next to the plain conv
    (box filter). See: chapter Deformable convolution.
    """
    img = as_array(image, "image", 2, "(H, W)")
    h, w = img.shape
    n = len(configs)
    fig, axes = plt.subplots(1, n, figsize=(min(2.5 * n, 7.5), 3.0), dpi=dpi, squeeze=False)
    for ax, (title, values) in zip(axes[0], configs.items()):
        st = deform_state(img, None, position, *values)
        ax.imshow(img, cmap="gray", vmin=min(0.0, float(img.min())), interpolation="nearest")
        _draw_points(ax, st["regular"], st["positions"], label=ax is axes[0, 0])
        ax.set_xlim(-0.5 - margin, w - 0.5 + margin)
        ax.set_ylim(h - 0.5 + margin, -0.5 - margin)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{title}\nout = {st['value']:.3f} (plain {st['plain']:.3f})", fontsize=10)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=10, loc="lower center", ncol=2,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def draw_bilinear(image, y: float, x: float, *, dpi: int = 100) -> Figure:
    """The bilinear sample of ``image (H, W)`` at ``(y, x)``: the 2×2 neighbourhood (pixel
    centres as big dots labelled with value and weight), the sample point, and the four
    rectangles it cuts the cell into, each shaded with the colour of the corner whose weight it
    is (the opposite corner). See: chapter Deformable convolution.
    """
    terms = bilinear_terms(image, y, x)
    y0, x0 = terms[0][0], terms[0][1]
    fig, ax = plt.subplots(figsize=(4.6, 3.4), dpi=dpi)
    colours = ["#fdd0a2", "#c6dbef", "#c7e9c0", "#dadaeb"]
    edge = ["#d94801", "#2171b5", "#238b45", "#6a51a3"]
    for k, (r, c, wt, v) in enumerate(terms):
        # the rectangle opposite corner (r, c) has area equal to its weight
        oy, ox = (y, y0 + 1) if r == y0 else (y0, y), (x, x0 + 1) if c == x0 else (x0, x)
        ax.add_patch(plt.Rectangle((min(ox), min(oy)), abs(ox[1] - ox[0]), abs(oy[1] - oy[0]),
                                   facecolor=colours[k], edgecolor="none", alpha=0.9))
        ax.scatter([c], [r], s=120, color=edge[k], zorder=3)
        ax.annotate(f"x[{r},{c}] = {v:.3g}\nweight {wt:.3f}", (c, r), fontsize=10, color=edge[k],
                    xytext=(-8 if c == x0 else 8, -10 if r == y0 else 10), textcoords="offset points",
                    ha="right" if c == x0 else "left", va="bottom" if r == y0 else "top")
    ax.scatter([x], [y], marker="x", s=70, color="black", zorder=4)
    ax.annotate(f"({y:g}, {x:g})", (x, y), xytext=(5, 5), textcoords="offset points", fontsize=10)
    ax.set_xlim(x0 - 1.5, x0 + 2.5)
    ax.set_ylim(y0 + 1.6, y0 - 0.6)
    ax.set_aspect("equal")
    ax.set_xlabel("x (column)", fontsize=10)
    ax.set_ylabel("y (row)", fontsize=10)
    ax.set_xticks([x0, x0 + 1])
    ax.set_yticks([y0, y0 + 1])
    ax.tick_params(labelsize=9)
    total = sum(wt * v for _, _, wt, v in terms)
    ax.set_title(f"bilinear sample = {total:.4f}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_offset_fit(losses: Sequence[float], learned, target, kernel_size=3, *,
                    dpi: int = 100) -> Figure:
    """Two panels: the loss against the step (log scale), and the 3×3 kernel's sampling points
    relative to its centre: the regular grid (blue circles), the target ones (black crosses)
    and the learned ones (orange dots). ``learned``/``target`` are per-tap offsets ``(K, 2)``.
    See: chapter Deformable convolution.
    """
    learned = as_array(learned, "learned", 2, "(K, 2)")
    target = as_array(target, "target", 2, "(K, 2)")
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    i, j = np.divmod(np.arange(kh * kw), kw)
    regular = np.stack([i - (kh - 1) / 2, j - (kw - 1) / 2], axis=1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.5, 3.2), dpi=dpi)
    a1.semilogy(np.arange(len(losses)), losses, color=COLORS["window"])
    a1.set_xlabel("step", fontsize=10)
    a1.set_title("loss (mean squared error)", fontsize=10)
    a1.grid(alpha=0.3)
    a1.tick_params(labelsize=9)
    _draw_points(a2, regular, regular + learned)
    t = regular + target
    a2.scatter(t[:, 1], t[:, 0], marker="x", s=60, color="black", label="target", zorder=5)
    lim = np.abs(np.concatenate([t, regular + learned])).max() + 0.6
    a2.set_xlim(-lim, lim)
    a2.set_ylim(lim, -lim)
    a2.set_aspect("equal")
    a2.grid(alpha=0.3)
    a2.tick_params(labelsize=9)
    a2.set_title("sampling points (relative to the centre)", fontsize=10)
    a2.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig
