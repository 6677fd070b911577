"""One step of a 2-D convolution, and the animation over all its steps.

In the style of Dumoulin & Visin's conv_arithmetic figures ("A guide to convolution
arithmetic for deep learning", 2016), generalised to any stride, padding and dilation:
the padded input with the kernel's window highlighted (padding cells dashed, each covered
cell labelled with its kernel weight), the kernel, and the output with the current cell
highlighted. The geometry comes from :func:`convlib.widgets.state.sliding_window_state`,
the output map from :func:`convlib.functional.conv2d`.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from convlib._validate import as_array, positive_int
from convlib.viz.grid import CELL_INCHES, COLORS, _fmt, draw_grid
from convlib.widgets.state import conv_output_map, sliding_window_state

__all__ = ["draw_conv_step", "animate_conv", "animation_html", "conv_output_map"]


def _layout(state) -> tuple[float, float, list[float]]:
    hp, wp = state["padded_shape"]
    kh, kw = state["kernel_size"]
    ho, wo = state["output_shape"]
    ratios = [wp, kw, wo]
    width = (sum(ratios) + 2.6) * CELL_INCHES
    height = (max(hp, kh, ho) + 1.6) * CELL_INCHES
    return max(width, 3.5), max(height, 1.8), ratios


def draw_conv_step(x, weight, stride=1, padding=0, dilation=1, position=0, *,
                   bias: float = 0.0, output: Optional[np.ndarray] = None,
                   progressive: bool = False, axes: Optional[Sequence[Axes]] = None,
                   dpi: int = 100) -> Figure:
    """Picture of the output cell ``position`` being computed; return the Figure.

    x: ``(H, W)``; weight: ``(kh, kw)``; stride / padding / dilation as in ``conv2d``;
    position: flat index ``i * Wo + j`` or ``(i, j)``. The title shows
    ``out[i, j] = bias + sum_{a,b} xpad[i*s + a*d, j*s + b*d] * weight[a, b]``.
    ``progressive=True`` leaves output cells after the current one blank (for animations).
    ``axes``: three axes (input, kernel, output) to draw into, cleared first.
    Highlight patches: one per kernel tap in the input, one output cell.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    x = as_array(x, "x", ndim=2, layout="(H, W)")
    weight = as_array(weight, "weight", ndim=2, layout="(kh, kw)")
    st = sliding_window_state(x, weight, stride, padding, dilation, position, bias=bias)
    if output is None:
        output = conv_output_map(x, weight, stride, padding, dilation, bias)
    top, bottom, left, right = st["pads"]
    xp = np.pad(x, ((top, bottom), (left, right)))
    pad_mask = np.pad(np.zeros(x.shape, bool), ((top, bottom), (left, right)), constant_values=True)
    win = list(zip((st["rows"] + top).ravel(), (st["cols"] + left).ravel()))
    corner = {rc: f"×{_fmt(w)}" for rc, w in zip(win, weight.ravel())}
    if axes is None:
        width, height, ratios = _layout(st)
        fig = plt.figure(figsize=(width, height), dpi=dpi)
        gs = fig.add_gridspec(1, 3, width_ratios=ratios, wspace=0.25, left=0.02, right=0.98,
                              top=0.80, bottom=0.02)
        axes = [fig.add_subplot(gs[0, k]) for k in range(3)]
    else:
        axes = list(axes)
        for ax in axes:
            ax.clear()
        fig = axes[0].figure
    for ax in axes:
        ax.set_anchor("N")
    draw_grid(xp, axes[0], highlight=win, padding=pad_mask, corner_labels=corner,
              title="input" + (" + padding" if any(st["pads"]) else ""))
    draw_grid(weight, axes[1], color=COLORS["kernel"], title="kernel")
    i, j = st["out_index"]
    ho, wo = st["output_shape"]
    labels = [[("" if progressive and r * wo + c > st["position"] else _fmt(output[r, c]))
               for c in range(wo)] for r in range(ho)]
    draw_grid(output, axes[2], highlight=[(i, j)], color=COLORS["output"],
              highlight_color=COLORS["current"], labels=labels, title="output")
    s, d = st["stride"], st["dilation"]
    fig.suptitle(
        f"stride {s[0]}, padding {padding}, dilation {d[0]}" if s[0] == s[1] and d[0] == d[1]
        else f"stride {s}, padding {padding}, dilation {d}", fontsize=10, y=0.99)
    axes[2].set_title(f"out[{i}, {j}] = {_fmt(st['value'])}", fontsize=10)
    return fig


