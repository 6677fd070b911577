"""Chapter "Upsampling done right" exercises: the references equal PyTorch and FCN's kernel,
each known mistake is diagnosed by name, solutions pass and stubs are not attempted."""

import numpy as np
import pytest
import torch

from exercises.tasks.ch14 import q1, q2, q3

pytestmark = pytest.mark.exercises


def _shuffle(order):
    """pixel_shuffle reading the channels in ``order`` and writing (c, h, i, w, j); "tiled"
    writes (c, i, h, j, w) instead (sub-images side by side)."""
    def fn(x, r):
        n, cin, h, w = x.shape
        c = cin // (r * r)
        if order == "tiled":
            return x.reshape(n, c, r, r, h, w).transpose(0, 1, 2, 4, 3, 5).reshape(
                n, c, h * r, w * r)
        size = {"c": c, "i": r, "j": r}
        v = x.reshape((n,) + tuple(size[a] for a in order) + (h, w))
        p = {a: 1 + order.index(a) for a in "cij"}
        return v.transpose(0, p["c"], 4, p["i"], 5, p["j"]).reshape(n, c, h * r, w * r)
    return fn


def _unshuffle(order):
    def fn(x, r):
        n, c, hr, wr = x.shape
        h, w = hr // r, wr // r
        if order == "tiled":
            return x.reshape(n, c, r, h, r, w).transpose(0, 1, 2, 4, 3, 5).reshape(
                n, c * r * r, h, w)
        src = {"c": 1, "i": 3, "j": 5}
        v = x.reshape(n, c, h, r, w, r)
        return v.transpose((0,) + tuple(src[a] for a in order) + (2, 4)).reshape(
            n, c * r * r, h, w)
    return fn


def _kernel(centre=None, k_of=lambda f: 2 * f - f % 2, normalise=False, one_axis=False):
    def fn(f):
        k = k_of(f)
        c = (k - 1) / 2 if centre is None else centre(k)
        t = 1.0 - np.abs(np.arange(k) - c) / f
        if one_axis:
            return t
        out = np.outer(t, t)
        return out / out.sum() if normalise else out
    return fn


def test_references_equal_torch_and_fcn():
    for case in q1.cases():
        x, r = case.args
        assert np.array_equal(q1.reference(*case.args),
                              torch.nn.functional.pixel_shuffle(torch.tensor(x), r).numpy())
    for case in q2.cases():
        x, r = case.args
        assert np.array_equal(q2.reference(*case.args),
                              torch.nn.functional.pixel_unshuffle(torch.tensor(x), r).numpy())
    for f in (1, 2, 3, 4, 5):
        size = 2 * f - f % 2          # FCN's upsample_filt(size)
        factor = (size + 1) // 2
        center = factor - 1 if size % 2 == 1 else factor - 0.5
        og = np.ogrid[:size, :size]
        filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
        np.testing.assert_allclose(q3.reference(f), filt, rtol=0, atol=1e-15)


@pytest.mark.parametrize("task, fn, name", [
    (q1, _shuffle("cji"), "the two sub-pixel axes swapped"),
    (q1, _shuffle("ijc"), "TensorFlow's channel order"),
    (q1, _shuffle("tiled"), "tiled side by side"),
    (q2, _unshuffle("cji"), "the two sub-pixel axes swapped"),
    (q2, _unshuffle("ijc"), "TensorFlow's channel order"),
    (q2, _unshuffle("tiled"), "cut into blocks"),
    (q3, _kernel(centre=lambda k: k // 2), "centre on a tap"),
    (q3, _kernel(normalise=True), "normalised to sum 1"),
    (q3, _kernel(one_axis=True), "only one axis"),
    (q3, _kernel(k_of=lambda f: 2 * f), "size 2f for an odd factor"),
])
def test_mistakes_are_diagnosed(task, fn, name):
    result = task.run(fn)
    assert result.status == "failed" and name in (result.diagnosis or "")


def test_solutions_pass_and_stubs_are_not_attempted():
    assert q1.run(_shuffle("cij")).status == "passed"
    assert q2.run(_unshuffle("cij")).status == "passed"
    assert q3.run(_kernel()).status == "passed"

    def stub(*args):
        raise NotImplementedError("your code here")

    for task in (q1, q2, q3):
        assert task.run(stub).status == "not attempted"
    assert q1.run(lambda x, r: x).status == "failed"


def test_calling_the_library_scores_zero(tmp_path):
    """One-liners around convlib.functional break each task's rules (0
    points, although the output is right)."""
    from graded import grade_answers

    tasks = grade_answers("ch14_upsampling.ipynb", {
        "pixel_shuffle": (
            "import convlib.functional as F\n"
            "def pixel_shuffle(x, upscale_factor):\n"
            "    return F.pixel_shuffle(x, upscale_factor)"),
        "pixel_unshuffle": (
            "from convlib.functional import pixel_shuffle_backward\n"
            "def pixel_unshuffle(x, downscale_factor):\n"
            "    return pixel_shuffle_backward(x, downscale_factor)"),
        "bilinear_kernel": (
            "import convlib.functional as G\n"
            "def bilinear_kernel(factor):\n"
            "    return G.bilinear_kernel(factor)"),
    }, tmp_path)
    for name, forbidden in [("q1", "pixel_shuffle"),
                            ("q2", "pixel_shuffle_backward"),
                            ("q3", "bilinear_kernel")]:
        entry = tasks[name]
        assert entry["score"] == 0, entry
        assert entry["status"] == "failed", entry
        assert any(p.startswith(f"uses {forbidden} ")
                   for p in entry["rules_broken"]), entry
        assert "output is right on every case" in entry["summary"], entry


def test_a_loop_breaks_the_no_loops_rule():
    """A right pixel shuffle with a loop over the sub-pixels breaks q1."""
    from exercises.rules import Program, answer_cells, rule_problems

    looped = (
        "def pixel_shuffle(x, upscale_factor):\n"
        "    r = upscale_factor\n"
        "    n, cin, h, w = x.shape\n"
        "    out = np.empty((n, cin // (r * r), h * r, w * r), x.dtype)\n"
        "    for i in range(r):\n"
        "        for j in range(r):\n"
        "            out[:, :, i::r, j::r] = x[:, i * r + j::r * r]\n"
        "    return out")
    program = Program(answer_cells([(1, looped)]))
    problems = rule_problems(program, "pixel_shuffle", q1.forbid, q1.rules,
                             q1.allow)
    assert len(problems) == 1 and "a for loop" in problems[0], problems
    # the same function is right: only the rule fails it
    x = np.arange(48.0).reshape(1, 12, 2, 2)
    ns = {"np": np}
    exec(looped, ns)
    torch_out = torch.nn.functional.pixel_shuffle(torch.from_numpy(x), 2)
    assert np.array_equal(ns["pixel_shuffle"](x, 2), torch_out.numpy())
