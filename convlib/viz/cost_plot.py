"""Cost plots: multiply-adds against measured latency (log-log, labelled points, error bars
from the quartiles) and the memory of a growing dense block.

Both return a Figure and never call ``plt.show()``. matplotlib only: the numbers come from
``convlib.cost`` / ``convlib.widgets.dense_memory``, computed by the caller.

See: chapters What networks cost, Dense connectivity.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_macs_latency", "plot_dense_memory"]


def _axes(ax: Optional[Axes], figsize, dpi) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    return fig, ax


def plot_macs_latency(names: Sequence[str], macs: Sequence[float], median_ms: Sequence[float],
                      q1_ms: Optional[Sequence[float]] = None,
                      q3_ms: Optional[Sequence[float]] = None, *, title: str = "",
                      xlabel: str = "multiply-adds per image", ax: Optional[Axes] = None,
                      dpi: int = 100) -> Figure:
    """Scatter of multiply-adds (x) against median latency in ms (y), both axes logarithmic,
    one labelled point per network, vertical bars from the first to the third quartile.
    A dashed line of slope 1 through the geometric mean shows where "latency proportional to
    multiply-adds" would put every point. ``xlabel``: to plot another cost (parameters,
    activation bytes) on the x axis.

    See: chapter What networks cost.
    """
    n = len(names)
    if not (len(macs) == len(median_ms) == n) or n == 0:
        raise ValueError(f"names, macs and median_ms must have the same non-zero length, got "
                         f"{n}, {len(macs)}, {len(median_ms)}")
    x, y = np.asarray(macs, float), np.asarray(median_ms, float)
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("macs and median_ms must be positive for a log-log plot")
    fig, ax = _axes(ax, (6.4, 4.4), dpi)
    if q1_ms is not None and q3_ms is not None:
        lo, hi = y - np.asarray(q1_ms, float), np.asarray(q3_ms, float) - y
        ax.errorbar(x, y, yerr=np.clip(np.vstack([lo, hi]), 0, None), fmt="none",
                    ecolor="#999", elinewidth=1, capsize=2)
    ax.scatter(x, y, s=28, color="#1f5fa8", zorder=3, gid="networks")
    ax.set_xscale("log")
    ax.set_yscale("log")
    gx, gy = np.exp(np.log(x).mean()), np.exp(np.log(y).mean())
    xs = np.array([x.min() / 1.5, x.max() * 1.5])
    ax.plot(xs, gy * xs / gx, "--", color="#bbb", lw=1, label="latency ∝ x")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("median CPU latency (ms)")
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    _place_labels(ax, names, x, y)
    return fig


def _place_labels(ax: Axes, names: Sequence[str], x: np.ndarray, y: np.ndarray) -> None:
    """Label each point at the first of a few offsets where the label overlaps no earlier
    label, no point and the legend (greedy, left to right)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(np.column_stack([x, y]))
    taken = [leg.get_window_extent(renderer)] if (leg := ax.get_legend()) else []
    box = ax.get_window_extent(renderer)
    candidates = [(5, 4, "left"), (5, -12, "left"), (-5, 4, "right"), (-5, -12, "right"),
                  (5, 13, "left"), (5, -21, "left"), (-5, 13, "right"), (-5, -21, "right")]
    for i in np.argsort(x):
        best = None
        for dx, dy, ha in candidates:
            t = ax.annotate(names[i], (x[i], y[i]), xytext=(dx, dy), ha=ha,
                            textcoords="offset points", fontsize=8)
            bb = t.get_window_extent(renderer).expanded(1.04, 1.1)
            clash = (sum(bb.overlaps(o) for o in taken)
                     + sum(bb.contains(px, py) for j, (px, py) in enumerate(points) if j != i)
                     + (not (box.contains(bb.x0, bb.y0) and box.contains(bb.x1, bb.y1))))
            if best is None or clash < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clash, t, bb)
            else:
                t.remove()
            if clash == 0:
                break
        taken.append(best[2])


def plot_dense_memory(memory: Mapping[str, Sequence[float]], *, title: str = "",
                      ax: Optional[Axes] = None, dpi: int = 100) -> Figure:
    """Memory of a dense block against its number of layers, from
    ``convlib.widgets.dense_memory``: the layer outputs, the concatenations and the measured
    bytes autograd saves for backward, in MiB, with a least-squares quadratic fit
    ``a·L² + b·L + c`` of the measured curve (dotted).

    See: chapter Dense connectivity.
    """
    layers = np.asarray(memory["num_layers"], float)
    if len(layers) < 3:
        raise ValueError("memory needs at least three numbers of layers to show a trend")
    fig, ax = _axes(ax, (6.0, 3.8), dpi)
    labels = {"layer_outputs": "all layer outputs (profile)",
              "concat": "concatenated inputs + output",
              "saved": "saved for backward (measured)"}
    for key, label in labels.items():
        if key in memory:
            ax.plot(layers, np.asarray(memory[key], float) / 2**20, "o-", ms=4, label=label,
                    gid=key)
    if "saved" in memory:
        coef = np.polyfit(layers, np.asarray(memory["saved"], float) / 2**20, 2)
        fine = np.linspace(layers.min(), layers.max(), 50)
        ax.plot(fine, np.polyval(coef, fine), ":", color="#444", lw=1,
                label=f"quadratic fit ({coef[0]:.3f}·L² + {coef[1]:.2f}·L + …)")
    ax.set_xlabel("layers in the dense block (L)")
    ax.set_ylabel("MiB")
    ax.legend(fontsize=8, loc="upper left")        # the curves rise to the right
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
