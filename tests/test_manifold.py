"""The ReLU-on-a-manifold experiment (Sandler et al. 2018, fig. 1): torch as the oracle for the
round trip, and the paper's claim — more dimensions lose less — as a property."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from convlib.viz import draw_relu_manifold, readout_error, relu_roundtrip, spiral  # noqa: E402
from oracle import assert_close  # noqa: E402

pytestmark = pytest.mark.blocks


def test_roundtrip_matches_torch_and_linear_is_exact():
    pts = spiral(50)
    before = pts.copy()
    t = torch.from_numpy(np.random.default_rng(3).standard_normal((7, 2)))
    expected = torch.relu(torch.from_numpy(pts) @ t.T) @ torch.linalg.pinv(t).T
    assert_close(relu_roundtrip(pts, 7, seed=3), expected, what="T+ relu(T x)")
    assert_close(relu_roundtrip(pts, 7, seed=3, relu=False), pts, what="T+ T x")
    assert np.array_equal(pts, before)


def test_more_dimensions_lose_less():
    pts = spiral(300)
    mean_err = {n: np.mean([readout_error(pts, n, s) for s in range(5)]) for n in (2, 5, 15, 30)}
    assert mean_err[2] > 0.3 > mean_err[5] > mean_err[15] > mean_err[30]
    assert mean_err[30] < 0.01


def test_drawing_and_errors():
    errs = {}
    fig = draw_relu_manifold((2, 30), n_points=100, errors=errs)
    assert len(fig.axes) == 3 and set(errs) == {2, 30}
    plt.close(fig)
    with pytest.raises(ValueError, match="points"):
        relu_roundtrip(np.zeros((4, 3)), 5)
    with pytest.raises(ValueError, match="n_dims"):
        readout_error(spiral(10), 0)
