"""channel_shuffle against torch.nn.functional.channel_shuffle / nn.ChannelShuffle."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import convlib.functional.shuffle as shuffle_module
from convlib.functional import channel_shuffle
from oracle import assert_close

pytestmark = pytest.mark.depthwise


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_on_random_shapes(dtype):
    rng = np.random.default_rng(0)
    for _ in range(100):
        groups = int(rng.integers(1, 5))
        c = groups * int(rng.integers(1, 5))
        spatial = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        x = rng.standard_normal((int(rng.integers(1, 4)), c) + spatial).astype(dtype)
        got = channel_shuffle(x, groups)
        assert got.dtype == dtype and got.shape == x.shape
        assert_close(got, torch.nn.functional.channel_shuffle(torch.tensor(x), groups))
        assert_close(got, torch.nn.ChannelShuffle(groups)(torch.tensor(x)), what="nn.ChannelShuffle")


def test_shufflenet_order_by_hand():
    # 2 groups of 3 channels (a0 a1 a2 | b0 b1 b2) interleave to a0 b0 a1 b1 a2 b2
    x = np.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2)[0, :, 0, 0].tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3)[0, :, 0, 0].tolist() == [0, 2, 4, 1, 3, 5]


def test_shuffle_with_the_other_factor_is_the_inverse():
    rng = np.random.default_rng(1)
    for g, c in [(2, 6), (3, 12), (4, 8), (1, 5), (5, 5)]:
        x = rng.standard_normal((2, c, 3, 4))
        assert np.array_equal(channel_shuffle(channel_shuffle(x, g), c // g), x)


def test_result_is_a_new_array_and_input_untouched():
    x = np.arange(24.0).reshape(1, 4, 2, 3)
    copy = x.copy()
    for g in (1, 2, 4):
        y = channel_shuffle(x, g)
        assert not np.shares_memory(y, x)
        y[...] = -1
    assert np.array_equal(x, copy)
    # non-contiguous input
    xt = np.ascontiguousarray(np.arange(48.0).reshape(2, 3, 2, 4).transpose(0, 3, 1, 2))
    assert_close(channel_shuffle(xt.transpose(0, 1, 3, 2), 2),
                 torch.nn.functional.channel_shuffle(torch.tensor(xt.transpose(0, 1, 3, 2).copy()), 2))


def test_docstring_example():
    assert doctest.testmod(shuffle_module, extraglobs={"np": np}).failed == 0


@pytest.mark.parametrize("call, kind, word", [
    (lambda: channel_shuffle(np.zeros((4, 6)), 2), ValueError, "x"),
    (lambda: channel_shuffle(np.zeros((1, 6, 2, 2)), 4), ValueError, "groups"),
    (lambda: channel_shuffle(np.zeros((1, 6, 2, 2)), 0), ValueError, "groups"),
    (lambda: channel_shuffle(np.zeros((1, 6, 2, 2)), 2.0), TypeError, "groups"),
    (lambda: channel_shuffle(np.zeros((1, 6, 2, 2)), True), TypeError, "groups"),
    (lambda: channel_shuffle(np.zeros((1, 6, 2, 2), dtype=bool), 2), TypeError, "x"),
])
def test_bad_input_names_the_argument(call, kind, word):
    with pytest.raises(kind, match=word):
        call()
