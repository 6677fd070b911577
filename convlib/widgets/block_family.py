"""Explorers for the concatenating blocks: DenseNet's dense block, GoogLeNet's Inception module
and the ShuffleNetV2 unit — settings → parameters, multiply-adds, activation memory, diagram.

Pure part: :func:`make_family_block`, :func:`family_state` (counted by ``convlib.cost`` on a
block built on PyTorch's "meta" device, so a slider move computes nothing) and
:func:`dense_memory` (the memory of a dense block as it grows, counted and measured).
Widget: :func:`family_explorer`. Static book: :func:`family_gallery`.
torch is imported only inside the functions.

See: chapters Dense connectivity, Inception, The ShuffleNet unit.
"""

from __future__ import annotations

import html as _html
from functools import lru_cache
from typing import Any, Sequence

from convlib._validate import one_of, positive_int
from convlib.widgets.html import figure_png, img_html
from convlib.widgets.player import BLOCK_STATES, playable

__all__ = ["FAMILY_KINDS", "FAMILY_DEFAULTS", "make_family_block", "family_state",
           "family_html", "family_diagram_png", "family_explorer", "family_gallery",
           "dense_memory"]

FAMILY_KINDS = ("dense", "inception", "shuffle")

# Defaults: DenseNet-121's first block, GoogLeNet's inception (3a), ShuffleNetV2 1.0x stage 2.
FAMILY_DEFAULTS = {
    "dense": dict(num_layers=6, in_channels=64, growth_rate=32, bn_size=4),
    "inception": dict(in_channels=192, ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16,
                      ch5x5=32, pool_proj=32, large_kernel=5),
    "shuffle": dict(in_channels=116, out_channels=116, stride=1),
}


def make_family_block(kind: str, device: str = "cpu", **settings: Any):
    """The :mod:`convlib.blocks` module of ``kind`` with ``settings`` (missing ones from
    :data:`FAMILY_DEFAULTS`): ``"dense"`` → ``DenseBlock``, ``"inception"`` → ``Inception``,
    ``"shuffle"`` → ``ShuffleV2Unit``. ``device="meta"`` allocates no weights.
    

    See: chapters Dense connectivity, Inception, The ShuffleNet unit.
    """
    import torch

    from convlib import blocks

    kind = one_of(kind, "kind", FAMILY_KINDS)
    unknown = set(settings) - set(FAMILY_DEFAULTS[kind])
    if unknown:
        raise ValueError(f"settings for a {kind} block must be among "
                         f"{sorted(FAMILY_DEFAULTS[kind])}, got {sorted(unknown)}")
    s = {**FAMILY_DEFAULTS[kind], **settings}
    with torch.device(device):
        if kind == "dense":
            return blocks.DenseBlock(s["num_layers"], s["in_channels"], s["growth_rate"],
                                     s["bn_size"])
        if kind == "inception":
            return blocks.Inception(**s)
        return blocks.ShuffleV2Unit(s["in_channels"], s["out_channels"], s["stride"])


def _branch_macs(rows, prefixes: Sequence[str]) -> dict:
    return {p: sum(r.macs for r in rows if r.name.split(".")[0] == p) for p in prefixes}


def family_state(kind: str, size: int = 28, **settings: Any) -> dict:
    """What the explorer shows for one setting of one block, on one ``size × size`` image:
    ``params``, ``macs``, ``activation_bytes`` (sum of the layers' float32 outputs, as
    ``convlib.cost.profile`` counts them), ``output_shape`` (C, H, W) and per kind:

    - dense: ``layer_inputs``, the channels each layer sees (``c0 + (l-1)·k``), and
      ``concat_bytes``, the bytes of the concatenated tensors built for the layers and the
      output (a naive implementation copies all earlier features each time);
    - inception: ``branch_macs`` per branch and ``macs_without_reduction``, the
      formula ``HW·(k3²·C_in·ch3x3 + k5²·C_in·ch5x5) + HW·C_in·(ch1x1 + pool_proj)`` of the
      same module with its two 1×1 reductions removed;
    - shuffle: ``branch_macs`` per branch (``branch1`` exists only with stride 2).
    

    See: chapters Dense connectivity, Inception, The ShuffleNet unit.
    """
    from convlib.cost import profile

    kind = one_of(kind, "kind", FAMILY_KINDS)
    size = positive_int(size, "size")
    block = make_family_block(kind, "meta", **settings)
    s = {**FAMILY_DEFAULTS[kind], **settings}
    rows = profile(block, (1, block.in_channels, size, size))
    out = rows[-1].output_shape[1:]
    state = {"kind": kind, "settings": s, "params": rows.total_params, "macs": rows.total_macs,
             "activation_bytes": rows.total_activation_bytes}
    if kind == "dense":
        ins = [s["in_channels"] + i * s["growth_rate"] for i in range(s["num_layers"])]
        state["layer_inputs"] = ins
        state["concat_bytes"] = 4 * size * size * (sum(ins[1:]) + block.out_channels)
        out = (block.out_channels, size, size)
    elif kind == "inception":
        hw, cin, k = size * size, s["in_channels"], s["large_kernel"]
        state["branch_macs"] = _branch_macs(rows, ["branch1", "branch2", "branch3", "branch4"])
        state["macs_without_reduction"] = hw * (9 * cin * s["ch3x3"] + k * k * cin * s["ch5x5"]
                                                + cin * (s["ch1x1"] + s["pool_proj"]))
        out = (block.out_channels, size, size)
    else:
        state["branch_macs"] = _branch_macs(rows, ["branch1", "branch2"])
        out = (block.out_channels,) + tuple(out[1:])
    state["output_shape"] = tuple(int(v) for v in out)
    return state


