"""Bilinear-initialised transposed convolution against torch's bilinear interpolation,
interior and border; the upsampling explorer's state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convlib.functional as F
from convlib.functional import bilinear_kernel, bilinear_upsample_weight
from oracle import assert_close

pytestmark = pytest.mark.conv

TF = torch.nn.functional


def _fcn_upsample_filt(size):
    """``upsample_filt`` from Long et al.'s FCN code (surgery.py), the published oracle."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    return (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)


def _upsample(x, f):
    c = x.shape[1]
    return F.conv_transpose2d(x, bilinear_upsample_weight(c, f), stride=f, padding=f // 2)


def _interp(x, f):
    return TF.interpolate(torch.tensor(x), scale_factor=f, mode="bilinear",
                          align_corners=False).numpy()


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5, 8])
def test_kernel_is_fcns_upsample_filt(factor):
    k = 2 * factor - factor % 2
    assert_close(bilinear_kernel(factor), _fcn_upsample_filt(k))


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
def test_interior_equals_torch_bilinear(factor):
    rng = np.random.default_rng(factor)
    b = factor // 2
    for _ in range(5):
        n, c = (int(v) for v in rng.integers(1, 3, size=2))
        h, w = (int(v) for v in rng.integers(2, 7, size=2))
        x = rng.standard_normal((n, c, h, w))
        y, t = _upsample(x, factor), _interp(x, factor)
        assert y.shape == t.shape == (n, c, h * factor, w * factor)
        assert_close(y[..., b:y.shape[-2] - b, b:y.shape[-1] - b],
                     t[..., b:t.shape[-2] - b, b:t.shape[-1] - b], what="interior")


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
def test_border_rows_are_darker_by_the_missing_zero_padded_neighbour(factor):
    """On a constant image torch gives 1 everywhere (it clamps the source coordinate to the
    edge); the transposed conv gives 1 - |u| on the rows whose source coordinate
    u = (t + 0.5) / f - 0.5 lies outside the input, because its missing neighbour is a zero."""
    h = 5
    x = np.ones((1, 1, h, h))
    y, t = _upsample(x, factor), _interp(x, factor)
    assert_close(t, np.ones_like(t), what="torch on a constant image")
    rows = np.arange(h * factor)
    u = (rows + 0.5) / factor - 0.5
    outside = (u < 0) | (u > h - 1)
    # the measured border, along an interior column: exactly the f // 2 outermost rows
    differs = np.abs(y[0, 0] - t[0, 0])[:, h * factor // 2] > 1e-12
    b = factor // 2
    expected = np.zeros(h * factor, bool)
    expected[:b] = expected[h * factor - b:] = True
    assert np.array_equal(differs, expected)
    assert np.array_equal(outside, expected)
    # the value: 1 - distance to the edge pixel, (1 - |u|) x (1 - |v|) in the corners
    dist = np.where(u < 0, -u, np.where(u > h - 1, u - (h - 1), 0.0))
    profile = 1 - dist
    assert_close(y[0, 0], np.outer(profile, profile))
    if factor == 2:
        assert y[0, 0, 0, 2] == 0.75 and y[0, 0, 0, 0] == 0.5625


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_border_is_zero_padding_and_edge_padding_fixes_it(factor):
    """The whole output equals torch's interpolation of the input surrounded by one ring of
    zeros; surround it by a copy of its edge instead and the transposed conv equals torch
    everywhere."""
    rng = np.random.default_rng(10 + factor)
    x = rng.standard_normal((2, 3, 4, 5))
    f = factor
    zero_ring = _interp(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), f)[..., f:-f, f:-f]
    assert_close(_upsample(x, f), zero_ring, what="zero-padded interpolation")
    edge = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    assert_close(_upsample(edge, f)[..., f:-f, f:-f], _interp(x, f), what="edge padding")


def test_weight_does_not_mix_channels_and_torch_agrees():
    x = np.random.default_rng(4).standard_normal((1, 3, 4, 4))
    w = bilinear_upsample_weight(3, 2)
    assert w.shape == (3, 3, 4, 4)
    assert np.count_nonzero(w[0, 1]) == 0 and np.count_nonzero(w[2, 0]) == 0
    t = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1)
    assert_close(_upsample(x, 2), t)
    for c in range(3):
        assert_close(_upsample(x[:, c:c + 1], 2)[:, 0], _upsample(x, 2)[:, c])


@pytest.mark.parametrize("call, kind, word", [
    (lambda: bilinear_kernel(0), ValueError, "factor"),
    (lambda: bilinear_kernel(2.5), TypeError, "factor"),
    (lambda: bilinear_upsample_weight(0, 2), ValueError, "channels"),
    (lambda: bilinear_upsample_weight(2, -1), ValueError, "factor"),
])
def test_bad_input_names_the_argument(call, kind, word):
    with pytest.raises(kind, match=word):
        call()


