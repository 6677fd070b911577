"""The Part III exercise (exercises.tasks.ch10.py): right answers pass, each typical
mistake gets its own diagnosis, and the references agree with convlib's own blocks.

The learner functions here are written independently of the references (numpy, via
convlib.functional.conv2d); each wrong one makes exactly one mistake.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convlib import blocks
from convlib.functional import conv2d
from exercises.tasks.ch10 import chapter, q1, q2, q3
from oracle import assert_close

pytestmark = [pytest.mark.exercises, pytest.mark.blocks]


def residual(x, w1, w2, w_shortcut=None, stride=1, *, mistake=None):
    f = np.maximum(conv2d(x, w1, stride=stride, padding=1), 0)
    f = conv2d(f, w2, padding=1)
    if mistake == "relu_first":
        f = np.maximum(f, 0)
    s = x if w_shortcut is None else conv2d(x, w_shortcut, stride=stride)
    if mistake == "no_skip":
        s = 0
    out = f + s
    return out if mistake == "no_final" else np.maximum(out, 0)


def inverted(x, w_expand, w_depthwise, w_project, stride=1, *, mistake=None):
    act = (lambda t: np.maximum(t, 0)) if mistake == "relu" else (lambda t: np.clip(t, 0, 6))
    h = x if w_expand is None else act(conv2d(x, w_expand))
    h = act(conv2d(h, w_depthwise, stride=stride, padding=1, groups=w_depthwise.shape[0]))
    y = conv2d(h, w_project)
    if mistake == "act_project":
        y = act(y)
    if mistake != "no_skip" and stride == 1 and y.shape[1] == x.shape[1]:
        y = y + x
    return y


def macs(cin, planes, h, w, stride=1, groups=1, width_per_group=64, *, mistake=None):
    mid = int(planes * width_per_group / 64) * groups
    out = 4 * planes
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    g = 1 if mistake == "groups" else groups
    total = h * w * cin * mid + ho * wo * (9 * mid // g * mid + mid * out)
    if (stride != 1 or cin != out) and mistake != "projection":
        total += ho * wo * cin * out
    return total


def _verdict(task, fn):
    return task.run(fn)


@pytest.mark.parametrize("task,fn", [(q1, residual), (q2, inverted), (q3, macs)])
def test_right_answers_pass(task, fn):
    assert _verdict(task, fn).status == "passed"


@pytest.mark.parametrize("task,mistake,name", [
    (q1, "relu_first", "ReLU before the addition"),
    (q1, "no_final", "no ReLU after the addition"),
    (q1, "no_skip", "shortcut missing"),
    (q2, "act_project", "activation after the projection"),
    (q2, "no_skip", "residual missing"),
    (q2, "relu", "ReLU instead of ReLU6"),
    (q3, "projection", "projection shortcut forgotten"),
    (q3, "groups", "groups ignored"),
])
def test_mistakes_are_named(task, mistake, name):
    fns = {"q1": residual, "q2": inverted, "q3": macs}
    result = _verdict(task, lambda *a, **k: fns[task.name](*a, **k, mistake=mistake))
    assert result.status == "failed"
    assert result.diagnosis is not None and result.diagnosis.startswith(name), result.diagnosis


def test_stub_is_not_attempted_and_chapter_lists_tasks():
    def stub(*args, **kwargs):
        raise NotImplementedError
    assert q1.run(stub).status == "not attempted"
    assert list(chapter.tasks) == ["q1", "q2", "q3"]


def test_references_agree_with_convlib_blocks():
    """A convlib block with BatchNorm made the identity (eval, mean 0, var 1, no affine
    change) is the exercise's BN-free block."""
    torch.manual_seed(0)
    b = blocks.BasicBlock(4, 8, stride=2).double().eval()
    ir = blocks.InvertedResidual(4, 4, 1, 3).double().eval()
    for m in list(b.modules()) + list(ir.modules()):
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 0.0
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 7))
    with torch.no_grad():
        expected = b(torch.from_numpy(x))
        got = q1.reference(x, b.conv1.weight.numpy(), b.conv2.weight.numpy(),
                           b.shortcut.conv.weight.numpy(), 2)
        assert_close(got, expected, what="q1 reference vs BasicBlock")
        e, d, p = ir.block.expand.conv, ir.block.depthwise.conv, ir.block.project.conv
        got = q2.reference(x, e.weight.numpy(), d.weight.numpy(), p.weight.numpy(), 1)
        assert_close(got, ir(torch.from_numpy(x)), what="q2 reference vs InvertedResidual")
    assert q3.reference(256, 64, 56, 56) == 218_365_952        # ResNet-50 stage-1 block
