"""convlib.functional pooling against PyTorch: values, indices, autograd gradients, bad input."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convlib.functional.pooling as pooling_module
from convlib.functional import (
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    max_pool2d_backward,
)
from oracle import assert_close

pytestmark = pytest.mark.pooling

DTYPES = [np.float32, np.float64]


def _config(rng: np.random.Generator, with_dilation: bool) -> dict:
    """A random pooling configuration; some of them are too small for their input."""
    k = tuple(int(v) for v in rng.integers(1, 5, size=2))
    cfg = dict(
        shape=(int(rng.integers(1, 4)), int(rng.integers(1, 4)),
               int(rng.integers(1, 13)), int(rng.integers(1, 13))),
        kernel_size=k if rng.random() < 0.5 else k[0],
        stride=None if rng.random() < 0.25 else tuple(int(v) for v in rng.integers(1, 5, size=2)),
        padding=tuple(int(rng.integers(0, kk // 2 + 1)) for kk in (k if rng.random() < 0.5 else (k[0], k[0]))),
        ceil_mode=bool(rng.random() < 0.5),
    )
    if isinstance(cfg["kernel_size"], int):
        cfg["padding"] = (int(rng.integers(0, k[0] // 2 + 1)),) * 2
    if with_dilation:
        cfg["dilation"] = tuple(int(v) for v in rng.integers(1, 4, size=2))
    return cfg


def _unique_input(rng, shape, dtype):
    """Distinct values (a shuffled range), so every window has a single maximum."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) / 7.0).reshape(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_values_indices_and_gradient_match_torch(dtype):
    rng = np.random.default_rng(1 if dtype == np.float32 else 2)
    checked = rejected = 0
    for trial in range(150):
        cfg = _config(rng, with_dilation=True)
        shape = cfg.pop("shape")
        x = _unique_input(rng, shape, dtype)
        xt = torch.tensor(x, requires_grad=True)
        try:
            yt, it = F.max_pool2d(xt, return_indices=True, **cfg)
        except RuntimeError:
            with pytest.raises(ValueError):
                max_pool2d(x, **cfg)
            rejected += 1
            continue
        what = f"trial {trial} shape {shape} {cfg}"
        if torch.isinf(yt).any():
            # a dilated window that reads only padding: torch gives -inf (and its backward
            # writes out of bounds); convlib refuses the configuration
            with pytest.raises(ValueError, match="only padding"):
                max_pool2d(x, **cfg)
            rejected += 1
            continue
        y, idx = max_pool2d(x, return_indices=True, **cfg)
        assert y.dtype == dtype and idx.dtype == np.int64
        assert_close(y, yt, what=what)
        assert np.array_equal(idx, it.numpy()), what
        assert_close(max_pool2d(x, **cfg), yt, what=what + " (no indices)")
        g = rng.standard_normal(y.shape).astype(dtype)
        yt.backward(torch.tensor(g))
        grad = max_pool2d_backward(g, idx, x.shape)
        assert grad.dtype == dtype
        assert_close(grad, xt.grad, what=what + " grad")
        checked += 1
    assert checked >= 90 and rejected >= 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_values_and_gradient_match_torch(dtype):
    rng = np.random.default_rng(3 if dtype == np.float32 else 4)
    checked = rejected = 0
    for trial in range(150):
        cfg = _config(rng, with_dilation=False)
        shape = cfg.pop("shape")
        cfg["count_include_pad"] = bool(rng.random() < 0.5)
        cfg["divisor_override"] = int(rng.choice([1, 3, 5, -2])) if rng.random() < 0.2 else None
        x = rng.standard_normal(shape).astype(dtype)
        xt = torch.tensor(x, requires_grad=True)
        try:
            yt = F.avg_pool2d(xt, **cfg)
        except RuntimeError:
            with pytest.raises(ValueError):
                avg_pool2d(x, **cfg)
            rejected += 1
            continue
        what = f"trial {trial} shape {shape} {cfg}"
        y = avg_pool2d(x, **cfg)
        assert y.dtype == dtype
        assert_close(y, yt, what=what)
        g = rng.standard_normal(y.shape).astype(dtype)
        yt.backward(torch.tensor(g))
        grad = avg_pool2d_backward(g, x.shape, **cfg)
        assert grad.dtype == dtype and grad.shape == x.shape
        assert_close(grad, xt.grad, what=what + " grad")
        checked += 1
    assert checked >= 90 and rejected >= 1


