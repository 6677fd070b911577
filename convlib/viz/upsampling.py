"""Drawings of the chapter Upsampling done right.

- :func:`draw_pixel_shuffle` — which input channel and pixel lands in which output cell: every
  block of ``r * r`` channels becomes one channel ``r`` times larger (pixel unshuffle reads the
  arrows backwards);
- :func:`plot_upsampling_comparison` — the responses of the upsamplers of
  :func:`convlib.widgets.upsampling.upsampling_state` to a constant image, side by side, on one
  relative colour scale, with their overlap counts; :func:`plot_relative_maps` — any
  responses on that scale (a decoder's output, say);
- :func:`bilinear_row` / :func:`plot_bilinear_border` — a bilinear-initialised transposed convolution against
  bilinear interpolation along one row: equal inside, darker on the border.

Every function returns a Figure and never calls ``plt.show()``. The state is passed in (a
drawing does not import an explorer). See: chapter Upsampling done right.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from convlib import functional as F
from convlib._validate import positive_int
from convlib.viz.grid import draw_grid

__all__ = ["SUBPIXEL_COLORS", "draw_pixel_shuffle", "plot_upsampling_comparison",
           "plot_relative_maps", "bilinear_row", "plot_bilinear_border"]

# one colour per sub-pixel position (i, j) of an r x r output cell, i * r + j
SUBPIXEL_COLORS = ("#fdd0a2", "#c6dbef", "#c7e9c0", "#dadaeb", "#fcbba1", "#d9f0a3",
                   "#fde0ef", "#e0e0e0", "#ffffb2")


def draw_pixel_shuffle(channels: int = 2, factor: int = 2, size: int = 2, *,
                       dpi: int = 100) -> Figure:
    """``x = arange`` of shape ``(channels * r * r, size, size)`` (top row, one small grid per
    input channel) and ``pixel_shuffle(x, r)`` of shape ``(channels, size * r, size * r)``
    (bottom row). Every number keeps its value, so each can be followed; cells are coloured by
    the sub-pixel ``(i, j)`` their input channel feeds (input channel ``c*r*r + i*r + j``), so
    each output cell's ``r x r`` block shows one pixel of each channel of its block.
    Read bottom to top, the same picture is :func:`convlib.functional.pixel_unshuffle`.
    See: chapter Upsampling done right.
    """
    c = positive_int(channels, "channels")
    r = positive_int(factor, "factor")
    n = positive_int(size, "size")
    if r * r > len(SUBPIXEL_COLORS):
        raise ValueError(f"factor must be at most 3 for this drawing, got {r}")
    cin = c * r * r
    x = np.arange(float(cin * n * n)).reshape(cin, n, n)
    y = F.pixel_shuffle(x, r)
    sub = np.tile(np.arange(r * r).reshape(r, r), (n, n))          # sub-pixel index per cell
    cmap = ListedColormap(list(SUBPIXEL_COLORS[:r * r]))
    gap = 1
    cols = cin * (n + gap) - gap
    fig = plt.figure(figsize=(max(5.0, cols * 0.31 + 0.4), (n + n * r) * 0.31 + 1.5), dpi=dpi)
    grid = fig.add_gridspec(2, cols, height_ratios=[n + 1.4, n * r + 1.4], hspace=0.35)
    for k in range(cin):
        ax = fig.add_subplot(grid[0, k * (n + gap):k * (n + gap) + n])
        block, s = divmod(k, r * r)
        draw_grid(x[k], ax, color=SUBPIXEL_COLORS[s],
                  title=f"in {k}\n→ out {block}\n({s // r},{s % r})")
        ax.title.set_fontsize(8)
    width = r * r * (n + gap) - gap
    for o in range(c):
        start = o * r * r * (n + gap) + (width - n * r) // 2
        ax = fig.add_subplot(grid[1, start:start + n * r])
        labels = [[f"{v:g}" for v in row] for row in y[o]]
        draw_grid(sub.astype(float), ax, cmap=cmap, labels=labels,
                  title=f"output channel {o}\n= input channels {o * r * r}…{(o + 1) * r * r - 1}")
    fig.suptitle(f"pixel_shuffle, r = {r}: ({cin}, {n}, {n}) → ({c}, {n * r}, {n * r});  "
                 "colour = sub-pixel (i, j) in each r×r cell", fontsize=10)
    return fig


def plot_upsampling_comparison(state: dict, methods: Sequence[str] | None = None, *,
                               dpi: int = 100) -> Figure:
    """One column per method of an :func:`~convlib.widgets.upsampling.upsampling_state`: top,
    the interior of its response to a constant image (value / mean on one colour scale, so a
    flat response is one colour and a checkerboard a repeating pattern), titled with its
    spread ``(max - min) / mean``; bottom, the overlap counts along one row (taps of all-ones
    kernels reaching each cell). See: chapter Upsampling done right.
    """
    keys = list(state["methods"] if methods is None else methods)
    fig, axes = plt.subplots(2, len(keys), figsize=(1.75 * len(keys) + 0.5, 4.0), dpi=dpi,
                             gridspec_kw={"height_ratios": [2.2, 1]}, squeeze=False)
    image = None
    for j, key in enumerate(keys):
        st = state[key]
        rel = st["interior"] / st["interior"].mean()
        image = axes[0, j].imshow(rel, cmap="RdBu_r", vmin=0.5, vmax=1.5,
                                  interpolation="nearest")
        verdict = "flat" if st["flat"] else f"spread {st['spread']:.2f}"
        label = state["labels"][key].replace(", ", ",\n")
        axes[0, j].set_title(f"{label}\n{verdict}", fontsize=9)
        axes[0, j].set_xlabel("output column", fontsize=8)
        counts = st["counts"][:12]
        axes[1, j].bar(np.arange(counts.size), counts, color="#2171b5", edgecolor="#08306b",
                       linewidth=0.5)
        axes[1, j].set_ylim(0, max(float(state[k]["counts"].max()) for k in keys) + 0.5)
        axes[1, j].set_xlabel("interior cell along a row", fontsize=8)
        for ax in axes[:, j]:
            ax.tick_params(labelsize=7)
            ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0, 0].set_ylabel("output row", fontsize=8)
    axes[1, 0].set_ylabel("taps reaching\nthe cell", fontsize=8)
    fig.colorbar(image, ax=axes[0, :].tolist(), shrink=0.8, label="value / mean")
    return fig


def plot_relative_maps(maps: dict, *, dpi: int = 100) -> Figure:
    """One panel per ``name -> 2-D array``: the array divided by its mean on one colour scale
    (0.5 to 1.5), titled with its spread ``(max - min) / mean`` ("flat" below 1e-9), so the
    responses of different layers to a flat image compare at a glance.
    See: chapter Upsampling done right.
    """
    if not maps:
        raise ValueError("maps must hold at least one array")
    fig, axes = plt.subplots(1, len(maps), figsize=(1.75 * len(maps) + 0.5, 2.5), dpi=dpi,
                             squeeze=False)
    image = None
    for ax, (name, a) in zip(axes[0], maps.items()):
        a = np.asarray(a, dtype=float)
        if a.ndim != 2:
            raise ValueError(f"maps[{name!r}] must be a 2-D array, got shape {a.shape}")
        spread = float(a.max() - a.min()) / float(a.mean())
        image = ax.imshow(a / a.mean(), cmap="RdBu_r", vmin=0.5, vmax=1.5,
                          interpolation="nearest")
        ax.set_title(f"{name}\n" + ("flat" if spread < 1e-9 else f"spread {spread:.2f}"),
                     fontsize=9)
        ax.set_xlabel("output column", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
    axes[0, 0].set_ylabel("output row", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85, label="value / mean")
    return fig


def bilinear_row(row: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """One row upsampled ``factor`` times two ways: ``(ours, reference)``.

    ``ours``: the image whose rows all equal ``row`` through ``conv_transpose2d`` with
    :func:`~convlib.functional.bilinear_upsample_weight` (stride ``f``, padding ``f // 2``),
    middle output row. ``reference``: bilinear interpolation with ``align_corners=False``,
    written independently with ``np.interp``: output cell ``t`` reads the input at
    ``u = (t + 0.5) / f - 0.5``, clamped to the first and last pixel.
    See: chapter Upsampling done right.
    """
    f = positive_int(factor, "factor")
    row = np.asarray(row, dtype=float)
    if row.ndim != 1 or row.size < 2:
        raise ValueError(f"row must be a 1-D array of at least 2 values, got shape {row.shape}")
    x = np.broadcast_to(row, (3, row.size))[None, None]
    up = F.conv_transpose2d(x, F.bilinear_upsample_weight(1, f), stride=f, padding=f // 2)
    ours = up[0, 0, up.shape[2] // 2]
    u = (np.arange(row.size * f) + 0.5) / f - 0.5
    return ours, np.interp(u, np.arange(row.size), row)


def plot_bilinear_border(row: np.ndarray, factor: int, *, dpi: int = 100) -> Figure:
    """One row of an ``f``-times upsampling (:func:`bilinear_row`): the input samples at their
    centres in output coordinates, the bilinear-initialised transposed convolution and
    bilinear interpolation, with the ``f // 2`` border cells on each side shaded.
    See: chapter Upsampling done right.
    """
    f = positive_int(factor, "factor")
    ours, reference = bilinear_row(row, f)
    row = np.asarray(row, dtype=float)
    t = np.arange(ours.size)
    fig, ax = plt.subplots(figsize=(7.5, 2.8), dpi=dpi)
    b = f // 2
    for lo, hi in ((-0.5, b - 0.5), (ours.size - b - 0.5, ours.size - 0.5)):
        ax.axvspan(lo, hi, color="#fee6ce", zorder=0)
    centres = (np.arange(row.size) + 0.5) * f - 0.5
    ax.plot(centres, row, "o", color="#444444", label="input pixels", zorder=3)
    ax.plot(t, reference, "-", color="#238b45", lw=2.5, label="bilinear interpolation")
    ax.plot(t, ours, "--", marker=".", color="#2171b5", label="transposed conv,\nbilinear init")
    ax.set_xlabel("output column", fontsize=8)
    ax.set_ylabel("value", fontsize=8)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"×{f}: equal inside, lower in the shaded border cells", fontsize=9)
    fig.tight_layout()
    return fig
