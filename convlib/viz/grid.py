"""A 2-D array drawn as a grid of cells — the brick every drawing of the book is built from.

Style after Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016):
input cells blue, padding cells white with a dashed border, the kernel's window dark blue,
output cells green. Highlight and padding rectangles carry a gid ("highlight", "padding")
so tests and later chapters can find them.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convlib._validate import as_array

__all__ = ["draw_grid", "new_axes", "COLORS", "count_patches", "use_book_style", "integer_ticks",
           "smallest_text_px", "BOOK_DPI", "COLUMN_INCHES"]

COLORS = {
    "input": "#c6dbef",
    "padding": "#ffffff",
    "window": "#2171b5",
    "window_padding": "#6baed6",
    "kernel": "#fdd0a2",
    "output": "#c7e9c0",
    "current": "#238b45",
    "edge": "#444444",
}
CELL_INCHES = 0.42


def _text_color(face) -> str:
    r, g, b = to_rgb(face)
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "#ffffff"


def _fmt(v: float) -> str:
    v = float(v)
    if v == int(v) and abs(v) < 1e5:
        return str(int(v))
    return f"{v:.2g}" if abs(v) < 0.01 else f"{v:.2f}".rstrip("0").rstrip(".")


def _mask(cells, shape: tuple[int, int], name: str) -> np.ndarray:
    """A bool mask from None, a bool array of ``shape`` or an iterable of ``(row, col)``."""
    if cells is None:
        return np.zeros(shape, bool)
    arr = np.asarray(cells)
    if arr.dtype == bool:
        if arr.shape != shape:
            raise ValueError(f"{name} mask must have shape {shape}, got {arr.shape}")
        return arr
    mask = np.zeros(shape, bool)
    for rc in cells:
        r, c = (int(v) for v in rc)
        if not (0 <= r < shape[0] and 0 <= c < shape[1]):
            raise ValueError(f"{name} cell {(r, c)} is outside the {shape[0]}x{shape[1]} grid")
        mask[r, c] = True
    return mask


def new_axes(n_cells_wide: float, n_cells_high: float, dpi: int = 90) -> tuple[Figure, Axes]:
    """A figure sized so one grid cell is ~0.42 inch, and its single axes."""
    fig = plt.figure(figsize=(max(1.2, n_cells_wide * CELL_INCHES + 0.4),
                              max(1.0, n_cells_high * CELL_INCHES + 0.6)), dpi=dpi)
    return fig, fig.add_subplot(1, 1, 1)


def draw_grid(values, ax: Optional[Axes] = None, *, highlight=None, padding=None,
              color: str = COLORS["input"], highlight_color: Optional[str] = COLORS["window"],
              cmap: Optional[str] = None, show_values: bool = True,
              labels: Optional[Sequence[Sequence[str]]] = None,
              corner_labels: Optional[dict] = None, title: Optional[str] = None,
              dpi: int = 90) -> Figure:
    """Draw ``values (H, W)`` as a grid of numbered cells; return the Figure.

    highlight / padding: a bool mask ``(H, W)`` or an iterable of ``(row, col)`` cells.
    Highlighted cells are filled with ``highlight_color`` (gid "highlight"); padding cells are
    white with a dashed edge (gid "padding"); ``highlight_color=None`` only outlines the
    highlighted cells; a padding cell that is also highlighted gets a
    lighter fill and keeps its dashed edge. ``cmap`` colours cells by value instead of one
    ``color``. ``labels`` replaces the printed numbers; ``corner_labels`` maps ``(row, col)`` to a
    small text in the cell's lower-right corner (the kernel weight, as in Dumoulin & Visin).
    Row 0 is at the top. Draws into ``ax`` if given, else into a new figure.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    values = as_array(values, "values", ndim=2, layout="(H, W)")
    h, w = values.shape
    hl = _mask(highlight, (h, w), "highlight")
    pad = _mask(padding, (h, w), "padding")
    if ax is None:
        fig, ax = new_axes(w, h, dpi)
    if cmap is not None:
        finite = values[np.isfinite(values)]
        norm = Normalize(float(finite.min()) if finite.size else 0.0,
                         float(finite.max()) if finite.size else 1.0)
        colormap = plt.get_cmap(cmap)
    for r in range(h):
        for c in range(w):
            if pad[r, c]:
                face = COLORS["window_padding"] if hl[r, c] else COLORS["padding"]
            elif hl[r, c] and highlight_color is not None:
                face = highlight_color
            else:
                face = colormap(norm(values[r, c])) if cmap is not None else color
            rect = Rectangle((c, r), 1, 1, facecolor=face, edgecolor=COLORS["edge"],
                             linewidth=1.6 if hl[r, c] else 0.8,
                             linestyle="--" if pad[r, c] else "-")
            if pad[r, c]:
                rect.set_gid("padding")
            ax.add_patch(rect)
            if hl[r, c]:
                # a separate, fill-free outline so highlighted cells are countable and visible
                outline = Rectangle((c + 0.04, r + 0.04), 0.92, 0.92, fill=False,
                                    edgecolor="#08306b", linewidth=1.8, gid="highlight")
                ax.add_patch(outline)
            if show_values:
                text = labels[r][c] if labels is not None else _fmt(values[r, c])
                ax.text(c + 0.5, r + 0.5, text, ha="center", va="center",
                        fontsize=10 if len(text) < 4 else 8,
                        color="#999999" if pad[r, c] and not hl[r, c] else _text_color(face))
            if corner_labels and (r, c) in corner_labels:
                ax.text(c + 0.95, r + 0.92, corner_labels[(r, c)], ha="right", va="bottom",
                        fontsize=8, color=_text_color(face))
    ax.set_xlim(-0.05, w + 0.05)
    ax.set_ylim(h + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def count_patches(fig_or_ax, gid: str) -> int:
    """How many patches with this gid ("highlight", "padding", ...) a figure or axes holds."""
    axes: Iterable[Axes] = fig_or_ax.axes if isinstance(fig_or_ax, Figure) else [fig_or_ax]
    return sum(1 for ax in axes for p in ax.patches if p.get_gid() == gid)


# The book's content column is about 750 px wide; a figure drawn at BOOK_DPI and at most
# COLUMN_INCHES wide is shown at its natural size there, so its text keeps the size set here.
BOOK_DPI = 100
COLUMN_INCHES = 7.5
BOOK_RC = {
    "figure.dpi": BOOK_DPI,
    "savefig.dpi": "figure",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style() -> None:
    """Set matplotlib's defaults for the book: figure resolution and font sizes.

    Text of ``size`` points in a figure drawn at ``dpi`` is ``size * dpi / 72`` pixels on the
    page when the figure fits the ~750 px content column (``COLUMN_INCHES * BOOK_DPI``); the
    defaults give 12.5-14 px, the size of the body text's small print. Called once in a
    chapter's first cell. See: CONTRIBUTING.md, "Editorial rules".
    """
    plt.rcParams.update(BOOK_RC)


def integer_ticks(ax: Axes, axis: str = "both") -> Axes:
    """Put ticks on whole numbers only (cell indices, layer numbers); return ``ax``."""
    from matplotlib.ticker import MaxNLocator

    if axis not in ("x", "y", "both"):
        raise ValueError(f"axis must be one of 'x', 'y', 'both', got {axis!r}")
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def smallest_text_px(fig: Figure, column_px: float = COLUMN_INCHES * BOOK_DPI) -> float:
    """The height in page pixels of the smallest visible text of ``fig`` in the book's column.

    A figure wider than the column is scaled down to fit it, and its text with it:
    ``points * dpi / 72 * min(1, column_px / width_px)``. ``inf`` for a figure without text.
    """
    width_px = fig.get_figwidth() * fig.dpi
    scale = fig.dpi / 72 * min(1.0, column_px / width_px)
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize"))
             if hasattr(t, "get_text") and t.get_visible() and t.get_text().strip()]
    return min(sizes) * scale if sizes else float("inf")
