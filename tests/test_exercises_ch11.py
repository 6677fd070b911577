"""The chapter-11 exercises (exercises/tasks/ch11.py): right answers pass, each typical mistake
gets its own diagnosis, stubs are "not attempted", and the references agree with published
figures (DenseNet-121, GoogLeNet inception 3a) worked out by hand.

The learner functions here are written independently of the references (closed formulas);
each wrong one makes exactly one mistake.
"""

from __future__ import annotations

import pytest

from exercises.tasks.ch11 import chapter, q1, q2, q3

pytestmark = [pytest.mark.exercises, pytest.mark.blocks]


def channels(num_layers, in_channels, growth_rate, *, mistake=None):
    if mistake == "no_input":
        return num_layers * growth_rate
    if mistake == "short":
        return in_channels + (num_layers - 1) * growth_rate
    return in_channels + num_layers * growth_rate


def params(num_layers, in_channels, growth_rate, bn_size=4, *, mistake=None):
    n, c0, k, b = num_layers, in_channels, growth_rate, bn_size
    # closed form: sum_l c_l = n c0 + k n (n - 1) / 2
    s = n * c0 + k * n * (n - 1) // 2
    if mistake == "same_input":
        s = n * c0
    bn = 0 if mistake == "no_bn" else 2 * s + n * 2 * b * k
    return s * b * k + n * 9 * b * k * k + bn


def inception(c, n1, r3, n3, r5, n5, npool, h, w, large_kernel=5, *, mistake=None):
    k = {"k5": 5, "k3": 3}.get(mistake, large_kernel)
    reduce3 = c * r3 + 9 * r3 * n3
    reduce5 = c * r5 + k * k * r5 * n5
    if mistake == "no_reduction":
        reduce3, reduce5 = 9 * c * n3, k * k * c * n5
    pool = 0 if mistake == "no_pool" else c * npool
    return h * w * (c * n1 + reduce3 + reduce5 + pool)


@pytest.mark.parametrize("task,fn", [(q1, channels), (q2, params), (q3, inception)])
def test_right_answers_pass(task, fn):
    assert task.run(fn).status == "passed"


@pytest.mark.parametrize("task,mistake,name", [
    (q1, "no_input", "block input forgotten"),
    (q1, "short", "one layer short"),
    (q2, "no_bn", "BatchNorm parameters forgotten"),
    (q2, "same_input", "every layer sees only the block input"),
    (q3, "no_reduction", "the 1x1 reductions left out"),
    (q3, "k5", "large kernel fixed at 5"),
    (q3, "no_pool", "pooling projection forgotten"),
])
def test_mistakes_are_named(task, mistake, name):
    fns = {"q1": channels, "q2": params, "q3": inception}
    result = task.run(lambda *a, **k: fns[task.name](*a, **k, mistake=mistake))
    assert result.status == "failed"
    assert result.diagnosis is not None and result.diagnosis.startswith(name), result.diagnosis


def test_stubs_are_not_attempted_and_chapter_lists_tasks():
    def stub(*args, **kwargs):
        raise NotImplementedError
    for task in (q1, q2, q3):
        assert task.run(stub).status == "not attempted"
    assert list(chapter.tasks) == ["q1", "q2", "q3"]


def test_references_match_published_figures():
    # DenseNet-121: 64 + 6*32 = 256, 128 + 12*32 = 512, 256 + 24*32 = 1024, 512 + 16*32 = 1024
    assert [q1.reference(n, c, 32) for n, c in [(6, 64), (12, 128), (24, 256), (16, 512)]] == \
        [256, 512, 1024, 1024]
    assert q2.reference(6, 64, 32) == 335_040
    # inception 3a, 28x28, with the paper's 5x5: 163,328 multiply-adds per pixel
    assert q3.reference(192, 64, 96, 128, 16, 32, 32, 28, 28) == 163_328 * 784
