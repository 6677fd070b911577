"""Receptive fields of a stack of convolutions and poolings.

The receptive field (感受野) of an output feature is the region of the input that can
influence it. For a chain of layers ``l = 1..L`` with kernel ``k_l``, stride ``s_l``, padding
``p_l`` (before, i.e. top / left) and dilation ``d_l`` (effective kernel
``k̂_l = d_l*(k_l - 1) + 1``), Araujo, Norris & Sim ("Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019) give, per axis:

- effective stride (the "jump" between neighbouring outputs, in input pixels)
  ``S_L = s_1 * s_2 * ... * s_L``
- receptive field size ``r_L = 1 + sum_l (k̂_l - 1) * S_{l-1}``  (``S_0 = 1``)
- effective padding ``P_L = sum_l p_l * S_{l-1}``
- output feature ``j`` sees input pixels ``j*S_L - P_L`` to ``j*S_L - P_L + r_L - 1``;
  the centre of the first one is ``c = -P_L + (r_L - 1) / 2`` (zero-indexed input pixels).

Computed layer by layer this is the recurrence of "A guide to receptive field arithmetic":
``r_out = r_in + (k̂ - 1)*S_in``, ``S_out = S_in*s``, ``P_out = P_in + p*S_in``.
The region may run outside the input (negative indices, or ``>= input size``): those
positions are padding. With dilation the region has holes; ``size`` is its full extent.

Networks with branches (ResNet, Inception) are graphs: :func:`graph_receptive_field` runs the
same recurrence over :class:`Node` records, and at a merge (add or concat) takes the union of
the branches' fields (:func:`merge_fields`): ``P = max_b P_b``,
``r = P + max_b (r_b - 1 - P_b) + 1``. Branches whose centres differ are *misaligned*
(:attr:`GraphField.aligned`); branches must share the effective stride.

Everything is **per axis, on ints**. For an image, describe the height (or the width) axis;
:func:`of_model` and :func:`graph_of_model` take ``axis=0`` (rows) or ``axis=1`` (columns).
Only these two import torch, and only when called.

>>> [rf.size for rf in receptive_field([(3, 1, 1), (3, 1, 1), (2, 2, 0)])]
[3, 5, 6]

See: chapters Receptive field; Receptive fields of networks with branches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from convlib._validate import _is_int, as_pair, nonnegative_int, positive_int
from convlib.arithmetic import conv_output_size, padding_for, pool_output_size

__all__ = [
    "Layer",
    "ReceptiveField",
    "receptive_field",
    "input_region",
    "of_model",
    "Node",
    "GraphField",
    "merge_fields",
    "graph_receptive_field",
    "graph_of_model",
    "probe_rows",
    "positive_weights",
    "probe_agrees",
]


@dataclass(frozen=True)
class Layer:
    """One layer along one axis: kernel, stride, padding before (top / left), dilation.

    A pooling layer is a ``Layer`` too (its window is the kernel). ``ceil_mode`` only
    changes how many outputs there are (for ``output_size``), never where they look.
    ``padding_after`` (bottom / right; default: the same as ``padding``) only changes the
    output size too: an explicit ``nn.ZeroPad2d`` or TensorFlow's SAME pads unevenly.
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    name: str = ""
    ceil_mode: bool = False
    pool: bool = False
    padding_after: Optional[int] = None

    def __post_init__(self) -> None:
        positive_int(self.kernel, "kernel")
        positive_int(self.stride, "stride")
        if isinstance(self.padding, str):
            raise TypeError(
                f"padding must be an int (the padding before, along this axis), got "
                f"{self.padding!r}; convert words with convlib.arithmetic.padding_for"
            )
        nonnegative_int(self.padding, "padding")
        positive_int(self.dilation, "dilation")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        if self.padding_after is not None:
            nonnegative_int(self.padding_after, "padding_after")
            if self.pool and self.padding_after != self.padding:
                raise ValueError(
                    f"padding_after must equal padding for a pooling layer (PyTorch pads "
                    f"pooling symmetrically), got {self.padding_after} and {self.padding}"
                )

    @property
    def pads(self) -> tuple[int, int]:
        """``(before, after)``: ``padding_after`` defaults to ``padding`` (symmetric)."""
        after = self.padding if self.padding_after is None else self.padding_after
        return (self.padding, after)

    @property
    def effective_kernel(self) -> int:
        """``d*(k - 1) + 1``: the span of the (dilated) kernel."""
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the outputs of ``layer``, in input pixels (one axis).

    ``size`` r, ``stride`` S (the jump), ``padding`` P, ``center`` = ``-P + (r - 1)/2``
    (centre of output feature 0); ``output_size`` is filled when the input size is known.
    """

    layer: Layer
    size: int
    stride: int
    padding: int
    center: float
    output_size: Optional[int] = None

    @property
    def name(self) -> str:
        return self.layer.name

    def region(self, index: int = 0) -> tuple[int, int]:
        """``(first, last)`` input pixel that output feature ``index`` sees (may be < 0)."""
        return input_region([self], index)


LayerLike = Union[Layer, Sequence[int]]


def _as_layer(spec: object, position: int) -> Layer:
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) in (3, 4):
        if not all(_is_int(v) for v in spec):
            raise TypeError(
                f"layers[{position}] must hold ints (kernel, stride, padding[, dilation]), "
                f"got {spec!r}"
            )
        return Layer(*spec, name=f"layer{position}")
    raise TypeError(
        f"layers[{position}] must be a Layer or a tuple (kernel, stride, padding[, dilation]), "
        f"got {spec!r}"
    )


def _output_size(layer: Layer, size: int) -> int:
    """How many outputs ``layer`` gives for ``size`` inputs (PyTorch's rules)."""
    if layer.pool:
        return pool_output_size(size, layer.kernel, layer.stride, layer.padding,
                                layer.dilation, layer.ceil_mode)
    before, after = layer.pads
    if before == after:
        return conv_output_size(size, layer.kernel, layer.stride, before, layer.dilation)
    return conv_output_size(size + before + after, layer.kernel, layer.stride, 0,
                            layer.dilation)


def receptive_field(layers: Iterable[LayerLike],
                    input_size: Optional[int] = None) -> list[ReceptiveField]:
    """Cumulative receptive field after each layer (one axis), Araujo et al.'s recurrence.

    ``layers``: ``Layer`` records or tuples ``(kernel, stride, padding[, dilation])``.
    Returns one :class:`ReceptiveField` per layer, first to last:
    ``r_out = r_in + (d*(k-1))*S_in``, ``S_out = S_in*s``, ``P_out = P_in + p*S_in``,
    ``center = -P + (r - 1)/2``. With ``input_size`` each record also carries the layer's
    output size (and a layer whose window does not fit raises ``ValueError``).

    >>> rf = receptive_field([(11, 4, 2), (3, 2, 0), (5, 1, 2)])[-1]
    >>> rf.size, rf.stride, rf.padding, rf.center
    (51, 8, 18, 7.0)

    See: chapter Receptive field.
    """
    if isinstance(layers, (Layer, str)) or not isinstance(layers, Iterable):
        raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
    specs = [_as_layer(spec, n) for n, spec in enumerate(layers)]
    if not specs:
        raise ValueError("layers must not be empty")
    size = positive_int(input_size, "input_size") if input_size is not None else None
    r, jump, pad = 1, 1, 0
    records = []
    for layer in specs:
        r += (layer.effective_kernel - 1) * jump
        pad += layer.padding * jump
        jump *= layer.stride
        if size is not None:
            size = _output_size(layer, size)
        records.append(ReceptiveField(layer, r, jump, pad, -pad + (r - 1) / 2, size))
    return records


def input_region(records_or_layers: Union[ReceptiveField, Sequence[ReceptiveField],
                                          Sequence[LayerLike]],
                 index: int = 0) -> tuple[int, int]:
    """``(first, last)`` input pixels seen by output feature ``index`` of the last layer.

    ``first = index*S - P``, ``last = first + r - 1`` (inclusive, zero-indexed). The range
    may run outside the input — ``first < 0`` or ``last >= input size`` — where the
    network reads padding. Accepts a record, a list of records (the last is used) or
    a list of layers.

    >>> input_region([(3, 1, 1), (3, 2, 1)], 0)
    (-2, 2)

    See: chapter Receptive field.
    """
    if isinstance(records_or_layers, ReceptiveField):
        last = records_or_layers
    else:
        items = list(records_or_layers)
        if not items:
            raise ValueError("records_or_layers must not be empty")
        if all(isinstance(x, ReceptiveField) for x in items):
            last = items[-1]
        else:
            last = receptive_field(items)[-1]
    index = nonnegative_int(index, "index")
    if last.output_size is not None and index >= last.output_size:
        raise ValueError(
            f"index must be < the layer's output size {last.output_size}, got {index}"
        )
    first = index * last.stride - last.padding
    return (first, first + last.size - 1)


_SHAPE_PRESERVING = (
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Identity",
    "BatchNorm2d", "InstanceNorm2d", "GroupNorm", "LocalResponseNorm", "Dropout",
    "Dropout2d", "AlphaDropout", "ChannelShuffle",
)


def of_model(module: object, input_size: Union[int, Sequence[int]],
             axis: int = 0) -> list[ReceptiveField]:
    """Receptive fields of the layers of a torch ``nn.Sequential``, along one axis.

    Walks ``module`` (nested ``nn.Sequential`` are flattened, names joined with dots) and
    returns one :class:`ReceptiveField` per ``Conv2d`` / ``MaxPool2d`` / ``AvgPool2d``, with
    output sizes for an input of ``input_size`` (an int, or ``(H, W)``). Element-wise and
    normalisation layers (ReLU, BatchNorm2d, Dropout, Identity, ...) are skipped; any other
    layer raises ``TypeError``. ``axis=0`` follows the rows (height), ``axis=1`` the columns.
    ``Conv2d(padding="same")`` is resolved as PyTorch does (the padding before is
    ``d*(k-1)//2``, the rest after); ``ZeroPad2d`` becomes a 1×1 step with its padding.

    See: chapter Receptive field.
    """
    import torch.nn as nn  # torch only here: the rest of the module is stdlib

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch nn.Module, got {type(module).__name__}")
    if not _is_int(axis) or axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    size = as_pair(input_size, "input_size")[axis]
    positive_int(size, "input_size")

    def walk(mod: nn.Module, prefix: str):
        for name, child in mod.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, nn.Sequential):
                yield from walk(child, full)
            else:
                yield full, child

    keep = tuple(getattr(nn, n) for n in _SHAPE_PRESERVING if hasattr(nn, n))
    layers = []
    if isinstance(module, nn.Sequential):
        found = walk(module, "")
    else:  # a single layer
        found = [(type(module).__name__, module)]
    for name, child in found:
        layer = _layer_of_module(child, name, axis)
        if layer is not None:
            layers.append(layer)
        elif isinstance(child, keep):
            continue
        else:
            raise TypeError(
                f"of_model cannot follow layer {name!r} ({type(child).__name__}): it knows "
                "Conv2d, MaxPool2d, AvgPool2d, ZeroPad2d, nested Sequential and "
                "shape-preserving layers"
            )
    if not layers:
        raise ValueError("module holds no Conv2d / MaxPool2d / AvgPool2d layer")
    return receptive_field(layers, input_size=size)


