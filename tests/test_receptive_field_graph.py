"""Receptive fields of networks with branches (convlib.receptive_field's graph calculator)
against the brute-force probe of tests/test_receptive_field.py.

The oracle never uses the formulas under test: the same network is built in torch with
positive weights (``positive_``) and fed one-hot rows; an output row "sees" input row ``t``
iff it is non-zero when only row ``t`` is lit (adds and concatenations of non-negative maps
keep every dependency). Interior outputs must see exactly the predicted first and last row;
every output sees nothing outside its predicted region.
"""

from __future__ import annotations

import warnings

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from convlib.blocks import BasicBlock, Inception
from convlib.receptive_field import (GraphField, Layer, Node, graph_of_model,
                                     graph_receptive_field, merge_fields, of_model,
                                     receptive_field)
from test_receptive_field import layers_of, positive_, random_spec, torch_stack_rows

pytestmark = [pytest.mark.receptive_field, pytest.mark.usefixtures("torch_for_tiny_shapes")]


def probe(net: nn.Module, n: int, channels: int = 1, width: int = 1, axis: int = 0) -> np.ndarray:
    """dep[t, j] = output row (or column, axis=1) j changes when only input row t is lit."""
    shape = (n, channels, n, width) if axis == 0 else (n, channels, width, n)
    x = torch.zeros(shape, dtype=torch.float64)
    idx = torch.arange(n)
    if axis == 0:
        x[idx, :, idx, :] = 1.0
    else:
        x[idx, :, :, idx] = 1.0
    with torch.no_grad():
        y = net(x)
    return (y.abs().sum(dim=(1, 3 - axis)) > 0).numpy()


def check_field(dep: np.ndarray, field: GraphField, need_interior: bool = True) -> int:
    """Predicted regions against the probe; returns how many interior outputs were checked."""
    n = dep.shape[0]
    assert dep.shape[1] == field.output_size, "output size differs from torch"
    interior = 0
    for j in range(dep.shape[1]):
        first, last = field.region(j)
        seen = np.flatnonzero(dep[:, j])
        if seen.size:
            assert first <= seen.min() and seen.max() <= last, (j, first, last, seen)
        if first >= 0 and last <= n - 1:
            interior += 1
            assert (seen.min(), seen.max()) == (first, last), (j, first, last, seen)
            assert (seen.min() + seen.max()) / 2 == field.center + j * field.stride
    assert interior >= 1 or not need_interior, f"probe input {n} too small"
    return interior


# ------------------------------------------------------------------ real torch blocks

def test_resnet_basic_block_with_strided_shortcut_matches_probe():
    block = positive_(BasicBlock(2, 4, stride=2), seed=0)
    nodes = graph_of_model(block)
    assert [n.name for n in nodes if n.merge] == ["add"]
    fields = graph_receptive_field(nodes, input_size=20)
    add = fields["add"]
    # conv1 3x3/2 pad 1, conv2 3x3/1 pad 1 on the main path; a 1x1/2 shortcut
    assert (fields["conv2"].size, fields["shortcut.conv"].size) == (7, 1)
    assert add.branch_centers == (0.0, 0.0) and add.aligned
    for axis in (0, 1):
        check_field(probe(block, 20, channels=2, axis=axis), fields["output"])
    # the shortcut alone sees one pixel of every other row: cut the main path to show it
    with torch.no_grad():
        block.conv2.weight.zero_()
    dep = probe(block, 20, channels=2)
    assert [np.flatnonzero(dep[:, j]).tolist() for j in range(3)] == [[0], [2], [4]]


@pytest.mark.parametrize("large_kernel", [3, 5])
def test_inception_module_matches_probe(large_kernel):
    module = positive_(Inception(2, 1, 1, 2, 1, 2, 1, large_kernel=large_kernel), seed=1)
    nodes = graph_of_model(module)
    assert [n.merge for n in nodes if n.merge] == ["concat"]
    fields = graph_receptive_field(nodes, input_size=16)
    cat = fields["cat"]
    assert len(cat.branches) == 4 and cat.aligned
    assert cat.size == large_kernel          # the widest branch; all centred on the pixel
    check_field(probe(module, 16, channels=2), fields["output"])


