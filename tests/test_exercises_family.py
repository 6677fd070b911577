"""The transposed- and dilated-convolution exercises (exercises/tasks/ch05.py, ch06.py): right
answers pass, each typical mistake gets its own diagnosis, and the references agree with
PyTorch.

The learner functions here are plain loops written independently of the references and of the
solution notebooks; each wrong one makes exactly one mistake.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from exercises.tasks import ch05, ch06
from oracle import assert_close

pytestmark = [pytest.mark.exercises, pytest.mark.conv]


def _diagnosis(task, fn):
    result = task.run(fn)
    assert result.status == "failed", result.message
    return (result.diagnosis or "").split(" - ")[0]


# ---- ch05 q1: the convolution matrix -----------------------------------------------------------
def conv_matrix(weight, input_size, stride=1, padding=0, *, mistake=None):
    if mistake == "flip":
        weight = weight[::-1, ::-1]
    kh, kw = weight.shape
    h, w = input_size
    s = 1 if mistake == "stride" else stride
    p = 0 if mistake == "padding" else padding
    ho, wo = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
    C = np.zeros((ho * wo, h * w), dtype=weight.dtype)
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * s + a - p, j * s + b - p
                    if 0 <= r < h and 0 <= c < w:
                        col = c * h + r if mistake == "colmajor" else r * w + c
                        C[i * wo + j, col] = weight[a, b]
    return C.T.copy() if mistake == "transpose" else C


def test_ch05_q1_right_answer_passes():
    assert ch05.q1.run(conv_matrix).status == "passed"


@pytest.mark.parametrize("mistake, name", [
    ("flip", "kernel flipped"), ("transpose", "C transposed"),
    ("colmajor", "input flattened column by column"), ("stride", "stride ignored"),
    ("padding", "padding ignored"),
])
def test_ch05_q1_mistakes_are_named(mistake, name):
    assert _diagnosis(ch05.q1, lambda *a, **k: conv_matrix(*a, **k, mistake=mistake)) == name


# ---- ch05 q2: transposed convolution ------------------------------------------------------------
def conv_transpose(x, weight, stride=1, padding=0, output_padding=0, *, mistake=None):
    """A scatter (no zero insertion), then a crop; the mistakes as a learner would make them."""
    k = weight.shape[0]
    s = 1 if mistake == "stride" else stride
    p = 0 if mistake in ("padding", "padding_added") else padding
    a = 0 if mistake == "output_padding" else output_padding
    if mistake == "flip":
        weight = weight[::-1, ::-1]
    h, w = x.shape
    extra = s - 1 if mistake == "zeros_after" else 0
    full = np.zeros(((h - 1) * s + k + a + extra, (w - 1) * s + k + a + extra), dtype=x.dtype)
    for i in range(h):
        for j in range(w):
            full[i * s:i * s + k, j * s:j * s + k] += x[i, j] * weight
    out = full[p:full.shape[0] - p, p:full.shape[1] - p]
    if mistake == "padding_added":
        out = np.pad(out, padding)
    return out


def test_ch05_q2_right_answer_passes():
    assert ch05.q2.run(conv_transpose).status == "passed"


@pytest.mark.parametrize("mistake, name", [
    ("flip", "kernel not flipped"), ("output_padding", "output_padding missing"),
    ("padding_added", "padding added instead of removed"), ("padding", "padding ignored"),
    ("zeros_after", "zeros after the last input too"), ("stride", "stride ignored"),
])
def test_ch05_q2_mistakes_are_named(mistake, name):
    assert _diagnosis(ch05.q2, lambda *a, **k: conv_transpose(*a, **k, mistake=mistake)) == name


# ---- ch05 q3: output_padding --------------------------------------------------------------------
def test_ch05_q3_brute_force_and_mistakes():
    def right(i, k, s, p=0):
        o = (i + 2 * p - k) // s + 1
        for a in range(s):           # brute force: the a that gives i back
            if (o - 1) * s - 2 * p + k + a == i:
                return a
        raise AssertionError("no output_padding fits")
    assert ch05.q3.run(right).status == "passed"
    assert _diagnosis(ch05.q3, lambda i, k, s, p=0: (i - k) % s) == "padding forgotten"
    assert _diagnosis(ch05.q3, lambda i, k, s, p=0: s - 1 - right(i, k, s, p)) == \
        "the rounding of the wrong side"


# ---- ch06 ---------------------------------------------------------------------------------------
def dilate(weight, dilation, *, mistake=None):
    d = dilation + (1 if mistake == "d_zeros" else 0)
    kh, kw = weight.shape
    tail = dilation - 1 if mistake == "tail" else 0
    out = np.zeros((d * (kh - 1) + 1 + tail, d * (kw - 1) + 1 + tail), dtype=weight.dtype)
    for u in range(kh):
        for v in range(kw):
            out[u * d, v * d] = weight[u, v]
    return out


def test_ch06_q1():
    assert ch06.q1.run(dilate).status == "passed"
    assert _diagnosis(ch06.q1, lambda w, d: dilate(w, d, mistake="d_zeros")) == \
        "d zeros between taps instead of d-1"
    assert _diagnosis(ch06.q1, lambda w, d: dilate(w, d, mistake="tail")) == "zeros after the last tap too"


def im2col(x, kernel_size, dilation=1, padding=0, stride=1, *, mistake=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    d, s, p = dilation, stride, padding
    if mistake == "ignored":
        d = 1
    elif mistake == "as_stride":
        d, s = 1, dilation
    elif mistake == "stride":
        s = 1
    elif mistake == "padding":
        p = 0
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h + 2 * p - d * (kh - 1) - 1) // s + 1, (w + 2 * p - d * (kw - 1) - 1) // s + 1
    cols = np.zeros((n, c * kh * kw, ho * wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            for ch in range(c):
                for u in range(kh):
                    for v in range(kw):
                        cols[:, (ch * kh + u) * kw + v, i * wo + j] = xp[:, ch, i * s + u * d, j * s + v * d]
    return cols


def test_ch06_q2():
    assert ch06.q2.run(im2col).status == "passed"
    for mistake, name in [("ignored", "dilation ignored"), ("as_stride", "dilation used as the stride"),
                          ("stride", "stride ignored"), ("padding", "padding ignored")]:
        assert _diagnosis(ch06.q2, lambda *a, m=mistake, **k: im2col(*a, **k, mistake=m)) == name


def conv(x, weight, bias=None, stride=1, padding=0, dilation=1, *, mistake=None):
    o, _, kh, kw = weight.shape
    if mistake == "flip":
        weight = weight[..., ::-1, ::-1]
    cols = im2col(x, (kh, kw), dilation, padding, stride,
                  mistake=mistake if mistake in ("ignored", "as_stride", "stride", "padding") else None)
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    length = cols.shape[-1]
    out = np.einsum("ok,nkl->nol", weight.reshape(o, -1), cols)
    if bias is not None and mistake != "bias":
        out = out + bias[None, :, None]
    # recover (Ho, Wo) from the number of windows for this (possibly wrong) geometry
    d, s, p = dilation, stride, padding
    if mistake == "ignored":
        d = 1
    elif mistake == "as_stride":
        d, s = 1, dilation
    elif mistake == "stride":
        s = 1
    elif mistake == "padding":
        p = 0
    ho = (h + 2 * p - d * (kh - 1) - 1) // s + 1
    return out.reshape(n, o, ho, length // ho).astype(x.dtype)


def test_ch06_q3():
    assert ch06.q3.run(conv).status == "passed"
    for mistake, name in [("ignored", "dilation ignored"), ("as_stride", "dilation used as the stride"),
                          ("flip", "kernel flipped"), ("stride", "stride ignored"),
                          ("padding", "padding ignored"), ("bias", "bias ignored")]:
        assert _diagnosis(ch06.q3, lambda *a, m=mistake, **k: conv(*a, **k, mistake=m)) == name


def test_references_agree_with_torch():
    for case in ch05.q2.cases():
        args = ch05.q2.arguments(case)
        t = TF.conv_transpose2d(torch.from_numpy(args["x"])[None, None],
                                torch.from_numpy(args["weight"].copy())[None, None],
                                stride=args["stride"], padding=args["padding"],
                                output_padding=args["output_padding"])[0, 0]
        assert_close(ch05.q2.reference(**args), t)
    for case in ch05.q1.cases():
        args = ch05.q1.arguments(case)
        h, w = args["input_size"]
        x = np.random.default_rng(0).standard_normal((h, w))
        t = TF.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(args["weight"].copy())[None, None],
                      stride=args["stride"], padding=args["padding"])
        assert_close(ch05.q1.reference(**args) @ x.ravel(), t.flatten())
    for case in ch06.q2.cases():
        args = ch06.q2.arguments(case)
        t = TF.unfold(torch.from_numpy(args["x"]), args["kernel_size"], dilation=args["dilation"],
                      padding=args["padding"], stride=args["stride"])
        assert_close(ch06.q2.reference(**args), t)
    for case in ch06.q3.cases():
        args = ch06.q3.arguments(case)
        b = None if args["bias"] is None else torch.from_numpy(args["bias"])
        t = TF.conv2d(torch.from_numpy(args["x"]), torch.from_numpy(args["weight"]), b,
                      stride=args["stride"], padding=args["padding"], dilation=args["dilation"])
        assert_close(ch06.q3.reference(**args), t)
