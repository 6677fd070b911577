"""Convolution arithmetic drawn the way Dumoulin & Visin's animations draw it.

"A guide to convolution arithmetic for deep learning" (2016) shows each relationship as a
square input (blue), zero padding (white, dashed), the kernel's window (dark) sliding over it,
and the output (green) filling in. Here one *panel* is that picture for a state of
:func:`convlib.widgets.arithmetic.arithmetic_state` (a convolution, square, same numbers on both
axes) or :func:`~convlib.widgets.arithmetic.transposed_state` (a transposed convolution drawn as
the equivalent direct convolution on the stretched input: inserted zeros dashed like padding).
Input cells that no window reads are hatched. Several panels can play as one animation, each
panel cycling through its own output positions, which keeps a page with 15 relationships light.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convlib._validate import positive_int
from convlib.viz.grid import COLORS, draw_grid

__all__ = ["draw_arithmetic_panel", "draw_arithmetic_panels", "animate_arithmetic_panels"]


def _geometry(state: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real (padded,) bool, reads (o, k) in padded coordinates, dropped (padded,) bool)."""
    before = state["pads"][0]
    if "real" in state:                       # transposed: inserted zeros are not real
        real = np.asarray(state["real"], bool)
        return real, np.asarray(state["reads"]), np.zeros_like(real)
    real = np.zeros(state["padded"], bool)
    real[before:before + state["i"]] = True
    dropped = np.zeros_like(real)
    dropped[before:before + state["i"]] = ~np.asarray(state["read"], bool)
    return real, np.asarray(state["reads"]) + before, dropped


def _panel(state: dict, axes: Sequence[Axes], title: Optional[str]):
    """Draw the still parts of a panel once; return ``set_position(t)`` that moves the window."""
    if not state.get("ok", False):
        raise ValueError(f"state: this setting has no output ({state.get('message')})")
    o, k = state["o"], state["reads"].shape[1]
    real, reads, dropped = _geometry(state)
    n = real.size
    pad2 = ~(real[:, None] & real[None, :])
    for ax in axes:
        ax.clear()
        ax.set_anchor("N")
    draw_grid(np.zeros((n, n)), axes[0], padding=pad2, show_values=False)
    drop2 = (dropped[:, None] | dropped[None, :]) & ~pad2
    for a, b in zip(*np.nonzero(drop2)):
        axes[0].add_patch(Rectangle((b, a), 1, 1, fill=False, hatch="///", edgecolor="#d94801",
                                    linewidth=0.0, gid="dropped"))
    draw_grid(np.zeros((o, o)), axes[1], color=COLORS["output"], show_values=False)
    cells = [Rectangle((0, 0), 1, 1, edgecolor="#08306b", linewidth=1.4, gid="highlight")
             for _ in range(k * k)]
    current = Rectangle((0, 0), 1, 1, facecolor=COLORS["current"], edgecolor="#00441b",
                        linewidth=1.4, gid="highlight")
    for patch in cells:
        axes[0].add_patch(patch)
    axes[1].add_patch(current)
    label = f"{title} \u2192 {o}x{o}" if title else f"output {o}x{o}"
    axes[0].set_title(label, fontsize=11, loc="left")

    def set_position(t: int) -> None:
        r, c = divmod(int(t) % (o * o), o)
        for patch, (a, b) in zip(cells, ((a, b) for a in reads[r] for b in reads[c])):
            patch.set_xy((b, a))
            patch.set_linestyle("--" if pad2[a, b] else "-")
            patch.set_facecolor(COLORS["window_padding"] if pad2[a, b] else COLORS["window"])
        current.set_xy((c, r))

    return set_position


