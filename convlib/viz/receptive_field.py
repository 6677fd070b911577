"""Drawings of receptive fields: boxes on an image, and effective receptive fields.

Every function returns a Figure and never calls ``plt.show()``. Rectangles carry a gid
("rf" for a receptive-field box, "rf-centre" for its centre marker, "theoretical" for the
theoretical field on an ERF map) so tests can find them.
See: chapter Receptive field.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convlib._validate import as_array, as_pair
from convlib.receptive_field import LayerLike, ReceptiveField, input_region, receptive_field

__all__ = ["draw_rf_on_image", "draw_erf", "rf_table"]

_BOX_COLORS = ("#d94801", "#238b45", "#6a51a3", "#2171b5", "#cb181d")


def _as_image(image) -> np.ndarray:
    img = as_array(image, "image")
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    elif img.ndim != 2:
        raise ValueError(f"image must be (H, W), (1, H, W) or (3, H, W), got shape {img.shape}")
    return img


def draw_rf_on_image(image, layers: Sequence[LayerLike], positions: Sequence, *,
                     title: Optional[str] = None, dpi: int = 100) -> Figure:
    """The receptive fields of some output cells of a stack, drawn on its input image.

    image: ``(H, W)`` or ``(C, H, W)`` with C = 1 or 3; layers: the stack (the same on both
    axes), as layers or as the records of :func:`convlib.receptive_field.receptive_field`;
    positions: output cells ``(i, j)``.
    Each cell's region ``[i*S - P, i*S - P + r - 1]`` (rows, likewise columns) is a box
    (gid "rf"), its centre ``c + i*S`` a dot (gid "rf-centre"); the part of a box outside the
    image is the padding the network reads. The axes show pixel indices.
    See: chapter Receptive field.
    """
    img = _as_image(image)
    h, w = img.shape[:2]
    layers = [x.layer if isinstance(x, ReceptiveField) else x for x in layers]
    recs = receptive_field(layers, input_size=min(h, w))
    last = recs[-1]
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=dpi)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1,
              extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    lo, hi = 0, max(h, w)
    for n, pos in enumerate(positions):
        i, j = as_pair(pos, "positions entry")
        r0, r1 = input_region([last], i)
        c0, c1 = input_region([last], j)
        lo, hi = min(lo, r0, c0), max(hi, r1 + 1, c1 + 1)
        color = _BOX_COLORS[n % len(_BOX_COLORS)]
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                               edgecolor=color, linewidth=2, gid="rf"))
        cy, cx = last.center + i * last.stride, last.center + j * last.stride
        ax.plot([cx], [cy], "o", color=color, markersize=5, gid="rf-centre")
        ax.text(c0 - 0.3, r0 - 0.8, f"({i}, {j})", color=color, fontsize=10)
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor="#444", linewidth=1,
                           linestyle="--"))
    ax.set_xlim(lo - 1.5, hi + 0.5)
    ax.set_ylim(hi + 0.5, lo - 1.5)
    ax.set_title(title or f"r = {last.size}, S = {last.stride}, P = {last.padding}, "
                          f"c = {last.center:g}", fontsize=10)
    ax.tick_params(labelsize=9)
    fig.tight_layout()
    return fig


def draw_erf(maps: Sequence, titles: Sequence[str], regions: Optional[Sequence] = None, *,
             dpi: int = 100) -> Figure:
    """Effective receptive fields side by side, each with its theoretical field outlined.

    maps: ``(H, W)`` arrays (e.g. :func:`convlib.erf.effective_rf`); regions: per map
    ``((row0, row1), (col0, col1))`` inclusive input pixels of the theoretical field (gid
    "theoretical"), or ``None``. Each map is scaled to its own maximum.
    See: chapter Receptive field.
    """
    maps = [as_array(m, "maps entry", ndim=2, layout="(H, W)") for m in maps]
    if len(titles) != len(maps):
        raise ValueError(f"titles must have one entry per map ({len(maps)}), got {len(titles)}")
    if regions is not None and len(regions) != len(maps):
        raise ValueError(f"regions must have one entry per map ({len(maps)}), got {len(regions)}")
    fig, axes = plt.subplots(1, len(maps), figsize=(min(2.4 * len(maps) + 0.9, 7.5), 2.8),
                             dpi=dpi, squeeze=False)
    for n, (ax, m, t) in enumerate(zip(axes[0], maps, titles)):
        image = ax.imshow(m / m.max() if m.max() > 0 else m, cmap="magma", vmin=0, vmax=1)
        if regions is not None and regions[n] is not None:
            (r0, r1), (c0, c1) = regions[n]
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                                   edgecolor="#41b6c4", linewidth=1.5, linestyle="--",
                                   gid="theoretical"))
        ax.set_title(t, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    # colour means a value: the squared gradient relative to each map's maximum
    bar = fig.colorbar(image, cax=fig.add_axes((0.88, 0.12, 0.02, 0.72)))
    bar.set_label("gradient² / max", fontsize=9)
    bar.ax.tick_params(labelsize=9)
    return fig


class rf_table(list):
    """Receptive-field records as a table: ``print`` it or let the notebook render it (HTML).

    ``rf_table(records, names=None)``: records from
    :func:`convlib.receptive_field.receptive_field` or ``of_model``; ``names``: keep only the
    layers whose name is in it (default all). Columns: layer, type, k, s, p, d, output size,
    r, S, P, c. See: chapter Receptive field.
    """

    HEADER = ("layer", "type", "k", "s", "p", "d", "output", "r", "S (jump)", "P", "c (centre)")

    def __init__(self, records, names: Optional[Sequence[str]] = None):
        keep = None if names is None else set(names)
        super().__init__(rec for rec in records if keep is None or rec.name in keep)
        if not self:
            raise ValueError("rf_table has no rows: no record matched names")

    def _cells(self) -> list[tuple[str, ...]]:
        return [(r.name, "pool" if r.layer.pool else "conv", str(r.layer.kernel), str(r.layer.stride), str(r.layer.padding),
                 str(r.layer.dilation), "" if r.output_size is None else str(r.output_size),
                 str(r.size), str(r.stride), str(r.padding), f"{r.center:g}") for r in self]

    def __repr__(self) -> str:
        cells = [self.HEADER] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.HEADER))]
        lines = ["  ".join(c.ljust(wd) if i < 2 else c.rjust(wd)
                           for i, (c, wd) in enumerate(zip(row, widths))) for row in cells]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html
        pad = "padding:2px 10px;"
        head = "".join(f'<th style="{pad}text-align:{"left" if i < 2 else "right"}">'
                       f"{html.escape(h)}</th>" for i, h in enumerate(self.HEADER))
        body = "".join("<tr>" + "".join(
            f'<td style="{pad}text-align:{"left" if i < 2 else "right"}">{html.escape(c)}</td>'
            for i, c in enumerate(row)) + "</tr>" for row in self._cells())
        return (f'<table style="border-collapse:collapse;font-size:13px"><thead><tr>{head}</tr>'
                f"</thead><tbody>{body}</tbody></table>")
