"""Block diagrams drawn from the module itself: trace with ``torch.fx``, then lay out and draw.

:func:`block_graph` turns a block (any ``nn.Module`` that ``torch.fx.symbolic_trace`` can
follow) into a small :class:`BlockGraph`: one node per layer call, plus the graph's own
operations — additions (skip connections), concatenations, splits, channel shuffles — with
edges in data-flow order and output shapes from one forward pass. By default a chain
``conv → BN → activation`` (or the pre-activation ``BN → ReLU → conv``) becomes one box.
:func:`draw_block` draws it top to bottom: parallel branches side by side, skips as arcs.

Nothing is hand-drawn, so a diagram cannot drift from the code. torch is imported only when a
block is traced: ``import convlib.viz`` stays torch-free.

See: chapter Bottleneck blocks.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from convlib._validate import positive_int

__all__ = ["BlockNode", "BlockGraph", "block_graph", "draw_block", "BLOCK_COLORS"]

BLOCK_COLORS = {
    "conv1x1": "#c6dbef",      # pointwise: mixes channels only
    "conv": "#fdd0a2",         # a full spatial convolution
    "depthwise": "#c7e9c0",    # one filter per channel
    "grouped": "#dadaeb",      # ResNeXt's groups
    "norm_act": "#eeeeee",     # BatchNorm / activation on their own
    "pool": "#fcbba1",
    "linear": "#fee391",
    "io": "#f7f7f7",
    "merge": "#ffffff",        # add / concat / split / shuffle
    "other": "#f0f0f0",
}
_FUSABLE = ("conv", "bn", "act")
_MERGES = ("add", "concat")


@dataclass
class BlockNode:
    """One box of a diagram. ``kind``: input, output, conv, bn, act, pool, linear, add,
    concat, split, shuffle, reshape or other; ``parts``: the kinds fused into it, in order;
    ``shape``: its output shape without the batch axis (a tuple of shapes for a split)."""

    name: str
    kind: str
    label: str
    shape: Any = None
    parts: tuple[str, ...] = ()
    color: str = BLOCK_COLORS["other"]
    info: dict = field(default_factory=dict)


@dataclass
class BlockGraph:
    """Nodes in topological order and directed edges ``(source, target)`` between indices."""

    nodes: list[BlockNode]
    edges: list[tuple[int, int]]

    def inputs_of(self, i: int) -> list[int]:
        """Indices of the nodes feeding node ``i`` (in argument order)."""
        return [a for a, b in self.edges if b == i]

    def outputs_of(self, i: int) -> list[int]:
        return [b for a, b in self.edges if a == i]

    def find(self, kind: str) -> list[int]:
        """Indices of the nodes of one kind (``"add"``, ``"concat"``, ``"conv"`` ...)."""
        return [i for i, n in enumerate(self.nodes) if n.kind == kind]

    def kinds(self) -> list[str]:
        return [n.kind for n in self.nodes]


# ---- tracing ---------------------------------------------------------------------------------
def _shape_text(shape) -> str:
    return "×".join(str(int(s)) for s in shape)


def _conv_info(m) -> tuple[str, str]:
    kh, kw = m.kernel_size
    cin, cout, g = m.in_channels, m.out_channels, m.groups
    extra = "".join(f", {p}{v[0]}" for p, v in (("s", m.stride), ("d", m.dilation)) if v[0] > 1)
    if g > 1 and g == cin == cout:
        return f"depthwise {kh}×{kw}, {cin}{extra}", "depthwise"
    if g > 1:
        return f"conv {kh}×{kw}, {cin}→{cout}{extra}, g{g}", "grouped"
    return f"conv {kh}×{kw}, {cin}→{cout}{extra}", "conv1x1" if (kh, kw) == (1, 1) else "conv"


def _module_node(name: str, m) -> BlockNode:
    from torch import nn

    if isinstance(m, nn.modules.conv._ConvNd):
        text, color = _conv_info(m)
        return BlockNode(name, "conv", text, color=BLOCK_COLORS[color],
                         info={"groups": m.groups, "kernel_size": tuple(m.kernel_size)})
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return BlockNode(name, "bn", "BN", color=BLOCK_COLORS["norm_act"])
    if isinstance(m, (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.Hardswish,
                      nn.LeakyReLU)):
        return BlockNode(name, "act", type(m).__name__, color=BLOCK_COLORS["norm_act"])
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s = m.kernel_size, m.stride
        k, s = (k if isinstance(k, int) else k[0]), (s if isinstance(s, int) else s[0])
        op = "max" if isinstance(m, nn.MaxPool2d) else "avg"
        return BlockNode(name, "pool", f"{op} pool {k}×{k}" + (f", s{s}" if s > 1 else ""),
                         color=BLOCK_COLORS["pool"])
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return BlockNode(name, "pool", "global pool", color=BLOCK_COLORS["pool"])
    if isinstance(m, nn.Linear):
        return BlockNode(name, "linear", f"fc {m.in_features}→{m.out_features}",
                         color=BLOCK_COLORS["linear"])
    if isinstance(m, (nn.Identity, nn.Dropout)):
        return BlockNode(name, "pass", "")
    if isinstance(m, (nn.Flatten, nn.ChannelShuffle)):
        kind = "shuffle" if isinstance(m, nn.ChannelShuffle) else "reshape"
        return BlockNode(name, kind, kind, color=BLOCK_COLORS["merge"])
    return BlockNode(name, "other", type(m).__name__, color=BLOCK_COLORS["other"])


def _function_node(node) -> BlockNode:
    import torch

    t = node.target
    name = node.name
    if t in (operator.add, operator.iadd, torch.add) or t == "add":
        return BlockNode(name, "add", "+", color=BLOCK_COLORS["merge"])
    if t in (torch.cat, torch.concat) or t == "cat":
        return BlockNode(name, "concat", "concat", color=BLOCK_COLORS["merge"])
    if t in ("chunk", "split", torch.chunk, torch.split):
        return BlockNode(name, "split", "split", color=BLOCK_COLORS["merge"])
    if t is operator.getitem or t in ("contiguous", "clone"):
        return BlockNode(name, "pass", "")
    if t in ("reshape", "view", "transpose", "permute", "flatten", torch.flatten):
        return BlockNode(name, "reshape", getattr(t, "__name__", t), color=BLOCK_COLORS["merge"])
    if getattr(t, "__name__", "") == "channel_shuffle":
        return BlockNode(name, "shuffle", "shuffle", color=BLOCK_COLORS["merge"])
    if getattr(t, "__name__", "") in ("relu", "relu6", "sigmoid", "silu", "gelu"):
        return BlockNode(name, "act", t.__name__, color=BLOCK_COLORS["norm_act"])
    return BlockNode(name, "other", getattr(t, "__name__", str(t)), color=BLOCK_COLORS["other"])


def _trace(module, example):
    """``torch.fx`` graph of ``module`` with output shapes filled in (eval mode, no grad)."""
    import torch
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    from convlib.blocks import DeformConv2d, channel_shuffle

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):  # DeformConv2d validates its inputs: keep whole
            return isinstance(m, DeformConv2d) or super().is_leaf_module(m, qualname)

    tracer = Tracer(autowrap_functions=(channel_shuffle,))
    try:
        graph = tracer.trace(module)
    except Exception as exc:  # noqa: BLE001 - say which module could not be followed
        raise ValueError(f"module {type(module).__name__} cannot be traced by torch.fx "
                         f"({type(exc).__name__}: {exc})") from exc
    gm = fx.GraphModule(tracer.root, graph)
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(example)
    finally:
        for m, flag in flags:
            m.training = flag
    return gm


def _meta_shape(node):
    meta = node.meta.get("tensor_meta")
    if meta is None:
        return None
    if hasattr(meta, "shape"):
        return tuple(meta.shape)[1:]
    return tuple(tuple(t.shape)[1:] for t in meta if hasattr(t, "shape"))


def _fuse(nodes: list[BlockNode], edges: list[tuple[int, int]]):
    """Merge linear chains of conv / BN / activation, at most one of each kind per box."""
    preds = {i: [a for a, b in edges if b == i] for i in range(len(nodes))}
    succs = {i: [b for a, b in edges if a == i] for i in range(len(nodes))}
    group = list(range(len(nodes)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(nodes))}
    for i, n in enumerate(nodes):
        if n.kind not in _FUSABLE or len(preds[i]) != 1:
            continue
        p = preds[i][0]
        head = group[p]
        if nodes[p].kind in _FUSABLE and len(succs[p]) == 1 and \
                n.kind not in {nodes[m].kind for m in members[head]}:
            group[i] = head
            members[head].append(i)
    keep = sorted(set(group))
    new_index = {old: k for k, old in enumerate(keep)}
    out_nodes = []
    for old in keep:
        parts = [nodes[m] for m in members[old]]
        if len(parts) == 1:
            out_nodes.append(parts[0])
            continue
        conv = [p for p in parts if p.kind == "conv"]
        main = conv[0] if conv else parts[0]
        order = " → ".join("conv" if p.kind == "conv" else p.label for p in parts)
        out_nodes.append(BlockNode(main.name, main.kind, f"{main.label}\n{order}" if conv
                                   else order, parts[-1].shape, tuple(p.kind for p in parts),
                                   main.color, dict(main.info, members=[p.name for p in parts])))
    out_edges = [(new_index[group[a]], new_index[group[b]]) for a, b in edges
                 if group[a] != group[b]]
    return out_nodes, out_edges


def block_graph(module: Any, input_shape: Optional[Sequence[int]] = None,
                fuse: bool = True) -> BlockGraph:
    """The data-flow graph of ``module`` traced with ``torch.fx``.

    ``input_shape``: ``(N, C, H, W)`` of the example input used to record output shapes
    (default ``(1, module.in_channels, 16, 16)``). Identity, dropout and indexing nodes
    become plain edges, so an identity shortcut is an edge from the input to the add node.
    ``fuse=True`` merges conv/BN/activation chains into one node each.
    Returns a :class:`BlockGraph` whose first node is the input and last the output.

    See: chapter Bottleneck blocks.
    """
    import torch
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch nn.Module, got {type(module).__name__}")
    if input_shape is None:
        c = getattr(module, "in_channels", None)
        if not isinstance(c, int):
            raise ValueError("input_shape is required for a module without an int "
                             "in_channels attribute")
        input_shape = (1, c, 16, 16)
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(f"input_shape must be a tuple of ints such as (1, 64, 16, 16), "
                        f"got {input_shape!r}")
    input_shape = tuple(positive_int(v, "input_shape entries") for v in input_shape)
    ref = next(iter(module.parameters()), None)
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    device = ref.device if ref is not None else torch.device("cpu")   # "meta": no compute
    gm = _trace(module, torch.zeros(input_shape, dtype=dtype, device=device))
    modules = dict(gm.named_modules())

    nodes: list[BlockNode] = []
    index: dict[Any, int] = {}
    alias: dict[Any, list[int]] = {}   # removed node -> the kept nodes it stands for
    edges: list[tuple[int, int]] = []
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            bn = BlockNode(node.name, "input", "input", color=BLOCK_COLORS["io"])
        elif node.op == "output":
            bn = BlockNode("output", "output", "output", color=BLOCK_COLORS["io"])
        elif node.op == "call_module":
            bn = _module_node(node.target, modules[node.target])
        elif node.op in ("call_function", "call_method"):
            bn = _function_node(node)
        else:  # get_attr: a constant, not a layer
            continue
        sources: list[int] = []
        for arg in node.all_input_nodes:
            sources += alias.get(arg, [index[arg]] if arg in index else [])
        if bn.kind == "pass" or (bn.kind == "concat" and len(sources) == 1):
            alias[node] = sources
            continue
        bn.shape = _meta_shape(node)
        if node.op == "output":
            bn.shape = nodes[sources[0]].shape if sources else None
        index[node] = len(nodes)
        nodes.append(bn)
        edges += [(s, index[node]) for s in sources]
    if fuse:
        nodes, edges = _fuse(nodes, edges)
    return BlockGraph(nodes, edges)


# ---- layout and drawing ------------------------------------------------------------------------
def _layout(g: BlockGraph) -> tuple[list[int], list[float]]:
    """Depth = longest path from the input; x = a lane per branch, merges centred."""
    n = len(g.nodes)
    preds = [g.inputs_of(i) for i in range(n)]
    succs = [g.outputs_of(i) for i in range(n)]
    depth = [0] * n
    for i in range(n):
        depth[i] = max((depth[p] + 1 for p in preds[i]), default=0)
    x = [0.0] * n
    claimed: set[int] = set()
    next_lane = 1.0
    for i in range(n):
        ps = sorted(set(preds[i]))
        if len(ps) > 1:
            x[i] = sum(x[p] for p in ps) / len(ps)
        elif ps:
            p = ps[0]
            if p not in claimed:
                claimed.add(p)
                x[i] = x[p]
            else:
                x[i] = next_lane
                next_lane += 1
        if x[i] >= next_lane:
            next_lane = x[i] + 1
    for i in reversed(range(n)):      # centre a fork over its branches
        lanes = {x[s] for s in succs[i] if len(set(preds[s])) == 1}
        if len(lanes) > 1 and len(preds[i]) <= 1:
            x[i] = sum(lanes) / len(lanes)
    return depth, x


def draw_block(block: Any, input_shape: Optional[Sequence[int]] = None, *, fuse: bool = True,
               show_shapes: bool = True, title: Optional[str] = None,
               ax: Optional[Axes] = None, dpi: int = 72) -> Figure:
    """Draw ``block`` (an ``nn.Module``, traced by :func:`block_graph`, or a ready
    :class:`BlockGraph`) top to bottom: a box per layer with its type, kernel, channels and
    stride and, in grey, its output shape (C×H×W); circles for additions ("+") and
    concatenations ("C"); parallel branches side by side; skip connections as blue arcs on
    the right.
    Box colours: 1×1 conv blue, spatial conv orange, depthwise green, grouped purple.

    Returns the figure (``ax`` given: its figure). Never calls ``plt.show()``.

    See: chapter Bottleneck blocks.
    """
    g = block if isinstance(block, BlockGraph) else block_graph(block, input_shape, fuse)
    depth, x = _layout(g)
    lane_w, box_w, level_h = 3.0, 2.7, 1.15
    levels = max(depth) + 1
    xs = [v * lane_w for v in x]
    skips = sum(1 for a, b in g.edges
                if abs(xs[a] - xs[b]) < 1e-9 and depth[b] - depth[a] > 1)   # arcs on the right
    x_lo, x_hi = min(xs) - box_w / 2 - 0.2, max(xs) + box_w / 2 + max(1.4, 0.25 * skips + 0.4)
    if ax is None:
        inches = 0.72                     # per unit of the drawing's coordinates
        fig = plt.figure(figsize=(max(3.2, (x_hi - x_lo) * inches),
                                  levels * level_h * inches + 0.5), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 0.96 if title else 1))
    fig = ax.figure
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(-(levels - 0.4) * level_h, 0.55 * level_h)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)

    half_h = {}
    for i, n in enumerate(g.nodes):
        cx, cy = xs[i], -depth[i] * level_h
        shape = ""
        if show_shapes and n.shape:
            shape = (_shape_text(n.shape) if isinstance(n.shape[0], int)
                     else " | ".join(_shape_text(s) for s in n.shape))
        if n.kind in _MERGES:
            r = 0.28
            ax.add_patch(Circle((cx, cy), r, fc=n.color, ec="#444", lw=1.2, gid=n.kind))
            ax.text(cx, cy, "+" if n.kind == "add" else "C", ha="center", va="center",
                    fontsize=12 if n.kind == "add" else 10, fontweight="bold")
            if shape:
                ax.text(cx - r - 0.08, cy, shape, ha="right", va="center", fontsize=8,
                        color="#555")
            half_h[i] = r
            continue
        io = n.kind in ("input", "output")
        main = f"{n.label}  {shape}" if io and shape else n.label
        sub = shape if shape and not io else ""       # the shape, as a small grey last line
        h = 0.2 + 0.2 * (main.count("\n") + 1 + bool(sub))
        ax.add_patch(FancyBboxPatch((cx - box_w / 2, cy - h / 2), box_w, h,
                                    boxstyle="round,pad=0.02,rounding_size=0.08", fc=n.color,
                                    ec="#444", lw=0.9, gid=n.kind))
        ax.text(cx, cy + (0.1 if sub else 0), main, ha="center", va="center", fontsize=9,
                linespacing=1.25)
        if sub:
            ax.text(cx, cy - h / 2 + 0.06, sub, ha="center", va="bottom", fontsize=8,
                    color="#555")
        half_h[i] = h / 2

    arc = 0
    for a, b in g.edges:
        x0, y0 = xs[a], -depth[a] * level_h - half_h[a]
        x1, y1 = xs[b], -depth[b] * level_h + half_h[b]
        style = dict(arrowstyle="-|>", color="#333", lw=1.0, shrinkA=0, shrinkB=1,
                     mutation_scale=9)
        if abs(x0 - x1) < 1e-9 and depth[b] - depth[a] > 1:      # a skip: go round the side
            arc += 1
            side = x0 + box_w / 2 + 0.25 * arc
            ya, yb = -depth[a] * level_h, -depth[b] * level_h
            start = half_h[a] if g.nodes[a].kind in _MERGES else box_w / 2
            end = half_h[b] if g.nodes[b].kind in _MERGES else box_w / 2
            ax.plot([x0 + start, side, side], [ya, ya, yb], color="#1f5fa8", lw=1.3, gid="skip")
            ax.annotate("", xy=(x1 + end, yb), xytext=(side, yb),
                        arrowprops={**style, "color": "#1f5fa8", "lw": 1.3})
        elif abs(x0 - x1) > 1e-9 and depth[b] - depth[a] > 1:   # down its own lane first,
            ym = -(depth[b] - 1) * level_h                          # not across other boxes
            ax.plot([x0, x0], [y0, ym], color="#333", lw=1.0)
            ax.annotate("", xy=(x1, y1), xytext=(x0, ym), arrowprops=style)
        else:
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=style)
    return fig