def _mb(n: float) -> str:
    return f"{n / 2**20:.2f} MiB"


def family_html(state: dict) -> str:
    """A small HTML table of one :func:`family_state`.

    See: chapters Dense connectivity, Inception, The ShuffleNet unit.
    """
    rows = [("output", "×".join(map(str, state["output_shape"]))),
            ("parameters", f"{state['params']:,}"),
            ("multiply-adds", f"{state['macs']:,}"),
            ("layer outputs", _mb(state["activation_bytes"]))]
    if state["kind"] == "dense":
        rows.append(("layer inputs (ch)", ", ".join(map(str, state["layer_inputs"]))))
        rows.append(("concatenations", _mb(state["concat_bytes"])))
    if state["kind"] == "inception":
        rows.append(("without 1×1 reductions", f"{state['macs_without_reduction']:,} MACs"))
    for name, macs in state.get("branch_macs", {}).items():
        rows.append((f"  {name}", f"{macs:,} MACs"))
    body = "".join(f"<tr><td style='padding:2px 10px 2px 0'>{_html.escape(k)}</td>"
                   f"<td style='text-align:right;font-family:monospace;white-space:nowrap'>"
                   f"{_html.escape(v)}</td>"
                   "</tr>" for k, v in rows)
    return f"<table style='border-collapse:collapse;font-size:13px'>{body}</table>"


@lru_cache(maxsize=64)
def family_diagram_png(kind: str, size: int = 28, dpi: int = 55, settings: tuple = ()) -> bytes:
    """PNG bytes of the block's diagram, traced by ``convlib.viz.draw_block`` (cached).
    ``settings``: a sorted tuple of ``(name, value)`` pairs.

    See: chapters Dense connectivity, Inception, The ShuffleNet unit.
    """
    from convlib.viz import draw_block

    block = make_family_block(kind, "meta", **dict(settings))
    fig = draw_block(block, (1, block.in_channels, size, size), dpi=dpi)
    return figure_png(fig, dpi)



_SLIDERS = {  # name: (min, max, step)
    "dense": {"num_layers": (1, 24, 1), "in_channels": (8, 256, 8), "growth_rate": (4, 64, 4),
              "bn_size": (1, 8, 1)},
    "inception": {"in_channels": (16, 512, 16), "ch1x1": (8, 256, 8), "ch3x3red": (8, 256, 8),
                  "ch3x3": (8, 256, 8), "ch5x5red": (4, 64, 4), "ch5x5": (8, 128, 8),
                  "pool_proj": (8, 128, 8), "large_kernel": (3, 5, 2)},
    "shuffle": {"in_channels": (8, 256, 4), "out_channels": (8, 512, 4), "stride": (1, 2, 1)},
}
_MAX_DIAGRAM_LAYERS = 6   # a dense block taller than this is summarised, not drawn


