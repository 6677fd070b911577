"""The exercise checker: every failure mode gets its own message, computed not guessed.

Each test feeds a deliberately wrong learner function to a chapter-1 task and asserts on the
verdict. The references themselves are checked against PyTorch at the end.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from exercises import _run
from exercises.checking import MIME_TYPE, Case, Chapter
from exercises.gradcheck import numeric_gradient, rel_error
from exercises.tasks import ch01, load
from exercises.tasks.ch01 import q1, q2, q3, q4, q5, q6

pytestmark = pytest.mark.exercises


# ---- correct learner code (written here independently of the solution notebook) ----------
def good_single(x, weight, stride=1, padding=0):
    xp = np.pad(x, padding)
    kh, kw = weight.shape
    out = np.zeros(((xp.shape[0] - kh) // stride + 1, (xp.shape[1] - kw) // stride + 1), dtype=x.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(xp[i * stride:i * stride + kh, j * stride:j * stride + kw] * weight)
    return out


def good_multi(x, weight, bias=None, stride=1, padding=0):
    out = np.stack([np.stack([sum(good_single(x[n, c], weight[o, c], stride, padding) for c in range(x.shape[1]))
                              for o in range(weight.shape[0])]) for n in range(x.shape[0])]).astype(x.dtype)
    return out if bias is None else (out + bias[None, :, None, None]).astype(x.dtype)


def good_im2col(x, kernel_size, stride=1, padding=0):
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    cols = [xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(x.shape[0], -1)
            for i in range(ho) for j in range(wo)]
    return np.stack(cols, axis=-1)


def good_backward(grad_output, x, weight):
    kh, kw = weight.shape
    gx, gw = np.zeros_like(x), np.zeros_like(weight)
    for i in range(grad_output.shape[0]):
        for j in range(grad_output.shape[1]):
            gx[i:i + kh, j:j + kw] += grad_output[i, j] * weight
            gw += grad_output[i, j] * x[i:i + kh, j:j + kw]
    return gx, gw


def good_cost(in_channels, out_channels, kernel_size, height, width, stride=1, padding=0):
    ho = (height + 2 * padding - kernel_size) // stride + 1
    wo = (width + 2 * padding - kernel_size) // stride + 1
    return out_channels * (in_channels * kernel_size ** 2 + 1), out_channels * ho * wo * in_channels * kernel_size ** 2


@pytest.mark.parametrize("task, fn", [(q1, good_single), (q2, good_multi), (q3, good_im2col),
                                      (q4, good_multi), (q5, good_cost), (q6, good_backward)])
def test_correct_code_passes(task, fn):
    r = task.run(fn)
    assert r.status == "passed", r.message
    assert r.score == 1 and r.cases_passed == r.cases_total >= 3


def test_gradient_check_is_printed_cs231n_style():
    r = q6.run(good_backward)
    assert "grad_x relative error 0.0e+00" in r.message and "grad_weight relative error" in r.message


# ---- the failure modes ------------------------------------------------------------------------
def verdict(task, fn):
    r = task.run(fn)
    assert r.status == "failed", r.message
    assert "Traceback" not in r.message
    return r


def test_kernel_flipped():
    r = verdict(q1, lambda x, weight, stride=1, padding=0: good_single(x, weight[::-1, ::-1], stride, padding))
    assert r.diagnosis.startswith("kernel flipped") and "cross-correlation" in r.message
    assert "case 1 of" in r.message and "expected 27, got 13" in r.message  # first differing element


def test_padding_on_one_side():
    def one_side(x, weight, stride=1, padding=0):
        return good_single(np.pad(x, ((2 * padding, 0), (2 * padding, 0))), weight, stride, 0)
    r = verdict(q1, one_side)
    assert r.diagnosis.startswith("padding on one side only"), r.message
    assert "padding=1" in r.message


def test_padding_ignored():
    r = verdict(q1, lambda x, weight, stride=1, padding=0: good_single(x, weight, stride, 0))
    assert r.diagnosis.startswith("padding ignored")
    assert "wrong shape: expected (4, 4), got (2, 2)" in r.message


def test_stride_ignored():
    r = verdict(q1, lambda x, weight, stride=1, padding=0: good_single(x, weight, 1, padding))
    assert r.diagnosis.startswith("stride ignored") and "stride=2" in r.message


def test_stride_missing_in_the_window_position():
    def no_step(x, weight, bias=None, stride=1, padding=0):
        kh, kw = weight.shape[-2:]
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        ho, wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
        out = np.zeros((x.shape[0], weight.shape[0], ho, wo), dtype=x.dtype)
        for n in range(x.shape[0]):
            for o in range(weight.shape[0]):
                for i in range(ho):
                    for j in range(wo):
                        out[n, o, i, j] = np.sum(xp[n, :, i:i + kh, j:j + kw] * weight[o])
        return out if bias is None else out + bias[None, :, None, None]
    r = verdict(q2, no_step)
    assert r.diagnosis.startswith("stride missing in the window position"), r.message


def test_channels_wrong_axis():
    def swapped(x, weight, bias=None, stride=1, padding=0):  # weight[c, o] instead of weight[o, c]
        return np.stack([np.stack([sum(good_single(x[n, c], weight[c, o], stride, padding)
                                       for c in range(x.shape[1])) for o in range(weight.shape[0])])
                         for n in range(x.shape[0])])
    r = verdict(q2, swapped)
    assert r.diagnosis.startswith("channels summed over the wrong axis"), r.message
    assert "three channels in, three out" in r.message


def test_no_sum_over_input_channels():
    def depthwise(x, weight, bias=None, stride=1, padding=0):
        out = np.stack([good_single(x[0, o], weight[o, o], stride, padding) for o in range(weight.shape[0])])
        return out[None]
    r = verdict(q2, depthwise)
    assert r.diagnosis.startswith("no sum over input channels"), r.message


def test_sum_over_batch():
    def batch_sum(x, weight, bias=None, stride=1, padding=0):
        total = good_multi(x, weight, None, stride, padding).sum(axis=0, keepdims=True)
        out = np.repeat(total, x.shape[0], axis=0)
        return out if bias is None else out + bias[None, :, None, None]
    r = verdict(q2, batch_sum)
    assert r.diagnosis.startswith("sum over the batch axis"), r.message


def test_bias_ignored():
    r = verdict(q2, lambda x, weight, bias=None, stride=1, padding=0: good_multi(x, weight, None, stride, padding))
    assert r.diagnosis.startswith("bias ignored")


def test_input_modified_in_place():
    def in_place(x, weight, stride=1, padding=0):
        x -= 1
        return good_single(x + 1, weight, stride, padding)
    r = verdict(q1, in_place)
    assert "changed its input `x` in place" in r.message and "was 0.0, now -1.0" in r.message


def test_float64_instead_of_float32():
    r = verdict(q1, lambda x, weight, stride=1, padding=0: good_single(x, weight, stride, padding).astype(np.float64))
    assert "dtype float64, expected float32" in r.message and "float32 vs float64" in r.message


def test_integer_output():
    r = verdict(q1, lambda x, weight, stride=1, padding=0: good_single(x, weight, stride, padding).astype(int))
    assert "dtype int64, expected float64" in r.message and "integer array" in r.message


def test_nan():
    def empty(x, weight, stride=1, padding=0):
        out = good_single(x, weight, stride, padding)
        out[-1, -1] = np.nan
        return out
    r = verdict(q1, empty)
    assert "non-finite value(s), the first at index (1, 1): nan" in r.message and "np.empty" in r.message


def test_list_instead_of_array():
    r = verdict(q1, lambda *a, **k: good_single(*a, **k).tolist())
    assert "is a Python list, expected a numpy array of shape (2, 2)" in r.message
    assert "The values are right" in r.message


def test_none_returned():
    r = verdict(q1, lambda *a, **k: None)
    assert "returned None" in r.message and "return" in r.message


def test_wrong_shape():
    r = verdict(q1, lambda x, weight, stride=1, padding=0: np.zeros((3, 3)))
    assert "wrong shape: expected (2, 2), got (3, 3)" in r.message


def test_transposed_output():
    r = verdict(q1, lambda *a, **k: np.ascontiguousarray(good_single(*a, **k).T))
    assert r.diagnosis.startswith("transposed output")
    r3 = verdict(q3, lambda *a, **k: good_im2col(*a, **k).transpose(0, 2, 1))
    assert r3.diagnosis.startswith("one row per window"), r3.message


def test_exception_in_learner_code_shows_their_line():
    def buggy(x, weight, stride=1, padding=0):
        h, w = x.shape
        return x[h + 5, 0] * weight  # the learner's bug
    r = verdict(q1, buggy)
    assert "IndexError: index 8 is out of bounds" in r.message
    assert "in buggy:" in r.message and "return x[h + 5, 0] * weight  # the learner's bug" in r.message
    assert "checking.py" not in r.message and "_run.py" not in r.message


def test_exception_inside_numpy_points_at_the_calling_line():
    def bad_pad(x, weight, stride=1, padding=0):
        return np.pad(x, ((1, 1),) * 3)
    r = verdict(q1, bad_pad)
    assert "ValueError" in r.message and "return np.pad(x, ((1, 1),) * 3)" in r.message
    assert "raised inside numpy" in r.message


def test_infinite_loop_times_out(monkeypatch):
    monkeypatch.setattr(q1, "timeout", 0.3)
    def forever(x, weight, stride=1, padding=0):
        i = 0
        while i < 10:
            pass
    r = verdict(q1, forever)
    assert "still running after 0.3 s, so it was stopped" in r.message
    assert "timed out" in r.summary


def test_learner_cannot_swallow_the_timeout(monkeypatch):
    monkeypatch.setattr(q1, "timeout", 0.3)
    def stubborn(x, weight, stride=1, padding=0):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass
    assert "still running" in verdict(q1, stubborn).message


def test_timeout_off_the_main_thread():
    box = {}
    def spin():
        while True:
            pass
    t = threading.Thread(target=lambda: box.update(out=_run.call_with_timeout(spin, (), {}, 0.3)))
    t.start()
    t.join(5)
    assert box["out"].timed_out


def test_no_threads_falls_back_to_a_plain_call(monkeypatch):
    def no_threads(self):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", no_threads)
    out = _run._call_in_thread(lambda a: a * 2, (21,), {}, 1.0)
    assert out.value == 42 and not out.timed_out


def test_renamed_parameter_gets_the_signature():
    r = verdict(q1, lambda x, weight, step=1, padding=0: good_single(x, weight, step, padding))
    assert "unexpected keyword argument 'stride'" in r.message
    assert "def conv2d_single_channel(x, weight, stride=1, padding=0)" in r.message


def test_stub_is_not_attempted():
    def stub(x, weight, stride=1, padding=0):
        raise NotImplementedError("your code here: replace this line")
    r = q1.run(stub)
    assert r.status == "not attempted" and r.score == 0 and "not attempted yet" in r.message
    assert "Traceback" not in r.message and "NotImplementedError" in r.message


def test_not_implemented_on_a_later_case_is_a_failure():
    def partial(x, weight, stride=1, padding=0):
        if stride != 1:
            raise NotImplementedError("stride")
        return good_single(x, weight, stride, padding)
    r = verdict(q1, partial)
    assert "NotImplementedError: stride" in r.message


def test_passing_a_result_instead_of_the_function():
    r = verdict(q1, np.zeros((2, 2)))
    assert "expects your function itself: q1.check(conv2d_single_channel)" in r.message


def test_im2col_row_order():
    def position_major(x, kernel_size, stride=1, padding=0):
        cols = good_im2col(x, kernel_size, stride, padding)
        n, rows, length = cols.shape
        c = x.shape[1]
        return cols.reshape(n, c, rows // c, length).transpose(0, 2, 1, 3).reshape(n, rows, length)
    assert verdict(q3, position_major).diagnosis.startswith("rows in the wrong order")


def test_cost_question_diagnoses():
    def no_bias(*a, **k):
        p, m = good_cost(*a, **k)
        return p - a[1], m
    assert verdict(q5, no_bias).diagnosis.startswith("bias not counted")
    def input_size(c, o, k, h, w, stride=1, padding=0):
        return o * (c * k * k + 1), o * h * w * c * k * k
    assert verdict(q5, input_size).diagnosis.startswith("input size instead of output size")
    r = verdict(q5, lambda *a, **k: tuple(float(v) for v in good_cost(*a, **k)))
    assert "use `//`" in r.message


def test_backward_gradient_check_failure_prints_relative_error():
    r = verdict(q6, lambda g, x, w: (good_backward(g, x, w)[0], 2 * good_backward(g, x, w)[1]))
    assert "grad_x relative error 0.0e+00, grad_weight relative error 3.3e-01" in r.message
    r2 = verdict(q6, lambda g, x, w: good_backward(g, x, np.ascontiguousarray(w[::-1, ::-1])))
    assert r2.diagnosis.startswith("grad_x without the flip"), r2.message


def test_backward_wrong_tuple():
    assert "Expected 2 results (grad_x, grad_weight), got 3" in verdict(q6, lambda g, x, w: (1, 2, 3)).message


# ---- hints, solution, result payload ------------------------------------------------------------
def test_hints_then_solution(capsys):
    task = ch01.chapter.task("qtmp", "temporary", function="conv2d_single_channel",
                             reference=ch01._ref_single, cases=[Case("c", (np.ones((2, 2)), np.ones((1, 1))))],
                             hints=["first", "second"])
    del ch01.chapter.tasks["qtmp"]
    task.hint()
    task.hint()
    task.hint(1)
    out = capsys.readouterr().out
    assert out.index("Hint 1 of 2") < out.index("Hint 2 of 2") < out.rindex("Hint 1 of 2")
    assert task.run(good_single).payload()["hints_seen"] == 2
    assert not task.solution_viewed
    task.solution()
    out = capsys.readouterr().out
    assert "def conv2d_single_channel(" in out and "np.pad" in out and "BEGIN SOLUTION" not in out
    assert task.run(good_single).payload()["solution_viewed"] is True


def test_result_bundle_carries_the_machine_readable_result():
    bundle, metadata = q5.run(good_cost)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert metadata[MIME_TYPE]["status"] == "passed" and metadata[MIME_TYPE]["chapter"] == "ch01"


def test_chapter_registry():
    assert list(load("ch01").tasks) == ["q1", "q2", "q3", "q4", "q5", "q6"]
    with pytest.raises(ValueError):
        load("../x")


def test_declaring_a_new_chapter():
    chapter = Chapter("demo", "Demo", notebook="demo")
    double = chapter.task("q1", "double", function="double", reference=lambda x: 2 * x,
                          cases=lambda rng: [Case("ints", (rng.integers(0, 9, 3).astype(float),))])
    assert double.run(lambda x: x + x).status == "passed"
    assert double.run(lambda x: x).status == "failed"


def test_gradcheck_helpers():
    x = np.random.default_rng(0).standard_normal((3, 4))
    g = numeric_gradient(lambda v: float(np.sum(v ** 3)), x)
    assert rel_error(g, 3 * x ** 2) < 1e-7
    assert rel_error(np.ones(3), -np.ones(3)) == 1.0


# ---- the references against PyTorch (the honest oracle) ----------------------------------------
def test_references_match_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    t = torch.from_numpy
    for case in q1.cases():
        a = q1.arguments(case)
        want = tF.conv2d(t(a["x"])[None, None], t(a["weight"])[None, None], stride=a["stride"], padding=a["padding"])[0, 0]
        np.testing.assert_allclose(q1.reference(**a), want.numpy(), rtol=1e-5, atol=1e-5)
    for task in (q2, q4):
        for case in task.cases():
            a = task.arguments(case)
            b = None if a["bias"] is None else t(a["bias"])
            want = tF.conv2d(t(a["x"]), t(a["weight"]), b, stride=a["stride"], padding=a["padding"])
            np.testing.assert_allclose(task.reference(**a), want.numpy(), rtol=1e-5, atol=1e-5)
    for case in q3.cases():
        a = q3.arguments(case)
        want = tF.unfold(t(a["x"]), a["kernel_size"], padding=a["padding"], stride=a["stride"])
        np.testing.assert_allclose(q3.reference(**a), want.numpy(), rtol=1e-6)
    for case in q5.cases():
        a = q5.arguments(case)
        layer = torch.nn.Conv2d(a["in_channels"], a["out_channels"], a["kernel_size"],
                                stride=a["stride"], padding=a["padding"])
        out = layer(torch.zeros(1, a["in_channels"], a["height"], a["width"]))
        mults = out.numel() * a["in_channels"] * a["kernel_size"] ** 2
        assert q5.reference(**a) == (sum(p.numel() for p in layer.parameters()), mults)
    for case in q6.cases():
        a = q6.arguments(case)
        x = t(a["x"])[None, None].requires_grad_()
        w = t(a["weight"])[None, None].requires_grad_()
        tF.conv2d(x, w).backward(t(a["grad_output"])[None, None])
        gx, gw = q6.reference(**a)
        np.testing.assert_allclose(gx, x.grad[0, 0].numpy())
        np.testing.assert_allclose(gw, w.grad[0, 0].numpy())
