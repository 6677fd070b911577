"""Depthwise, pointwise and separable convolution against brute force (TensorFlow's formula) and torch.

The weight-layout conversion [kh, kw, C, M] -> (C*M, 1, kh, kw) is what is under test, so the
oracles here never use it: the brute force reads TensorFlow's documented formula literally,
and the torch oracle convolves each (input channel k, multiplier q) pair on its own.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.functional import depthwise_conv2d, pointwise_conv2d, separable_conv2d
from oracle import assert_close

pytestmark = pytest.mark.depthwise


def _tf_same_pads(i: int, k: int, s: int, rate: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (tf.nn convolution docs), with the dilated kernel size."""
    out = -(-i // s)
    total = max((out - 1) * s + (k - 1) * rate + 1 - i, 0)
    return total // 2, total - total // 2


def _brute_force_nhwc(x, filt, pw, bias, s, rate, padding):
    """output[b,i,j,k*M+q] = sum_{di,dj} input[b, s*i+rate*di - pad, s*j+rate*dj - pad, k] * filter[di,dj,k,q]."""
    n, h, w, c = x.shape
    kh, kw, _, m = filt.shape
    if padding == "SAME":
        (top, _), (left, _) = _tf_same_pads(h, kh, s, rate), _tf_same_pads(w, kw, s, rate)
        ho, wo = -(-h // s), -(-w // s)
    else:
        top = left = 0
        ho, wo = -(-(h - (kh - 1) * rate) // s), -(-(w - (kw - 1) * rate) // s)
    out = np.zeros((n, ho, wo, c * m))
    for b, i, j, k, q in itertools.product(range(n), range(ho), range(wo), range(c), range(m)):
        acc = 0.0
        for di, dj in itertools.product(range(kh), range(kw)):
            r, col = s * i + rate * di - top, s * j + rate * dj - left
            if 0 <= r < h and 0 <= col < w:
                acc += x[b, r, col, k] * filt[di, dj, k, q]
        out[b, i, j, k * m + q] = acc
    if pw is not None:
        out = out @ pw[0, 0]
    if bias is not None:
        out = out + bias
    return out


def _torch_nhwc(x, filt, pw, bias, stride, rate, padding):
    """The same computation in torch, one (channel k, multiplier q) filter at a time."""
    # .contiguous(): torch 2.13's CPU float32 conv2d returned garbage for a permuted
    # (non-contiguous) one-channel input with stride (1, 3) when this test was written
    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()  # NCHW
    kh, kw, c, m = filt.shape
    if padding == "SAME":
        (t, bt), (lf, rt) = (_tf_same_pads(xt.shape[2], kh, stride[0], rate[0]),
                             _tf_same_pads(xt.shape[3], kw, stride[1], rate[1]))
        xt = F.pad(xt, (lf, rt, t, bt))
    ft = torch.tensor(filt)
    outs = []
    for k in range(c):
        for q in range(m):  # output channel k*m + q
            outs.append(F.conv2d(xt[:, k:k + 1].contiguous(), ft[:, :, k, q][None, None].contiguous(),
                                 stride=stride, dilation=rate))
    y = torch.cat(outs, dim=1).permute(0, 2, 3, 1)  # NHWC
    if pw is not None:
        y = torch.einsum("nhwc,co->nhwo", y, torch.tensor(pw[0, 0]))
    if bias is not None:
        y = y + torch.tensor(bias)
    return y


def test_separable_matches_tensorflow_formula_by_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(12):
        n, h, w, c, m = 2, int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        s, rate = (int(rng.integers(1, 4)), 1) if trial % 2 else (1, int(rng.integers(1, 3)))
        padding = "SAME" if trial % 3 else "VALID"
        if padding == "VALID" and ((kh - 1) * rate >= h or (kw - 1) * rate >= w):
            continue
        x = rng.standard_normal((n, h, w, c))
        filt = rng.standard_normal((kh, kw, c, m))
        pw = rng.standard_normal((1, 1, c * m, 3)) if trial % 4 else None
        bias = rng.standard_normal(3 if pw is not None else c * m)
        got = separable_conv2d(x, filt, pw, bias, stride=s, padding=padding, rate=rate)
        expected = _brute_force_nhwc(x, filt, pw, bias, s, rate, padding)
        assert_close(got, expected, what=f"trial {trial}")
        # and in NCHW
        got_nchw = separable_conv2d(x.transpose(0, 3, 1, 2), filt, pw, bias, stride=s,
                                    padding=padding, rate=rate, data_format="NCHW")
        assert_close(got_nchw, expected.transpose(0, 3, 1, 2), what=f"trial {trial} NCHW")


def test_tensorflow_output_sizes():
    x = np.zeros((1, 10, 7, 2))
    filt = np.zeros((3, 4, 2, 1))
    assert separable_conv2d(x, filt, stride=3).shape == (1, 4, 3, 2)  # ceil(10/3), ceil(7/3)
    assert separable_conv2d(x, filt, stride=(2, 1)).shape == (1, 5, 7, 2)
    assert separable_conv2d(x, filt, padding="VALID", stride=3).shape == (1, 3, 2, 2)
    assert separable_conv2d(x, filt, padding="VALID", rate=2).shape == (1, 6, 1, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_separable_matches_torch_sweep(dtype):
    rng = np.random.default_rng(1 if dtype == np.float32 else 2)
    checked = 0
    for trial in range(120):
        n, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 15)), int(rng.integers(1, 15))
        c, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        if rng.random() < 0.5:
            stride, rate = tuple(int(v) for v in rng.integers(1, 5, size=2)), (1, 1)
        else:
            stride, rate = (1, 1), tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = "SAME" if rng.random() < 0.6 else "VALID"
        if padding == "VALID" and ((kh - 1) * rate[0] >= h or (kw - 1) * rate[1] >= w):
            continue
        x = rng.standard_normal((n, h, w, c)).astype(dtype)
        filt = rng.standard_normal((kh, kw, c, m)).astype(dtype)
        pw = rng.standard_normal((1, 1, c * m, int(rng.integers(1, 6)))).astype(dtype) if rng.random() < 0.6 else None
        bias = rng.standard_normal(pw.shape[3] if pw is not None else c * m).astype(dtype) if rng.random() < 0.5 else None
        expected = _torch_nhwc(x, filt, pw, bias, stride, rate, padding)
        kwargs = dict(stride=stride, padding=padding, rate=rate)
        what = f"trial {trial} x {x.shape} filt {filt.shape} {kwargs} pw={pw is not None}"
        got = separable_conv2d(x, filt, pw, bias, **kwargs)
        assert got.dtype == dtype and got.flags.c_contiguous
        assert_close(got, expected, what=what)
        got = separable_conv2d(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), filt, pw, bias,
                               data_format="NCHW", **kwargs)
        assert_close(got, expected.permute(0, 3, 1, 2), what=what + " NCHW")
        checked += 1
    assert checked >= 90


def test_separable_is_a_factorized_full_convolution():
    # full weight W[o, c, a, b] = sum_m dw[a, b, c, m] * pw[c*M + m, o]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 6, 8))
    dw = rng.standard_normal((3, 3, 5, 2))
    pw = rng.standard_normal((1, 1, 10, 7))
    full = np.einsum("abcm,cmo->ocab", dw, pw[0, 0].reshape(5, 2, 7))
    expected = F.conv2d(torch.tensor(x), torch.tensor(full), padding=1)
    got = separable_conv2d(x, dw, pw, padding="SAME", data_format="NCHW")
    assert_close(got, expected)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_conv2d_matches_torch_groups(dtype):
    rng = np.random.default_rng(4)
    for trial in range(80):
        n, c, m = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
        h, w = int(rng.integers(4, 13)), int(rng.integers(4, 13))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
        padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        if trial % 5 == 0:
            stride, padding = (1, 1), "same"
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        weight = rng.standard_normal((c * m, 1, kh, kw)).astype(dtype)
        bias = rng.standard_normal(c * m).astype(dtype) if trial % 2 else None
        kwargs = dict(stride=stride, padding=padding, dilation=dilation)
        try:
            expected = F.conv2d(torch.tensor(x), torch.tensor(weight),
                                None if bias is None else torch.tensor(bias), groups=c, **kwargs)
        except RuntimeError:
            with pytest.raises(ValueError):
                depthwise_conv2d(x, weight, bias, **kwargs)
            continue
        got = depthwise_conv2d(x, weight, bias, **kwargs)
        assert got.dtype == dtype
        assert_close(got, expected, what=f"trial {trial} {kwargs}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_conv2d_matches_torch_1x1(dtype):
    rng = np.random.default_rng(5)
    for n, cin, cout, h, w in [(1, 1, 1, 1, 1), (2, 3, 5, 4, 6), (3, 8, 2, 7, 1), (2, 16, 16, 5, 5)]:
        x = rng.standard_normal((n, cin, h, w)).astype(dtype)
        weight = rng.standard_normal((cout, cin, 1, 1)).astype(dtype)
        bias = rng.standard_normal(cout).astype(dtype)
        expected = F.conv2d(torch.tensor(x), torch.tensor(weight), torch.tensor(bias))
        got = pointwise_conv2d(x, weight, bias)
        assert got.dtype == dtype
        assert_close(got, expected)
        assert_close(pointwise_conv2d(x, weight[:, :, 0, 0], bias), expected, what="2-D weight")


def test_activation_fn_is_applied_last():
    rng = np.random.default_rng(6)
    x, dw, b = rng.standard_normal((1, 4, 4, 2)), rng.standard_normal((3, 3, 2, 1)), rng.standard_normal(2)
    linear = separable_conv2d(x, dw, bias=b)
    relu = separable_conv2d(x, dw, bias=b, activation_fn=lambda t: np.maximum(t, 0))
    assert np.array_equal(relu, np.maximum(linear, 0)) and (linear < 0).any()


def test_inputs_are_not_modified():
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in [(2, 5, 5, 3), (3, 3, 3, 2), (1, 1, 6, 4), (4,)]]
    copies = [a.copy() for a in arrays]
    y = separable_conv2d(*arrays, stride=2)
    separable_conv2d(arrays[0], arrays[1], bias=rng.standard_normal(6))
    xd, wd, bd = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((6, 1, 3, 3)), rng.standard_normal(6)
    cd = [xd.copy(), wd.copy(), bd.copy()]
    depthwise_conv2d(xd, wd, bd, padding=1)
    wp = rng.standard_normal((4, 3, 1, 1))
    wp_copy = wp.copy()
    pointwise_conv2d(xd, wp, bd[:4])
    for a, b in zip(arrays + [xd, wd, bd, wp], copies + cd + [wp_copy]):
        assert np.array_equal(a, b)
    assert not any(np.shares_memory(y, a) for a in arrays)


X = np.zeros((1, 6, 6, 3))
DW = np.zeros((3, 3, 3, 2))
XC = np.zeros((1, 3, 6, 6))


@pytest.mark.parametrize("call, kind, word", [
    (lambda: separable_conv2d(np.zeros((6, 6, 3)), DW), ValueError, "x"),
    (lambda: separable_conv2d(X, np.zeros((3, 3, 3))), ValueError, "depthwise_weight"),
    (lambda: separable_conv2d(X, np.zeros((3, 3, 4, 2))), ValueError, "depthwise_weight"),
    (lambda: separable_conv2d(X, np.zeros((0, 3, 3, 2))), ValueError, "depthwise_weight"),
    (lambda: separable_conv2d(X, DW, np.zeros((1, 1, 5, 4))), ValueError, "pointwise_weight"),
    (lambda: separable_conv2d(X, DW, np.zeros((6, 4))), ValueError, "pointwise_weight"),
    (lambda: separable_conv2d(X, DW, np.zeros((3, 1, 6, 4))), ValueError, "pointwise_weight"),
    (lambda: separable_conv2d(X, DW, bias=np.zeros(4)), ValueError, "bias"),
    (lambda: separable_conv2d(X, DW, np.zeros((1, 1, 6, 4)), bias=np.zeros(6)), ValueError, "bias"),
    (lambda: separable_conv2d(X, DW, padding="same"), ValueError, "padding"),
    (lambda: separable_conv2d(X, DW, padding=1), ValueError, "padding"),
    (lambda: separable_conv2d(X, DW, data_format="NCWH"), ValueError, "data_format"),
    (lambda: separable_conv2d(X, DW, stride=0), ValueError, "stride"),
    (lambda: separable_conv2d(X, DW, rate=0), ValueError, "rate"),
    (lambda: separable_conv2d(X, DW, rate=(1, 2.0)), TypeError, "rate"),
    (lambda: separable_conv2d(X, DW, stride=2, rate=2), ValueError, "rate"),
    (lambda: separable_conv2d(X, np.zeros((7, 3, 3, 2)), padding="VALID"), ValueError, "depthwise_weight"),
    (lambda: separable_conv2d(X, np.zeros((3, 3, 3, 2)), padding="VALID", rate=3), ValueError, "depthwise_weight"),
    (lambda: separable_conv2d(X, DW, activation_fn="relu"), TypeError, "activation_fn"),
    (lambda: separable_conv2d(X.astype(complex), DW), TypeError, "x"),
    (lambda: depthwise_conv2d(np.zeros((6, 6)), np.zeros((3, 1, 3, 3))), ValueError, "x"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 2, 3, 3))), ValueError, "weight"),
    (lambda: depthwise_conv2d(XC, np.zeros((4, 1, 3, 3))), ValueError, "weight"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 3))), ValueError, "weight"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 3, 3)), stride=0), ValueError, "stride"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 3, 3)), padding=-1), ValueError, "padding"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 3, 3)), padding="full"), ValueError, "padding"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 3, 3)), dilation=0), ValueError, "dilation"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 9, 3))), ValueError, "kernel|input|larger"),
    (lambda: depthwise_conv2d(XC, np.zeros((3, 1, 3, 3)), np.zeros(2)), ValueError, "bias"),
    (lambda: pointwise_conv2d(XC, np.zeros((4, 2, 1, 1))), ValueError, "weight"),
    (lambda: pointwise_conv2d(XC, np.zeros((4, 3, 3, 3))), ValueError, "weight"),
    (lambda: pointwise_conv2d(XC, np.zeros(3)), ValueError, "weight"),
    (lambda: pointwise_conv2d(np.zeros((6, 6)), np.zeros((4, 3))), ValueError, "x"),
    (lambda: pointwise_conv2d(XC, np.zeros((4, 3)), np.zeros(3)), ValueError, "bias"),
])
def test_bad_input_names_the_argument(call, kind, word):
    with pytest.raises(kind, match=word):
        call()
