"""The dense / Inception / ShuffleNet explorers and the cost-comparison helpers.

Oracles: the papers' formulas worked out by hand (DenseNet-121's first block, GoogLeNet's
inception 3a), real torch modules built independently of the explorer, brute-force ranks for
Spearman's correlation, and the figures' own artists."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from convlib import blocks  # noqa: E402
from convlib.cost import Latency, count_macs, count_params  # noqa: E402
from convlib.viz import plot_dense_memory, plot_macs_latency  # noqa: E402
from convlib.widgets import (CostTable, cost_gallery, cost_row, dense_memory,  # noqa: E402
                             family_gallery, family_html, family_state, make_family_block,
                             metric_png, rank_correlation)

pytestmark = pytest.mark.blocks


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- family_state ------------------------------------------------------------------------------
def test_dense_state_matches_hand_formula():
    # DenseNet-121 block 1: c0 = 64, k = 32, bn_size 4, 6 layers, 56x56
    s = family_state("dense", size=56, num_layers=6, in_channels=64, growth_rate=32, bn_size=4)
    ins = [64 + 32 * i for i in range(6)]
    assert s["layer_inputs"] == ins
    assert s["output_shape"] == (64 + 6 * 32, 56, 56)
    params = sum(2 * c + c * 128 + 2 * 128 + 9 * 128 * 32 for c in ins)
    assert s["params"] == params == 335_040
    assert s["macs"] == sum(56 * 56 * (c * 128 + 9 * 128 * 32) for c in ins)
    # concatenations for layers 2..6 and the output, float32
    assert s["concat_bytes"] == 4 * 56 * 56 * (sum(ins[1:]) + 256)
    # every layer outputs: BN1 + ReLU1 (c_l), conv1, BN2, ReLU2 (128 each), conv2 (32)
    assert s["activation_bytes"] == 4 * 56 * 56 * sum(2 * c + 3 * 128 + 32 for c in ins)


def test_inception_state_3a():
    cfg = dict(in_channels=192, ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32,
               pool_proj=32, large_kernel=5)
    s = family_state("inception", size=28, **cfg)
    hw = 28 * 28
    assert s["macs"] == hw * (192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32
                              + 192 * 32) == 128_049_152
    assert s["branch_macs"]["branch3"] == hw * (192 * 16 + 25 * 16 * 32)
    assert sum(s["branch_macs"].values()) == s["macs"]
    direct = (count_macs(nn.Conv2d(192, 128, 3, padding=1), (1, 192, 28, 28))
              + count_macs(nn.Conv2d(192, 32, 5, padding=2), (1, 192, 28, 28)))
    assert s["macs_without_reduction"] == direct + hw * 192 * (64 + 32)
    assert s["output_shape"] == (256, 28, 28)


@pytest.mark.parametrize("cin,cout,stride,size", [(116, 116, 1, 28), (24, 116, 2, 56)])
def test_shuffle_state_against_the_real_module(cin, cout, stride, size):
    s = family_state("shuffle", size=size, in_channels=cin, out_channels=cout, stride=stride)
    m = blocks.ShuffleV2Unit(cin, cout, stride)
    with torch.no_grad():
        out = m.eval()(torch.zeros(1, cin, size, size))
    assert s["output_shape"] == tuple(out.shape[1:])
    assert s["params"] == count_params(m)
    assert s["macs"] == count_macs(m, (1, cin, size, size)) == sum(s["branch_macs"].values())
    assert (s["branch_macs"]["branch1"] > 0) == (stride == 2)


def test_make_family_block_and_bad_input():
    m = make_family_block("dense", num_layers=2, in_channels=8, growth_rate=4)
    assert isinstance(m, blocks.DenseBlock) and m.out_channels == 16
    assert next(make_family_block("shuffle", "meta").parameters()).device.type == "meta"
    with pytest.raises(ValueError, match="kind"):
        family_state("resnet")
    with pytest.raises(ValueError, match="growth"):
        make_family_block("inception", growth_rate=3)
    with pytest.raises(ValueError, match="size"):
        family_state("dense", size=0)


def test_html_and_gallery_render():
    s = family_state("dense", size=8, num_layers=2, in_channels=8, growth_rate=4)
    text = family_html(s)
    assert "concatenations" in text and "8, 12" in text
    gallery = family_gallery("shuffle", [dict(in_channels=8, out_channels=8)], size=8)
    assert gallery.data.count("<img") == 1 and "parameters" in gallery.data
    no_pic = family_gallery("dense", [dict(num_layers=8, in_channels=8, growth_rate=4)], size=8)
    assert "<img" not in no_pic.data


def test_explorer_updates():
    ipywidgets = pytest.importorskip("ipywidgets")
    from convlib.widgets import family_explorer

    box = family_explorer("inception", size=8, in_channels=32)
    sliders = {s.description: s for s in box.children[0].children
               if isinstance(s, ipywidgets.IntSlider)}
    before = box.children[0].children[-1].value
    sliders["ch1x1"].value = 16
    after = box.children[0].children[-1].value
    assert before != after and "multiply-adds" in after
    sliders["large kernel"].value = 3                      # default 5 (the paper)
    assert box.children[0].children[-1].value != after
    assert "<img" in box.children[1].value


# ---- dense_memory --------------------------------------------------------------------------------
def test_dense_memory_counts_and_grows_quadratically():
    mem = dense_memory([1, 2, 4, 8], in_channels=8, growth_rate=4, size=6, bn_size=2)
    assert mem["num_layers"] == [1, 2, 4, 8]
    for n, concat in zip(mem["num_layers"], mem["concat"]):
        ins = [8 + 4 * i for i in range(n)]
        assert concat == 4 * 36 * (sum(ins[1:]) + 8 + 4 * n)
    saved = np.array(mem["saved"], float)
    assert np.all(np.diff(saved) > 0)
    per_layer = saved / np.array(mem["num_layers"])
    assert np.all(np.diff(per_layer) > 0)          # super-linear: memory per layer rises
    # what autograd saves includes at least every layer's concatenated input
    assert all(s >= c - 4 * 36 * (8 + 4 * n) for s, c, n in
               zip(mem["saved"], mem["concat"], mem["num_layers"]))


# ---- plots ---------------------------------------------------------------------------------------
def test_plot_macs_latency_points_and_validation():
    fig = plot_macs_latency(["a", "b", "c"], [1e6, 1e7, 1e8], [1.0, 3.0, 9.0], [0.9, 2.5, 8.0],
                            [1.2, 3.5, 9.5])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert sorted(t.get_text() for t in ax.texts) == ["a", "b", "c"]
    (points,) = [c for c in ax.collections if c.get_gid() == "networks"]
    np.testing.assert_allclose(points.get_offsets(), [[1e6, 1.0], [1e7, 3.0], [1e8, 9.0]])
    with pytest.raises(ValueError, match="same"):
        plot_macs_latency(["a"], [1, 2], [1])
    with pytest.raises(ValueError, match="positive"):
        plot_macs_latency(["a", "b"], [0, 2], [1, 1])


def test_plot_dense_memory_fit():
    layers = np.array([1, 2, 4, 8])
    mem = {"num_layers": layers, "saved": 2**20 * (0.5 * layers**2 + layers)}
    fig = plot_dense_memory(mem)
    labels = [l.get_label() for l in fig.axes[0].get_lines()]
    assert any(l.startswith("quadratic fit (0.500·L²") for l in labels)
    with pytest.raises(ValueError, match="three"):
        plot_dense_memory({"num_layers": [1, 2], "saved": [1, 2]})


# ---- cost comparison -----------------------------------------------------------------------------
def _lat(ms):
    return Latency(ms, ms * 0.9, ms * 1.1, ms * 0.8, ms * 1.3, 5, 1)


def test_rank_correlation_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.permutation(7).astype(float), rng.permutation(7).astype(float)
        d = x - y                                  # no ties: 1 - 6 sum d^2 / (n (n^2 - 1))
        assert rank_correlation(x, y) == pytest.approx(1 - 6 * (d**2).sum() / (7 * 48))
    assert rank_correlation([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)
    assert rank_correlation([1, 10, 100], [3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        rank_correlation([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError):
        rank_correlation([1, 2], [1, 2, 3])


def test_cost_table_rows_and_html():
    table = CostTable([cost_row("net a", 10, 2_000_000, 4096, _lat(2.0)),
                       cost_row("net b", 20, 1_000_000, 8192, None, note="not timed")])
    assert table[0]["throughput"] == pytest.approx(2_000_000 / 2e-3 / 1e9)
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "net a" in html and "not timed" in html
    assert "2.00 M" in str(table) and "4.00 KiB" in str(table)
    assert table.column("params") == [10, 20]


def test_metric_png_and_gallery():
    table = CostTable([cost_row(n, p, m, a, _lat(t)) for n, p, m, a, t in
                       [("a", 1, 10, 5, 1.0), ("b", 3, 30, 2, 2.0), ("c", 2, 20, 9, 4.0)]])
    png = metric_png(table, "macs")
    assert png[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="metric"):
        metric_png(table, "latency")
    assert cost_gallery(table).data.count("<img") == 3