def test_zero_insertion_figure_shows_input_flipped_kernel_and_output():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convlib.viz import draw_zero_insertion

    x = np.arange(1.0, 10.0).reshape(3, 3)
    w = np.random.default_rng(5).integers(-3, 4, size=(3, 3)).astype(float)
    fig = draw_zero_insertion(x, 3, stride=2, padding=1, output_padding=1, weight=w)
    padded, kernel, output = fig.axes
    assert sum(p.get_gid() == "highlight" for p in padded.patches) == 9      # the real pixels
    assert sum(p.get_gid() == "window" for p in padded.patches) == 1
    shown_kernel = [float(t.get_text()) for t in kernel.texts if not t.get_text().startswith("w")]
    assert shown_kernel == w[::-1, ::-1].ravel().tolist()
    t = TF.conv_transpose2d(torch.tensor(x[None, None]), torch.tensor(w[None, None]), stride=2,
                            padding=1, output_padding=1).numpy()[0, 0]
    shown = np.array([float(txt.get_text()) for txt in output.texts]).reshape(t.shape)
    assert_close(shown, t)
    assert "6×6" in output.get_title() and "6×6" in padded.get_title()
    plt.close(fig)
    # the old call (no weight, no at) still works
    fig = draw_zero_insertion(np.ones((2, 2)), 3, 2)
    assert len(fig.axes) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="at"):
        draw_zero_insertion(np.ones((2, 2)), 3, 2, at=(5, 0))
    with pytest.raises(ValueError, match="weight"):
        draw_zero_insertion(np.ones((2, 2)), 3, 2, weight=np.ones((2, 2)))


# ---- the three upsamplers and the explorer's state ---------------------------------------------
from convlib.widgets.upsampling import (METHODS, pixel_shuffle_upsample,  # noqa: E402
                                        resize_conv_upsample, transposed_upsample,
                                        upsampling_gallery, upsampling_html, upsampling_state,
                                        upsampling_view)


@pytest.mark.parametrize("f, k", [(2, 3), (3, 2), (2, 4), (1, 3)])
def test_three_upsamplers_equal_torch(f, k):
    rng = np.random.default_rng(20 + f * k)
    x = rng.standard_normal((2, 1, 6, 5))
    w = rng.standard_normal((k, k))
    ws = rng.standard_normal((f * f, k, k))
    xt = torch.tensor(x)
    assert_close(transposed_upsample(x, w, f),
                 TF.conv_transpose2d(xt, torch.tensor(w[None, None]), stride=f))
    nearest = TF.interpolate(xt, scale_factor=f, mode="nearest")
    assert_close(resize_conv_upsample(x, w, f), TF.conv2d(nearest, torch.tensor(w[None, None])))
    assert_close(pixel_shuffle_upsample(x, ws, f),
                 TF.pixel_shuffle(TF.conv2d(xt, torch.tensor(ws[:, None])), f))


def _brute_transposed_counts(n, k, f):
    out = np.zeros((n - 1) * f + k)
    for i in range(n):
        out[i * f:i * f + k] += 1
    return out