def animate_conv(x, weight, stride=1, padding=0, dilation=1, *, bias: float = 0.0,
                 max_frames: int = 36, interval: int = 700, dpi: int = 72) -> FuncAnimation:
    """A FuncAnimation with one frame per output position (row by row); return it.

    Frame ``t`` is ``draw_conv_step(..., position=t, progressive=True)``, so the output
    fills in as the window slides. Refuses (ValueError) more than ``max_frames`` positions
    to keep pages light (13 PNG frames at dpi 100 are ~700 KB of HTML). Never shows it:
    pass it to :func:`animation_html` for the static book.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    max_frames = positive_int(max_frames, "max_frames")
    st = sliding_window_state(x, weight, stride, padding, dilation, 0, bias=bias)
    n = st["n_positions"]
    if n > max_frames:
        ho, wo = st["output_shape"]
        raise ValueError(
            f"max_frames: the output has {ho}x{wo} = {n} positions, more than max_frames="
            f"{max_frames}; use a smaller input or a larger stride, or raise max_frames")
    output = conv_output_map(x, weight, stride, padding, dilation, bias)
    fig = draw_conv_step(x, weight, stride, padding, dilation, 0, bias=bias, output=output,
                         progressive=True, dpi=dpi)
    axes = list(fig.axes)

    def update(t: int):
        draw_conv_step(x, weight, stride, padding, dilation, int(t), bias=bias, output=output,
                       progressive=True, axes=axes)
        return []

    return FuncAnimation(fig, update, frames=range(n), interval=interval, blit=False,
                         repeat=True)


# matplotlib's player draws its buttons with Font Awesome loaded from a CDN; offline the
# buttons would be blank, so the icons become plain characters every font has.
_ICONS = {"fa-fast-backward": "\u21e4", "fa-step-backward": "\u2039", "fa-pause": "\u275a\u275a",
          "fa-step-forward": "\u203a", "fa-fast-forward": "\u21e5", "fa-minus": "\u2212",
          "fa-plus": "+", "fa-play": "\u25b6"}


def _offline_icon(match: "re.Match[str]") -> str:
    classes = match.group(1).split()
    if "fa-play" in classes and "fa-flip-horizontal" in classes:
        return "\u25c0"
    return next((_ICONS[c] for c in classes if c in _ICONS), "")


def animation_html(anim: FuncAnimation, default_mode: str = "loop", autoplay: bool = True):
    """The animation as self-contained HTML (PNG frames embedded, no network), displayable.

    ``anim.to_jshtml(embed_frames=True)`` with the player's CDN stylesheet removed and its
    icons replaced by plain characters; ``autoplay`` starts it once the page has loaded
    (the reader can pause it or step with the buttons). Returns an ``IPython.display.HTML``
    (so it shows as a cell's result and in the static book) and closes the animation's
    figure so no extra still image is printed.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    from IPython.display import HTML

    html = anim.to_jshtml(default_mode=default_mode, embed_frames=True)
    plt.close(anim._fig)
    html = re.sub(r'<link rel="stylesheet"\s*href="https?://[^"]*font-awesome[^"]*">', "", html)
    html = re.sub(r'<i class="fa ([^"]*)"></i>', _offline_icon, html)
    found = re.search(r"\b(anim[0-9a-f]+) = new Animation", html)
    if autoplay and found:
        name = found.group(1)
        html += ("<script>setTimeout(function () { if (window.%s) { %s.play_animation(); } },"
                 " 200);</script>" % (name, name))
    return HTML(html)
