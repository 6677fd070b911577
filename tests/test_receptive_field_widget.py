"""The receptive-field explorer's pure state, its SVG, the widget shell, the drawings and
the effective-receptive-field measurements (convlib.widgets.receptive_field, convlib.viz.
receptive_field, convlib.erf).

Oracle: a brute-force gradient probe in PyTorch — the stack built from real torch layers with
all-ones kernels (no cancellation), an input of ones, and the gradient of one output with
respect to the input: the input pixels with a non-zero gradient are exactly the ones the
output depends on. Published figures: Araujo et al. (Distill 2019), AlexNet r = 195,
VGG-16 r = 212; He et al. (2016) Table 1 for ResNet-50's layer count.
"""

import copy

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from convlib import erf  # noqa: E402
from convlib.receptive_field import Layer  # noqa: E402
from convlib.viz import count_patches, draw_erf, draw_rf_on_image, rf_table  # noqa: E402
from convlib.widgets import (PRESETS, rf_explorer, rf_gallery, rf_stack_state,  # noqa: E402
                             rf_support, rf_svg, rf_view)

pytestmark = pytest.mark.receptive_field


def _torch_stack(layers):
    mods = []
    for spec in layers:
        k, s, p, d = (list(spec) + [1])[:4]
        conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
        torch.nn.init.ones_(conv.weight)
        mods.append(conv)
    return torch.nn.Sequential(*mods).double()


def _probe(layers, n, position):
    """Brute force: which input pixels have a non-zero gradient for output ``position``."""
    x = torch.ones(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    y = _torch_stack(layers)(x)
    i, j = position
    y[0, 0, i, j].backward()
    return (x.grad[0, 0] != 0).numpy(), tuple(y.shape[2:])


def _random_stacks(n=30, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        depth = int(rng.integers(1, 5))
        layers = [(int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(0, 3)),
                   int(rng.integers(1, 3))) for _ in range(depth)]
        size = int(rng.integers(8, 30))
        try:
            st = rf_stack_state(layers, size)
        except ValueError:
            continue
        ho = st["sizes"][-1]
        pos = (int(rng.integers(0, ho)), int(rng.integers(0, ho)))
        out.append((layers, size, pos))
    return out


@pytest.mark.parametrize("layers,size,pos", _random_stacks())
def test_mask_equals_brute_force_gradient_probe(layers, size, pos):
    st = rf_stack_state(layers, size, pos)
    probe, out_shape = _probe(layers, size, pos)
    assert st["sizes"][-1] == out_shape[0]
    np.testing.assert_array_equal(st["mask"], probe)


@pytest.mark.parametrize("layers,size,pos", _random_stacks(15, seed=1))
def test_region_equals_probe_on_an_input_with_no_border(layers, size, pos):
    """On a large input, an interior output's probed support spans exactly [i*S - P, ... + r - 1]."""
    st0 = rf_stack_state(layers, size)
    r, S, P = st0["r"], st0["S"], st0["P"]
    n = 4 * r + 4 * S * 4 + 8
    big = rf_stack_state(layers, n)
    i = (big["sizes"][-1] - 1) // 2
    probe, _ = _probe(layers, n, (i, i))
    rows = np.flatnonzero(probe.any(1))
    assert (rows.min(), rows.max()) == (i * S - P, i * S - P + r - 1)
    assert big["rows"] == (i * S - P, i * S - P + r - 1)
    assert (big["virtual"][0].min(), big["virtual"][0].max()) == big["rows"]


def test_dilation_leaves_holes_gridding():
    st = rf_stack_state(PRESETS["dilation 2 twice (gridding)"], 16)
    probe, _ = _probe(PRESETS["dilation 2 twice (gridding)"], 16, st["position"])
    np.testing.assert_array_equal(st["mask"], probe)
    assert st["support"][0].tolist() == [3, 5, 7, 9, 11]      # every other pixel
    assert st["r"] == 9                                         # the extent is still 9


def test_closed_forms_on_a_hand_example():
    # conv 3/1/1, pool 2/2/0, conv 3/1/1 : r = 1+2+1*1+2*2 = 8, S = 2, P = 1+0+1*2 = 3
    st = rf_stack_state([(3, 1, 1), (2, 2, 0), (3, 1, 1)], 16, (0, 5))
    assert (st["r"], st["S"], st["P"], st["c"]) == (8, 2, 3, 0.5)
    assert st["rows"] == (-3, 4) and st["cols"] == (7, 14)
    assert st["centre"] == (0.5, 10.5)
    assert st["outside"] == 3


def test_support_levels_and_padding():
    layers = [Layer(3, 1, 1), Layer(3, 2, 1)]
    sup = rf_support(layers, [6, 6, 3], 0)
    assert [s.tolist() for s in sup] == [[0, 1, 2], [0, 1], [0]]
    virt = rf_support(layers, [6, 6, 3], 0, virtual=True)
    assert [s.tolist() for s in virt] == [[-2, -1, 0, 1, 2], [-1, 0, 1], [0]]


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="position"):
        rf_stack_state([(3, 1, 1)], 8, (8, 0))
    with pytest.raises(TypeError, match="layers"):
        rf_stack_state((3, 1, 1), 8)
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        rf_stack_state([(3, 1, 1), "conv"], 8)
    with pytest.raises(ValueError, match="layers"):
        rf_stack_state([], 8)
    with pytest.raises(ValueError, match="input_size"):
        rf_stack_state([(3, 1, 1)], 0)
    with pytest.raises(ValueError, match="kernel"):
        rf_stack_state([(5, 1, 0)], 3)
    html, n = rf_view([(5, 1, 0)], 3)
    assert n == 0 and "No receptive field" in html


