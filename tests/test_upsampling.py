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