def test_ceil_mode_and_count_include_pad_corner_cases():
    # 5x5, k=2, s=2, p=1, ceil: windows start at -1, 1, 3 (5 would start past input+pad -> dropped)
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    for ceil in (False, True):
        for cip in (False, True):
            for k, s, p in [(2, 2, 1), (3, 2, 1), (3, 3, 1), (2, 3, 0), (4, 3, 2)]:
                args = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
                assert_close(avg_pool2d(x, count_include_pad=cip, **args),
                             F.avg_pool2d(torch.tensor(x), count_include_pad=cip, **args),
                             what=f"avg {args} cip={cip}")
                assert_close(max_pool2d(x, **args), F.max_pool2d(torch.tensor(x), **args),
                             what=f"max {args}")


def test_avg_pool2d_backward_is_the_adjoint_of_the_forward():
    rng = np.random.default_rng(5)
    for _ in range(60):
        cfg = _config(rng, with_dilation=False)
        shape = cfg.pop("shape")
        cfg["count_include_pad"] = bool(rng.random() < 0.5)
        x = rng.standard_normal(shape)
        try:
            y = avg_pool2d(x, **cfg)
        except ValueError:
            continue
        g = rng.standard_normal(y.shape)
        lhs = float(np.sum(y * g))
        rhs = float(np.sum(x * avg_pool2d_backward(g, shape, **cfg)))
        assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), cfg


def test_max_pool2d_backward_accumulates_overlapping_windows():
    # 1x3 input, kernel 2 stride 1: the middle maximum wins both windows -> gradient 1 + 2
    x = np.array([[[[0.0, 5.0, 1.0]]]])
    y, idx = max_pool2d(x, (1, 2), stride=1, return_indices=True)
    assert idx.tolist() == [[[[1, 1]]]]
    grad = max_pool2d_backward(np.array([[[[1.0, 2.0]]]]), idx, x.shape)
    assert grad.tolist() == [[[[0.0, 3.0, 0.0]]]]


def test_max_pool2d_nan_and_minus_inf_like_torch():
    rng = np.random.default_rng(6)
    x = _unique_input(rng, (2, 2, 7, 8), np.float64)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, :3, :3] = -np.inf  # windows holding only -inf
    x[1, 0, 2, 3] = np.nan
    x[1, 0, 2, 4] = np.nan
    for cfg in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1),
                dict(kernel_size=3, stride=1, padding=1, dilation=2, ceil_mode=True)]:
        y, idx = max_pool2d(x, return_indices=True, **cfg)
        yt, it = F.max_pool2d(torch.tensor(x), return_indices=True, **cfg)
        assert np.array_equal(y, yt.numpy(), equal_nan=True), cfg
        assert np.array_equal(idx, it.numpy()), cfg
        assert np.array_equal(max_pool2d(x, **cfg), yt.numpy(), equal_nan=True), cfg


def test_ties_pick_the_first_maximum_like_torch():
    x = np.ones((1, 2, 6, 6))
    y, idx = max_pool2d(x, 3, 2, 1, return_indices=True)
    _, it = F.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert np.array_equal(idx, it.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_pooling_matches_adaptive_pooling(dtype):
    rng = np.random.default_rng(7)
    for shape in [(1, 1, 1, 1), (2, 3, 5, 7), (4, 2, 1, 9), (3, 5, 8, 8)]:
        x = rng.standard_normal(shape).astype(dtype)
        xt = torch.tensor(x)
        avg, mx = global_avg_pool2d(x), global_max_pool2d(x)
        assert avg.dtype == dtype and mx.dtype == dtype
        assert_close(avg, F.adaptive_avg_pool2d(xt, 1), what="global avg")
        assert_close(mx, F.adaptive_max_pool2d(xt, 1), what="global max")
        assert_close(global_avg_pool2d(x, keepdims=False), xt.mean((2, 3)), what="avg flat")
        assert_close(global_max_pool2d(x, keepdims=False), xt.amax((2, 3)), what="max flat")


def test_inputs_are_not_modified():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 6))
    x_copy = x.copy()
    y, idx = max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    g = rng.standard_normal(y.shape)
    g_copy, idx_copy = g.copy(), idx.copy()
    max_pool2d_backward(g, idx, x.shape)
    a = avg_pool2d(x, 3, 2, 1, ceil_mode=True)
    avg_pool2d_backward(g, x.shape, 3, 2, 1, ceil_mode=True)
    global_avg_pool2d(x), global_max_pool2d(x)
    assert np.array_equal(x, x_copy) and np.array_equal(g, g_copy) and np.array_equal(idx, idx_copy)
    # results are fresh arrays, never views of the input
    for out in (y, idx, a, max_pool2d_backward(g, idx, x.shape)):
        assert not np.shares_memory(out, x)
    assert not np.shares_memory(max_pool2d(x, 1), x)