# ------------------------------------------------------------ networks with branches

MERGES = ("add", "concat")


@dataclass(frozen=True)
class Node:
    """One node of a layer graph (one axis): ``layer`` applied to its one input, or a
    ``merge`` (``"add"`` or ``"concat"``) of several inputs of the same size.

    ``inputs`` name earlier nodes, or the graph's input (``"input"`` by default).
    Element-wise layers (ReLU, BatchNorm) move nothing and need no node.
    """

    name: str
    inputs: tuple[str, ...]
    layer: Optional[Layer] = None
    merge: Optional[str] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        if (isinstance(self.inputs, str) or not isinstance(self.inputs, tuple)
                or not self.inputs or not all(isinstance(n, str) for n in self.inputs)):
            raise TypeError(f"node {self.name!r}: inputs must be a non-empty tuple of names, "
                            f"got {self.inputs!r}")
        if (self.layer is None) == (self.merge is None):
            raise TypeError(f"node {self.name!r} must have either a layer or a merge")
        if self.layer is not None:
            if not isinstance(self.layer, Layer):
                raise TypeError(f"node {self.name!r}: layer must be a Layer, got {self.layer!r}")
            if len(self.inputs) != 1:
                raise ValueError(f"node {self.name!r}: a layer takes exactly one input, got "
                                 f"{len(self.inputs)}")
        elif self.merge not in MERGES:
            raise ValueError(f"node {self.name!r}: merge must be 'add' or 'concat', got "
                             f"{self.merge!r}")


