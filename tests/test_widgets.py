"""The pure functions behind the sliding-window explorer, and its widget shell.

Oracle: PyTorch's conv2d (the value at each output cell) and numpy's own padding (which
cells are padding). The HTML and the widget are checked for what they show, not pixels.
"""

import re

import numpy as np
import pytest
import torch

from convlib.widgets import (
    demo_image,
    demo_kernel,
    explorer_view,
    sliding_window_explorer,
    sliding_window_html,
    sliding_window_state,
)
from oracle import assert_close

pytestmark = pytest.mark.book


def _configs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        h, w = rng.integers(2, 8, 2)
        kh, kw = rng.integers(1, 5, 2)
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple(int(v) for v in rng.integers(0, 3, 2))
        d = tuple(int(v) for v in rng.integers(1, 4, 2))
        if d[0] * (kh - 1) + 1 > h + 2 * p[0] or d[1] * (kw - 1) + 1 > w + 2 * p[1]:
            continue
        x = rng.integers(-3, 4, (h, w)).astype(float)
        k = rng.integers(-2, 3, (kh, kw)).astype(float)
        out.append((x, k, s, p, d))
    return out


def _torch_conv(x, k, s, p, d, bias=0.0):
    y = torch.nn.functional.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None],
                                   torch.tensor([bias], dtype=torch.float64), s, p, d)
    return y[0, 0].numpy()


@pytest.mark.parametrize("cfg", _configs(), ids=lambda c: f"{c[0].shape}k{c[1].shape}s{c[2]}p{c[3]}d{c[4]}")
def test_every_position_matches_torch_and_reports_its_cells(cfg):
    x, k, s, p, d = cfg
    expected = _torch_conv(x, k, s, p, d, bias=0.5)
    xp = np.pad(x, ((p[0], p[0]), (p[1], p[1])))
    pad_mask = np.pad(np.zeros(x.shape, bool), ((p[0], p[0]), (p[1], p[1])), constant_values=True)
    x0, k0 = x.copy(), k.copy()
    for pos in range(expected.size):
        st = sliding_window_state(x, k, s, p, d, pos, bias=0.5)
        i, j = st["out_index"]
        assert st["output_shape"] == expected.shape and (i, j) == divmod(pos, expected.shape[1])
        assert_close(st["value"], expected[i, j], what=f"value at {(i, j)}")
        # the reported cells, read from the padded image and weighted by the kernel, give it too
        window = xp[st["rows"] + p[0], st["cols"] + p[1]]
        assert_close(window, st["window"], what="window")
        assert_close((window * k).sum() + 0.5, expected[i, j], what="sum of the window's products")
        assert np.array_equal(st["is_padding"], pad_mask[st["rows"] + p[0], st["cols"] + p[1]])
    assert np.array_equal(x, x0) and np.array_equal(k, k0), "inputs modified"


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_pair_position_and_same_padding():
    x, k = demo_image(6), np.ones((2, 4))
    st = sliding_window_state(x, k, 1, "same", 1, (2, 3))
    flat = sliding_window_state(x, k, 1, "same", 1, 2 * 6 + 3)
    assert st["position"] == 15 and flat["out_index"] == (2, 3)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x)[None, None],
                                          torch.from_numpy(k)[None, None], padding="same")
    assert st["output_shape"] == (6, 6)
    assert_close(st["value"], expected[0, 0, 2, 3])


@pytest.mark.parametrize("kwargs, match", [
    (dict(dilation=3), "kernel_size"),             # 3x3 kernel dilated to 7 on a 5x5 input
    (dict(position=9), "position"),                # 3x3 output has positions 0..8
    (dict(position=(3, 0)), "position"),
    (dict(position=-1), "position"),
    (dict(stride=0), "stride"),
    (dict(padding=-1), "padding"),
    (dict(padding="full"), "padding"),
    (dict(dilation=(1, 0)), "dilation"),
])
def test_impossible_settings_are_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_window_state(demo_image(5), demo_kernel(3), **kwargs)


def test_wrong_kinds_name_the_argument():
    with pytest.raises(ValueError, match="x"):
        sliding_window_state(np.ones((1, 5, 5)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="weight"):
        sliding_window_state(np.ones((5, 5)), np.ones(3))
    with pytest.raises(TypeError, match="stride"):
        sliding_window_state(np.ones((5, 5)), np.ones((3, 3)), stride=1.5)
    with pytest.raises(TypeError, match="position"):
        sliding_window_state(np.ones((5, 5)), np.ones((3, 3)), position="0")


def test_html_shows_the_window_padding_and_current_cell():
    x, k = demo_image(5), demo_kernel(3)
    st = sliding_window_state(x, k, 2, 1, 1, 0)
    html = sliding_window_html(x, k, st)
    roles = re.findall(r'data-role="([a-z-]+)"', html)
    assert roles.count("window") + roles.count("window-padding") == 9
    assert roles.count("window-padding") == 5           # the top-left window covers 5 padding cells
    assert roles.count("window") + roles.count("window-padding") + roles.count("padding") >= 7 * 7 - 25
    assert roles.count("current") == 1
    assert f"<b>{int(st['value'])}</b>" in html


def test_explorer_view_explains_instead_of_raising():
    text, n = explorer_view(demo_image(3), demo_kernel(3), dilation=2)
    assert n == 0 and "No output" in text and "kernel" in text
    text, n = explorer_view(demo_image(5), demo_kernel(3), stride=2, padding=1, position=8)
    assert n == 9 and 'data-role="current"' in text


def test_widget_sliders_follow_the_output_size_and_never_raise():
    box = sliding_window_explorer()
    (left, right), view = box.children[0].children, box.children[1]
    pos, ks = left.children
    stride, padding, dilation = right.children
    assert pos.max == 8 and 'data-role="current"' in view.value   # 5x5 input, 3x3 kernel: 3x3 out
    pos.value = 8
    stride.value = 2                                              # output 2x2: position clamps
    assert pos.max == 3 and pos.value == 3
    ks.value, dilation.value = 5, 3                               # impossible: explained
    assert "No output" in view.value and pos.disabled
    dilation.value, ks.value, padding.value = 1, 3, 1
    assert not pos.disabled and 'data-role="current"' in view.value
