"""The pooling explorer's pure state, its HTML, the widget shell, the drawings and the
translation experiment's helpers.

Oracles: PyTorch (pooled values, autograd gradients, argmax indices, and the window counts and
divisors recovered from pooling a tensor of ones) and brute force for the shifted images and
cosine distances. The HTML and the figures are checked for what they show, not for pixels.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

from convlib import viz  # noqa: E402
from convlib.viz import count_patches  # noqa: E402
from convlib.viz.pooling import (cosine_distance, draw_pooling, plot_shift_distances,  # noqa: E402
                                 shift_distances, shift_images)
from convlib.widgets.pooling import (GALLERY, demo_pool_input, pooling_explorer,  # noqa: E402
                                     pooling_html, pooling_state, pooling_static, pooling_view)
from oracle import assert_close  # noqa: E402

pytestmark = pytest.mark.pooling


def _configs(n=60, seed=0):
    """Random valid settings: (x, kernel, stride, padding, ceil_mode, count_include_pad)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        h, w = (int(v) for v in rng.integers(1, 8, 2))
        k = tuple(int(v) for v in rng.integers(1, 5, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple(int(rng.integers(0, ki // 2 + 1)) for ki in k)
        ceil = bool(rng.integers(0, 2))
        if any(ki > hi + 2 * pi for ki, hi, pi in zip(k, (h, w), p)):
            continue
        x = rng.standard_normal((h, w))
        out.append((x, k, s, p, ceil, bool(rng.integers(0, 2))))
    return out


CONFIGS = _configs()


@pytest.mark.parametrize("x, k, s, p, ceil, cip", CONFIGS)
def test_max_state_matches_torch(x, k, s, p, ceil, cip):
    g = np.random.default_rng(1)
    xt = torch.tensor(x[None, None], requires_grad=True)
    yt, it = TF.max_pool2d(xt, k, s, p, ceil_mode=ceil, return_indices=True)
    go = g.standard_normal(tuple(yt.shape[2:]))
    yt.backward(torch.from_numpy(go)[None, None])
    st = pooling_state(x, k, s, p, ceil, "max", grad_output=go)
    assert st["output_shape"] == tuple(yt.shape[2:])
    assert_close(st["output"], yt[0, 0], what="output")
    assert_close(st["grad_input"], xt.grad[0, 0], what="grad_input")
    flat = st["argmax"][..., 0] * x.shape[1] + st["argmax"][..., 1]
    np.testing.assert_array_equal(flat, it[0, 0].numpy())
    assert st["divisor"] is None


@pytest.mark.parametrize("x, k, s, p, ceil, cip", CONFIGS)
def test_avg_state_matches_torch(x, k, s, p, ceil, cip):
    xt = torch.tensor(x[None, None], requires_grad=True)
    yt = TF.avg_pool2d(xt, k, s, p, ceil_mode=ceil, count_include_pad=cip)
    yt.sum().backward()
    st = pooling_state(x, k, s, p, ceil, "avg", cip, grad_output=np.ones(tuple(yt.shape[2:])))
    assert_close(st["output"], yt[0, 0], what="output")
    assert_close(st["grad_input"], xt.grad[0, 0], what="grad_input")
    # divisor: (sum of the real cells of a window of ones) / (torch's average of those ones)
    ones = torch.ones_like(xt)
    real = TF.avg_pool2d(ones, k, s, p, ceil_mode=ceil, divisor_override=1)[0, 0]
    mean = TF.avg_pool2d(ones, k, s, p, ceil_mode=ceil, count_include_pad=cip)[0, 0]
    assert_close(st["divisor"], (real / mean).detach(), what="divisor")


@pytest.mark.parametrize("x, k, s, p, ceil, cip", CONFIGS[:20])
def test_coverage_and_window_geometry(x, k, s, p, ceil, cip):
    xt = torch.tensor(x[None, None], requires_grad=True)
    TF.avg_pool2d(xt, k, s, p, ceil_mode=ceil, divisor_override=1).sum().backward()
    st = pooling_state(x, k, s, p, ceil, "max")
    np.testing.assert_array_equal(st["coverage"], xt.grad[0, 0].numpy())
    ho, wo = st["output_shape"]
    kinds = st["grid_kinds"]
    top, left = st["grid_origin"]
    for pos in range(ho * wo):  # every window lies in the drawn grid, starting at i*s - p
        i, j = divmod(pos, wo)
        w = pooling_state(x, k, s, p, ceil, "max", position=pos)
        assert w["out_index"] == (i, j)
        np.testing.assert_array_equal(w["rows"], i * s[0] - p[0] + np.arange(k[0]))
        np.testing.assert_array_equal(w["cols"], j * s[1] - p[1] + np.arange(k[1]))
        assert w["rows"][0] + top >= 0 and w["rows"][-1] + top < kinds.shape[0]
        assert w["cols"][0] + left >= 0 and w["cols"][-1] + left < kinds.shape[1]
    h, wd = x.shape
    assert (kinds[top:top + h, left:left + wd] == "input").all()
    assert (kinds == "input").sum() == h * wd
    assert (kinds == "padding").sum() == (h + 2 * p[0]) * (wd + 2 * p[1]) - h * wd


def test_ceil_mode_adds_a_window_past_the_edge():
    x = demo_pool_input(5)
    floor = pooling_state(x, 2, 2)
    ceil = pooling_state(x, 2, 2, ceil_mode=True, position=8)
    assert floor["output_shape"] == (2, 2) and ceil["output_shape"] == (3, 3)
    assert (floor["coverage"][4] == 0).all() and (floor["coverage"][:, 4] == 0).all()
    assert (ceil["coverage"] >= 1).all()
    # the last window covers x[4, 4] and three cells past the input
    kinds = ceil["grid_kinds"]
    assert kinds.shape == (6, 6) and (kinds[5] == "beyond").all() and (kinds[:, 5] == "beyond").all()
    assert ceil["value"] == x[4, 4]


def test_count_include_pad_changes_only_border_divisors():
    x = np.full((4, 4), 6.0)
    inc = pooling_state(x, 3, 2, 1, mode="avg", count_include_pad=True)
    exc = pooling_state(x, 3, 2, 1, mode="avg", count_include_pad=False)
    np.testing.assert_array_equal(inc["divisor"], np.full((2, 2), 9.0))
    np.testing.assert_array_equal(exc["divisor"], [[4.0, 6.0], [6.0, 9.0]])
    np.testing.assert_array_equal(exc["output"], np.full((2, 2), 6.0))  # a constant stays constant
    np.testing.assert_array_equal(inc["output"], [[6 * 4 / 9, 6 * 6 / 9], [6 * 6 / 9, 6.0]])


def test_default_grad_output_numbers_the_windows():
    st = pooling_state(demo_pool_input(4), 2)
    np.testing.assert_array_equal(st["grad_output"], [[1.0, 2.0], [3.0, 4.0]])
    assert sorted(st["grad_input"][st["grad_input"] != 0]) == [1.0, 2.0, 3.0, 4.0]


def test_bad_settings_raise_with_the_argument_named():
    x = demo_pool_input()
    with pytest.raises(ValueError, match="padding"):
        pooling_state(x, 2, 2, 2)
    with pytest.raises(ValueError, match="mode"):
        pooling_state(x, mode="min")
    with pytest.raises(ValueError, match="position"):
        pooling_state(x, 2, position=4)
    with pytest.raises(ValueError, match="grad_output"):
        pooling_state(x, 2, grad_output=np.ones((3, 3)))
    with pytest.raises(ValueError, match="x"):
        pooling_state(np.ones((1, 1, 3, 3)))
    with pytest.raises(TypeError, match="count_include_pad"):
        pooling_state(x, mode="avg", count_include_pad="yes")
    with pytest.raises(TypeError, match="kernel_size"):
        pooling_state(x, kernel_size=2.5)


def test_inputs_are_not_modified():
    x = demo_pool_input()
    g = np.arange(4.0).reshape(2, 2)
    x0, g0 = x.copy(), g.copy()
    pooling_state(x, 2, grad_output=g)
    pooling_html(x, pooling_state(x, 3, 1, 1, mode="avg"))
    plt.close(draw_pooling(x, 2, grad_output=g))
    shift_images(x[None, None], 2)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


def _roles(html: str) -> dict:
    found = re.findall(r'data-role="([a-z-]+)"', html)
    return {r: found.count(r) for r in set(found)}


@pytest.mark.parametrize("cfg", GALLERY)
def test_html_shows_the_window_its_max_and_the_gradients(cfg):
    x = demo_pool_input()
    st = pooling_state(x, **cfg, position=1)
    html = pooling_html(x, st)
    roles = _roles(html)
    k = st["kernel_size"]
    in_window = sum(roles.get(r, 0) for r in ("window", "window-padding", "argmax"))
    in_window += sum(1 for r in st["rows"] for c in st["cols"]
                     if st["grid_kinds"][r + st["grid_origin"][0], c + st["grid_origin"][1]] == "beyond")
    assert in_window == k[0] * k[1]
    assert roles.get("argmax", 0) == (1 if cfg["mode"] == "max" else 0)
    assert roles["current"] == 2  # the output cell and its grad_output cell
    assert roles.get("grad", 0) == int(np.count_nonzero(st["grad_input"]))
    assert f"{st['output_shape'][0]}x{st['output_shape'][1]}" in html


def test_view_explains_refused_settings():
    html, n = pooling_view(demo_pool_input(), 2, 1, 2)
    assert n == 0 and "No output" in html and "half the kernel" in html
    html, n = pooling_view(demo_pool_input(), 3, 1, 1, mode="avg")
    assert n == 25 and "<table" in html


def test_explorer_shell_updates_and_survives_bad_settings():
    box = pooling_explorer()
    controls, view = box.children
    left, right = controls.children
    ks, st, pd, pos = left.children
    md, cm, ci = right.children
    assert "max pooling, kernel 2, stride 2" in view.value and pos.max == 3
    ks.value = 3
    st.value = 1
    assert "kernel 3, stride 1" in view.value and pos.max == 8
    pos.value = 8
    assert "out[2, 2]" in view.value
    pd.value = 2  # more than half the kernel: explained, not crashed
    assert "No output" in view.value
    pd.value = 1
    md.value = "avg"
    assert not ci.disabled and "count_include_pad=True" in view.value
    ci.value = False
    assert "count_include_pad=False" in view.value
    cm.value = True
    assert "ceil_mode" in view.value


def test_draw_pooling_shows_every_piece():
    x = demo_pool_input()
    fig = draw_pooling(x, 3, 1, mode="max")
    assert len(fig.axes) == 4
    assert count_patches(fig.axes[0], "highlight") == 9
    assert count_patches(fig, "padding") == 0
    marks = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("▲")]
    assert sum(int(m[1:]) for m in marks) == 9  # every one of the 3x3 windows picked one cell
    assert count_patches(fig.axes[0], "argmax") == 1
    plt.close(fig)
    fig = draw_pooling(x, 3, 2, 1, mode="avg")
    assert count_patches(fig.axes[0], "padding") == 7 * 7 - 25
    assert not any(t.get_text().startswith("▲") for t in fig.axes[0].texts)
    assert count_patches(fig, "argmax") == 0
    plt.close(fig)
    figs = pooling_static()
    assert len(figs) == len(GALLERY)
    for f in figs:
        plt.close(f)


def test_shift_images_against_brute_force():
    rng = np.random.default_rng(0)
    im = rng.standard_normal((2, 3, 6, 7))
    for s in range(4):
        right = shift_images(im, s)
        down = shift_images(im, s, axis=-2)
        for c in range(7):
            np.testing.assert_array_equal(right[..., c], im[..., max(c - s, 0)])
        for r in range(6):
            np.testing.assert_array_equal(down[..., r, :], im[..., max(r - s, 0), :])
    with pytest.raises(ValueError, match="shift"):
        shift_images(im, 7)
    with pytest.raises(ValueError, match="axis"):
        shift_images(im, 1, axis=1)


def test_cosine_distance_and_shift_distances():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 3))
    brute = [1 - np.dot(u.ravel(), v.ravel()) / np.linalg.norm(u) / np.linalg.norm(v) for u, v in zip(a, b)]
    assert_close(cosine_distance(a, b), np.array(brute))
    assert_close(cosine_distance(a, 3 * a), np.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        cosine_distance(a, b[:3])
    im = rng.uniform(0, 1, (3, 1, 8, 8))
    d = shift_distances(lambda v: v, im, (0, 1, 2))
    assert d.shape == (3, 3) and np.allclose(d[0], 0)
    # a global average barely moves, the raw pixels move a lot
    d_mean = shift_distances(lambda v: v.mean(axis=(2, 3)) + 0 * v[:, :, 0, 0], im, (0, 2))
    assert np.all(d_mean[1] < d[2])
    fig = plot_shift_distances([0, 1, 2], {"pixels": d})
    assert len(fig.axes[0].lines) == 1
    plt.close(fig)


def test_rotate_images_by_quarter_turns_equals_rot90():
    # oracle: numpy's exact quarter-turn rotation (counter-clockwise, row 0 at the top)
    rng = np.random.default_rng(0)
    imgs = rng.standard_normal((2, 3, 7, 7))
    assert np.allclose(viz.rotate_images(imgs, 0), imgs)
    assert np.allclose(viz.rotate_images(imgs, 90), np.rot90(imgs, 1, axes=(-2, -1)))
    assert np.allclose(viz.rotate_images(imgs, -90), np.rot90(imgs, -1, axes=(-2, -1)))
    assert np.allclose(viz.rotate_images(imgs, 180), imgs[..., ::-1, ::-1])


def test_rotate_images_small_angle_keeps_centre_and_size_and_input():
    img = np.zeros((9, 9))
    img[4, 4] = 1.0
    before = img.copy()
    out = viz.rotate_images(img, 10)
    assert out.shape == img.shape and out[4, 4] == 1.0
    assert np.array_equal(img, before)


def test_rotation_distances_zero_at_zero_angle():
    rng = np.random.default_rng(1)
    imgs = rng.standard_normal((4, 1, 8, 8))
    d = viz.rotation_distances(lambda b: b, imgs, angles=(0, 15))
    assert d.shape == (2, 4)
    assert np.allclose(d[0], 0) and (d[1] > 0.01).all()
