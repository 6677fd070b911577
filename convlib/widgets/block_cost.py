"""The block explorer: channels, stride, expansion ratio or groups → parameters, multiply-adds
and the block's diagram.

Pure part: :func:`make_block` and :func:`block_cost_state` (counted by ``convlib.cost`` on a
block built on PyTorch's "meta" device, so nothing is computed and a slider move costs a few
milliseconds once torch is warm). Widget: :func:`block_explorer`. Static book:
:func:`block_gallery`, a table of pre-computed settings with their diagrams.
torch is imported only inside the functions.

See: chapter Bottleneck blocks.
"""

from __future__ import annotations

import html as _html
from functools import lru_cache
from typing import Any, Sequence

from convlib._validate import one_of, positive_int
from convlib.widgets.html import figure_png, img_html
from convlib.widgets.player import BLOCK_STATES, playable

__all__ = ["BLOCK_KINDS", "make_block", "block_cost_state", "block_cost_html",
           "block_diagram_png", "block_explorer", "block_gallery"]

BLOCK_KINDS = ("basic", "bottleneck", "inverted_residual")


def make_block(kind: str, in_channels: int, out_channels: int, stride: int = 1,
               expand_ratio: float = 6, groups: int = 1, width_per_group: int = 64,
               device: str = "cpu"):
    """A :mod:`convlib.blocks` block by name: ``"basic"`` → ``BasicBlock(in, out, stride)``,
    ``"bottleneck"`` → ``Bottleneck(in, out // 4, stride, groups, width_per_group)`` (``out``
    must be a multiple of 4), ``"inverted_residual"`` →
    ``InvertedResidual(in, out, stride, expand_ratio)``. ``device="meta"`` builds it without
    allocating weights.
    """
    import torch

    from convlib import blocks

    kind = one_of(kind, "kind", BLOCK_KINDS)
    out_channels = positive_int(out_channels, "out_channels")
    with torch.device(device):
        if kind == "basic":
            return blocks.BasicBlock(in_channels, out_channels, stride)
        if kind == "bottleneck":
            if out_channels % 4:
                raise ValueError(f"out_channels must be a multiple of 4 for a bottleneck "
                                 f"(4·planes), got {out_channels}")
            return blocks.Bottleneck(in_channels, out_channels // 4, stride, groups,
                                     width_per_group)
        return blocks.InvertedResidual(in_channels, out_channels, stride, expand_ratio)


def block_cost_state(kind: str, in_channels: int, out_channels: int, stride: int = 1,
                     size: int = 56, **options: Any) -> dict:
    """What the explorer shows for one setting: ``params``, ``macs`` (one image of
    ``size × size``), ``output_shape`` (C, H, W), ``shortcut`` ("identity", "projection" or
    "none") and, for comparison, ``plain_macs`` / ``plain_params`` of one ordinary 3×3 conv
    from ``in_channels`` to ``out_channels`` with the same stride (no bias).
    ``options``: ``expand_ratio``, ``groups``, ``width_per_group`` (see :func:`make_block`).
    """
    from torch import nn

    from convlib.cost import count_macs, count_params

    size = positive_int(size, "size")
    block = make_block(kind, in_channels, out_channels, stride, device="meta", **options)
    shape = (1, block.in_channels, size, size)
    ho = (size + 2 - 3) // positive_int(stride, "stride") + 1
    if kind == "inverted_residual":
        shortcut = "identity" if block.use_residual else "none"
    else:
        shortcut = "identity" if isinstance(block.shortcut, nn.Identity) else "projection"
    plain = 9 * block.in_channels * block.out_channels
    return {"kind": kind, "params": count_params(block), "macs": count_macs(block, shape),
            "output_shape": (block.out_channels, ho, ho), "shortcut": shortcut,
            "plain_params": plain, "plain_macs": plain * ho * ho,
            "hidden": getattr(block, "hidden", getattr(block, "width", None))}


def block_cost_html(state: dict) -> str:
    """A small HTML table of one :func:`block_cost_state`."""
    rows = [("output", "×".join(map(str, state["output_shape"]))),
            ("shortcut", state["shortcut"])]
    if state["hidden"] is not None:
        rows.append(("inner width", str(state["hidden"])))
    rows += [("parameters", f"{state['params']:,}"),
             ("multiply-adds", f"{state['macs']:,}"),
             ("plain 3×3 conv: params", f"{state['plain_params']:,}"),
             ("plain 3×3 conv: MACs", f"{state['plain_macs']:,}")]
    body = "".join(f"<tr><td style='padding:2px 10px 2px 0'>{_html.escape(k)}</td>"
                   f"<td style='text-align:right;font-family:monospace'>{_html.escape(v)}</td>"
                   "</tr>" for k, v in rows)
    return f"<table style='border-collapse:collapse;font-size:13px'>{body}</table>"