def test_inputs_not_modified():
    layers = [[3, 1, 1, 1], [2, 2, 0, 1]]
    before = copy.deepcopy(layers)
    rf_stack_state(layers, 10, [1, 2])
    assert layers == before


def test_svg_shows_the_state():
    st = rf_stack_state(PRESETS["3×3 conv, 2×2 pool, 3×3 conv"], 16, (2, 3))
    svg = rf_svg(st)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    tower_hits = sum(len(s) for s in st["support"][:-1])
    assert svg.count('data-role="rf"') == st["mask"].sum() + tower_hits
    assert svg.count('data-role="current"') == 1
    assert svg.count('data-role="region"') == 1 and svg.count('data-role="centre"') == 1
    assert "r = 8" in svg and "S = 2" in svg and "P = 3" in svg


def test_gallery_and_widget():
    html = rf_gallery().data
    assert html.count("<svg") == len(PRESETS)
    box = rf_explorer()
    view = box.children[-1]
    first = view.value
    rows_box = box.children[1]
    n_layers = len(rows_box.children)
    box.children[0].children[1].click()                 # add a 3x3 layer
    assert len(rows_box.children) == n_layers + 1 and view.value != first
    kernel = rows_box.children[0].children[1]
    kernel.value = 15                                    # too large for a 16 input after pooling?
    assert view.value                                    # shows a picture or an explanation
    rows_box.children[-1].children[-1].click()           # remove the last layer
    assert len(rows_box.children) == n_layers


def test_rf_table_published_figures():
    from convlib.models import alexnet, vgg16
    from convlib.receptive_field import of_model

    with torch.device("meta"):
        alex_net, vgg_net = alexnet(), vgg16()
    alex = rf_table(of_model(alex_net.features, 224))
    vgg = rf_table(of_model(vgg_net.features, 224))
    assert alex[-1].size == 195 and vgg[-1].size == 212       # Araujo et al., Table
    text = repr(alex)
    assert text.splitlines()[0].split()[:2] == ["layer", "type"] and "195" in text
    assert alex._repr_html_().count("<tr>") == len(alex) + 1


def test_main_path_of_resnet50():
    from convlib.models import resnet50

    with torch.device("meta"):
        model = resnet50()
    layers = erf.main_path_layers(model)
    # He et al. Table 1: the 7x7 conv, the max pool, 16 bottlenecks of three convs
    assert len(layers) == 2 + 16 * 3
    assert not any("shortcut" in layer.name for layer in layers)
    assert np.prod([layer.stride for layer in layers]) == 32


def test_draw_rf_on_image():
    img = np.zeros((3, 20, 20))
    fig = draw_rf_on_image(img, [(3, 1, 1), (2, 2, 0)], [(0, 0), (4, 4)])
    assert count_patches(fig, "rf") == 2
    plt.close(fig)


def test_draw_erf():
    fig = draw_erf([np.ones((5, 5)), np.eye(5)], ["a", "b"], [((0, 2), (0, 2)), None])
    assert count_patches(fig, "theoretical") == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        draw_erf([np.ones((5, 5))], ["a", "b"])


def test_effective_rf_support_is_the_theoretical_field():
    model = erf.random_conv_stack(3, activation=None, channels=4, seed=1)
    x = np.random.default_rng(0).standard_normal((2, 1, 15, 15))
    x0 = x.copy()
    m = erf.effective_rf(model, x)
    np.testing.assert_array_equal(x, x0)
    st = rf_stack_state([(3, 1, 1)] * 3, 15)
    np.testing.assert_array_equal(m > 0, st["mask"])


def test_erf_std_closed_forms():
    r = 9
    uniform = np.zeros((20, 20))
    uniform[3:3 + r, :] = 1
    assert erf.erf_std(uniform) == pytest.approx(np.sqrt((r * r - 1) / 12))
    with pytest.raises(ValueError, match="erf_map"):
        erf.erf_std(-np.ones((3, 3)))


def test_linear_random_stack_width_is_sqrt_2n_over_3():
    """Linear stack, iid zero-mean weights: E[g^2] along an axis is the n-fold convolution of
    a uniform 3-tap distribution, whose standard deviation is sqrt(2n/3)."""
    for depth in (2, 6):
        m = erf.random_stack_erf(depth, n_seeds=24, activation=None, channels=4, batch=1)
        assert erf.erf_std(m) == pytest.approx(np.sqrt(2 * depth / 3), rel=0.15)
