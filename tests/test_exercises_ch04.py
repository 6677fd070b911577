"""Chapter "Receptive field" exercises: both references agree with each other and with a
PyTorch gradient probe, the known mistakes are diagnosed, and the student stubs fail cleanly."""

import numpy as np
import pytest
import torch

from exercises.tasks.ch04 import _ref_table, _table, probe_reference, q1, q2

pytestmark = pytest.mark.exercises


def _stacks(n=25, seed=3):
    rng = np.random.default_rng(seed)
    return [[(int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(0, 3)),
              int(rng.integers(1, 3))) for _ in range(int(rng.integers(1, 5)))] for _ in range(n)]


def _torch_region(layers, n, index):
    """Oracle: the input pixels with a non-zero gradient, through torch convs of ones (1-D)."""
    x = torch.ones(1, 1, 1, n, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, p, d in layers:
        y = torch.nn.functional.conv2d(y, torch.ones(1, 1, 1, k, dtype=torch.float64),
                                       stride=(1, s), padding=(0, p), dilation=(1, d))
    y[0, 0, 0, index].backward()
    hit = np.flatnonzero(x.grad[0, 0, 0].numpy())
    return (int(hit.min()), int(hit.max())) if hit.size else None


@pytest.mark.parametrize("layers", _stacks())
def test_calculator_probe_and_torch_agree(layers):
    r, S, P, _ = _ref_table(layers)[-1]
    n = int(4 * r + 8 * S + 8)
    for index in (0, None):
        length = int(np.floor(n))
        y = torch.zeros(1, 1, 1, length)
        for k, s, p, d in layers:
            y = torch.nn.functional.conv2d(y, torch.ones(1, 1, 1, k), stride=(1, s),
                                           padding=(0, p), dilation=(1, d))
        i = (y.shape[-1] - 1) // 2 if index is None else index
        expected = _torch_region(layers, n, i)
        if expected is None:   # e.g. a 1x1 kernel with padding 2: output 0 reads only zeros
            with pytest.raises(ValueError, match="only padding"):
                probe_reference(layers, n, i)
            continue
        probe = probe_reference(layers, n, i)
        assert probe == expected
        box = (int(i * S - P), int(i * S - P + r - 1))
        if index is None:      # an interior output: the probe spans the whole box
            assert probe == box
        else:                  # at the border, padding cuts paths: only inside the box
            assert box[0] <= probe[0] <= probe[1] <= box[1]


def test_centre_matches_the_hand_example():
    np.testing.assert_array_equal(_ref_table([(3, 1, 1), (2, 2, 0), (3, 1, 1)]),
                                  [[3, 1, 1, 0], [4, 2, 1, 0.5], [8, 2, 3, 0.5]])


@pytest.mark.parametrize("kwargs,name", [({"dilation": False}, "dilation ignored"),
                                         ({"jump_first": True}, "stride multiplied in too early"),
                                         ({"pad_times_jump": False}, "padding not scaled"),
                                         ({"half": 0.5}, "centre off by a half")])
def test_mistakes_are_diagnosed(kwargs, name):
    result = q1.run(lambda layers: _table(layers, **kwargs))
    assert result.status == "failed" and name in (result.diagnosis or "")


def test_solutions_pass_and_stubs_are_not_attempted():
    assert q1.run(_ref_table).status == "passed"
    assert q2.run(probe_reference).status == "passed"

    def stub(*args):
        raise NotImplementedError("your code here")

    assert q1.run(stub).status == "not attempted"
    assert q2.run(stub).status == "not attempted"
    assert q2.run(lambda *a: (0, 0)).status == "failed"