@dataclass(frozen=True)
class GraphField:
    """Receptive field of the outputs of one node of a layer graph, in input pixels (one axis).

    ``size`` r, ``stride`` S, ``padding`` P and ``center`` c = ``-P + (r - 1)/2`` as for a
    chain (:class:`ReceptiveField`); ``output_size`` when the input size is known. At a merge,
    ``branches`` holds the fields of its inputs, and the field is their union.
    """

    name: str
    size: int
    stride: int
    padding: int
    center: float
    output_size: Optional[int] = None
    node: Optional[Node] = None
    branches: tuple["GraphField", ...] = ()

    @property
    def branch_centers(self) -> tuple[float, ...]:
        """Centres ``c_b`` of the merged branches' first features (empty for a layer)."""
        return tuple(b.center for b in self.branches)

    @property
    def misalignment(self) -> float:
        """``max c_b - min c_b`` over the merged branches: 0 when their centres line up."""
        centers = self.branch_centers
        return max(centers) - min(centers) if centers else 0.0

    @property
    def aligned(self) -> bool:
        """True unless this node merges branches whose centres differ (Araujo et al.)."""
        return self.misalignment == 0

    def region(self, index: int = 0) -> tuple[int, int]:
        """``(first, last)`` input pixel that output feature ``index`` sees (may be < 0)."""
        index = nonnegative_int(index, "index")
        if self.output_size is not None and index >= self.output_size:
            raise ValueError(
                f"index must be < the node's output size {self.output_size}, got {index}")
        first = index * self.stride - self.padding
        return (first, first + self.size - 1)


