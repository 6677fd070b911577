"""pixel_shuffle / pixel_unshuffle and their backward functions against PyTorch."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import convlib.functional.pixel as pixel_module
from convlib.functional import (pixel_shuffle, pixel_shuffle_backward, pixel_unshuffle,
                                pixel_unshuffle_backward)
from oracle import assert_close

pytestmark = pytest.mark.conv

TF = torch.nn.functional


def _random_case(rng, dtype):
    """Leading dims: none (unbatched, (C, H, W)), one (N) or two; channels a multiple of r*r."""
    r = int(rng.integers(1, 5))
    lead = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    c = r * r * int(rng.integers(1, 4))
    h, w = (int(v) for v in rng.integers(1, 6, size=2))
    return r, rng.standard_normal(lead + (c, h, w)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_match_torch(dtype):
    rng = np.random.default_rng(0)
    for _ in range(60):
        r, x = _random_case(rng, dtype)
        xt = torch.tensor(x, requires_grad=True)
        yt = TF.pixel_shuffle(xt, r)
        y = pixel_shuffle(x, r)
        assert y.dtype == dtype
        assert_close(y, yt, what=f"pixel_shuffle r={r} shape={x.shape}")
        g = rng.standard_normal(y.shape).astype(dtype)
        yt.backward(torch.tensor(g))
        assert_close(pixel_shuffle_backward(g, r), xt.grad, what="pixel_shuffle_backward")

        # unshuffle: the shuffled shape is a valid input for downscale r
        z = rng.standard_normal(y.shape).astype(dtype)
        zt = torch.tensor(z, requires_grad=True)
        ut = TF.pixel_unshuffle(zt, r)
        u = pixel_unshuffle(z, r)
        assert u.dtype == dtype
        assert_close(u, ut, what=f"pixel_unshuffle r={r} shape={z.shape}")
        gu = rng.standard_normal(u.shape).astype(dtype)
        ut.backward(torch.tensor(gu))
        assert_close(pixel_unshuffle_backward(gu, r), zt.grad, what="pixel_unshuffle_backward")


def test_nn_modules_agree_too():
    x = np.random.default_rng(1).standard_normal((2, 18, 3, 4))
    assert_close(pixel_shuffle(x, 3), torch.nn.PixelShuffle(3)(torch.tensor(x)))
    y = np.random.default_rng(2).standard_normal((2, 2, 6, 9))
    assert_close(pixel_unshuffle(y, 3), torch.nn.PixelUnshuffle(3)(torch.tensor(y)))


def test_empty_leading_or_channel_dims_like_torch():
    for shape in [(0, 4, 2, 2), (3, 0, 4, 2, 2), (2, 0, 2, 2)]:
        x = np.ones(shape)
        assert pixel_shuffle(x, 2).shape == tuple(TF.pixel_shuffle(torch.ones(shape), 2).shape)
    assert pixel_unshuffle(np.ones((0, 1, 4, 4)), 2).shape == (0, 4, 2, 2)


def test_by_hand_and_inverse():
    # 4 channels of one pixel each become one 2x2 image, read row by row
    x = np.arange(8.0).reshape(1, 8, 1, 1)
    assert pixel_shuffle(x, 2)[0].tolist() == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    # brute force: out[c, h*r+i, w*r+j] = x[c*r*r + i*r + j, h, w]
    rng = np.random.default_rng(3)
    r, c, h, w = 3, 2, 2, 3
    x = rng.standard_normal((c * r * r, h, w))
    y = pixel_shuffle(x, r)
    for cc in range(c):
        for i in range(r):
            for j in range(r):
                assert np.array_equal(y[cc, i::r, j::r], x[cc * r * r + i * r + j])
    assert np.array_equal(pixel_unshuffle(y, r), x)
    assert np.array_equal(pixel_shuffle(pixel_unshuffle(y, r), r), y)


def test_new_array_and_input_untouched():
    x = np.arange(16.0).reshape(1, 4, 2, 2)
    copy = x.copy()
    for r in (1, 2):
        for fn in (pixel_shuffle, pixel_unshuffle):
            y = fn(x, r)
            assert not np.shares_memory(y, x)
            y[...] = -1
    assert np.array_equal(x, copy)
    xt = np.arange(48.0).reshape(1, 3, 4, 4).transpose(0, 1, 3, 2)[:, :, :, :]
    xt = np.concatenate([xt, xt + 100, xt + 200], axis=1)[:, :4]     # non-contiguous, 4 channels
    assert_close(pixel_shuffle(xt, 2), TF.pixel_shuffle(torch.tensor(np.ascontiguousarray(xt)), 2))


def test_integer_input_becomes_float():
    y = pixel_shuffle(np.arange(4).reshape(4, 1, 1), 2)
    assert y.dtype == np.float64 and y.tolist() == [[[0, 1], [2, 3]]]


def test_docstring_examples():
    assert doctest.testmod(pixel_module, extraglobs={"np": np}).failed == 0


@pytest.mark.parametrize("call, kind, word", [
    (lambda: pixel_shuffle(np.zeros((4, 2)), 2), ValueError, "x"),
    (lambda: pixel_unshuffle(np.zeros((4, 2)), 2), ValueError, "x"),
    (lambda: pixel_shuffle(np.zeros((1, 6, 2, 2)), 2), ValueError, "upscale_factor"),
    (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), 0), ValueError, "upscale_factor"),
    (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), -2), ValueError, "upscale_factor"),
    (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), 2.0), TypeError, "upscale_factor"),
    (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), True), TypeError, "upscale_factor"),
    (lambda: pixel_unshuffle(np.zeros((1, 1, 4, 5)), 2), ValueError, "downscale_factor"),
    (lambda: pixel_unshuffle(np.zeros((1, 1, 4, 4)), 0), ValueError, "downscale_factor"),
    (lambda: pixel_unshuffle(np.zeros((1, 1, 4, 4)), "2"), TypeError, "downscale_factor"),
    (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2), dtype=bool), 2), TypeError, "x"),
    (lambda: pixel_shuffle_backward(np.zeros((1, 1, 3, 4)), 2), ValueError, "upscale_factor"),
    (lambda: pixel_shuffle_backward(np.zeros((3, 4)), 2), ValueError, "grad_output"),
    (lambda: pixel_unshuffle_backward(np.zeros((1, 3, 3, 4)), 2), ValueError, "downscale_factor"),
])
def test_bad_input_names_the_argument(call, kind, word):
    with pytest.raises(kind, match=word):
        call()


def test_torch_rejects_the_same_inputs():
    """The bad inputs above are bad for PyTorch too (it raises RuntimeError)."""
    for call in (lambda: TF.pixel_shuffle(torch.zeros(4, 2), 2),
                 lambda: TF.pixel_shuffle(torch.zeros(1, 6, 2, 2), 2),
                 lambda: TF.pixel_shuffle(torch.zeros(1, 4, 2, 2), 0),
                 lambda: TF.pixel_unshuffle(torch.zeros(1, 1, 4, 5), 2)):
        with pytest.raises(RuntimeError):
            call()
