"""Chapter "Receptive fields of networks with branches" exercises: the references agree with a
brute-force union of windows, the known mistakes are diagnosed, and stubs fail cleanly."""

import numpy as np
import pytest

from exercises.tasks.ch13 import (_branch, _padding_gap, _ref_branch, _ref_merge, _separate_max,
                                  _widest, q1, q2)

pytestmark = pytest.mark.exercises


def _pixels(layers, index=0):
    """Brute force, no formula: the input pixels (padding included, as negative or large
    indices) that feature ``index`` of a chain reaches, walking the taps back layer by layer."""
    cells = {index}
    for layer in reversed(layers):
        k, s, p, *d = layer
        d = d[0] if d else 1
        cells = {o * s - p + t * d for o in cells for t in range(k)}
    return cells


@pytest.mark.parametrize("seed", range(20))
def test_merge_reference_is_the_union_of_branch_windows(seed):
    rng = np.random.default_rng(seed)
    stride = int(rng.choice([1, 2]))
    branches = []
    for _ in range(int(rng.integers(1, 4))):
        layers = [(int(rng.integers(1, 5)), 1, int(rng.integers(0, 3))) for _ in range(2)]
        layers.append((int(rng.integers(1, 4)), stride, int(rng.integers(0, 2))))
        branches.append(layers)
    fields = [_ref_branch(b) for b in branches]
    for b, f in zip(branches, fields):
        seen = _pixels(b)
        assert (min(seen), max(seen)) == (-f[2], -f[2] + f[0] - 1)
    union = set().union(*(_pixels(b) for b in branches))
    r, S, P, c, mis = _ref_merge([(int(f[0]), int(f[1]), int(f[2])) for f in fields])
    assert (min(union), max(union)) == (-P, -P + r - 1) and S == stride
    assert c == (min(union) + max(union)) / 2
    centres = [(min(_pixels(b)) + max(_pixels(b))) / 2 for b in branches]
    assert mis == max(centres) - min(centres)


@pytest.mark.parametrize("kwargs,name", [({"jump_first": True}, "stride multiplied in too early"),
                                         ({"pad_times_jump": False}, "padding not scaled"),
                                         ({"dilation": False}, "dilation ignored"),
                                         ({"half": 0.5}, "centre off by a half")])
def test_branch_mistakes_are_diagnosed(kwargs, name):
    result = q1.run(lambda layers: _branch(layers, **kwargs))
    assert result.status == "failed" and name in (result.diagnosis or "")


@pytest.mark.parametrize("wrong,name", [(_widest, "the widest branch"),
                                        (_separate_max, "maximised separately"),
                                        (_padding_gap, "measured on the paddings")])
def test_merge_mistakes_are_diagnosed(wrong, name):
    result = q2.run(lambda branches: wrong(_ref_merge, {"branches": branches}))
    assert result.status == "failed" and name in (result.diagnosis or "")


def test_signed_misalignment_is_diagnosed():
    def signed(branches):
        out = _ref_merge(branches)
        c = [-p + (r - 1) / 2 for r, _, p in branches]
        out[4] = c[-1] - c[0]
        return out

    result = q2.run(signed)
    assert result.status == "failed" and "signed misalignment" in (result.diagnosis or "")


def test_solutions_pass_and_stubs_are_not_attempted():
    assert q1.run(_ref_branch).status == "passed"
    assert q2.run(_ref_merge).status == "passed"

    def stub(*args):
        raise NotImplementedError("your code here")

    assert q1.run(stub).status == "not attempted"
    assert q2.run(stub).status == "not attempted"
    assert q2.run(lambda b: np.zeros(5)).status == "failed"


def test_calling_the_library_scores_zero(tmp_path):
    """A one-liner around convlib.receptive_field breaks each task's rules:
    0 points, although its output is right on every case."""
    from graded import grade_answers

    tasks = grade_answers("ch13_branch_receptive_field.ipynb", {
        "branch_field": (
            "from convlib.receptive_field import receptive_field as rf\n"
            "def branch_field(layers):\n"
            "    last = rf([tuple(layer) + (1,) * (4 - len(layer))"
            " for layer in layers])[-1]\n"
            "    return np.array([last.size, last.stride, last.padding,"
            " last.center], dtype=np.float64)"),
        "merge_field": (
            "import convlib.receptive_field as RF\n"
            "def merge_field(branches):\n"
            "    m = RF.merge_fields([RF.GraphField(str(i), r, s, p,"
            " -p + (r - 1) / 2) for i, (r, s, p) in enumerate(branches)])\n"
            "    return np.array([m.size, m.stride, m.padding, m.center,"
            " m.misalignment], dtype=np.float64)"),
    }, tmp_path)
    for name, forbidden in [("q1", "receptive_field"),
                            ("q2", "merge_fields")]:
        entry = tasks[name]
        assert entry["score"] == 0, entry
        assert entry["status"] == "failed", entry
        assert any(p.startswith(f"uses {forbidden} ")
                   for p in entry["rules_broken"]), entry
        assert "output is right on every case" in entry["summary"], entry
