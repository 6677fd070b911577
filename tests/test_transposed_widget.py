"""The transposed-convolution chapter's pure functions, drawings and explorer.

Oracles: PyTorch (conv_transpose2d, the direct-convolution equivalence, the resize-conv fix)
and brute-force counting loops (the overlap pattern; flat iff kernel_size % stride == 0).
"""

from __future__ import annotations

import base64
import io
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
from convlib.viz.transposed import (conv_transpose_as_conv, draw_conv_matrix,  # noqa: E402
                                    draw_zero_insertion, plot_overlap, plot_resize_conv,
                                    plot_stacked_overlap)
from convlib.widgets.transposed import (GALLERY, insert_zeros, overlap_counts,  # noqa: E402
                                        overlap_state, overlap_svg, overlap_view,
                                        resize_conv_counts, stacked_overlap, transposed_explorer,
                                        transposed_gallery)
from oracle import assert_close  # noqa: E402

pytestmark = pytest.mark.conv


def _brute_counts(n: int, k: int, s: int) -> np.ndarray:
    """Input i paints output cells i*s .. i*s + k - 1: count them one by one."""
    out = np.zeros((n - 1) * s + k)
    for i in range(n):
        for t in range(k):
            out[i * s + t] += 1
    return out


PAIRS = [(k, s) for k in range(1, 8) for s in range(1, 5)]


@pytest.mark.parametrize("k,s", PAIRS)
def test_overlap_counts_match_brute_force_and_torch(k, s):
    n = 6
    c1 = overlap_counts(n, k, s)
    assert_close(c1, _brute_counts(n, k, s), what="1-D counts")
    c2 = overlap_counts(n, k, s, ndim=2)
    t = TF.conv_transpose2d(torch.ones(1, 1, n, n, dtype=torch.float64),
                            torch.ones(1, 1, k, k, dtype=torch.float64), stride=s)[0, 0]
    assert_close(c2, t, what="2-D counts")
    assert_close(c2, np.outer(c1, c1), what="2-D = outer product")


@pytest.mark.parametrize("k,s", PAIRS)
def test_interior_flat_iff_kernel_divisible_by_stride(k, s):
    n = max(6, -(-(k - 1) // s) + 2)
    st = overlap_state(k, s, n)
    brute = _brute_counts(n, k, s)[k - 1:(n - 1) * s + 1]   # cells every input could reach
    assert st["flat"] == (k % s == 0) == (brute.min() == brute.max())
    assert st["low"] == brute.min() and st["high"] == brute.max()
    if k % s == 0:
        assert st["low"] == k // s
    else:
        assert {st["low"], st["high"]} == {k // s, k // s + 1}


def test_overlap_state_rejects_too_short_inputs_and_bad_args():
    with pytest.raises(ValueError, match="size"):
        overlap_state(7, 1, 2)
    with pytest.raises(ValueError, match="stride"):
        overlap_state(3, 0)
    with pytest.raises(TypeError):
        overlap_state(3.5, 2)
    assert "Nothing to show" in overlap_view(7, 1, 2)


def test_ratio_infinite_when_kernel_smaller_than_stride():
    st = overlap_state(1, 2)
    assert st["low"] == 0 and st["ratio"] == float("inf") and not st["flat"]


def test_stacking_makes_the_ripple_worse():
    ratios = []
    for layers in (1, 2, 3):
        y = stacked_overlap(3, 2, layers, 4)
        edge = 2 * sum(2 ** j for j in range(layers))
        inner = y[edge:y.size - edge]
        ratios.append(inner.max() / inner.min())
        # brute force: apply the 1-D scatter layers times
        z = np.ones(4)
        for _ in range(layers):
            w = np.zeros((z.size - 1) * 2 + 3)
            for i, v in enumerate(z):
                w[2 * i:2 * i + 3] += v
            z = w
        assert_close(y, z, what=f"{layers} stacked layers")
    assert ratios[0] < ratios[1] < ratios[2]


@pytest.mark.parametrize("k,s", [(3, 2), (4, 3), (5, 2), (2, 2)])
def test_resize_conv_is_flat_and_matches_torch(k, s):
    n = 6
    y = resize_conv_counts(n, k, s)
    up = TF.interpolate(torch.ones(1, 1, n, dtype=torch.float64), scale_factor=s, mode="nearest")
    t = TF.conv1d(up, torch.ones(1, 1, k, dtype=torch.float64))[0, 0]
    assert_close(y, t)
    assert np.all(y == k)


def test_insert_zeros_against_explicit_placement_and_no_mutation():
    x = np.arange(24.0).reshape(2, 3, 4)
    before = x.copy()
    z = insert_zeros(x, 3)
    assert z.shape == (2, 7, 10)
    expect = np.zeros((2, 7, 10))
    for i in range(3):
        for j in range(4):
            expect[:, 3 * i, 3 * j] = x[:, i, j]
    assert_close(z, expect)
    assert np.array_equal(x, before)
    assert np.array_equal(insert_zeros(x, 1), x)
    with pytest.raises(ValueError, match="gap"):
        insert_zeros(x, 0)
    with pytest.raises(ValueError, match="x"):
        insert_zeros(np.ones(3), 2)


@pytest.mark.parametrize("seed", range(12))
def test_conv_transpose_as_conv_equals_torch(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    s = int(rng.integers(1, 4))
    p = int(rng.integers(0, k + 1))
    a = int(rng.integers(0, s))
    x = rng.standard_normal((2, 3, int(rng.integers(2, 6)), int(rng.integers(2, 6))))
    w = rng.standard_normal((3, 2, k, k))
    try:
        t = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=s, padding=p,
                                output_padding=a)
    except RuntimeError:
        pytest.skip("torch refuses this geometry (empty output)")
    before = x.copy()
    assert_close(conv_transpose_as_conv(x, w, s, p, a), t)
    assert_close(F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a), t)
    assert np.array_equal(x, before)


def test_conv_transpose_as_conv_bad_input():
    with pytest.raises(ValueError, match="square"):
        conv_transpose_as_conv(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="channels"):
        conv_transpose_as_conv(np.ones((1, 2, 2, 2)), np.ones((3, 1, 2, 2)))
    with pytest.raises(ValueError, match="stride"):
        conv_transpose_as_conv(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=0)


def test_conv_matrix_transpose_is_conv_transpose():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 3))
    C = F.conv_matrix(w[None, None], (5, 5), stride=2, padding=1)
    y = rng.standard_normal((1, 1, 3, 3))
    t = TF.conv_transpose2d(torch.from_numpy(y), torch.from_numpy(w[None, None].copy()),
                            stride=2, padding=1)
    assert_close((C.T @ y.ravel()).reshape(5, 5), t[0, 0])