def test_integer_input_becomes_float64():
    x = np.arange(16).reshape(1, 1, 4, 4)
    assert max_pool2d(x, 2).dtype == np.float64 and avg_pool2d(x, 2).dtype == np.float64


def test_docstring_examples():
    assert doctest.testmod(pooling_module, extraglobs={"np": np}).failed == 0


X = np.zeros((1, 2, 6, 6))


@pytest.mark.parametrize("call, kind, word", [
    (lambda: max_pool2d(np.zeros((6, 6)), 2), ValueError, "x"),
    (lambda: avg_pool2d(np.zeros((1, 1, 2, 6, 6)), 2), ValueError, "x"),
    (lambda: global_avg_pool2d(np.zeros((2, 6))), ValueError, "x"),
    (lambda: global_max_pool2d(np.zeros((1, 2, 0, 3))), ValueError, "x"),
    (lambda: max_pool2d(X.astype(bool), 2), TypeError, "x"),
    (lambda: max_pool2d(X, 0), ValueError, "kernel_size"),
    (lambda: avg_pool2d(X, (2, -1)), ValueError, "kernel_size"),
    (lambda: max_pool2d(X, 2.5), TypeError, "kernel_size"),
    (lambda: max_pool2d(X, 2, stride=0), ValueError, "stride"),
    (lambda: avg_pool2d(X, 2, stride=(1, 2, 3)), TypeError, "stride"),
    (lambda: max_pool2d(X, 2, dilation=0), ValueError, "dilation"),
    (lambda: max_pool2d(X, 3, padding=-1), ValueError, "padding"),
    (lambda: max_pool2d(X, 3, padding=2), ValueError, "padding"),
    (lambda: avg_pool2d(X, (4, 2), padding=(2, 2)), ValueError, "padding"),
    (lambda: avg_pool2d(X, 3, padding="same"), TypeError, "padding"),
    (lambda: max_pool2d(X, 7), ValueError, "kernel_size"),
    (lambda: max_pool2d(X, 3, dilation=3), ValueError, "kernel_size"),
    (lambda: max_pool2d(X, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda: avg_pool2d(X, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: avg_pool2d(X, 2, divisor_override=1.5), TypeError, "divisor_override"),
    (lambda: max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 2), np.int64), X.shape),
     ValueError, "indices"),
    (lambda: max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3)), X.shape),
     TypeError, "indices"),
    (lambda: max_pool2d_backward(np.ones((1, 2, 3, 3)), np.full((1, 2, 3, 3), 36), X.shape),
     ValueError, "indices"),
    (lambda: max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), int), (1, 3, 6, 6)),
     ValueError, "input_shape"),
    (lambda: max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), int), (2, 6, 6)),
     TypeError, "input_shape"),
    (lambda: max_pool2d_backward(np.ones((2, 3, 3)), np.zeros((2, 3, 3), int), X.shape),
     ValueError, "grad_output"),
    (lambda: avg_pool2d_backward(np.ones((1, 2, 3, 4)), X.shape, 2), ValueError, "grad_output"),
    (lambda: avg_pool2d_backward(np.ones((1, 2, 3, 3)), X.shape, 2, stride=0), ValueError, "stride"),
])
def test_bad_input_names_the_argument(call, kind, word):
    with pytest.raises(kind, match=word):
        call()