NodeLike = Union[Node, Sequence[object]]


def _as_node(spec: object, position: int) -> Node:
    if isinstance(spec, Node):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) == 3:
        name, inputs, what = spec
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        if isinstance(what, str):
            return Node(name, inputs, merge=what)
        return Node(name, inputs, layer=_as_layer(what, position))
    raise TypeError(
        f"nodes[{position}] must be a Node, (name, input, layer) or (name, [inputs], "
        f"'add' | 'concat'), got {spec!r}"
    )


def merge_fields(fields: Sequence[GraphField], name: str = "merge",
                 node: Optional[Node] = None) -> GraphField:
    """The receptive field of a merge (add or concat) of branches: the union of theirs.

    Feature ``j`` of branch ``b`` sees ``[j*S - P_b, j*S - P_b + r_b - 1]``. All branches must
    share the effective stride ``S`` (else the union is not one box per feature). The union
    runs from the leftmost start to the rightmost end:
    ``P = max_b P_b``, ``r = P + max_b (r_b - 1 - P_b) + 1``, ``c = -P + (r - 1)/2``.
    When the centres ``c_b`` differ the merge is *misaligned* (:attr:`GraphField.aligned`):
    its field is lopsided and wider than the widest branch.

    >>> a = GraphField("a", 3, 1, 1, 0.0)                  # a 3x3 conv, padding 1
    >>> b = GraphField("b", 3, 1, 2, -1.0)                 # padded 2 on top, 0 below
    >>> m = merge_fields([a, b])
    >>> m.size, m.padding, m.center, m.aligned
    (4, 2, -0.5, False)

    See: chapter Receptive fields of networks with branches.
    """
    fields = list(fields)
    if not fields or not all(isinstance(f, GraphField) for f in fields):
        raise TypeError("fields must be a non-empty list of GraphField records")
    strides = {f.stride for f in fields}
    if len(strides) > 1:
        found = ", ".join(f"{f.name}: {f.stride}" for f in fields)
        raise ValueError(
            f"merge {name!r}: the effective strides of its inputs differ ({found}); the "
            "receptive field of a merge is defined only when they agree (Araujo et al.)"
        )
    sizes = {f.output_size for f in fields}
    if len(sizes) > 1 and None not in sizes:
        found = ", ".join(f"{f.name}: {f.output_size}" for f in fields)
        raise ValueError(f"merge {name!r}: its inputs have different sizes ({found})")
    pad = max(f.padding for f in fields)
    reach = max(f.size - 1 - f.padding for f in fields)
    size = pad + reach + 1
    return GraphField(name, size, fields[0].stride, pad, -pad + (size - 1) / 2,
                      fields[0].output_size, node, tuple(fields))


