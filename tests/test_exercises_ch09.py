"""The deformable-convolution exercises (exercises/tasks/ch09.py): right answers pass, each
typical mistake gets its own diagnosis, and the references agree with the torch oracle.

The learner functions here are plain loops written independently of the references and of the
solution notebook; each wrong one makes exactly one mistake.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deform_oracle import deform_conv2d_torch
from exercises.tasks import ch09
from oracle import assert_close

pytestmark = [pytest.mark.exercises, pytest.mark.deformable]


def sample(image, y, x, *, mistake=None):
    if mistake == "swap_yx":
        y, x = x, y
    if mistake == "nearest":
        y, x = math.floor(y + 0.5), math.floor(x + 0.5)
    h, w = image.shape
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    if mistake == "swap_weights":
        ly, lx = 1 - ly, 1 - lx
    total = 0.0
    for r, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for c, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if mistake == "clamp":
                total += wy * wx * image[min(max(r, 0), h - 1), min(max(c, 0), w - 1)]
            elif 0 <= r < h and 0 <= c < w:
                total += wy * wx * image[r, c]
    return float(total)


def deform(x, offset, weight, padding=0, *, mistake=None):
    kh, kw = weight.shape
    K = kh * kw
    ho, wo = offset.shape[1:]
    out = np.zeros((ho, wo))
    for p in range(ho):
        for q in range(wo):
            for t in range(K):
                i, j = divmod(t, kw)
                if mistake == "planar":
                    dy, dx = offset[t, p, q], offset[K + t, p, q]
                else:
                    dy, dx = offset[2 * t, p, q], offset[2 * t + 1, p, q]
                if mistake == "no_offset":
                    dy = dx = 0.0
                if mistake == "swap_dydx":
                    dy, dx = dx, dy
                m = mistake if mistake in ("clamp", "swap_weights") else None
                out[p, q] += weight[i, j] * sample(x, p - padding + i + dy, q - padding + j + dx,
                                                   mistake=m)
    return out


def _diagnosis(task, fn):
    result = task.run(fn)
    assert result.status == "failed", result.message
    return (result.diagnosis or "").split(" - ")[0]


def test_q1_right_answer_passes():
    assert ch09.q1.run(sample).status == "passed"


@pytest.mark.parametrize("mistake, name", [
    ("swap_yx", "y and x swapped"), ("clamp", "clamping at the border"),
    ("swap_weights", "floor and ceil weights swapped"), ("nearest", "rounded to the nearest pixel"),
])
def test_q1_mistakes_are_named(mistake, name):
    assert _diagnosis(ch09.q1, lambda *a, **k: sample(*a, **k, mistake=mistake)) == name


def test_q2_right_answer_passes():
    assert ch09.q2.run(deform).status == "passed"


@pytest.mark.parametrize("mistake, name", [
    ("no_offset", "offsets ignored"), ("swap_dydx", "dy and dx swapped"),
    ("planar", "offsets read as all dy, then all dx"), ("clamp", "clamping at the border"),
    ("swap_weights", "floor and ceil weights swapped"),
])
def test_q2_mistakes_are_named(mistake, name):
    assert _diagnosis(ch09.q2, lambda *a, **k: deform(*a, **k, mistake=mistake)) == name


def test_stub_is_not_attempted():
    def stub(*a, **k):
        raise NotImplementedError
    assert ch09.q1.run(stub).status == "not attempted"
    assert ch09.q2.run(stub).status == "not attempted"


def test_references_agree_with_torch_oracle():
    for case in ch09.q2.cases():
        a = ch09.q2.arguments(case)
        ref = deform_conv2d_torch(torch.from_numpy(a["x"])[None, None],
                                  torch.from_numpy(a["offset"])[None],
                                  torch.from_numpy(a["weight"])[None, None],
                                  padding=a["padding"])[0, 0]
        assert_close(ch09.q2.reference(**a), ref, what=case.label)
    for case in ch09.q1.cases():
        a = ch09.q1.arguments(case)
        img = torch.from_numpy(a["image"])[None, None]
        h, w = a["image"].shape
        off = torch.zeros(1, 2, h, w, dtype=torch.float64)
        off[0, :, 0, 0] = torch.tensor([a["y"], a["x"]], dtype=torch.float64)
        ref = deform_conv2d_torch(img, off, torch.ones(1, 1, 1, 1, dtype=torch.float64))
        assert ch09.q1.reference(**a) == pytest.approx(float(ref[0, 0, 0, 0]), abs=1e-12)
