"""convlib.viz.training: the confusion matrix against a brute-force count, and every drawing
builds with the elements it promises."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from convlib import nn  # noqa: E402
from convlib.viz import training as tviz  # noqa: E402

pytestmark = pytest.mark.nn


def test_confusion_matrix_counts_pairs():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    m = tviz.confusion_matrix(y, p, 4)
    brute = np.zeros((4, 4), int)
    for a, b in zip(y, p):
        brute[a, b] += 1
    assert np.array_equal(m, brute) and m.sum() == 50
    with pytest.raises(ValueError, match="shape"):
        tviz.confusion_matrix(y, p[:3], 4)


def test_backprop_graph_names_every_backward_function():
    fig = tviz.draw_backprop_graph(nn.SmallCNN(size=24))
    texts = " ".join(t.get_text().replace("\n", "") for t in fig.axes[0].texts)
    for name in ("conv2d_backward", "relu_backward", "max_pool2d_backward", "flatten_backward",
                 "linear_backward", "softmax_cross_entropy_backward"):
        assert name in texts
    assert "16×6×6" in texts and "576" in texts  # shapes follow the model
    plt.close(fig)


def test_curves_confusion_examples_agreement_and_animation_build():
    rng = np.random.default_rng(0)
    fig = tviz.plot_training_curves(rng.random(30), 10, [0.3, 0.5, 0.7], [0.2, 0.4, 0.6])
    assert len(fig.axes[1].lines) >= 2
    plt.close(fig)
    fig = tviz.plot_confusion(np.arange(10), np.arange(10), [str(i) for i in range(10)])
    assert fig.axes[0].get_xlabel() == "predicted class"
    plt.close(fig)
    fig = tviz.plot_examples(rng.random((3, 3, 8, 8)), np.array([0, 1, 2]), np.array([0, 2, 2]),
                             ["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a\n→ a", "b\n→ c", "c\n→ c"]
    plt.close(fig)
    fig = tviz.plot_agreement(np.arange(1, 4), [1e-16, 0.0, 2e-16], [0.0, 1e-17, 3e-17], 1e-5, 1e-4)
    assert len(fig.axes) == 2
    plt.close(fig)
    anim = tviz.animate_filters([rng.random((8, 3, 5, 5)) for _ in range(3)])
    assert len(list(anim.new_frame_seq())) == 3
    anim._draw_was_started = True  # built, not shown: no "deleted without rendering" warning
    plt.close(anim._fig)