def graph_receptive_field(nodes: Iterable[NodeLike], input_size: Optional[int] = None,
                          source: str = "input") -> dict[str, GraphField]:
    """Receptive field of every node of a network with branches (one axis).

    nodes: in order, each after the nodes it reads — :class:`Node` records or tuples
    ``(name, input, layer)`` (``layer`` a :class:`Layer` or ``(kernel, stride, padding[,
    dilation])``) and ``(name, [inputs], "add" | "concat")``; ``source`` names the input.
    A layer follows the chain recurrence ``r = r_in + (k̂ - 1)*S_in``,
    ``P = P_in + p*S_in``, ``S = S_in*s``; a merge takes the union of its inputs
    (:func:`merge_fields`). Returns ``{name: GraphField}`` in order, the input first
    (r = 1, S = 1, P = 0). With ``input_size`` every record carries its output size and a
    merge of different sizes raises ``ValueError``.

    >>> fields = graph_receptive_field([
    ...     ("conv1", "input", (3, 2, 1)), ("conv2", "conv1", (3, 1, 1)),
    ...     ("shortcut", "input", (1, 2, 0)), ("add", ["conv2", "shortcut"], "add")])
    >>> f = fields["add"]
    >>> f.size, f.stride, f.padding, f.center, f.aligned
    (7, 2, 3, 0.0, True)

    See: chapter Receptive fields of networks with branches.
    """
    if isinstance(nodes, (Node, str)) or not isinstance(nodes, Iterable):
        raise TypeError(f"nodes must be a list of nodes, got {type(nodes).__name__}")
    specs = [_as_node(spec, n) for n, spec in enumerate(nodes)]
    if not specs:
        raise ValueError("nodes must not be empty")
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    size = positive_int(input_size, "input_size") if input_size is not None else None
    fields = {source: GraphField(source, 1, 1, 0, 0.0, size)}
    for node in specs:
        if node.name in fields:
            raise ValueError(f"node name {node.name!r} is used twice")
        for name in node.inputs:
            if name not in fields:
                raise ValueError(f"node {node.name!r} reads {name!r}, which is not defined "
                                 "before it (list nodes after their inputs)")
        if node.merge is not None:
            fields[node.name] = merge_fields([fields[n] for n in node.inputs], node.name, node)
            continue
        inp, layer = fields[node.inputs[0]], node.layer
        r = inp.size + (layer.effective_kernel - 1) * inp.stride
        pad = inp.padding + layer.padding * inp.stride
        out = _output_size(layer, inp.output_size) if inp.output_size is not None else None
        fields[node.name] = GraphField(node.name, r, inp.stride * layer.stride, pad,
                                       -pad + (r - 1) / 2, out, node)
    return fields