@pytest.mark.parametrize("f, k", [(2, 3), (2, 4), (3, 3), (3, 5), (2, 1), (1, 3), (4, 7)])
def test_state_flat_exactly_where_expected(f, k):
    st = upsampling_state(f, k, size=12, seed=1)
    assert st["methods"] == tuple(METHODS)
    # overlap counts: brute force for the transposed conv; k taps for the others
    assert_close(st["transposed"]["counts"], _brute_transposed_counts(12, k, f)[k - 1:11 * f + 1])
    for key in ("resize_conv", "pixel_shuffle", "pixel_shuffle_icnr"):
        assert np.all(st[key]["counts"] == k)
    # resize-conv and ICNR pixel shuffle keep a flat image flat, whatever f and k
    assert st["resize_conv"]["flat"] and st["pixel_shuffle_icnr"]["flat"]
    # with f >= 2, random kernels give a pattern of period f (a checkerboard) ...
    for key in ("transposed", "pixel_shuffle"):
        inner = st[key]["interior"]
        assert st[key]["flat"] == (f == 1)
        assert np.allclose(inner[f:, :], inner[:-f, :]) and np.allclose(inner[:, f:], inner[:, :-f])
    # ... even when k is a multiple of f and the overlap counts are flat
    if f > 1 and k % f == 0:
        assert np.all(st["transposed"]["counts"] == k // f) and st["transposed"]["spread"] > 0.05
    assert st["transposed"]["params"] == st["resize_conv"]["params"] == k * k
    assert st["pixel_shuffle"]["params"] == f * f * k * k


def test_state_spread_by_brute_force():
    """Transposed conv on a constant image: interior cell (a, b) of each f x f phase sums the
    kernel taps w[a + i f, b + j f] (computed here with a loop over the kernel)."""
    f, k = 2, 3
    st = upsampling_state(f, k, size=12, seed=0)
    w = np.random.default_rng(0).uniform(0.0, 1.0, (k, k))      # the state's first draw
    phase = np.zeros((f, f))
    for a in range(k):
        for b in range(k):
            phase[a % f, b % f] += w[a, b]
    inner = st["transposed"]["interior"]                         # starts at output cell k - 1
    start = (k - 1) % f
    tiles = -(-inner.shape[0] // f)
    expected = np.tile(np.roll(phase, (-start, -start), axis=(0, 1)), (tiles, tiles))
    expected = expected[:inner.shape[0], :inner.shape[1]]
    assert_close(inner, expected)
    assert_close(st["transposed"]["spread"], (phase.max() - phase.min()) / expected.mean())


def test_state_bad_input_and_view_messages():
    with pytest.raises(ValueError, match="size"):
        upsampling_state(2, 5, size=5)
    with pytest.raises(ValueError, match="factor"):
        upsampling_state(0, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        upsampling_state(2, 2.5)
    assert "No output" in upsampling_view(2, 3, seed=-1)


def test_html_and_gallery():
    st = upsampling_state(2, 3)
    html = upsampling_html(st)
    assert html.count('data-role="method"') == 4
    for key in METHODS:
        assert f'data-method="{key}" data-spread="{st[key]["spread"]:.6g}"' in html
    gallery = upsampling_gallery(((2, 3), (3, 5)))
    assert gallery.data.count('class="upsampling-view"') == 2


def test_drawings():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convlib.viz import (bilinear_row, draw_pixel_shuffle, plot_bilinear_border,
                             plot_upsampling_comparison)

    fig = draw_pixel_shuffle(channels=2, factor=2, size=2)
    *inputs, out0, out1 = fig.axes
    assert len(inputs) == 8
    y = TF.pixel_shuffle(torch.arange(32.0).reshape(8, 2, 2), 2).numpy()
    for ax, expect in ((out0, y[0]), (out1, y[1])):
        shown = np.array([float(t.get_text()) for t in ax.texts]).reshape(4, 4)
        assert np.array_equal(shown, expect)
    plt.close(fig)
    with pytest.raises(ValueError, match="factor"):
        draw_pixel_shuffle(factor=4)
    fig = plot_upsampling_comparison(upsampling_state(2, 3))
    assert len(fig.axes) == 9                                      # 2 x 4 panels + colour bar
    assert "flat" in fig.axes[1].get_title() and "spread" in fig.axes[0].get_title()
    plt.close(fig)
    row = np.random.default_rng(7).uniform(0, 1, 6)
    for f in (2, 3, 4):
        ours, ref = bilinear_row(row, f)
        t = TF.interpolate(torch.tensor(row[None, None]), scale_factor=f, mode="linear",
                           align_corners=False).numpy()[0, 0]
        assert_close(ref, t, what="np.interp reference")
        b = f // 2
        assert_close(ours[b:-b], t[b:-b], what="interior")
        assert np.all(np.abs(ours[:b] - t[:b]) > 1e-3)
    fig = plot_bilinear_border(row, 2)
    assert len(fig.axes[0].lines) == 3
    plt.close(fig)


@pytest.mark.parametrize("f, k", [(2, 3), (3, 2), (2, 1), (4, 2)])
def test_transposed_conv_is_conv_then_pixel_shuffle(f, k):
    """A stride-f transposed conv with an (f k) x (f k) kernel equals a convolution with the
    f*f sub-kernels w[a::f, b::f] (flipped, full padding k - 1) followed by pixel shuffle: the
    claim the chapter makes, checked with torch's own ops and with convlib's."""
    rng = np.random.default_rng(40 + f * k)
    w = rng.standard_normal((f * k, f * k))
    x = rng.standard_normal((2, 1, 5, 4))
    subs = np.stack([w[a::f, b::f][::-1, ::-1] for a in range(f) for b in range(f)])
    direct = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w[None, None]), stride=f)
    via_torch = TF.pixel_shuffle(TF.conv2d(torch.tensor(x), torch.tensor(subs[:, None].copy()),
                                           padding=k - 1), f)
    assert_close(via_torch.numpy(), direct, what="torch: conv + pixel shuffle")
    ours = F.pixel_shuffle(F.conv2d(x, subs[:, None], padding=k - 1), f)
    assert_close(ours, direct, what="convlib: conv + pixel shuffle")


def test_explorer_shell_follows_its_sliders():
    from convlib.widgets.upsampling import upsampling_explorer

    box = upsampling_explorer(factor=2, kernel_size=3)
    factor, kernel, seed = box.children[0].children
    view = box.children[1]
    assert view.value == upsampling_view(2, 3, 0)
    kernel.value = 4
    assert view.value == upsampling_view(2, 4, 0)
    factor.value = 3
    seed.value = 5
    assert view.value == upsampling_view(3, 4, 5)
