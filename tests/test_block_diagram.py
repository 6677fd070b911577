"""Block diagrams traced from the modules: the extracted graph must match what the module's
structure implies (counted from the module's own children, not from the tracer), and the
drawing must show one patch per node and one arc per skip connection."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from convlib import blocks  # noqa: E402
from convlib.viz import BlockGraph, block_graph, draw_block  # noqa: E402

pytestmark = pytest.mark.blocks


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _leaf_count(module, kinds):
    return sum(isinstance(m, kinds) for m in module.modules())


def _unfused(module, shape=None):
    return block_graph(module, shape, fuse=False)


def test_basic_block_identity_shortcut():
    m = blocks.BasicBlock(16, 16)
    g = _unfused(m)
    # conv1 bn1 relu1 conv2 bn2 add relu2 + input/output; the Identity shortcut is an edge
    assert g.kinds() == ["input", "conv", "bn", "act", "conv", "bn", "add", "act", "output"]
    (add,) = g.find("add")
    assert sorted(g.inputs_of(add)) == [0, 5]            # bn2 and the block input itself
    assert len(g.edges) == len(g.nodes)                  # a chain of 8 edges plus the skip
    fused = block_graph(m)
    assert fused.kinds() == ["input", "conv", "conv", "add", "act", "output"]
    assert fused.nodes[1].parts == ("conv", "bn", "act") and fused.nodes[2].parts == ("conv", "bn")
    assert 0 in fused.inputs_of(fused.find("add")[0])


def test_basic_block_projection_shortcut_and_shapes():
    m = blocks.BasicBlock(8, 16, stride=2)
    g = block_graph(m, (1, 8, 12, 12))
    (add,) = g.find("add")
    ins = g.inputs_of(add)
    assert len(ins) == 2 and 0 not in ins               # both inputs are convs now
    labels = [g.nodes[i].label.splitlines()[0] for i in ins]
    assert "conv 1×1, 8→16, s2" in labels
    assert g.nodes[1].label.startswith("conv 3×3, 8→16, s2")
    with torch.no_grad():
        expected = tuple(m.eval()(torch.zeros(1, 8, 12, 12)).shape[1:])
    assert g.nodes[-1].shape == expected == (16, 6, 6)
    assert len(g.find("conv")) == _leaf_count(m, nn.Conv2d) == 3


@pytest.mark.parametrize("groups,width_per_group", [(1, 64), (4, 8)])
def test_bottleneck(groups, width_per_group):
    m = blocks.Bottleneck(64, 16, groups=groups, width_per_group=width_per_group)
    g = _unfused(m)
    assert len(g.find("conv")) == _leaf_count(m, nn.Conv2d) == 3
    assert len(g.find("bn")) == _leaf_count(m, nn.BatchNorm2d) == 3
    (add,) = g.find("add")
    assert len(g.inputs_of(add)) == 2 and 0 in g.inputs_of(add)
    f = block_graph(m)
    mid = f.nodes[2]
    assert mid.info["groups"] == groups
    assert (f", g{groups}" in mid.label) == (groups > 1)


def test_inverted_residual_residual_only_when_shapes_match():
    with_res = blocks.InvertedResidual(8, 8, 1, 6)
    g = block_graph(with_res)
    assert with_res.use_residual
    assert g.kinds() == ["input", "conv", "conv", "conv", "add", "output"]
    assert g.nodes[2].label.startswith("depthwise 3×3, 48")
    assert g.nodes[3].parts == ("conv", "bn")           # the linear bottleneck: no activation
    assert sorted(g.inputs_of(4)) == [0, 3]
    for m in (blocks.InvertedResidual(8, 8, 2, 6), blocks.InvertedResidual(8, 16, 1, 6)):
        assert not m.use_residual and block_graph(m).find("add") == []
    assert block_graph(blocks.InvertedResidual(8, 8, 1, 1)).kinds() == \
        ["input", "conv", "conv", "add", "output"]     # no expansion conv at ratio 1


def test_inception_concat_has_four_inputs():
    m = blocks.Inception(16, 4, 6, 8, 2, 4, 4)
    g = block_graph(m)
    (cat,) = g.find("concat")
    assert len(g.inputs_of(cat)) == 4
    assert len(g.outputs_of(0)) == 4                    # the input feeds every branch
    assert g.nodes[cat].shape == (m.out_channels, 16, 16)
    assert len(_unfused(m).find("conv")) == _leaf_count(m, nn.Conv2d) == 6


@pytest.mark.parametrize("num_layers", [1, 3])
def test_dense_block_concatenations(num_layers):
    m = blocks.DenseBlock(num_layers, 8, growth_rate=4, bn_size=2)
    g = block_graph(m)
    cats = g.find("concat")
    assert len(cats) == num_layers                      # torch.cat([x]) is not a node
    assert [len(g.inputs_of(c)) for c in cats] == list(range(2, num_layers + 2))
    assert 0 in g.inputs_of(cats[-1])                   # the block input reaches the end
    assert g.nodes[-1].shape == (m.out_channels, 16, 16)
    # pre-activation layers fuse as BN → ReLU → conv
    assert g.nodes[1].parts == ("bn", "act", "conv")


def test_shuffle_unit_and_separable_block_trace():
    g = block_graph(blocks.ShuffleV2Unit(8, 8, 1))
    assert g.kinds()[:2] == ["input", "split"] and "shuffle" in g.kinds()
    (cat,) = g.find("concat")
    assert g.find("split")[0] in g.inputs_of(cat)       # the untouched half goes straight in
    g2 = block_graph(blocks.ShuffleV2Unit(8, 16, 2))
    assert len(g2.outputs_of(0)) == 2
    assert block_graph(blocks.DepthwiseSeparable(4, 8)).kinds() == \
        ["input", "conv", "conv", "output"]


def test_state_left_as_found_and_errors():
    m = blocks.BasicBlock(4, 4).train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    block_graph(m)
    assert m.training and all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    with pytest.raises(TypeError, match="module"):
        block_graph("not a module")
    with pytest.raises(ValueError, match="input_shape"):
        block_graph(nn.ReLU())
    with pytest.raises(ValueError, match="input_shape"):
        block_graph(m, (1, 4, 0, 8))
    with pytest.raises(TypeError, match="input_shape"):
        block_graph(m, "1, 4, 8, 8")


def test_drawing_has_a_patch_per_node_and_an_arc_per_skip():
    m = blocks.Bottleneck(32, 8)
    g = block_graph(m)
    fig = draw_block(g, title="bottleneck")
    ax = fig.axes[0]
    assert len(ax.patches) == len(g.nodes)
    assert sum(p.get_gid() == "add" for p in ax.patches) == 1
    assert sum(line.get_gid() == "skip" for line in ax.lines) == 1
    fig2 = draw_block(blocks.Inception(16, 4, 6, 8, 2, 4, 4))
    assert sum(p.get_gid() == "concat" for p in fig2.axes[0].patches) == 1
    assert isinstance(g, BlockGraph)


def test_viz_import_does_not_load_torch():
    code = "import convlib.viz, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
