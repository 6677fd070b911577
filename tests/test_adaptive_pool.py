"""Adaptive, global and unpooling ops against PyTorch: values, indices, autograd gradients,
unbatched inputs, and bad input."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convlib.functional.adaptive as adaptive_module
import convlib.functional.unpool as unpool_module
from convlib.functional import (
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    adaptive_max_pool2d,
    adaptive_max_pool2d_backward,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    global_max_pool2d,
    global_max_pool2d_backward,
    max_pool2d,
    max_unpool2d,
    max_unpool2d_backward,
)
from oracle import assert_close

pytestmark = [pytest.mark.pooling, pytest.mark.usefixtures("torch_for_tiny_shapes")]


def _case(seed: int):
    """A random input (batched or not, float32/64) and an output_size in one of torch's forms."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 12, size=2))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), h, w)
    if seed % 3 == 0:
        shape = shape[1:]  # unbatched (C, H, W)
    dtype = (np.float32, np.float64)[seed % 2]
    x = rng.standard_normal(shape).astype(dtype)
    # include sizes larger than the input (overlapping windows of length 1-2) and 1 (global)
    oh, ow = (int(v) for v in rng.integers(1, 14, size=2))
    form = seed % 5
    output_size = [oh, (oh, ow), (oh, None), (None, ow), [oh, ow]][form]
    return x, output_size


def _torch_grad(fn, x, *args, seed=0, **kwargs):
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt, *args, **kwargs)
    y = out[0] if isinstance(out, tuple) else out
    g = np.random.default_rng(seed).standard_normal(tuple(y.shape)).astype(x.dtype)
    y.backward(torch.tensor(g))
    return out, g, xt.grad


@pytest.mark.parametrize("seed", range(120))
def test_adaptive_avg_pool2d_matches_torch(seed):
    x, size = _case(seed)
    yt, g, gxt = _torch_grad(F.adaptive_avg_pool2d, x, size, seed=seed)
    what = f"seed {seed} x {x.shape} output_size {size}"
    y = adaptive_avg_pool2d(x, size)
    assert y.dtype == x.dtype
    assert_close(y, yt, what=what)
    assert_close(adaptive_avg_pool2d_backward(g, x.shape), gxt, what=what + " grad")


@pytest.mark.parametrize("seed", range(120))
def test_adaptive_max_pool2d_matches_torch(seed):
    x, size = _case(seed)
    if seed % 4 == 1:  # ties: rounded values, so windows hold equal maxima
        x = np.round(x)
    (yt, it), g, gxt = _torch_grad(F.adaptive_max_pool2d, x, size, True, seed=seed)
    what = f"seed {seed} x {x.shape} output_size {size}"
    y, idx = adaptive_max_pool2d(x, size, return_indices=True)
    assert idx.dtype == np.int64
    assert_close(y, yt, what=what)
    assert np.array_equal(idx, it.numpy()), what
    assert_close(adaptive_max_pool2d(x, size), yt, what=what + " (no indices)")
    assert_close(adaptive_max_pool2d_backward(g, idx, x.shape), gxt, what=what + " grad")


def test_adaptive_max_pool2d_nan_and_minus_inf_like_torch():
    x = np.array([[[[1.0, np.nan, 2.0, np.nan], [-np.inf, -np.inf, 0.0, 3.0]],
                   [[-np.inf, -np.inf, -np.inf, -np.inf], [-np.inf, -np.inf, -np.inf, 1.0]]]])
    for size in [(1, 2), (2, 2), (1, 1), (2, 3)]:
        yt, it = F.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
        y, idx = adaptive_max_pool2d(x, size, return_indices=True)
        np.testing.assert_array_equal(y, yt.numpy())  # NaN == NaN here
        assert np.array_equal(idx, it.numpy()), size


def test_window_rule_is_torchs():
    """start = floor(i*H/o), end = ceil((i+1)*H/o), against the rule written out by hand."""
    for size in range(1, 20):
        for out in range(1, 25):
            start, end = adaptive_module.adaptive_windows(size, out)
            for i in range(out):
                assert start[i] == int(np.floor(i * size / out))
                assert end[i] == int(np.ceil((i + 1) * size / out))