@playable(max_states=BLOCK_STATES)
def family_explorer(kind: str, size: int = 28, **settings: Any):
    """Sliders for the block's settings; shows the cost table and (for dense blocks of at
    most six layers) the traced diagram. Returns an ipywidgets box.

    See: chapters Dense connectivity, Inception, The ShuffleNet unit.
    """
    import ipywidgets as W

    kind = one_of(kind, "kind", FAMILY_KINDS)
    start = {**FAMILY_DEFAULTS[kind], **settings}
    style, layout = {"description_width": "100px"}, W.Layout(width="320px")
    sliders = {name: W.IntSlider(start[name], min=lo, max=hi, step=step,
                                 description=name.replace("_", " "), style=style,
                                 layout=layout, continuous_update=False)
               for name, (lo, hi, step) in _SLIDERS[kind].items()}
    numbers, picture = W.HTML(), W.HTML()

    def refresh(_change=None) -> None:
        v = {k: s.value for k, s in sliders.items()}
        try:
            numbers.value = family_html(family_state(kind, size, **v))
            if kind == "dense" and v["num_layers"] > _MAX_DIAGRAM_LAYERS:
                picture.value = (f"<i>diagram drawn for up to {_MAX_DIAGRAM_LAYERS} "
                                 "layers</i>")
            else:
                picture.value = img_html(family_diagram_png(kind, size,
                                                        settings=tuple(sorted(v.items()))))
        except ValueError as exc:
            numbers.value, picture.value = f"<i>{_html.escape(str(exc))}</i>", ""

    for s in sliders.values():
        s.observe(refresh, names="value")
    refresh()
    return W.HBox([W.VBox(list(sliders.values()) + [numbers]), picture])


def family_gallery(kind: str, settings: Sequence[dict], size: int = 28, diagrams: bool = True):
    """The explorer for the static book: one row per setting, its cost table on the left and
    (if ``diagrams``) its diagram on the right; the title names the settings that differ
    from :data:`FAMILY_DEFAULTS`. Returns ``IPython.display.HTML``.

    See: chapters Dense connectivity, Inception, The ShuffleNet unit.
    """
    from IPython.display import HTML

    kind = one_of(kind, "kind", FAMILY_KINDS)
    cells = []
    for s in settings:
        state = family_state(kind, size, **s)
        changed = {k: v for k, v in s.items() if FAMILY_DEFAULTS[kind].get(k) != v}
        title = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changed.items()) or \
            "default settings"
        pic = ""
        if diagrams and not (kind == "dense" and state["settings"]["num_layers"]
                             > _MAX_DIAGRAM_LAYERS):
            pic = img_html(family_diagram_png(kind, size, settings=tuple(sorted(s.items()))))
        cells.append(f"<tr><td style='vertical-align:top;padding:4px 10px'>"
                     f"<b>{_html.escape(title)}</b>{family_html(state)}</td>"
                     f"<td style='vertical-align:top'>{pic}</td></tr>")
    return HTML(f"<table>{''.join(cells)}</table>")


def dense_memory(num_layers: Sequence[int], in_channels: int = 64, growth_rate: int = 32,
                 size: int = 28, bn_size: int = 4, batch: int = 1) -> dict:
    """How the memory of a dense block grows with its number of layers ``L``.

    Returns lists (one entry per ``L``): ``layer_outputs`` (bytes of all layer outputs,
    ``convlib.cost.profile``), ``concat`` (bytes of the concatenations, counted by hooks on
    the layers' inputs plus the block output) and ``saved`` — MEASURED: the bytes of the
    distinct tensor storages autograd keeps for the backward pass in one training-mode
    forward of a float32 ``(batch, in_channels, size, size)`` input.

    See: chapter Dense connectivity.
    """
    import torch

    from convlib import blocks
    from convlib.cost import profile

    size, batch = positive_int(size, "size"), positive_int(batch, "batch")
    result = {"num_layers": [], "layer_outputs": [], "concat": [], "saved": []}
    for n in num_layers:
        n = positive_int(n, "num_layers")
        torch.manual_seed(0)
        block = blocks.DenseBlock(n, in_channels, growth_rate, bn_size)
        shape = (batch, in_channels, size, size)
        rows = profile(block, shape)
        concat = []
        hooks = [layer.register_forward_pre_hook(
            lambda m, a: concat.append(a[0].numel() * a[0].element_size()))
            for layer in list(block.children())[1:]]
        storages: dict = {}

        def pack(t: torch.Tensor):
            st = t.untyped_storage()
            storages[st.data_ptr()] = st.nbytes()
            return t

        x = torch.randn(shape, requires_grad=False)
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                y = block.train()(x)
        finally:
            for h in hooks:
                h.remove()
        concat.append(y.numel() * y.element_size())
        result["num_layers"].append(n)
        result["layer_outputs"].append(rows.total_activation_bytes)
        result["concat"].append(sum(concat))
        result["saved"].append(sum(storages.values()))
    return result
