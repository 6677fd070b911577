"""The chapter-12 exercise (exercises/tasks/ch12.py): right answers pass, each typical mistake
gets its own diagnosis. The learner functions are plain loops written here, independently of
the references; each wrong one makes exactly one mistake."""

from __future__ import annotations

import numpy as np
import pytest

from exercises.tasks.ch12 import q1, q2

pytestmark = pytest.mark.exercises


def occlusion(predict, image, target, patch, stride, fill=None, *, mode="ok"):
    c, h, w = image.shape
    fill = (0.0 if mode == "fill0" else float(image.mean())) if fill is None else fill
    ho, wo = (h - patch) // stride + 1, (w - patch) // stride + 1
    if mode == "few":
        ho, wo = ho - 1, wo - 1
    if mode == "h_over_s":
        ho, wo = h // stride, w // stride
    step = {"step1": 1, "step_patch": patch}.get(mode, stride)
    score = predict.logits if mode == "logit" else predict
    base = score(image[None])[0, target]
    out = np.zeros((ho, wo), dtype=np.float32)
    for i in range(ho):
        for j in range(wo):
            im = image.copy()
            im[:, i * step:i * step + patch, j * step:j * step + patch] = fill
            p = score(im[None])[0, target]
            out[i, j] = {"sign": p - base, "no_base": p}.get(mode, base - p)
    return out


def grid(weight, ncols, pad=1, *, mode="ok"):
    o, c, kh, kw = weight.shape
    ncols = min(ncols, o)
    rows = -(-o // ncols)
    out = np.full((rows * (kh + pad) - pad, ncols * (kw + pad) - pad, c), 0.0 if mode == "zeros" else 1.0)
    glo, ghi = weight.min(), weight.max()
    for k in range(o):
        f = weight[k].astype(np.float64)
        if mode == "global":
            t = (f - glo) / (ghi - glo)
        elif mode == "per_channel":
            lo, hi = f.min(axis=(1, 2), keepdims=True), f.max(axis=(1, 2), keepdims=True)
            t = np.where(hi > lo, (f - lo) / np.where(hi > lo, hi - lo, 1), 0.5)
        elif mode == "raw":
            t = f
        else:
            t = (f - f.min()) / (f.max() - f.min()) if f.max() > f.min() else np.full_like(f, 0.5)
        r, q = (k % rows, k // rows) if mode == "colmajor" else divmod(k, ncols)
        out[r * (kh + pad):r * (kh + pad) + kh, q * (kw + pad):q * (kw + pad) + kw] = t.transpose(1, 2, 0)
    return out.transpose(2, 0, 1) if mode == "chw" else out


def _diagnosis(task, fn):
    result = task.run(fn)
    assert result.status == "failed", result.message
    return result.diagnosis or ""


def test_right_answers_pass():
    assert q1.run(occlusion).status == "passed"
    assert q2.run(grid).status == "passed"


@pytest.mark.parametrize("mode, name", [
    ("logit", "logits instead of probabilities"),
    ("step1", "patch moved by one pixel per position"),
    ("step_patch", "patch moved by its own size"),
    ("few", "one position too few"),
    ("h_over_s", "H // stride positions"),
    ("sign", "sign reversed"),
    ("no_base", "occluded probabilities, not their drop"),
    ("fill0", "fill=None not replaced by the image mean"),
])
def test_occlusion_mistakes_are_named(mode, name):
    assert name in _diagnosis(q1, lambda *a, **k: occlusion(*a, **k, mode=mode))


@pytest.mark.parametrize("mode, name", [
    ("global", "one scale for all filters"),
    ("per_channel", "each colour channel rescaled on its own"),
    ("raw", "no rescaling"),
    ("colmajor", "filters placed column by column"),
    ("zeros", "gaps filled with 0"),
    ("chw", "channels first"),
])
def test_grid_mistakes_are_named(mode, name):
    assert name in _diagnosis(q2, lambda *a, **k: grid(*a, **k, mode=mode))


def test_stub_fails_cleanly():
    def stub(*args, **kwargs):
        raise NotImplementedError("write this function")
    assert q1.run(stub).status in ("failed", "not attempted")
    assert q2.run(stub).status in ("failed", "not attempted")