def graph_of_model(module: object, axis: int = 0, source: str = "input") -> list[Node]:
    """The layer graph of a torch module with branches, traced by ``torch.fx``, along one axis.

    ``Conv2d``, ``MaxPool2d``, ``AvgPool2d`` and ``ZeroPad2d`` become layer nodes named by
    their module path; ``+`` / ``torch.add`` become ``"add"`` merges and ``torch.cat`` along
    the channels ``"concat"`` merges; element-wise modules and functions (ReLU, BatchNorm,
    Dropout, ...) are looked through. Anything else raises ``TypeError``. The last node,
    ``"output"``, is the module's result (a 1×1 identity step). Feed the list to
    :func:`graph_receptive_field`.

    See: chapter Receptive fields of networks with branches.
    """
    import operator

    import torch
    import torch.fx
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch nn.Module, got {type(module).__name__}")
    if not _is_int(axis) or axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    traced = torch.fx.symbolic_trace(module)
    modules = dict(traced.named_modules())
    keep = tuple(getattr(nn, n) for n in _SHAPE_PRESERVING if hasattr(nn, n))
    elementwise = {torch.relu, torch.sigmoid, torch.tanh, nn.functional.relu,
                   nn.functional.relu6, nn.functional.silu, nn.functional.gelu,
                   nn.functional.dropout, operator.mul, operator.truediv, torch.mul}
    methods = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "mul", "div"}
    alias: dict[str, str] = {}
    nodes: list[Node] = []

    def one(n: object, where: str) -> str:
        if not isinstance(n, torch.fx.Node):
            raise TypeError(f"graph_of_model: {where} does not read a tensor")
        return alias[n.name]

    def tensor_args(fx_node) -> list:
        return [a for a in fx_node.args if isinstance(a, torch.fx.Node)]

    for fx in traced.graph.nodes:
        if fx.op == "placeholder":
            alias[fx.name] = source
        elif fx.op == "call_module":
            mod, name = modules[fx.target], str(fx.target)
            inp = one(fx.args[0], name)
            layer = _layer_of_module(mod, name, axis)
            if layer is not None:
                nodes.append(Node(name, (inp,), layer=layer))
                alias[fx.name] = name
            elif isinstance(mod, keep):
                alias[fx.name] = inp
            else:
                raise TypeError(f"graph_of_model cannot follow module {name!r} "
                                f"({type(mod).__name__})")
        elif fx.op in ("call_function", "call_method"):
            fn = fx.target
            if fn in (operator.add, operator.iadd, torch.add) or fn in ("add", "add_"):
                ins = tensor_args(fx)
                if len(ins) < 2:    # x + constant moves nothing
                    alias[fx.name] = one(ins[0] if ins else None, fx.name)
                    continue
                nodes.append(Node(fx.name, tuple(one(a, fx.name) for a in ins), merge="add"))
                alias[fx.name] = fx.name
            elif fn is torch.cat:
                dim = fx.kwargs.get("dim", fx.args[1] if len(fx.args) > 1 else 0)
                if dim not in (1, -3):
                    raise TypeError(f"graph_of_model: {fx.name} concatenates along dim {dim}, "
                                    "not along the channels")
                ins = tuple(one(a, fx.name) for a in fx.args[0])
                nodes.append(Node(fx.name, ins, merge="concat"))
                alias[fx.name] = fx.name
            elif fn in elementwise or fn in methods:
                ins = tensor_args(fx)
                if len(ins) != 1:   # x * y of two maps: not a shape-preserving step
                    raise TypeError(f"graph_of_model cannot follow {fx.name}: it combines "
                                    f"{len(ins)} tensors")
                alias[fx.name] = one(ins[0], fx.name)
            else:
                what = getattr(fn, "__name__", fn)
                raise TypeError(f"graph_of_model cannot follow {fx.op} {what!r} ({fx.name})")
        elif fx.op == "output":
            nodes.append(Node("output", (one(fx.args[0], "output"),),
                              layer=Layer(1, name="output")))
    return nodes