def test_zero_output_size_gives_empty_output_like_torch():
    x = np.ones((1, 2, 5, 5))
    for size in [0, (0, 3), (2, 0)]:
        assert adaptive_avg_pool2d(x, size).shape == tuple(F.adaptive_avg_pool2d(
            torch.tensor(x), size).shape)
        assert adaptive_max_pool2d(x, size).shape == tuple(F.adaptive_max_pool2d(
            torch.tensor(x), size).shape)


@pytest.mark.parametrize("seed", range(20))
def test_global_pools_with_indices_and_backward_match_torch(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)),
             int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    unbatched = seed % 2 == 1
    if unbatched:
        shape = shape[1:]
    x = np.round(rng.standard_normal(shape) * 2)  # ties
    keep = seed % 3 != 0
    axes = (-2, -1)
    (yt, it), g, gxt = _torch_grad(F.adaptive_max_pool2d, x, 1, True, seed=seed)
    y, idx = global_max_pool2d(x, keepdims=keep, return_indices=True)
    if not keep:
        yt, it, g = yt.squeeze(-1).squeeze(-1), it.squeeze(-1).squeeze(-1), g.squeeze(axes)
    assert_close(y, yt)
    assert np.array_equal(idx, it.numpy())
    assert_close(global_max_pool2d_backward(g, idx, x.shape), gxt, what="max grad")
    yt, g, gxt = _torch_grad(F.adaptive_avg_pool2d, x, 1, seed=seed)
    if not keep:
        yt, g = yt.squeeze(-1).squeeze(-1), g.squeeze(axes)
    assert_close(global_avg_pool2d(x, keepdims=keep), yt)
    assert_close(global_avg_pool2d_backward(g, x.shape), gxt, what="avg grad")


# --- max_unpool2d ----------------------------------------------------------------------------

def _unpool_case(seed: int):
    rng = np.random.default_rng(100 + seed)
    k = tuple(int(v) for v in rng.integers(1, 4, size=2))
    if seed % 2 == 0:
        k = (k[0], k[0])  # given as one int below
    s = tuple(int(v) for v in rng.integers(1, 4, size=2))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    hw = [int(rng.integers(kk, 11)) for kk in k]
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *hw)
    if seed % 3 == 0:
        shape = shape[1:]
    dtype = (np.float32, np.float64)[seed % 2]
    size = shape[-1] * shape[-2]
    x = ((rng.permutation(int(np.prod(shape))) % size) / 3.0 - 4).reshape(shape).astype(dtype)
    return x, dict(kernel_size=k if seed % 2 else k[0], stride=s, padding=p), hw


@pytest.mark.parametrize("seed", range(80))
def test_max_unpool2d_matches_torch(seed):
    x, kw, hw = _unpool_case(seed)
    yt, it = F.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    y, idx = max_pool2d(x, return_indices=True, **kw)
    assert np.array_equal(idx, it.numpy())
    ukw = dict(kw)
    # default size, the pooling input's size (as torch's docs advise), or a 4-entry size
    choice = seed % 3
    if choice == 1:
        ukw["output_size"] = tuple(x.shape[-2:])
    elif choice == 2:
        ukw["output_size"] = (1, 1) + tuple(x.shape[-2:])
    try:
        ut = F.max_unpool2d(yt, it, **ukw)
    except (RuntimeError, ValueError):
        with pytest.raises(ValueError):
            max_unpool2d(y, idx, **ukw)
        return
    what = f"seed {seed} {x.shape} {ukw}"
    ytr = yt.detach().clone().requires_grad_(True)
    ut = F.max_unpool2d(ytr, it, **ukw)
    g = np.random.default_rng(seed).standard_normal(tuple(ut.shape)).astype(x.dtype)
    ut.backward(torch.tensor(g))
    u = max_unpool2d(y, idx, **ukw)
    assert u.dtype == x.dtype
    assert_close(u, ut, what=what)
    assert_close(max_unpool2d_backward(g, idx), ytr.grad, what=what + " grad")


def test_unpool_then_pool_gives_the_pooled_values_back():
    """The switches put every maximum back where it was: pooling again recovers it."""
    x = np.random.default_rng(3).permutation(64).reshape(1, 1, 8, 8).astype(float)
    y, idx = max_pool2d(x, 2, return_indices=True)
    u = max_unpool2d(y, idx, 2)
    assert np.count_nonzero(u) == np.count_nonzero(y)
    np.testing.assert_array_equal(max_pool2d(u, 2), y)


def test_docstring_examples_run():
    for module in (adaptive_module, unpool_module):
        assert doctest.testmod(module, extraglobs={"np": np}).failed == 0


