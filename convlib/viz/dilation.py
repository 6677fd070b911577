"""Drawings of dilated (atrous) convolution.

- :func:`draw_dilated_kernel` — a kernel and the same kernel with ``d - 1`` holes between taps;
- :func:`draw_dilation_tower` — a 1-D stack of dilated convolutions (WaveNet's picture):
  which cells of each level one output depends on;
- :func:`plot_rf_growth` — receptive field against depth for dilated, plain and strided
  stacks, with the resolution each keeps;
- :func:`draw_influence` — influence maps of several stacks side by side (gridding vs hybrid
  dilated convolution).

Every function returns a Figure and never calls ``plt.show()``.
See: chapter Dilated (atrous) convolution.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from convlib._validate import as_array, positive_int
from convlib.arithmetic import conv_output_size
from convlib.receptive_field import receptive_field
from convlib.viz.grid import COLORS, draw_grid, integer_ticks
from convlib.widgets.dilation import dilate_kernel, dilation_state

__all__ = ["draw_dilated_kernel", "draw_dilation_tower", "plot_rf_growth", "rf_growth_table",
           "draw_influence"]


def draw_dilated_kernel(weight, dilations: Sequence[int] = (1, 2, 3), *, dpi: int = 100) -> Figure:
    """``weight (k, k)`` and its dilated versions side by side: taps coloured, the inserted
    zeros white and dashed, with the effective size ``d*(k-1)+1`` in each title.
    See: chapter Dilated (atrous) convolution.
    """
    weight = as_array(weight, "weight", 2, "(kh, kw)")
    ds = [positive_int(d, "dilation") for d in dilations]
    big = [dilate_kernel(weight, d) for d in ds]
    widths = [b.shape[1] for b in big]
    fig, axes = plt.subplots(1, len(ds), figsize=(0.32 * sum(widths) + 0.8 * len(ds),
                                                  0.32 * max(b.shape[0] for b in big) + 0.9),
                             dpi=dpi, gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, d, b in zip(axes[0], ds, big):
        tap = np.zeros(b.shape, bool)
        tap[::d, ::d] = True
        labels = [[f"{v:g}" if tap[r, c] else "0" for c, v in enumerate(row)] for r, row in enumerate(b)]
        draw_grid(b, ax, highlight=tap, padding=~tap, highlight_color=COLORS["kernel"],
                  labels=labels, title=f"d = {d}: {b.shape[0]}×{b.shape[1]}")
    fig.tight_layout()
    return fig


def draw_dilation_tower(rates: Sequence[int] = (1, 2, 4, 8), kernel_size: int = 2,
                        width: int = 16, *, causal: bool = True, dpi: int = 100) -> Figure:
    """A 1-D stack of dilated convolutions, input at the bottom: every level is a row of
    ``width`` cells, and the lines go from the last output back to the cells it depends on
    (WaveNet's figure: causal kernels of size 2 with rates 1, 2, 4, 8 see 16 inputs).
    ``causal=False`` centres the kernels instead (odd ``kernel_size``).
    See: chapter Dilated (atrous) convolution.
    """
    rs = [positive_int(r, "rate") for r in rates]
    k = positive_int(kernel_size, "kernel_size")
    n = positive_int(width, "width")
    levels = len(rs) + 1
    fig, ax = plt.subplots(figsize=(0.36 * n + 1.5, 0.62 * levels + 0.6), dpi=dpi)
    start = n - 1 if causal else (n - 1) // 2
    active = [{start}]
    for d in reversed(rs):  # walk back from the output to the input
        offs = [-(k - 1 - t) * d for t in range(k)] if causal else [(t - (k - 1) // 2) * d for t in range(k)]
        active.append({c + o for c in active[-1] for o in offs if 0 <= c + o < n})
    active = active[::-1]  # level 0 = input
    for lev in range(levels):
        y = lev
        for c in range(n):
            on = c in active[lev]
            ax.add_patch(plt.Circle((c, y), 0.28, facecolor=COLORS["window"] if on else "#ffffff",
                                    edgecolor="#555", linewidth=0.8, zorder=3))
        name = "input" if lev == 0 else f"rate {rs[lev - 1]}"
        ax.text(-1.0, y, name, ha="right", va="center", fontsize=10)
        if lev > 0:
            d = rs[lev - 1]
            offs = [-(k - 1 - t) * d for t in range(k)] if causal else [(t - (k - 1) // 2) * d for t in range(k)]
            for c in active[lev]:
                for o in offs:
                    if 0 <= c + o < n:
                        ax.plot([c, c + o], [y, y - 1], color="#2171b5", linewidth=1, zorder=2)
    ax.set_xlim(-3.2, n)
    ax.set_ylim(-0.6, levels - 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    seen = len(active[0])
    ax.set_title(f"kernel {k}, rates {', '.join(map(str, rs))}: one output depends on {seen} inputs",
                 fontsize=10)
    fig.tight_layout()
    return fig


def rf_growth_table(depth: int = 6, size: int = 64) -> dict:
    """Receptive field and output size after each of ``depth`` 3×3 layers, three ways, on a
    ``size``-pixel axis (computed with :mod:`convlib.receptive_field` and
    :func:`convlib.arithmetic.conv_output_size`):

    - ``"plain"``: stride 1, dilation 1, padding 1 — linear growth, full resolution;
    - ``"dilated"``: stride 1, dilation ``2**l`` (1, 2, 4, ...), padding = dilation —
      exponential growth, full resolution;
    - ``"strided"``: stride 2, padding 1 — exponential growth, resolution halved each layer.

    Returns ``{name: {"rf": [...], "size": [...]}}``. See: chapter Dilated (atrous) convolution.
    """
    depth, size = positive_int(depth, "depth"), positive_int(size, "size")
    stacks = {
        "plain": [(3, 1, 1, 1)] * depth,
        "dilated": [(3, 1, 2 ** m, 2 ** m) for m in range(depth)],
        "strided": [(3, 2, 1, 1)] * depth,
    }
    out = {}
    for name, layers in stacks.items():
        rfs = [rec.size for rec in receptive_field(layers)]
        sizes, s = [], size
        for k, st, p, d in layers:
            s = conv_output_size(s, k, st, p, d) if s >= 1 else 0
            sizes.append(s)
        out[name] = {"rf": rfs, "size": sizes}
    return out


def plot_rf_growth(depth: int = 6, size: int = 64, *, dpi: int = 100) -> Figure:
    """Two panels: receptive field against depth (log scale) for the stacks of
    :func:`rf_growth_table`, and the output size each keeps.
    See: chapter Dilated (atrous) convolution.
    """
    table = rf_growth_table(depth, size)
    styles = {"plain": ("#777777", "o", "3×3, stride 1"),
              "strided": ("#d94801", "^", "3×3, stride 2"),
              "dilated": (COLORS["window"], "s", "3×3, dilation 1, 2, 4, …")}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.5, 3.3), dpi=dpi)
    layers = np.arange(1, depth + 1)
    for name, (col, mark, label) in styles.items():
        ls = "--" if name == "dilated" else "-"
        a1.plot(layers, table[name]["rf"], marker=mark, color=col, label=label, linestyle=ls,
                markerfacecolor="none" if name == "dilated" else col)
        a2.plot(layers, table[name]["size"], marker=mark, color=col, label=label, linestyle=ls,
                markerfacecolor="none" if name == "dilated" else col)
    a1.set_yscale("log", base=2)
    a1.set_title("receptive field (pixels)", fontsize=10)
    a2.set_title(f"feature-map size (input {size})", fontsize=10)
    a2.set_yscale("log", base=2)
    for ax in (a1, a2):
        ax.set_xlabel("layers", fontsize=10)
        integer_ticks(ax, "x")
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    # one legend for both panels, below them (off the data)
    handles, labels = a1.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=9, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def draw_influence(stacks: Sequence[Sequence[int]], size: Optional[int] = 33,
                   titles: Optional[Sequence[str]] = None, *, dpi: int = 100) -> Figure:
    """Influence maps of several stacks of 3×3 dilated convolutions side by side: the input
    pixels the centre output depends on in blue, the others white, the receptive-field box
    outlined in orange (gid "rf").
    See: chapter Dilated (atrous) convolution.
    """
    states = [dilation_state(r, 3, size) for r in stacks]
    fig, axes = plt.subplots(1, len(states), figsize=(min(3.0 * len(states), 7.5), 3.4), dpi=dpi,
                             squeeze=False)
    for m, (ax, st) in enumerate(zip(axes[0], states)):
        ax.imshow(st["mask"], cmap=ListedColormap(["#ffffff", COLORS["window"]]), vmin=0, vmax=1,
                  interpolation="nearest")
        n = st["mask"].shape[0]
        ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
        ax.grid(which="minor", color="#dddddd", linewidth=0.3)
        ax.tick_params(which="both", length=0)
        rows, cols = st["box"]
        ax.add_patch(plt.Rectangle((cols.start - 0.5, rows.start - 0.5), cols.stop - cols.start,
                                   rows.stop - rows.start, fill=False, edgecolor="#d94801",
                                   linewidth=1.5, linestyle="--", gid="rf"))
        title = titles[m] if titles else "rates " + ", ".join(map(str, st["rates"]))
        ax.set_title(f"{title}\nr = {st['rf']}, sees {100 * st['coverage']:.0f}% of it", fontsize=10)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
