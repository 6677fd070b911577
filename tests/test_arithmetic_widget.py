"""The convolution-arithmetic explorer (convlib.widgets.arithmetic) and its drawings
(convlib.viz.arithmetic), against PyTorch shapes and a brute-force impulse probe."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from convlib.viz import count_patches  # noqa: E402
from convlib.viz.arithmetic import (animate_arithmetic_panels, draw_arithmetic_panel,  # noqa: E402
                                    draw_arithmetic_panels)
from convlib.widgets.arithmetic import (RELATIONSHIPS, arithmetic_gallery,  # noqa: E402
                                        arithmetic_html, arithmetic_state, arithmetic_view,
                                        relationship_state, transposed_state)

pytestmark = pytest.mark.arithmetic

SWEEP = [c for c in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(0, 3), range(1, 4))]


def _torch_reads(i, k, s, p, d):
    """Brute force: which input cells each output depends on (autograd of a 1-D conv)."""
    x = torch.zeros(1, 1, i, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv1d(x, torch.ones(1, 1, k, dtype=torch.float64), stride=s,
                                   padding=p, dilation=d)
    rows = []
    for j in range(y.shape[-1]):
        (g,) = torch.autograd.grad(y[0, 0, j], x, retain_graph=True)
        rows.append(np.flatnonzero(g[0, 0].numpy()))
    return y.shape[-1], rows


@pytest.mark.parametrize("i,k,s,p,d", SWEEP[::7])
def test_state_matches_torch(i, k, s, p, d):
    st = arithmetic_state(i, k, s, p, d)
    if d * (k - 1) + 1 > i + 2 * p:
        assert not st["ok"] and st["o"] == 0
        with pytest.raises(RuntimeError):
            torch.nn.functional.conv1d(torch.zeros(1, 1, i), torch.ones(1, 1, k), stride=s,
                                       padding=p, dilation=d)
        return
    o, rows = _torch_reads(i, k, s, p, d)
    assert st["ok"] and st["o"] == o
    for j in range(o):
        mine = st["reads"][j]
        np.testing.assert_array_equal(np.sort(mine[(mine >= 0) & (mine < i)]), rows[j])
    read = np.zeros(i, bool)
    for r in rows:
        read[r] = True
    np.testing.assert_array_equal(st["read"], read)
    # dropped = input cells after the last one read (brute force)
    last = np.flatnonzero(read).max() if read.any() else -1
    assert st["dropped"] == i - 1 - last


def test_dumoulin_visin_figures():
    # Figure 2.7 (i=6, k=3, s=2, p=1): output 3; without padding pixel 5 is never read
    assert arithmetic_state(6, 3, 2, 1)["o"] == 3
    assert arithmetic_state(6, 3, 2, 0)["dropped"] == 1
    # Figure 5.1 (i=7, k=3, d=2): o = 3, effective kernel 5
    st = arithmetic_state(7, 3, d=2)
    assert (st["o"], st["k_hat"]) == (3, 5)


def test_same_modes_and_tensorflow_padding():
    st = arithmetic_state(6, 3, 2, "same")        # TensorFlow's SAME: 0 before, 1 after
    assert st["pads"] == (0, 1) and st["o"] == 3
    assert arithmetic_state(5, 3, 1, "same")["o"] == 5
    assert arithmetic_state(5, 3, 1, "full")["o"] == 7


def test_invalid_settings_are_explained():
    st = arithmetic_state(4, 3, 1, 1, 3)
    assert not st["ok"]
    assert "dilated kernel (7) is larger than the padded input (6)" in st["message"]
    assert "kernel (3) is larger than the padded input (2)" in arithmetic_state(2, 3)["message"]
    html, o = arithmetic_view(4, 3, 1, 1, 3)
    assert o == 0 and 'data-role="message"' in html and "No output" in html


@pytest.mark.parametrize("bad,arg", [(dict(i=0), "i (input size)"), (dict(s=0), "s (stride)"),
                                     (dict(p=-1), "p (padding)"), (dict(d=0), "d (dilation)")])
def test_bad_arguments_name_the_argument(bad, arg):
    kwargs = dict(i=5, k=3, s=1, p=0, d=1) | bad
    with pytest.raises(ValueError, match=arg.replace("(", r"\(").replace(")", r"\)")):
        arithmetic_state(**kwargs)
    with pytest.raises(TypeError):
        arithmetic_state(5, 3, 1.5)


@pytest.mark.parametrize("i,k,s,p,a", [(2, 3, 1, 0, 0), (4, 4, 1, 2, 0), (2, 2, 2, 0, 0),
                                       (2, 3, 2, 1, 1), (3, 3, 2, 1, 0), (3, 4, 3, 2, 2)])
def test_transposed_equals_direct_conv_on_stretched_input(i, k, s, p, a):
    st = transposed_state(i, k, s, p, a)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(i), rng.standard_normal(k)
    ref = torch.nn.functional.conv_transpose1d(torch.tensor(x)[None, None], torch.tensor(w)[None, None],
                                               stride=s, padding=p, output_padding=a)[0, 0].numpy()
    assert st["o"] == ref.size
    z = np.zeros(st["padded"])
    z[st["real"]] = x
    direct = np.array([z[taps] @ w[::-1] for taps in st["reads"]])
    np.testing.assert_allclose(direct, ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="p \\(padding\\)"):
        transposed_state(2, 3, 1, 3)


def test_relationships_table():
    assert sorted({r["n"] for r in RELATIONSHIPS}) == list(range(1, 16))
    for rel in RELATIONSHIPS:
        st = relationship_state(rel)
        ex = rel["example"]
        if rel["kind"] == "transposed":
            out = torch.nn.functional.conv_transpose1d(
                torch.zeros(1, 1, ex["i"]), torch.zeros(1, 1, ex["k"]), stride=ex.get("s", 1),
                padding=ex.get("p", 0), output_padding=ex.get("output_padding", 0))
        else:
            out = torch.nn.functional.conv1d(torch.zeros(1, 1, ex["i"]), torch.zeros(1, 1, ex["k"]),
                                             stride=ex.get("s", 1), padding=ex.get("p", 0),
                                             dilation=ex.get("d", 1))
        assert st["o"] == out.shape[-1], rel
        assert st["o"] ** 2 <= 16   # light animations


def test_html_roles_and_gallery():
    html = arithmetic_html(arithmetic_state(6, 3, 2, 0))
    assert html.count('data-role="dropped"') == 1          # pixel 5
    assert html.count('data-role="read"') == 2 * 3           # 2 outputs x 3 taps
    html = arithmetic_html(arithmetic_state(5, 3, 1, 1))
    assert html.count('data-role="padding"') == 2
    html = arithmetic_html(arithmetic_state(9, 3, 2, 1, 2))   # taps and windows on even cells
    assert html.count('data-role="dropped"') == 5 and "5 of 9 input cell(s)" in html
    gallery = arithmetic_gallery([(6, 3, 2, 0, 1), (4, 3, 1, 1, 3)])
    assert "No output" in gallery.data and "never read" in gallery.data


def test_panel_patches():
    fig = draw_arithmetic_panel(arithmetic_state(6, 3, 2, 0), position=3)
    assert count_patches(fig, "highlight") == 9 + 1
    assert count_patches(fig, "dropped") == 11               # row 5 and column 5 of 6x6
    assert count_patches(fig, "padding") == 0
    plt.close(fig)
    fig = draw_arithmetic_panel(transposed_state(2, 3, 2, 1, 1))
    assert count_patches(fig, "padding") == 36 - 4           # 6x6 padded, 2x2 real inputs
    plt.close(fig)
    with pytest.raises(ValueError, match="no output"):
        draw_arithmetic_panel(arithmetic_state(2, 3))


def test_animation_frames():
    sts = [relationship_state(r) for r in RELATIONSHIPS[:2]]
    anim = animate_arithmetic_panels(sts, ["a", "b"], frames=3)
    anim._func(2)   # noqa: SLF001 - one update, no rendering
    anim._draw_was_started = True  # noqa: SLF001 - not shown on purpose
    assert len(list(anim.new_frame_seq())) == 3
    plt.close(anim._fig)
    with pytest.raises(ValueError, match="titles"):
        draw_arithmetic_panels(sts, ["a"])
