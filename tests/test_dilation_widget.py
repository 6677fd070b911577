"""The dilated-convolution chapter's pure functions, drawings and explorer.

Oracles: PyTorch (dilated conv2d against conv2d with the explicitly dilated kernel; autograd
gradient support of one output through a stack), brute-force enumeration of the offsets a
stack can reach, and the receptive-field explorer's independent cell-by-cell support.
"""

from __future__ import annotations

import base64
import io
import itertools
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import convlib.functional as F  # noqa: E402
from convlib.viz.dilation import (draw_dilated_kernel, draw_dilation_tower,  # noqa: E402
                                  draw_influence, plot_rf_growth, rf_growth_table)
from convlib.widgets.dilation import (PRESETS, dilate_kernel, dilation_explorer,  # noqa: E402
                                      dilation_gallery, dilation_state, influence_counts,
                                      influence_svg, influence_view)
from convlib.widgets.receptive_field import rf_stack_state  # noqa: E402
from oracle import assert_close  # noqa: E402

pytestmark = pytest.mark.receptive_field


@pytest.mark.parametrize("d", [1, 2, 3])
def test_dilated_kernel_reproduces_dilated_conv(d):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((2, 3, 12, 11))
    w = rng.standard_normal((4, 3, 3, 2))
    before = w.copy()
    big = dilate_kernel(w, d)
    assert big.shape == (4, 3, d * 2 + 1, d * 1 + 1)
    t = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), dilation=d)
    assert_close(F.conv2d(x, w, dilation=d), t)
    assert_close(F.conv2d(x, big), t)
    assert np.array_equal(w, before)


def test_dilate_kernel_bad_input():
    with pytest.raises(ValueError, match="dilation"):
        dilate_kernel(np.ones((3, 3)), 0)
    with pytest.raises(TypeError, match="dilation"):
        dilate_kernel(np.ones((3, 3)), 1.5)


def _reachable(rates, k=3):
    """All offsets sum_l t_l * d_l (t_l in -(k-1)/2..(k-1)/2), by enumeration."""
    h = (k - 1) // 2
    return {sum(t * d for t, d in zip(ts, rates))
            for ts in itertools.product(range(-h, h + 1), repeat=len(rates))}


def _torch_support(rates, n):
    """Input pixels with a non-zero gradient of the centre output (positive weights)."""
    x = torch.zeros(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    y = x
    for d in rates:
        y = TF.conv2d(y, torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=d, dilation=d)
    c = (n - 1) // 2
    y[0, 0, c, c].backward()
    return x.grad[0, 0].numpy()


@pytest.mark.parametrize("rates", [(1, 1, 1), (2, 2, 2), (1, 2, 5), (2, 4, 8), (1, 2, 3), (3, 3)])
def test_influence_counts_against_autograd_and_enumeration(rates):
    counts = influence_counts(rates)
    n = counts.shape[0]
    assert_close(counts.astype(float), _torch_support(rates, n), what="path counts")
    offs = _reachable(rates)
    c = (n - 1) // 2
    expect = np.zeros((n, n), bool)
    for a in offs:
        for b in offs:
            expect[c + a, c + b] = True
    assert np.array_equal(counts > 0, expect)


@pytest.mark.parametrize("rates", [(2, 2), (1, 2, 5), (2, 2, 2)])
def test_mask_equals_receptive_field_explorer(rates):
    n = 25
    st = dilation_state(rates, 3, n)
    other = rf_stack_state([(3, 1, d, d) for d in rates], n, ((n - 1) // 2, (n - 1) // 2))
    assert np.array_equal(st["mask"], other["mask"])


def test_gridding_and_hybrid_numbers():
    g = dilation_state((2, 2, 2))
    assert g["rf"] == 13 and g["seen"] == 7 * 7 and g["holes"] == 13 * 13 - 49
    h = dilation_state((1, 2, 5))
    assert h["rf"] == 17 and h["holes"] == 0 and h["coverage"] == 1.0
    assert dilation_state((2, 4, 8))["holes"] > 0
    assert dilation_state((1, 2, 4))["holes"] == 0
    assert g["parameters"] == h["parameters"] == 27


def test_influence_bad_input():
    with pytest.raises(ValueError, match="rates"):
        influence_counts(())
    with pytest.raises(TypeError, match="rates"):
        influence_counts(2)
    with pytest.raises(ValueError, match="kernel_size"):
        influence_counts((1, 2), kernel_size=2)
    with pytest.raises(ValueError, match="position"):
        influence_counts((1,), size=5, position=(5, 0))
    assert "Nothing to show" in influence_view((0, 1, 2))


def test_rf_growth_table_against_closed_forms():
    t = rf_growth_table(6, 64)
    assert t["plain"]["rf"] == [2 * l + 1 for l in range(1, 7)]
    assert t["dilated"]["rf"] == [2 ** (l + 1) - 1 for l in range(1, 7)]
    assert t["strided"]["rf"] == t["dilated"]["rf"]
    assert t["dilated"]["size"] == [64] * 6
    assert t["strided"]["size"] == [32, 16, 8, 4, 2, 1]


def test_drawings():
    fig = draw_dilated_kernel(np.arange(1.0, 10.0).reshape(3, 3), (1, 2))
    assert [ax.get_title() for ax in fig.axes] == ["d = 1: 3×3", "d = 2: 5×5"]
    assert sum(1 for p in fig.axes[1].patches if p.get_gid() == "highlight") == 9
    plt.close(fig)
    fig = draw_dilation_tower()
    assert "16 inputs" in fig.axes[0].get_title()
    plt.close(fig)
    fig = draw_influence([(2, 2, 2), (1, 2, 5)], size=21)
    assert len(fig.axes) == 2
    assert fig.axes[0].images[0].get_array().sum() == 49
    assert fig.axes[1].images[0].get_array().sum() == 17 * 17
    plt.close(fig)
    fig = plot_rf_growth()
    assert len(fig.axes) == 2
    plt.close(fig)


def test_svg_gallery_and_explorer():
    st = dilation_state((2, 2, 2), size=21)
    svg = influence_svg(st, cell=6)
    b64 = re.search(r'data-role="map" href="data:image/png;base64,([^"]+)"', svg).group(1)
    img = matplotlib.image.imread(io.BytesIO(base64.b64decode(b64)), format="png")
    assert img.shape[:2] == (21 * 6, 21 * 6)
    white = np.all(img[3::6, 3::6, :3] == 1.0, axis=-1)      # one sample per input pixel
    assert np.array_equal(~white, st["counts"] > 0)
    rows, cols = st["box"]
    assert int(white[rows, cols].sum()) == 13 * 13 - 49
    assert dilation_gallery().data.count("<svg") == len(PRESETS)
    pytest.importorskip("ipywidgets")
    box = dilation_explorer((2, 2, 2), size=21)
    view = box.children[1]
    assert "120 holes" in view.value
    box.children[0].children[0].value = 1
    box.children[0].children[2].value = 5
    assert "0 holes" in view.value