class Misaligned(nn.Module):
    """Two branches with the same output size but different padding before (rows only):
    a 3x3 conv with padding 1, and a 3x3 conv without padding after padding 2 on top."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3, padding=1)
        self.pad = nn.ZeroPad2d((0, 0, 2, 0))
        self.b = nn.Conv2d(1, 2, 3, padding=(0, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.a(x) + self.b(self.pad(x)))


def test_misaligned_branches_give_a_lopsided_field():
    net = positive_(Misaligned(), seed=2)
    rows = graph_receptive_field(graph_of_model(net, axis=0), input_size=12)
    add = rows["add"]
    assert add.branch_centers == (0.0, -1.0) and not add.aligned and add.misalignment == 1
    assert (add.size, add.padding, add.center) == (4, 2, -0.5)   # wider than either branch
    dep = probe(net, 12, width=3)
    check_field(dep, rows["output"])
    # the probe: an interior output row j sees rows j-2 .. j+1, two above and one below
    assert np.flatnonzero(dep[:, 5]).tolist() == [3, 4, 5, 6]
    cols = graph_receptive_field(graph_of_model(net, axis=1), input_size=12)
    assert cols["add"].aligned and cols["add"].size == 3
    check_field(probe(net, 12, width=3, axis=1), cols["output"])


# ------------------------------------------------------------------- random small DAGs

class GraphNet(nn.Module):
    """Runs a random spec: nodes (name, inputs, item) with item a chain-spec tuple
    (see test_receptive_field.torch_stack_rows), ("pad", top, bottom), or "add" / "concat"."""

    def __init__(self, spec, channels: dict) -> None:
        super().__init__()
        self.spec = spec
        self.mods = nn.ModuleDict()
        for name, inputs, item in spec:
            if isinstance(item, str):
                continue
            if item[0] == "pad":
                self.mods[name] = nn.ZeroPad2d((0, 0, item[1], item[2]))
            elif item[0] == "conv":
                _, k, s, p, d = item
                self.mods[name] = nn.Conv2d(channels[inputs[0]], 2, (k, 1), (s, 1), (p, 0),
                                            (d, 1))
            else:
                self.mods[name] = torch_stack_rows([item])[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {"input": x}
        for name, inputs, item in self.spec:
            if item == "add":
                out = values[inputs[0]]
                for other in inputs[1:]:
                    out = out + values[other]
            elif item == "concat":
                out = torch.cat([values[i] for i in inputs], 1)
            else:
                out = self.mods[name](values[inputs[0]])
            values[name] = out
        return values[self.spec[-1][0]]


def spec_layer(item) -> Layer:
    if item[0] == "pad":
        return Layer(1, 1, item[1], padding_after=item[2])
    return layers_of([item])[0]


def random_dag(rng: random.Random, n: int):
    """A chain of stages; each stage is one layer or 2-3 parallel branches merged by add or
    concat. Branches are drawn until their output sizes and strides agree."""
    spec, channels, sizes = [], {"input": 1}, {"input": n}
    current, count = "input", 0

    def add_layer(src, item):
        nonlocal count
        count += 1
        name = f"n{count}"
        size = (receptive_field([spec_layer(item)], input_size=sizes[src])[-1].output_size)
        spec.append((name, (src,), item))
        channels[name] = 2 if item[0] == "conv" else channels[src]
        sizes[name] = size
        return name

    def random_item(stride):
        kind = rng.choice(["conv", "conv", "conv", "max", "avg", "pad"])
        k = rng.randint(1, 4)
        if kind == "conv":
            d = rng.choice([1, 1, 2])
            return ("conv", k, stride, rng.randint(0, d * (k - 1)), d)
        if kind == "max":
            return ("max", k, stride, rng.randint(0, k // 2), 1, rng.random() < 0.5)
        if kind == "avg":
            return ("avg", k, stride, rng.randint(0, k // 2), rng.random() < 0.5, True)
        return ("pad", rng.randint(0, 2), rng.randint(0, 2))

    for _ in range(rng.randint(1, 3)):
        stride = rng.choice([1, 1, 2])
        if rng.random() < 0.3:
            try:
                current = add_layer(current, random_item(stride))
            except ValueError:
                pass
            continue
        for _attempt in range(200):
            mark = (list(spec), dict(channels), dict(sizes), count)
            ends, ok = [], True
            for _b in range(rng.choice([2, 2, 3])):
                src = current
                if stride == 1 and rng.random() < 0.2:
                    ends.append(src)           # an identity branch (a residual shortcut)
                    continue
                items = [random_item(1) for _ in range(rng.randint(1, 2))]
                strided = [i for i, it in enumerate(items) if it[0] != "pad"]
                if stride > 1:
                    if not strided:
                        items.append(("conv", 1, stride, 0, 1))
                    else:
                        i = rng.choice(strided)
                        items[i] = items[i][:2] + (stride,) + items[i][3:]
                try:
                    for it in items:
                        src = add_layer(src, it)
                except ValueError:
                    ok = False
                    break
                ends.append(src)
            if ok and len({sizes[e] for e in ends}) == 1 and len(set(ends)) == len(ends):
                same_c = len({channels[e] for e in ends}) == 1
                how = rng.choice(["add", "concat"]) if same_c else "concat"
                count += 1
                name = f"m{count}"
                spec.append((name, tuple(ends), how))
                channels[name] = (channels[ends[0]] if how == "add"
                                  else sum(channels[e] for e in ends))
                sizes[name] = sizes[ends[0]]
                current = name
                break
            spec, channels, sizes, count = mark[0], mark[1], mark[2], mark[3]
    return spec, channels


def convlib_nodes(spec):
    """The same graph as convlib Nodes, written from the spec (not from the torch net)."""
    return [(name, list(inputs), item if isinstance(item, str) else spec_layer(item))
            for name, inputs, item in spec]


def test_random_dags_match_probe():
    rng = random.Random(13)
    merges = misaligned = checked = 0
    n = 48
    for case in range(80):
        spec, channels = random_dag(rng, n)
        if not any(isinstance(item, str) for _, _, item in spec):
            continue
        fields = graph_receptive_field(convlib_nodes(spec), input_size=n)
        net = positive_(GraphNet(spec, channels), seed=case)
        if not check_field(probe(net, n), fields[spec[-1][0]], need_interior=False):
            continue
        merged = [f for f in fields.values() if f.branches]
        merges += len(merged)
        misaligned += sum(not f.aligned for f in merged)
        checked += 1
        # torch.fx reads the same graph back from the module
        traced = graph_receptive_field(graph_of_model(net), input_size=n)["output"]
        ours = fields[spec[-1][0]]
        assert (traced.size, traced.stride, traced.padding, traced.output_size) == \
            (ours.size, ours.stride, ours.padding, ours.output_size)
    assert checked >= 50 and merges >= 80 and misaligned >= 15, (checked, merges, misaligned)


# ------------------------------------------------------------- chains are the special case

def test_chains_agree_with_the_chain_functions():
    rng = random.Random(7)
    for _ in range(60):
        spec = random_spec(rng)
        layers = layers_of(spec)
        chain = receptive_field(layers, input_size=200)
        nodes, prev = [], "input"
        for i, layer in enumerate(layers):
            nodes.append((f"l{i}", prev, layer))
            prev = f"l{i}"
        fields = list(graph_receptive_field(nodes, input_size=200).values())[1:]
        assert [(f.size, f.stride, f.padding, f.center, f.output_size) for f in fields] == \
            [(r.size, r.stride, r.padding, r.center, r.output_size) for r in chain]


def test_graph_of_model_on_a_sequential_agrees_with_of_model():
    net = torch_stack_rows([("conv", 3, 2, 1, 1), ("relu",), ("max", 3, 2, 1, 1, True),
                            ("bn",), ("conv", 3, 1, 2, 2), ("avg", 2, 2, 0, False, True)])
    chain = of_model(net, (64, 1))
    fields = graph_receptive_field(graph_of_model(net), input_size=64)
    assert [(f.size, f.stride, f.padding, f.output_size) for f in fields.values()][1:-1] == \
        [(r.size, r.stride, r.padding, r.output_size) for r in chain]


def test_resnet_and_googlenet_stages():
    from convlib.erf import main_path_layers
    from convlib.models import googlenet, resnet50

    with torch.device("meta"):
        resnet, inception_net = resnet50(), googlenet()
    fields = graph_receptive_field(graph_of_model(resnet[:-3]), input_size=224)
    assert all(f.aligned for f in fields.values())
    main = receptive_field(main_path_layers(resnet), input_size=224)[-1]
    out = fields["output"]
    assert (out.size, out.stride, out.padding, out.output_size) == \
        (main.size, main.stride, main.padding, main.output_size) == (427, 32, 213, 7)
    g = graph_receptive_field(graph_of_model(inception_net[:-4]), input_size=224)
    assert sum(1 for f in g.values() if f.node and f.node.merge) == 9
    assert all(f.aligned for f in g.values())
    assert (g["output"].stride, g["output"].output_size) == (32, 7)


# ---------------------------------------------------------------------------- bad input

def test_merge_rules_and_bad_input():
    a, b = GraphField("a", 3, 2, 1, 0.0, 8), GraphField("b", 1, 4, 0, 0.0, 8)
    with pytest.raises(ValueError, match="effective strides of its inputs differ"):
        merge_fields([a, b], "m")
    with pytest.raises(ValueError, match="different sizes"):
        merge_fields([a, GraphField("c", 1, 2, 0, 0.0, 7)], "m")
    with pytest.raises(TypeError, match="non-empty list of GraphField"):
        merge_fields([])
    with pytest.raises(ValueError, match="not defined before it"):
        graph_receptive_field([("m", ["input", "x"], "add")])
    with pytest.raises(ValueError, match="used twice"):
        graph_receptive_field([("a", "input", (3, 1, 1)), ("a", "input", (3, 1, 1))])
    with pytest.raises(ValueError, match="merge must be 'add' or 'concat'"):
        graph_receptive_field([("m", ["input"], "mul")])
    with pytest.raises(ValueError, match="exactly one input"):
        Node("x", ("a", "b"), layer=Layer(3))
    with pytest.raises(TypeError, match="either a layer or a merge"):
        Node("x", ("a",))
    with pytest.raises(TypeError, match=r"nodes\[0\] must be a Node"):
        graph_receptive_field([("a", "input")])
    with pytest.raises(ValueError, match="must not be empty"):
        graph_receptive_field([])
    with pytest.raises(ValueError, match="padding_after must equal padding"):
        Layer(3, 1, 1, pool=True, padding_after=0)
    with pytest.raises(ValueError, match="^padding_after must be >= 0"):
        Layer(3, 1, 1, padding_after=-1)
    with pytest.raises(ValueError, match="index must be < the node's output size"):
        graph_receptive_field([("a", "input", (3, 1, 1))], input_size=5)["a"].region(5)
    with pytest.raises(TypeError, match="cannot follow module"):
        graph_of_model(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()))
    with pytest.raises(TypeError, match="module must be a torch nn.Module"):
        graph_of_model([nn.Conv2d(1, 1, 3)])
    nodes = [("a", "input", (3, 1, 1))]
    copy = list(nodes)
    graph_receptive_field(nodes, input_size=5)
    assert nodes == copy


def test_asymmetric_padding_output_size_matches_torch():
    net = nn.Sequential(nn.ZeroPad2d((0, 0, 2, 1)), nn.Conv2d(1, 1, (4, 1), stride=(2, 1)))
    fields = graph_receptive_field(graph_of_model(net), input_size=11)
    assert fields["output"].output_size == net(torch.zeros(1, 1, 11, 1)).shape[2]


def test_graph_of_model_refuses_what_it_cannot_follow():
    class Gate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.a(x) * self.b(x) * 0.5

    with pytest.raises(TypeError, match="combines 2 tensors"):
        graph_of_model(Gate())

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return torch.cat([self.a(x) * 0.5 + 1.0, x], dim=1)

    fields = graph_receptive_field(graph_of_model(Scaled()))
    assert fields["cat"].size == 3 and [b.name for b in fields["cat"].branches] == ["a", "input"]

    class Flat(nn.Module):
        def forward(self, x):
            return torch.cat([x, x], dim=2)

    with pytest.raises(TypeError, match="not along the channels"):
        graph_of_model(Flat())


def test_of_model_same_padding_with_an_even_kernel_and_zero_pad():
    # PyTorch pads "same" with d*(k-1)//2 before and the rest after: 1 and 2 for k = 4
    net = nn.Sequential(nn.Conv2d(1, 1, 4, padding="same"), nn.ZeroPad2d((0, 0, 1, 2)),
                        nn.Conv2d(1, 1, 3, stride=2))
    records = of_model(net, 9)
    # torch warns (once per process, so not reliably here) that it copies the input to pad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = net(torch.zeros(1, 1, 9, 9))
    assert [r.output_size for r in records] == [9, 12, y.shape[2]]
    assert [(r.size, r.padding) for r in records] == [(4, 1), (4, 2), (6, 2)]


def test_the_chapters_probe_equals_the_tests_probe():
    """convlib's probe (shown in the branch chapter) against the tests' own brute force."""
    from convlib import receptive_field as rf
    from test_receptive_field import probe_rows as brute_force_rows

    net = rf.positive_weights(nn.Sequential(nn.Conv2d(1, 1, 3, padding=(1, 1)),
                                            nn.Conv2d(1, 1, (3, 1), stride=2)), seed=3)
    dep = rf.probe_rows(net, 15, 1)
    assert (dep == brute_force_rows(net, 15)).all()
    fields = rf.graph_receptive_field(rf.graph_of_model(net), input_size=15)
    agree, checked = rf.probe_agrees(dep, fields["output"])
    assert agree and checked > 0
    assert not rf.probe_agrees(dep[::-1], fields["output"])[0]   # the check can fail
