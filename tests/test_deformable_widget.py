"""The deformable-convolution explorer and drawings (convlib/widgets/deformable.py,
convlib/viz/deformable.py): the sampling positions they draw are the ones deform_conv2d
uses (probed with one-hot and coordinate images), the values agree with a torch reference
built on grid_sample, and bad input is refused by name.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import convlib.functional as F  # noqa: E402
from convlib import viz, widgets  # noqa: E402
from convlib.widgets.deformable import (DEFORM_PRESETS, bilinear_terms, deform_state,  # noqa: E402
                                        deform_svg, deform_view, grid_offsets, offset_field)
from deform_oracle import deform_conv2d_torch  # noqa: E402
from oracle import assert_close  # noqa: E402

pytestmark = pytest.mark.deformable

SETTINGS = [(0, 0, 1, 0), (1.5, -2, 1, 0), (0, 0, 2.5, 0), (0, 0, 1, 30), (0.25, 0.5, 2, 45),
            (0, 0, 0.5, -90), (2, 2, 1.5, 170)]


@pytest.mark.parametrize("setting", SETTINGS)
def test_drawn_positions_are_the_ones_deform_conv2d_samples(setting):
    """Bilinear interpolation reproduces a linear function exactly, so sampling the image
    'row index' with a one-hot weight on tap t returns the y of tap t (same for x)."""
    h, w = 16, 16
    st = deform_state(np.zeros((h, w)), None, (7, 8), *setting)
    rows = np.repeat(np.arange(h, dtype=float)[:, None], w, 1)
    cols = rows.T.copy()
    field = offset_field(st["offsets"], (h, w))
    for t, (y, x) in enumerate(st["positions"]):
        if not (0 <= y <= h - 1 and 0 <= x <= w - 1):
            continue
        weight = np.zeros((1, 1, 3, 3))
        weight.flat[t] = 1.0
        got_y = F.deform_conv2d(rows[None, None], field, weight, padding=1)[0, 0, 7, 8]
        got_x = F.deform_conv2d(cols[None, None], field, weight, padding=1)[0, 0, 7, 8]
        assert_close(np.array([got_y, got_x]), np.array([y, x]), what=f"tap {t}")


def test_one_hot_pixel_is_picked_up_by_the_tap_drawn_on_it():
    h, w = 12, 12
    st = deform_state(np.zeros((h, w)), None, (5, 6), 1.0, -2.0, 2.0, 90.0)  # integer positions
    field = offset_field(st["offsets"], (h, w))
    for t, (y, x) in enumerate(np.rint(st["positions"]).astype(int)):
        img = np.zeros((1, 1, h, w))
        img[0, 0, y, x] = 1.0
        for u in range(9):
            weight = np.zeros((1, 1, 3, 3))
            weight.flat[u] = 1.0
            got = F.deform_conv2d(img, field, weight, padding=1)[0, 0, 5, 6]
            assert got == pytest.approx(1.0 if u == t else 0.0, abs=1e-12), (t, u)


def test_grid_offsets_geometry():
    i, j = np.divmod(np.arange(9), 3)
    rel = np.stack([i - 1, j - 1], 1).astype(float)
    assert_close(grid_offsets(3), np.zeros((9, 2)))
    assert_close(grid_offsets(3, dy=1.5, dx=-2), np.tile([1.5, -2.0], (9, 1)))
    assert_close(grid_offsets(3, scale=2), rel)                  # a dilation-2 grid
    rot = grid_offsets(3, angle=90) + rel                        # right tap goes up
    assert_close(rot[5], np.array([-1.0, 0.0]), what="tap (1, 2) rotated 90°")
    assert_close(grid_offsets((3, 3), dilation=2) , np.zeros((9, 2)))


def test_field_layout_is_interleaved_dy_dx():
    off = np.arange(18.0).reshape(9, 2)
    field = offset_field(off, (2, 3), batch=2)
    assert field.shape == (2, 18, 2, 3)
    assert_close(field[1, :, 1, 2], np.arange(18.0))


def test_state_values_match_torch_and_conv2d():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((10, 11))
    weight = rng.standard_normal((3, 3))
    mask = rng.uniform(0, 1, 9)
    st = deform_state(img, weight, (4, 3), 0.3, -1.2, 1.7, 20.0, mask=mask)
    field = torch.from_numpy(offset_field(st["offsets"], st["output"].shape))
    m = torch.from_numpy(np.broadcast_to(mask.reshape(1, 9, 1, 1), (1, 9) + st["output"].shape).copy())
    ref = deform_conv2d_torch(torch.from_numpy(img)[None, None], field,
                              torch.from_numpy(weight)[None, None], padding=1, mask=m)[0, 0]
    assert_close(st["output"], ref)
    assert st["value"] == pytest.approx(float(ref[4, 3]))
    assert st["value"] == pytest.approx(float(np.sum(weight.ravel() * mask * st["samples"])))
    plain = torch.nn.functional.conv2d(torch.from_numpy(img)[None, None],
                                       torch.from_numpy(weight)[None, None], padding=1)[0, 0]
    assert st["plain"] == pytest.approx(float(plain[4, 3]))
    zero = deform_state(img, weight, (4, 3))
    assert_close(zero["output"], plain)


def test_bilinear_terms_formula_and_zeros_outside():
    img = np.arange(12.0).reshape(3, 4)
    terms = bilinear_terms(img, 1.25, 2.5)
    assert [(r, c) for r, c, _, _ in terms] == [(1, 2), (1, 3), (2, 2), (2, 3)]
    assert [wt for _, _, wt, _ in terms] == pytest.approx([0.375, 0.375, 0.125, 0.125])
    assert sum(wt * v for _, _, wt, v in terms) == pytest.approx(1.25 * 4 + 2.5)  # linear image
    outside = bilinear_terms(img, -0.5, 3.5)
    assert sum(wt * v for _, _, wt, v in outside) == pytest.approx(0.25 * img[0, 3])
    assert sum(wt * v for _, _, wt, v in bilinear_terms(img, -1.0, 0.0)) == 0.0


def test_inputs_not_modified():
    img = np.random.default_rng(1).standard_normal((8, 8))
    before = img.copy()
    deform_state(img, None, None, 1, 1, 2, 30)
    bilinear_terms(img, 2.5, 3.5)
    assert np.array_equal(img, before)


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"image": np.zeros(5)}, ValueError, "image"),
    ({"scale": "big"}, TypeError, "scale"),
    ({"angle": float("nan")}, ValueError, "angle"),
    ({"position": (40, 0)}, ValueError, "position"),
    ({"mask": np.ones(4)}, ValueError, "mask"),
])
def test_bad_input_named(kwargs, exc, word):
    args = {"image": np.zeros((6, 6)), **kwargs}
    with pytest.raises(exc, match=word):
        deform_state(**args)


def test_svg_draws_every_tap_at_its_position():
    st = deform_state(np.ones((8, 8)), None, None, 0.5, 0, 2.0, 0)
    svg = deform_svg(st, cell=10)
    assert svg.count('data-role="regular"') == 9 and svg.count('data-role="sample"') == 9
    assert f'data-y="{st["positions"][0, 0]:.4f}"' in svg
    assert "Nothing to show" in deform_view(np.zeros((2, 2)), position=(9, 9))
    html = widgets.deformable_gallery().data
    assert html.count("<svg") == len(DEFORM_PRESETS)


def test_explorer_builds_and_updates_quickly():
    import time
    box = widgets.deformable_explorer()
    sliders = [c for col in box.children[0].children for c in col.children]
    view = box.children[1]
    before = view.value
    t0 = time.perf_counter()
    sliders[3].value = 45.0
    assert time.perf_counter() - t0 < 0.5
    assert view.value != before


def test_drawings_have_the_right_points():
    img = widgets.demo_deform_image(12)
    fig = viz.draw_sampling_grids(img, dict(list(DEFORM_PRESETS.items())[:3]))
    assert len(fig.axes) == 3
    samples = [c for c in fig.axes[2].collections if c.get_gid() == "sample"][0]
    st = deform_state(img, None, None, *list(DEFORM_PRESETS.values())[2])
    assert_close(np.asarray(samples.get_offsets()), st["positions"][:, ::-1])
    plt.close(fig)
    fig = viz.draw_bilinear(img, 3.3, 4.75)
    assert "bilinear sample" in fig.axes[0].get_title()
    plt.close(fig)
    fig = viz.plot_offset_fit([1.0, 0.1, 0.01], np.zeros((9, 2)), grid_offsets(3, scale=2))
    assert len(fig.axes) == 2
    plt.close(fig)