def _layer_of_module(mod: object, name: str, axis: int) -> Optional[Layer]:
    """The :class:`Layer` of one torch module along ``axis``, or None if it has no window."""
    import torch.nn as nn

    def along(value: object, what: str) -> int:
        return as_pair(value, what)[axis]

    if isinstance(mod, nn.Conv2d):
        k, s, d = mod.kernel_size[axis], mod.stride[axis], mod.dilation[axis]
        if isinstance(mod.padding, str):
            before, after = padding_for(mod.padding, k, s, d)
        else:
            before = after = mod.padding[axis]
        return Layer(k, s, before, d, name=name, padding_after=after)
    if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
        k = along(mod.kernel_size, "kernel_size")
        s = along(mod.stride if mod.stride is not None else mod.kernel_size, "stride")
        return Layer(k, s, along(mod.padding, "padding"),
                     along(getattr(mod, "dilation", 1), "dilation"), name=name,
                     ceil_mode=bool(mod.ceil_mode), pool=True)
    if isinstance(mod, nn.ZeroPad2d):
        left, right, top, bottom = mod.padding
        before, after = (top, bottom) if axis == 0 else (left, right)
        return Layer(1, 1, before, name=name, padding_after=after)
    return None


# ---- the brute-force check: which input rows reach which output rows (needs torch) ---------


def probe_rows(module: object, n: int, channels: int):
    """``dep[t, j]``: output row ``j`` of ``module`` changes when only input row ``t`` is lit.

    One forward pass over a batch of ``n`` inputs of shape ``(channels, n, 1)``, input ``t``
    being all zeros but row ``t``. With positive weights and zero biases
    (:func:`positive_weights`) nothing cancels, so ``dep[:, j]`` is output ``j``'s receptive
    field along the height, to compare with :func:`graph_receptive_field`'s ``region(j)``.
    """
    import torch

    x = torch.zeros(n, channels, n, 1, dtype=torch.float64)
    x[torch.arange(n), :, torch.arange(n), :] = 1.0
    with torch.no_grad():
        y = module(x)
    return (y.abs().sum(dim=(1, 3)) > 0).numpy()


def positive_weights(module, seed: int = 0):
    """``module`` with weights drawn from ``[0.5, 1.5)``, zero biases, float64, eval mode (in
    place, returned), so that :func:`probe_rows` sees every path."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, torch.nn.Conv2d):
            with torch.no_grad():
                layer.weight.copy_(0.5 + torch.rand(layer.weight.shape, generator=generator))
                if layer.bias is not None:
                    layer.bias.zero_()
    return module.double().eval()


def probe_agrees(dep, field: "GraphField") -> tuple[bool, int]:
    """Whether the probe's rows equal ``field.region(j)`` for every output ``j`` whose field lies
    inside the input; returns ``(agree, number of outputs checked)``."""
    import numpy as np

    n, agree, checked = dep.shape[0], True, 0
    for j in range(dep.shape[1]):
        first, last = field.region(j)
        if first >= 0 and last < n:
            seen = np.flatnonzero(dep[:, j])
            agree &= bool(seen.size) and (seen.min(), seen.max()) == (first, last)
            checked += 1
    return agree, checked