X = np.zeros((1, 2, 6, 6))
IDX = np.zeros((1, 2, 3, 3), np.int64)

BAD = [
    (lambda: adaptive_avg_pool2d(X, (2,)), ValueError, "output_size must be an int or a pair"),
    (lambda: adaptive_max_pool2d(X, ()), ValueError, "output_size must be an int or a pair"),
    (lambda: adaptive_avg_pool2d(X, (2, 3, 4)), ValueError, "output_size"),
    (lambda: adaptive_avg_pool2d(X, -1), ValueError, "output_size must be >= 0"),
    (lambda: adaptive_avg_pool2d(X, None), TypeError, "output_size"),
    (lambda: adaptive_avg_pool2d(X, 2.5), TypeError, "output_size"),
    (lambda: adaptive_avg_pool2d(X, True), TypeError, "output_size"),
    (lambda: adaptive_avg_pool2d(np.zeros((1, 2, 0, 3)), 1), ValueError, "x must have a non-empty"),
    (lambda: adaptive_max_pool2d(np.zeros((6, 6)), 1), ValueError, "x must be a 4-D"),
    (lambda: adaptive_max_pool2d(X, 2, return_indices="yes"), TypeError, "return_indices"),
    (lambda: adaptive_avg_pool2d_backward(np.zeros((1, 2, 2, 2)), (1, 3, 6, 6)), ValueError,
     "input_shape"),
    (lambda: adaptive_max_pool2d_backward(np.zeros((1, 2, 3, 3)), IDX[..., :2], X.shape),
     ValueError, "indices must have the shape"),
    (lambda: adaptive_max_pool2d_backward(np.zeros((1, 2, 3, 3)), IDX + 36, X.shape),
     ValueError, "indices must lie in"),
    (lambda: global_max_pool2d(X, keepdims="no"), TypeError, "keepdims"),
    (lambda: global_avg_pool2d_backward(np.zeros((1, 3)), X.shape), ValueError, "grad_output"),
    (lambda: global_max_pool2d_backward(np.zeros((1, 2)), IDX[:, :, 0, 0].astype(float), X.shape),
     TypeError, "indices must be an integer"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX, (2,)), ValueError,
     "kernel_size must be an int or a pair for max_unpool2d"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX, 2, stride=()), ValueError, "stride"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX, 0), ValueError, "kernel_size must be >= 1"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX, 2, output_size=(8, 8)), ValueError,
     "must lie strictly between"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX, 2, output_size=(2, 6, 6)), ValueError,
     "2 entries"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX + 36, 2), ValueError,
     r"indices must lie in \[0, H\*W\)"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX[0], 2), ValueError,
     "indices must have the shape of x"),
    (lambda: max_unpool2d(np.zeros((1, 2, 3, 3)), IDX.astype(float), 2), TypeError,
     "indices must be an integer"),
    (lambda: max_unpool2d_backward(np.zeros((1, 2, 6, 6)), IDX[0]), ValueError, "indices"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_rejected_with_a_message_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_torch_rejects_what_we_reject():
    """The forms refused above are refused by PyTorch too (so we are not stricter than it)."""
    xt = torch.zeros(1, 2, 6, 6)
    for size in [(2,), ()]:
        with pytest.raises(RuntimeError):
            F.adaptive_avg_pool2d(xt, size)
    yt, it = F.max_pool2d(xt, 2, return_indices=True)
    with pytest.raises((IndexError, RuntimeError)):
        F.max_unpool2d(yt, it, (2,))
    with pytest.raises((IndexError, RuntimeError)):
        F.max_unpool2d(yt, it, 2, stride=())
    with pytest.raises(ValueError):
        F.max_unpool2d(yt, it, 2, output_size=(8, 8))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 5))
    keep = x.copy()
    y, idx = adaptive_max_pool2d(x, (3, 2), return_indices=True)
    adaptive_avg_pool2d(x, 4)
    adaptive_max_pool2d_backward(y, idx, x.shape)
    yp, ip = max_pool2d(x, 2, return_indices=True)
    yp_keep, ip_keep = yp.copy(), ip.copy()
    max_unpool2d(yp, ip, 2, output_size=(7, 5))
    max_unpool2d_backward(x, ip)
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_array_equal(yp, yp_keep)
    np.testing.assert_array_equal(ip, ip_keep)
