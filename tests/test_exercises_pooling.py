"""The pooling exercise (exercises/tasks/ch03.py): right answers pass, each typical mistake gets
its own diagnosis, and the references agree with PyTorch.

The learner functions here are written with plain loops, independently of the references and
of the solution notebook; each wrong one makes exactly one mistake.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from exercises.tasks.ch03 import chapter, q1, q2, q3
from oracle import assert_close

pytestmark = [pytest.mark.exercises, pytest.mark.pooling]


# ---- q1 ---------------------------------------------------------------------------------------
def forward(x, kernel_size, stride=None, *, index="plane", ties="first", default_stride="k"):
    k = kernel_size
    s = stride if stride is not None else (k if default_stride == "k" else 1)
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, ho, wo), dtype=x.dtype)
    idx = np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, pos = -np.inf, (0, 0)
                    for u in range(k):
                        for v in range(k):
                            val = x[a, b, i * s + u, j * s + v]
                            if val > best or (ties == "last" and val == best):
                                best, pos = val, (u, v)
                    out[a, b, i, j] = best
                    r, col = i * s + pos[0], j * s + pos[1]
                    idx[a, b, i, j] = {"plane": r * w + col, "window": pos[0] * k + pos[1],
                                       "colmajor": col * h + r,
                                       "tensor": (a * c + b) * h * w + r * w + col}[index]
    return out, idx


def _diagnosis(task, fn):
    result = task.run(fn)
    assert result.status == "failed", result.message
    return result.diagnosis or ""


def test_q1_right_answer_passes():
    assert q1.run(forward).status == "passed"


@pytest.mark.parametrize("kwargs, name", [
    ({"index": "window"}, "indices relative to the window"),
    ({"index": "colmajor"}, "indices counted column by column"),
    ({"index": "tensor"}, "indices over the whole tensor"),
    ({"ties": "last"}, "the last maximum on ties"),
    ({"default_stride": "1"}, "stride=None taken as 1"),
])
def test_q1_mistakes_are_named(kwargs, name):
    assert _diagnosis(q1, lambda x, kernel_size, stride=None: forward(x, kernel_size, stride, **kwargs)) \
        .startswith(name)


def test_q1_pairs_and_float_indices():
    def pairs(x, kernel_size, stride=None):
        out, idx = forward(x, kernel_size, stride)
        return out, np.stack(np.divmod(idx, x.shape[-1]), axis=-1)
    assert _diagnosis(q1, pairs).startswith("(row, col) pairs")

    def floats(x, kernel_size, stride=None):
        out, idx = forward(x, kernel_size, stride)
        return out, idx.astype(float)
    result = q1.run(floats)
    assert result.status == "failed" and "int64" in result.message


# ---- q2 ---------------------------------------------------------------------------------------
def backward(grad_output, indices, input_shape, kernel_size, stride=None, *, how="argmax"):
    n, c, h, w = input_shape
    k = kernel_size
    s = k if stride is None else stride
    gi = np.zeros(input_shape, dtype=grad_output.dtype)
    for a in range(n):
        for b in range(c):
            for i in range(grad_output.shape[2]):
                for j in range(grad_output.shape[3]):
                    g = grad_output[a, b, i, j]
                    if how in ("every", "average"):
                        gi[a, b, i * s:i * s + k, j * s:j * s + k] += g / (k * k if how == "average" else 1)
                        continue
                    r, col = divmod(int(indices[a, b, i, j]), w)
                    if how == "overwrite":
                        gi[a, b, r, col] = g
                    elif how == "first_plane":
                        gi[0, 0, r, col] += g
                    else:
                        gi[a, b, r, col] += g
    return gi


def test_q2_right_answer_passes():
    assert q2.run(backward).status == "passed"


@pytest.mark.parametrize("how, name", [
    ("every", "gradient sent to every window position"),
    ("average", "gradient averaged over the window"),
    ("overwrite", "overlapping gradients overwritten"),
    ("first_plane", "every gradient in the first plane"),
])
def test_q2_mistakes_are_named(how, name):
    fn = lambda g, idx, shape, kernel_size, stride=None: backward(g, idx, shape, kernel_size, stride, how=how)
    assert _diagnosis(q2, fn).startswith(name)


def test_q2_window_relative_reading_is_named():
    def fn(grad_output, indices, input_shape, kernel_size, stride=None):
        k = kernel_size
        s = k if stride is None else stride
        gi = np.zeros(input_shape, dtype=grad_output.dtype)
        n, c, _, _ = input_shape
        for a in range(n):
            for b in range(c):
                for i in range(grad_output.shape[2]):
                    for j in range(grad_output.shape[3]):
                        u, v = divmod(int(indices[a, b, i, j]), k)
                        r, col = i * s + u, j * s + v
                        if r < input_shape[2] and col < input_shape[3]:
                            gi[a, b, r, col] += grad_output[a, b, i, j]
        return gi
    assert _diagnosis(q2, fn).startswith("indices read as positions in the window")


# ---- q3 ---------------------------------------------------------------------------------------
def avg_backward(grad_output, input_shape, kernel_size, stride=None, *, divisor="k2", add=True,
                 default_stride="k"):
    k = kernel_size
    s = stride if stride is not None else (k if default_stride == "k" else 1)
    d = {"k2": k * k, "k": k, "1": 1}[divisor]
    gi = np.zeros(input_shape, dtype=grad_output.dtype)
    for i in range(grad_output.shape[2]):
        for j in range(grad_output.shape[3]):
            share = grad_output[:, :, i, j][:, :, None, None] / d
            if add:
                gi[:, :, i * s:i * s + k, j * s:j * s + k] += share
            else:
                gi[:, :, i * s:i * s + k, j * s:j * s + k] = share
    return gi


def test_q3_right_answer_passes():
    assert q3.run(avg_backward).status == "passed"


@pytest.mark.parametrize("kwargs, name", [
    ({"divisor": "1"}, "gradient sent to every window position undivided"),
    ({"divisor": "k"}, "divided by k instead of k*k"),
    ({"add": False}, "overlapping shares overwritten"),
    ({"default_stride": "1"}, "stride=None taken as 1"),
])
def test_q3_mistakes_are_named(kwargs, name):
    fn = lambda g, shape, kernel_size, stride=None: avg_backward(g, shape, kernel_size, stride, **kwargs)
    assert _diagnosis(q3, fn).startswith(name)


# ---- the references themselves ---------------------------------------------------------------
def test_references_agree_with_torch():
    for case in q1.cases():
        a = q1.arguments(case)
        out, idx = q1.reference(**a)
        t_out, t_idx = TF.max_pool2d(torch.from_numpy(a["x"]), a["kernel_size"], a["stride"],
                                     return_indices=True)
        assert_close(out, t_out)
        np.testing.assert_array_equal(idx, t_idx.numpy())
    for case in q2.cases():
        a = q2.arguments(case)
        n, c, h, w = a["input_shape"]
        ref = q2.reference(**a)
        t = torch.zeros(n * c, h * w, dtype=torch.from_numpy(a["grad_output"]).dtype)
        t.scatter_add_(1, torch.from_numpy(a["indices"]).reshape(n * c, -1),
                       torch.from_numpy(a["grad_output"]).reshape(n * c, -1))
        assert_close(ref, t.reshape(n, c, h, w))
    for case in q3.cases():
        a = q3.arguments(case)
        x = torch.zeros(a["input_shape"], dtype=torch.float64, requires_grad=True)
        TF.avg_pool2d(x, a["kernel_size"], a["stride"]).backward(torch.from_numpy(a["grad_output"]))
        assert_close(q3.reference(**a), x.grad)


def test_chapter_lists_the_three_tasks():
    assert chapter.id == "ch03" and chapter.notebook == "ch03_pooling"
    assert list(chapter.tasks) == ["q1", "q2", "q3"]