def draw_arithmetic_panel(state: dict, position: int = 0, axes: Optional[Sequence[Axes]] = None,
                          *, title: Optional[str] = None, dpi: int = 70) -> Figure:
    """One relationship at one output position: padded input with the window, and the output.

    state: from ``arithmetic_state`` / ``transposed_state`` (must be ``ok``, else ValueError);
    position: flat output index ``r * o + c`` (taken modulo ``o**2``). ``axes``: two axes
    (input, output), cleared first; else a new figure. Patches: ``gid="highlight"`` per window
    cell and for the current output cell, ``"padding"`` per padding (or inserted-zero) cell,
    ``"dropped"`` per input cell no window reads (hatched).
    See: chapter Padding, stride and dilation.
    """
    if axes is None:
        if not state.get("ok", False):
            raise ValueError(f"state: this setting has no output ({state.get('message')})")
        n, o = state["padded"], state["o"]
        fig = plt.figure(figsize=(0.3 * (n + o) + 1.2, 0.3 * max(n, o) + 0.7), dpi=dpi)
        gs = fig.add_gridspec(1, 2, width_ratios=[n, max(o, 1)], wspace=0.15, left=0.02,
                              right=0.98, top=0.80, bottom=0.02)
        axes = [fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])]
    axes = list(axes)
    _panel(state, axes, title)(position)
    return axes[0].figure


def _grid_figure(count: int, states: Sequence[dict], ncols: int, dpi: int):
    nrows = -(-count // ncols)
    n = max(st["padded"] for st in states)
    o = max(st["o"] for st in states)
    height = nrows * 0.24 * (n + 3.5)
    fig = plt.figure(figsize=(ncols * 0.24 * (n + o + 3), height), dpi=dpi)
    gs = fig.add_gridspec(nrows, 2 * ncols, width_ratios=[n, o] * ncols, wspace=0.12,
                          hspace=0.45, left=0.01, right=0.99, top=1 - 0.3 / height, bottom=0.01)
    pairs = [(fig.add_subplot(gs[q // ncols, 2 * (q % ncols)]),
              fig.add_subplot(gs[q // ncols, 2 * (q % ncols) + 1])) for q in range(count)]
    for q in range(count, nrows * ncols):
        for col in (0, 1):
            fig.add_subplot(gs[q // ncols, 2 * (q % ncols) + col]).axis("off")
    return fig, pairs


def draw_arithmetic_panels(states: Sequence[dict], titles: Sequence[str], *, ncols: int = 2,
                           positions: Optional[Sequence[int]] = None, dpi: int = 70) -> Figure:
    """Several panels in one still figure (each at ``positions[q]``, default its first output).

    See: chapter Padding, stride and dilation.
    """
    if len(states) != len(titles):
        raise ValueError(f"titles: expected {len(states)} titles, got {len(titles)}")
    ncols = positive_int(ncols, "ncols")
    fig, pairs = _grid_figure(len(states), states, ncols, dpi)
    positions = positions or [0] * len(states)
    movers = [_panel(st, ax, t) for st, t, ax in zip(states, titles, pairs)]
    for move, pos in zip(movers, positions):
        move(pos)
    fig._arithmetic_movers = movers  # type: ignore[attr-defined]  # for the animation
    return fig


def animate_arithmetic_panels(states: Sequence[dict], titles: Sequence[str], *, ncols: int = 2,
                              frames: int = 16, interval: int = 800, dpi: int = 70) -> FuncAnimation:
    """Panels that play together: frame ``t`` shows output position ``t mod o**2`` of each.

    ``frames`` is the number of frames (keep it <= 16 for a light page; a panel with more
    output positions than frames does not reach its last one). Pass the result to
    :func:`convlib.viz.animation_html` for the static book.
    See: chapter Padding, stride and dilation.
    """
    frames = positive_int(frames, "frames")
    fig = draw_arithmetic_panels(states, titles, ncols=ncols, dpi=dpi)
    movers = fig._arithmetic_movers  # type: ignore[attr-defined]

    def update(t: int):
        for move in movers:
            move(int(t))
        return []

    return FuncAnimation(fig, update, frames=range(frames), interval=interval, blit=False,
                         repeat=True)
