"""The group-connectivity explorer: channels and groups → which output channels of two stacked
group convolutions depend on which input channels, without and with a channel shuffle between
them (Zhang et al. 2018, ShuffleNet).

Pure part: :func:`groups_state` (boolean masks from :mod:`convlib.viz.channels`, well under a
millisecond). Drawing: :func:`connectivity_html`, plain HTML tables, so a slider move redraws
in a few milliseconds and the static book needs no image. Widget: :func:`groups_explorer`.
Static book: :func:`groups_gallery`.

See: chapter Group convolution and channel shuffle.
"""

from __future__ import annotations

import html as _html
from typing import Iterable, Sequence

import numpy as np

from convlib._validate import positive_int
from convlib.widgets.player import playable

_THICK, _THIN = "2px solid #444", "1px solid #ddd"

__all__ = ["groups_state", "connectivity_html", "groups_html", "groups_explorer",
           "groups_gallery"]


def groups_state(channels: int, groups: int) -> dict:
    """What the explorer shows: ``plain`` (two stacked group convs) and ``shuffled`` (a channel
    shuffle between them), bool ``(channels, channels)`` masks ``[out, in]``; ``one_layer``,
    the mask of a single group conv; ``groups_seen_plain`` / ``groups_seen_shuffled``: for
    each output group, how many input groups it depends on; the fraction of connected
    pairs. ``groups`` must divide ``channels``.
    See: chapter Group convolution and channel shuffle.
    """
    from convlib.viz.channels import group_conv_mask, stacked_connectivity  # loads matplotlib

    c = positive_int(channels, "channels")
    g = positive_int(groups, "groups")
    if c % g:
        raise ValueError(f"groups={g} must divide channels ({c})")
    plain = stacked_connectivity(c, g, shuffle=False)
    shuffled = stacked_connectivity(c, g, shuffle=True)

    def seen(mask: np.ndarray) -> list[int]:
        blocks = mask.reshape(g, c // g, g, c // g).any(axis=(1, 3))   # [out group, in group]
        return [int(v) for v in blocks.sum(axis=1)]

    return {"channels": c, "groups": g, "one_layer": group_conv_mask(c, c, g),
            "plain": plain, "shuffled": shuffled,
            "groups_seen_plain": seen(plain), "groups_seen_shuffled": seen(shuffled),
            "fraction_plain": float(plain.mean()), "fraction_shuffled": float(shuffled.mean())}


def connectivity_html(mask: np.ndarray, groups: int, caption: str = "", cell: int = 0) -> str:
    """A connectivity mask ``[out, in]`` as an HTML table: a connected cell is coloured by the
    group of its INPUT channel, an empty one is white; thicker borders separate the groups.
    Cells carry ``data-on="1"`` when connected."""
    from convlib.viz.channels import GROUP_COLORS

    m = np.asarray(mask, bool)
    rows, cols = m.shape
    cell = cell or max(5, min(14, 200 // max(rows, cols)))
    width = cols * (cell + 1) + 4
    per_in, per_out = cols // groups, rows // groups
    out = []
    for o in range(rows):
        tds = []
        for i in range(cols):
            colour = GROUP_COLORS[(i // per_in) % len(GROUP_COLORS)] if m[o, i] else "#ffffff"
            right = _THICK if (i + 1) % per_in == 0 and i + 1 < cols else _THIN
            bottom = _THICK if (o + 1) % per_out == 0 and o + 1 < rows else _THIN
            tds.append(f"<td data-on='{int(m[o, i])}' style='width:{cell}px;height:{cell}px;"
                       f"padding:0;background:{colour};border-right:{right};"
                       f"border-bottom:{bottom}'></td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    return ("<div style='display:inline-block;vertical-align:top;margin-right:22px;"
            f"width:{max(width, 150)}px'>"
            f"<div style='font:12px sans-serif;margin-bottom:4px'>{_html.escape(caption)}</div>"
            "<table style='border-collapse:collapse;border:1px solid #444;margin:0'>"
            f"{''.join(out)}</table>"
            "<div style='font:11px sans-serif;color:#555'>rows: outputs · columns: inputs"
            "</div></div>")


def groups_html(state: dict) -> str:
    """Both masks of one :func:`groups_state` side by side, with what each output group sees."""
    g = state["groups"]
    left = connectivity_html(state["plain"], g, "group conv → group conv: each output group "
                             f"sees {state['groups_seen_plain'][0]} of {g} input groups")
    worst = min(state["groups_seen_shuffled"])
    right = connectivity_html(state["shuffled"], g, "group conv → shuffle → group conv: "
                              f"each output group sees ≥ {worst} of {g}")
    note = (f"{state['channels']} channels, {g} groups: {state['fraction_plain']:.0%} of the "
            f"(output, input) pairs connected without shuffle, "
            f"{state['fraction_shuffled']:.0%} with.")
    head = f"<div style='font:13px sans-serif;margin-bottom:6px'>{_html.escape(note)}</div>"
    return head + left + right


@playable
def groups_explorer(channels: int = 12, groups: int = 3):
    """Sliders for the channels and the groups; shows :func:`groups_html` (or why the setting
    is invalid). Returns an ipywidgets box. See: chapter Group convolution and channel shuffle.
    """
    import ipywidgets as W

    style, layout = {"description_width": "80px"}, W.Layout(width="320px")
    c = W.IntSlider(channels, min=2, max=32, description="channels", style=style, layout=layout)
    g = W.IntSlider(groups, min=1, max=8, description="groups", style=style, layout=layout)
    out = W.HTML()

    def refresh(_change=None) -> None:
        try:
            out.value = groups_html(groups_state(c.value, g.value))
        except ValueError as exc:
            out.value = f"<i>{_html.escape(str(exc))}</i>"

    c.observe(refresh, names="value")
    g.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([c, g]), out])


def groups_gallery(settings: Iterable[Sequence[int]]):
    """The explorer for the static book: :func:`groups_html` for each ``(channels, groups)``.
    Returns ``IPython.display.HTML``."""
    from IPython.display import HTML

    parts = [f"<div style='margin:8px 0 14px 0'>{groups_html(groups_state(c, g))}</div>"
             for c, g in settings]
    return HTML("".join(parts))