def test_drawings_show_what_they_claim():
    w = np.arange(1.0, 10.0).reshape(3, 3)
    fig = draw_conv_matrix(w, (4, 4))
    assert len(fig.axes) == 2
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (4, 16) and np.count_nonzero(img) == 4 * 9   # every row: all 9 taps
    assert fig.axes[1].images[0].get_array().shape == (16, 4)
    plt.close(fig)
    fig = draw_zero_insertion(np.ones((2, 2)), 3, 2)
    highlighted = sum(1 for p in fig.axes[0].patches if p.get_gid() == "highlight")
    assert highlighted == 4                                     # the four real pixels
    assert "5×5" in fig.axes[0].get_title()                     # (2-1)*2 + 3 = 5
    plt.close(fig)
    with pytest.raises(ValueError, match="padding"):
        draw_zero_insertion(np.ones((2, 2)), 3, 2, padding=3)
    for fig in (plot_overlap(3, 2), plot_stacked_overlap(), plot_resize_conv()):
        assert fig.axes
        plt.close(fig)
    fig = plot_overlap(4, 2)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert_close(np.array(heights), _brute_counts(6, 4, 2))
    plt.close(fig)


def test_svg_bars_and_gallery():
    st = overlap_state(3, 2)
    svg = overlap_svg(st)
    bars = [int(v) for v in re.findall(r'data-role="bar" data-count="(\d+)"', svg)]
    assert bars == _brute_counts(6, 3, 2).astype(int).tolist()
    b64 = re.search(r'data-role="map" href="data:image/png;base64,([^"]+)"', svg).group(1)
    img = matplotlib.image.imread(io.BytesIO(base64.b64decode(b64)), format="png")
    n = st["counts"].size
    cell = img.shape[0] // n
    assert img.shape[:2] == (n * cell, n * cell)
    lum = img[cell // 2::cell, cell // 2::cell, 0]           # one sample per map cell
    darker = lum < lum.max() - 1e-6
    assert np.array_equal(darker, st["counts_2d"] > st["counts_2d"].min())
    assert "uneven" in svg and "flat" in overlap_svg(overlap_state(4, 2))
    html = transposed_gallery().data
    assert html.count("<svg") == len(GALLERY)


def test_explorer_builds_and_updates():
    pytest.importorskip("ipywidgets")
    box = transposed_explorer(3, 2)
    sliders = box.children[0].children
    view = box.children[1]
    assert "uneven" in view.value
    sliders[0].value = 4
    assert "flat" in view.value