@lru_cache(maxsize=64)
def block_diagram_png(kind: str, in_channels: int, out_channels: int, stride: int = 1,
                      size: int = 56, dpi: int = 60, options: tuple = ()) -> bytes:
    """PNG bytes of the block's diagram (cached: the widget redraws a setting only once)."""
    from convlib.viz import draw_block

    block = make_block(kind, in_channels, out_channels, stride, device="meta", **dict(options))
    fig = draw_block(block, (1, in_channels, size, size), dpi=dpi)
    return figure_png(fig, dpi)



@playable(max_states=BLOCK_STATES)
def block_explorer(kind: str, in_channels: int = 64, out_channels: int = 64, stride: int = 1,
                   size: int = 56, **options: Any):
    """Sliders for the channels, the stride and (by kind) the expansion ratio or the groups;
    shows the cost table and the diagram. Returns an ipywidgets box.

    See: chapter Bottleneck blocks.
    """
    import ipywidgets as W

    kind = one_of(kind, "kind", BLOCK_KINDS)
    style, layout = {"description_width": "110px"}, W.Layout(width="330px")
    step = 4 if kind == "bottleneck" else 8
    sliders = {
        "in_channels": W.IntSlider(in_channels, min=8, max=512, step=8,
                                   description="in channels", style=style, layout=layout),
        "out_channels": W.IntSlider(out_channels, min=step * 2, max=512, step=step * 2,
                                    description="out channels", style=style, layout=layout),
        "stride": W.IntSlider(stride, min=1, max=2, description="stride", style=style,
                              layout=layout),
    }
    if kind == "inverted_residual":
        sliders["expand_ratio"] = W.IntSlider(options.get("expand_ratio", 6), min=1, max=8,
                                              description="expansion t", style=style,
                                              layout=layout)
    if kind == "bottleneck":
        sliders["groups"] = W.Dropdown(options=[1, 2, 4, 8, 32], value=options.get("groups", 1),
                                       description="groups", style=style, layout=layout)
    numbers, picture = W.HTML(), W.HTML()

    def refresh(_change=None) -> None:
        v = {k: s.value for k, s in sliders.items()}
        core = (kind, v.pop("in_channels"), v.pop("out_channels"), v.pop("stride"))
        if kind == "bottleneck":
            v["width_per_group"] = max(1, 64 // v["groups"])
        try:
            numbers.value = block_cost_html(block_cost_state(*core, size=size, **v))
            picture.value = img_html(block_diagram_png(*core, size=size,
                                                       options=tuple(sorted(v.items()))),
                                     "max-width:100%")
        except ValueError as exc:
            numbers.value, picture.value = f"<i>{_html.escape(str(exc))}</i>", ""

    for s in sliders.values():
        s.observe(refresh, names="value")
    refresh()
    return W.HBox([W.VBox(list(sliders.values()) + [numbers]), picture])


def block_gallery(kind: str, settings: Sequence[dict], size: int = 56, dpi: int = 65):
    """The explorer for the static book: one card per setting (a dict of
    :func:`make_block` arguments) with its cost table and diagram; the cards wrap onto new
    rows on a narrow page. Returns ``IPython.display.HTML``.
    """
    from IPython.display import HTML

    cells = []
    for s in settings:
        s = dict(s)
        core = (kind, s.pop("in_channels"), s.pop("out_channels"), s.pop("stride", 1))
        state = block_cost_state(*core, size=size, **s)
        title = ", ".join([f"{core[1]}→{core[2]}", f"stride {core[3]}"]
                          + [f"{k.replace('_', ' ')} {v}" for k, v in s.items()
                             if k != "width_per_group"])
        png = block_diagram_png(*core, size=size, dpi=dpi, options=tuple(sorted(s.items())))
        cells.append(f"<div style='flex:0 0 250px'><b>{_html.escape(title)}</b>"
                     f"{block_cost_html(state)}{img_html(png, 'max-width:100%')}</div>")
    return HTML("<div style='display:flex;flex-wrap:wrap;gap:10px 18px;align-items:flex-start'>"
                f"{''.join(cells)}</div>")
