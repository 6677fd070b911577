"""The book's drawings: what each figure highlights, and the numbers it shows.

Oracles: PyTorch (conv2d, unfold, channels_last strides) and brute-force address formulas.
Figures are inspected through their patches (gid "highlight" / "padding"), never shown.
"""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from convlib import viz  # noqa: E402
from convlib.widgets import demo_image, demo_kernel  # noqa: E402
from oracle import assert_close  # noqa: E402

pytestmark = pytest.mark.book


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_importing_convlib_loads_neither_matplotlib_nor_ipywidgets():
    code = ("import sys, convlib, convlib.widgets; "
            "print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_grid_highlights_and_padding_cells():
    values = np.arange(12.0).reshape(3, 4)
    pad = np.zeros((3, 4), bool)
    pad[0] = True
    fig = viz.draw_grid(values, highlight=[(1, 1), (2, 3), (0, 0)], padding=pad)
    assert isinstance(fig, plt.Figure)
    assert viz.count_patches(fig, "highlight") == 3
    assert viz.count_patches(fig, "padding") == 4
    with pytest.raises(ValueError, match="highlight"):
        viz.draw_grid(values, highlight=[(3, 0)])


@pytest.mark.parametrize("stride, padding, dilation, position", [
    (1, 0, 1, 4), (2, 1, 1, 0), (1, 2, 2, 5), ((2, 1), (0, 1), (1, 2), 3)])
def test_conv_step_highlights_one_window_and_one_output_cell(stride, padding, dilation, position):
    x, k = demo_image(5), demo_kernel(3)
    fig = viz.draw_conv_step(x, k, stride, padding, dilation, position)
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    expected = torch.nn.functional.conv2d(torch.from_numpy(x)[None, None],
                                          torch.from_numpy(k)[None, None], None,
                                          stride, padding, dilation)[0, 0].numpy()
    assert viz.count_patches(fig.axes[0], "highlight") == 9
    assert viz.count_patches(fig.axes[2], "highlight") == 1
    assert viz.count_patches(fig.axes[0], "padding") == (5 + 2 * ph) * (5 + 2 * pw) - 25
    i, j = divmod(position, expected.shape[1])
    assert fig.axes[2].get_title() == f"out[{i}, {j}] = {expected[i, j]:g}"
    shown = [t.get_text() for t in fig.axes[2].texts]
    assert shown == [f"{v:g}" for v in expected.ravel()]


def test_animation_has_one_frame_per_output_position_and_embeds_offline():
    x, k = demo_image(5), demo_kernel(3)
    anim = viz.animate_conv(x, k, stride=2, padding=1)           # 3x3 output
    assert len(list(anim.new_frame_seq())) == 9
    html = viz.animation_html(anim).data
    assert html.count("data:image/png;base64") == 9
    assert "<script src=" not in html and "http" not in html and 'class="fa' not in html
    assert ".play_animation()" in html.split("new Animation")[-1]     # starts by itself
    with pytest.raises(ValueError, match="max_frames"):
        viz.animate_conv(demo_image(8), k, max_frames=16)        # 6x6 = 36 positions


def test_im2col_picture_shows_torch_unfold_with_one_column_highlighted():
    x = np.arange(20.0).reshape(4, 5)
    fig = viz.draw_im2col(x, 3, stride=1, padding=1, dilation=1, column=7)
    ax_in, ax_m = fig.axes
    assert viz.count_patches(ax_in, "highlight") == 9
    assert viz.count_patches(ax_m, "highlight") == 9
    cols = torch.nn.functional.unfold(torch.from_numpy(x)[None, None], 3, padding=1)[0].numpy()
    shown = np.array([float(t.get_text()) for t in ax_m.texts]).reshape(cols.shape)
    assert_close(shown, cols, what="im2col matrix as drawn")


@pytest.mark.parametrize("shape", [(3, 2, 2), (2, 3, 4), (1, 2, 3)])
def test_memory_order_matches_address_formulas_and_torch_strides(shape):
    c, h, w = shape
    for fmt, addr in (("NCHW", lambda ci, hi, wi: (ci * h + hi) * w + wi),
                      ("NHWC", lambda ci, hi, wi: (hi * w + wi) * c + ci)):
        order = viz.memory_order(shape, fmt)
        assert [addr(*e) for e in order] == list(range(c * h * w))
    fig = viz.draw_memory_layout(shape, highlight_pixel=(h - 1, 0))
    assert viz.count_patches(fig, "highlight") == 2 * c
    nhwc = torch.empty(1, c, h, w).to(memory_format=torch.channels_last).stride()
    nchw = torch.empty(1, c, h, w).stride()
    assert f"C: {nchw[1]}, H: {nchw[2]}, W: {nchw[3]}" in fig.axes[0].get_title()
    assert f"H: {nhwc[2]}, W: {nhwc[3]}, C: {nhwc[1]}" in fig.axes[1].get_title()


def test_book_style_integer_ticks_and_text_size():
    import matplotlib as mpl

    from convlib.viz import integer_ticks, smallest_text_px, use_book_style

    with mpl.rc_context():
        use_book_style()
        assert mpl.rcParams["figure.dpi"] == 100
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot([0, 1, 2, 3], [0.0, 0.4, 0.8, 1.2])
        integer_ticks(ax)
        fig.canvas.draw()
        ticks = list(ax.get_xticks()) + list(ax.get_yticks())
        assert all(float(t).is_integer() for t in ticks)
        plt.close(fig)
    # text of 10 pt at 100 dpi is 13.9 px; a 10-inch figure is shrunk to 750 px, and its text
    # with it: 10 * 100 / 72 * 750 / 1000 = 10.4 px (brute force: the ratio of the two)
    fig = plt.figure(figsize=(10, 2), dpi=100)
    fig.text(0.5, 0.5, "label", fontsize=10)
    fig.text(0.1, 0.1, "   ", fontsize=4)  # blank text is not counted
    assert abs(smallest_text_px(fig) - 10 * 100 / 72 * 0.75) < 1e-9
    plt.close(fig)
    with pytest.raises(ValueError, match="axis"):
        integer_ticks(plt.gca(), "z")
    plt.close("all")
