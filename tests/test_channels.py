"""Channel-connectivity masks (convlib.viz.channels) against an independent oracle: the
gradient support of the real operations in PyTorch (which input channels get a nonzero
gradient from one output channel), plus the drawings and the group explorer.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convlib.functional as F
from convlib.viz.channels import (compose_masks, gradient_connectivity, draw_channel_graph, draw_connectivity,
                                  group_conv_mask, shuffle_mask, stacked_connectivity)
from convlib.widgets.groups import connectivity_html, groups_html, groups_state

pytestmark = pytest.mark.depthwise


def gradient_support(fn, channels: int) -> np.ndarray:
    """[o, i] True when d out[o] / d x[i] != 0 somewhere, by autograd on random weights."""
    x = torch.randn(1, channels, 5, 5, dtype=torch.float64, requires_grad=True)
    y = fn(x)
    rows = []
    for o in range(y.shape[1]):
        (g,) = torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)
        rows.append(g[0].abs().sum(dim=(1, 2)).numpy() > 1e-12)
    return np.array(rows)


def _conv(cin, cout, g, gen):
    w = torch.rand(cout, cin // g, 3, 3, dtype=torch.float64, generator=gen) + 0.1  # no zero weights
    return lambda t: TF.conv2d(t, w, padding=1, groups=g)


@pytest.mark.parametrize("cin, cout, g", [(6, 6, 1), (6, 6, 2), (6, 9, 3), (8, 4, 4), (4, 8, 4)])
def test_group_conv_mask_equals_gradient_support(cin, cout, g):
    gen = torch.Generator().manual_seed(0)
    assert np.array_equal(group_conv_mask(cin, cout, g), gradient_support(_conv(cin, cout, g, gen), cin))


@pytest.mark.parametrize("c, g", [(6, 2), (6, 3), (12, 3), (12, 4), (8, 8)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_stacked_connectivity_equals_gradient_support(c, g, shuffle):
    gen = torch.Generator().manual_seed(1)
    first, second = _conv(c, c, g, gen), _conv(c, c, g, gen)
    mid = (lambda t: TF.channel_shuffle(t, g)) if shuffle else (lambda t: t)
    oracle = gradient_support(lambda t: second(mid(first(t))), c)
    assert np.array_equal(stacked_connectivity(c, g, shuffle), oracle)
    assert np.array_equal(gradient_connectivity(lambda t: second(mid(first(t))), c), oracle)


@pytest.mark.parametrize("c, g", [(6, 2), (6, 3), (12, 4), (5, 1), (5, 5)])
def test_shuffle_mask_is_torch_channel_shuffle(c, g):
    x = np.random.default_rng(0).standard_normal((2, c, 3, 3))
    permuted = np.einsum("oi,nihw->nohw", shuffle_mask(c, g).astype(float), x)
    assert np.array_equal(permuted, torch.nn.ChannelShuffle(g)(torch.from_numpy(x)).numpy())
    assert np.array_equal(permuted, F.channel_shuffle(x, g))


def test_shuffle_mixes_every_group_when_groups_divide_group_size():
    assert stacked_connectivity(12, 3, shuffle=True).all()          # 4 channels per group >= 3
    assert stacked_connectivity(16, 4, shuffle=True).all()
    assert not stacked_connectivity(6, 3, shuffle=True).all()        # 2 per group < 3 groups
    plain = stacked_connectivity(12, 3)
    assert plain.sum() == 3 * 4 * 4 and np.array_equal(plain, group_conv_mask(12, 12, 3))


def test_compose_checks_shapes_and_bad_input():
    with pytest.raises(ValueError, match="masks\\[1\\]"):
        compose_masks([np.ones((4, 3), bool), np.ones((2, 3), bool)])
    with pytest.raises(ValueError, match="masks"):
        compose_masks([])
    with pytest.raises(ValueError, match="groups"):
        group_conv_mask(6, 4, 4)
    with pytest.raises(ValueError, match="groups"):
        shuffle_mask(6, 4)
    with pytest.raises(ValueError, match="in_channels"):
        group_conv_mask(0, 4, 1)
    with pytest.raises(ValueError, match="groups"):
        groups_state(10, 3)


def test_inputs_not_modified():
    m = group_conv_mask(6, 6, 2)
    before = m.copy()
    compose_masks([m, m])
    draw_channel_graph([m, m], groups=2)
    plt.close("all")
    assert np.array_equal(m, before)


def test_drawings():
    fig = draw_connectivity(stacked_connectivity(12, 3), groups=3)
    assert any(im.get_gid() == "connectivity" for im in fig.axes[0].images)
    plt.close(fig)
    masks = [group_conv_mask(6, 6, 2), shuffle_mask(6, 2), group_conv_mask(6, 6, 2)]
    fig = draw_channel_graph(masks, ["x", "conv", "shuffle", "conv"], groups=2)
    edges = [l for l in fig.axes[0].lines if l.get_gid() == "edge"]
    # one line per connected pair and per input group it carries; after the first group conv
    # every channel carries exactly one input group: conv 6x3, shuffle 6, conv 6x3
    assert len(edges) == 18 + 6 + 18
    plt.close(fig)


def test_groups_state_and_html():
    s = groups_state(12, 3)
    assert s["groups_seen_plain"] == [1, 1, 1] and s["groups_seen_shuffled"] == [3, 3, 3]
    assert s["fraction_plain"] == pytest.approx(1 / 3) and s["fraction_shuffled"] == 1.0
    html = connectivity_html(s["plain"], 3)
    assert html.count("data-on='1'") == s["plain"].sum() and html.count("<td") == 144
    assert "1 of 3" in groups_html(s)
    assert groups_state(6, 3)["groups_seen_shuffled"] == [2, 2, 2]


def test_groups_widget_shell():
    from convlib.widgets.groups import groups_explorer
    box = groups_explorer(12, 3)
    (c, g), out = box.children[0].children, box.children[1]
    g.value = 5
    assert "must divide" in out.value
    g.value = 4
    s = groups_state(12, 4)                  # 3 channels per group < 4 groups: not a full mix
    assert s["plain"].sum() == 36 and s["groups_seen_shuffled"] == [3, 3, 3, 3]
    assert out.value.count("data-on='1'") == s["plain"].sum() + s["shuffled"].sum()
