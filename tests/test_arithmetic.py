"""convlib.arithmetic against Dumoulin & Visin (2016), PyTorch's output shapes and TF's SAME.

Each of the paper's 15 relationships has its own test: the formula as printed in the paper,
the sizes of the paper's own figures, and a range of sizes checked against the shapes
``torch.nn.functional`` produces. For the transposed relationships the paper's "equivalent
direct convolution" (stretch the input with s - 1 zeros, pad with k - p - 1, convolve with
unit stride) is also checked value by value against ``conv_transpose2d``.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.arithmetic import (
    conv_output_size,
    conv_output_size_2d,
    conv_transpose_output_size,
    conv_transpose_output_size_2d,
    dropped_input,
    effective_kernel_size,
    output_padding_for,
    padding_for,
    pool_output_size,
    pool_output_size_2d,
)
from oracle import assert_close

pytestmark = pytest.mark.arithmetic


# ---------------------------------------------------------------- torch oracles (1 axis)
# The second spatial axis is kept trivial (size 1, kernel 1) so each call is tiny.

def torch_conv(i, k, s=1, p=0, d=1, pads=None):
    x = torch.zeros(1, 1, i, 1, dtype=torch.float64)
    if pads is not None:  # asymmetric (before, after)
        x, p = F.pad(x, (0, 0, pads[0], pads[1])), 0
    w = torch.zeros(1, 1, k, 1, dtype=torch.float64)
    return F.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).shape[2]


def torch_conv_t(i, k, s=1, p=0, d=1, a=0):
    y = torch.zeros(1, 1, i, 1, dtype=torch.float64)
    w = torch.zeros(1, 1, k, 1, dtype=torch.float64)
    return F.conv_transpose2d(y, w, stride=(s, 1), padding=(p, 0), output_padding=(a, 0),
                              dilation=(d, 1)).shape[2]


def torch_pool(i, k, s=None, p=0, d=1, ceil_mode=False, kind="max"):
    x = torch.zeros(1, 1, i, 1, dtype=torch.float64)
    s = k if s is None else s
    if kind == "max":
        out = F.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=ceil_mode)
    else:
        out = F.avg_pool2d(x, (k, 1), (s, 1), (p, 0), ceil_mode=ceil_mode)
    return out.shape[2]


def raises(fn, *args, **kwargs):
    try:
        return False, fn(*args, **kwargs)
    except (RuntimeError, ValueError):
        return True, None


def check_equivalent_direct_conv(i_t, k, s, p, a=0, seed=0):
    """Dumoulin & Visin's picture of a transposed conv, checked value by value.

    Stretch the (i_t x i_t) input with s - 1 zeros between units, pad it with k - p - 1
    zeros (plus ``a`` more at the bottom / right), convolve with the flipped kernel at
    unit stride: that must equal conv_transpose2d, and its size our formula.
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(1, 1, i_t, i_t, generator=g, dtype=torch.float64)
    w = torch.randn(1, 1, k, k, generator=g, dtype=torch.float64)
    stretched_size = (i_t - 1) * s + 1  # the paper's i~'
    stretched = torch.zeros(1, 1, stretched_size, stretched_size, dtype=torch.float64)
    stretched[..., ::s, ::s] = y
    q = k - p - 1
    padded = F.pad(stretched, (q, q + a, q, q + a))
    direct = F.conv2d(padded, w.flip(-1, -2))
    expected = F.conv_transpose2d(y, w, stride=s, padding=p, output_padding=a)
    assert_close(direct.numpy(), expected, what="equivalent direct convolution")
    o = conv_transpose_output_size(i_t, k, s, p, output_padding=a)
    assert expected.shape[-1] == o
    return stretched_size, o


# ------------------------------------------------------------ the 15 relationships

def test_relationship_01_no_padding_unit_strides():
    assert conv_output_size(4, 3) == 2          # Figure 2.1
    assert conv_output_size(5, 3) == 3          # Figure 2.9a ("counting kernel positions")
    for i in range(1, 16):
        for k in range(1, i + 1):
            assert conv_output_size(i, k) == (i - k) + 1 == torch_conv(i, k)


def test_relationship_02_zero_padding_unit_strides():
    assert conv_output_size(5, 4, p=2) == 6     # Figure 2.2 (its transpose, Fig. 4.2: i'=6)
    for i, k, p in itertools.product(range(1, 12), range(1, 7), range(0, 5)):
        if k <= i + 2 * p:
            assert conv_output_size(i, k, p=p) == (i - k) + 2 * p + 1 == torch_conv(i, k, p=p)


def test_relationship_03_half_padding():
    assert conv_output_size(5, 3, p=1) == 5     # Figure 2.3
    assert conv_output_size(5, 3, p="same") == 5
    for i, n in itertools.product(range(1, 16), range(0, 5)):
        k = 2 * n + 1
        o = i + 2 * (k // 2) - (k - 1)
        assert o == i
        assert conv_output_size(i, k, p=k // 2) == o == torch_conv(i, k, p=k // 2)
        assert conv_output_size(i, k, p="same") == i
        assert padding_for("same", k) == (n, n)


def test_relationship_04_full_padding():
    assert conv_output_size(5, 3, p=2) == 7     # Figure 2.4
    assert conv_output_size(5, 3, p="full") == 7
    for i, k in itertools.product(range(1, 16), range(1, 8)):
        o = i + (k - 1)
        assert conv_output_size(i, k, p=k - 1) == o == torch_conv(i, k, p=k - 1)
        assert conv_output_size(i, k, p="full") == o
        assert padding_for("full", k) == (k - 1, k - 1)


def test_relationship_05_no_padding_non_unit_strides():
    assert conv_output_size(5, 3, s=2) == 2     # Figure 2.5 and 2.9b
    for i, k, s in itertools.product(range(1, 16), range(1, 6), range(1, 6)):
        if k <= i:
            assert conv_output_size(i, k, s) == (i - k) // s + 1 == torch_conv(i, k, s)


def test_relationship_06_zero_padding_non_unit_strides():
    assert conv_output_size(5, 3, s=2, p=1) == 3   # Figure 2.6
    assert conv_output_size(6, 3, s=2, p=1) == 3   # Figure 2.7: same output, one more input
    for i, k, s, p in itertools.product(range(1, 14), range(1, 6), range(1, 5), range(0, 4)):
        if k <= i + 2 * p:
            o = (i + 2 * p - k) // s + 1
            assert conv_output_size(i, k, s, p) == o == torch_conv(i, k, s, p)
            # "any input size j = i + a, a in {0, ..., s-1}" gives the same o when
            # i + 2p - k is a multiple of s:
            if (i + 2 * p - k) % s == 0:
                assert all(conv_output_size(i + a, k, s, p) == o for a in range(s))


def test_relationship_07_pooling():
    assert pool_output_size(5, 3, s=1) == 3     # Figures 1.5 / 1.6: 3x3 pooling, 5x5 input
    for i, k, s in itertools.product(range(1, 16), range(1, 6), range(1, 6)):
        if k <= i:
            o = (i - k) // s + 1
            assert pool_output_size(i, k, s) == o == torch_pool(i, k, s)
            assert o == torch_pool(i, k, s, kind="avg")


def _transposed_sweep(condition, formula, ks=range(1, 7), ss=(1,), ps=range(0, 4),
                      is_=range(1, 12), recover=True, use_a=False):
    """For each direct conv (i, k, s, p) meeting ``condition``: o' from the paper's formula
    equals ours and torch's, and (when ``recover``) the transpose gives back i."""
    count = 0
    for i, k, s, p in itertools.product(is_, ks, ss, ps):
        if k > i + 2 * p or not condition(i, k, s, p):
            continue
        i_t = conv_output_size(i, k, s, p)
        a = (i + 2 * p - k) % s if use_a else 0
        o_t = formula(i_t, k, s, p, a)
        assert conv_transpose_output_size(i_t, k, s, p, output_padding=a) == o_t
        assert torch_conv_t(i_t, k, s, p, a=a) == o_t
        if recover:
            assert o_t == i
        count += 1
    assert count > 10


def test_relationship_08_no_padding_unit_strides_transposed():
    assert check_equivalent_direct_conv(2, 3, 1, 0) == (2, 4)     # Figure 4.1: 2x2 -> 4x4
    _transposed_sweep(lambda i, k, s, p: p == 0, lambda i_t, k, s, p, a: i_t + (k - 1),
                      ps=(0,))


def test_relationship_09_zero_padding_unit_strides_transposed():
    assert check_equivalent_direct_conv(6, 4, 1, 2) == (6, 5)     # Figure 4.2: i'=6, p'=1
    _transposed_sweep(lambda i, k, s, p: p <= k - 1,
                      lambda i_t, k, s, p, a: i_t + (k - 1) - 2 * p)


def test_relationship_10_half_padding_transposed():
    assert check_equivalent_direct_conv(5, 3, 1, 1) == (5, 5)     # Figure 4.3
    _transposed_sweep(lambda i, k, s, p: k % 2 == 1 and p == k // 2,
                      lambda i_t, k, s, p, a: i_t)


def test_relationship_11_full_padding_transposed():
    assert check_equivalent_direct_conv(7, 3, 1, 2) == (7, 5)     # Figure 4.4: i'=7, p'=0
    _transposed_sweep(lambda i, k, s, p: p == k - 1,
                      lambda i_t, k, s, p, a: i_t - (k - 1))


def test_relationship_12_no_padding_non_unit_strides_transposed():
    assert check_equivalent_direct_conv(2, 3, 2, 0) == (3, 5)     # Figure 4.5: i~'=3, o'=5
    _transposed_sweep(lambda i, k, s, p: p == 0 and (i - k) % s == 0,
                      lambda i_t, k, s, p, a: s * (i_t - 1) + k, ss=range(1, 5), ps=(0,),
                      is_=range(1, 20))


def test_relationship_13_zero_padding_non_unit_strides_transposed():
    assert check_equivalent_direct_conv(3, 3, 2, 1) == (5, 5)     # Figure 4.6: i~'=5, o'=5
    _transposed_sweep(lambda i, k, s, p: p <= k - 1 and (i + 2 * p - k) % s == 0,
                      lambda i_t, k, s, p, a: s * (i_t - 1) + k - 2 * p, ss=range(1, 5),
                      is_=range(1, 20))


def test_relationship_14_zero_padding_non_unit_strides_transposed_general():
    # Figure 4.7: the transpose of i=6, k=3, s=2, p=1 takes i'=3, a=1 and gives o'=6.
    assert output_padding_for(6, 3, s=2, p=1) == 1
    assert check_equivalent_direct_conv(3, 3, 2, 1, a=1) == (5, 6)
    _transposed_sweep(lambda i, k, s, p: p <= k - 1,
                      lambda i_t, k, s, p, a: s * (i_t - 1) + a + k - 2 * p,
                      ss=range(1, 5), is_=range(1, 20), use_a=True)
    for i, k, s, p in itertools.product(range(1, 14), range(1, 5), range(1, 5), range(0, 3)):
        if k <= i + 2 * p:
            assert output_padding_for(i, k, s, p) == (i + 2 * p - k) % s


def test_relationship_15_dilated_convolutions():
    assert conv_output_size(7, 3, d=2) == 3     # Figure 5.1
    assert effective_kernel_size(3, 2) == 5
    for i, k, s, p, d in itertools.product(range(1, 14), range(1, 5), range(1, 4),
                                           range(0, 3), range(1, 4)):
        k_hat = k + (k - 1) * (d - 1)
        assert effective_kernel_size(k, d) == k_hat
        if k_hat <= i + 2 * p:
            o = (i + 2 * p - k - (k - 1) * (d - 1)) // s + 1
            assert conv_output_size(i, k, s, p, d) == o == torch_conv(i, k, s, p, d)


# -------------------------------------------------------------- sweeps against torch

def test_conv_sweep_matches_torch_including_errors():
    n = 0
    for i, k, s, p, d in itertools.product(range(1, 13), range(1, 6), range(1, 5),
                                           range(0, 4), range(1, 4)):
        torch_err, expected = raises(torch_conv, i, k, s, p, d)
        ours_err, got = raises(conv_output_size, i, k, s, p, d)
        assert torch_err == ours_err, (i, k, s, p, d)
        assert got == expected
        n += 1
    assert n == 12 * 5 * 4 * 4 * 3


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_sweep_matches_torch_including_ceil_mode_and_errors(kind):
    seen_ceil_difference = seen_dropped_window = False
    for i, k, s, p, d, ceil in itertools.product(range(1, 12), range(1, 6), range(1, 5),
                                                 range(0, 3), range(1, 4) if kind == "max" else (1,),
                                                 (False, True)):
        torch_err, expected = raises(torch_pool, i, k, s, p, d, ceil, kind)
        ours_err, got = raises(pool_output_size, i, k, s, p, d, ceil)
        assert torch_err == ours_err, (kind, i, k, s, p, d, ceil)
        assert got == expected, (kind, i, k, s, p, d, ceil)
        if ceil and not torch_err:
            plain = pool_output_size(i, k, s, p, d) if not raises(pool_output_size, i, k, s, p, d)[0] else 0
            seen_ceil_difference |= got > plain
            # the rule "last window must start inside the input or the left padding":
            ceil_only = -(-(i + 2 * p - d * (k - 1) - 1) // s) + 1
            seen_dropped_window |= got < ceil_only
    assert seen_ceil_difference and seen_dropped_window


def test_pool_stride_defaults_to_kernel():
    for i, k in itertools.product(range(1, 12), range(1, 5)):
        if k <= i:
            assert pool_output_size(i, k) == pool_output_size(i, k, s=k) == torch_pool(i, k)


def test_conv_transpose_sweep_matches_torch_including_errors():
    for i, k, s, p, d, a in itertools.product(range(1, 8), range(1, 5), range(1, 4),
                                              range(0, 4), range(1, 4), range(0, 3)):
        torch_err, expected = raises(torch_conv_t, i, k, s, p, d, a)
        ours_err, got = raises(conv_transpose_output_size, i, k, s, p, d, a)
        assert torch_err == ours_err, (i, k, s, p, d, a)
        assert got == expected


def test_transpose_recovers_input_size_with_output_padding_for():
    for i, k, s, p, d in itertools.product(range(1, 14), range(1, 5), range(1, 5),
                                           range(0, 3), range(1, 3)):
        if d * (k - 1) + 1 > i + 2 * p:
            continue
        o = conv_output_size(i, k, s, p, d)
        a = output_padding_for(i, k, s, p, d)
        assert 0 <= a < s
        if a < max(s, d):
            assert conv_transpose_output_size(o, k, s, p, d, a) == i == torch_conv_t(o, k, s, p, d, a)


def test_2d_helpers_match_torch_shapes():
    x = torch.zeros(1, 1, 13, 10)
    w = torch.zeros(1, 1, 3, 2)
    out = F.conv2d(x, w, stride=(2, 3), padding=(1, 0), dilation=(1, 2))
    assert conv_output_size_2d((13, 10), (3, 2), (2, 3), (1, 0), (1, 2)) == tuple(out.shape[2:])
    assert conv_output_size_2d(9, 3, padding="same") == (9, 9)
    y = torch.zeros(1, 1, 4, 5)
    out_t = F.conv_transpose2d(y, w, stride=(2, 3), padding=(1, 0), output_padding=(1, 2))
    assert conv_transpose_output_size_2d((4, 5), (3, 2), (2, 3), (1, 0), 1, (1, 2)) == tuple(out_t.shape[2:])
    pooled = F.max_pool2d(x, (3, 2), ceil_mode=True)
    assert pool_output_size_2d((13, 10), (3, 2), ceil_mode=True) == tuple(pooled.shape[2:])
    size = [13, 10]
    conv_output_size_2d(size, 3)
    assert size == [13, 10]  # inputs untouched


# --------------------------------------------------------------------- TF SAME padding

def tf_documented_same(i, k, s, d=1):
    """TensorFlow's documented SAME rule ("Notes on padding"), with k -> dilated span."""
    k_hat = d * (k - 1) + 1
    total = max(k_hat - s, 0) if i % s == 0 else max(k_hat - i % s, 0)
    return total // 2, total - total // 2


def test_tf_same_padding_matches_documented_formula_and_torch():
    for i, k, s, d in itertools.product(range(1, 20), range(1, 7), range(1, 6), range(1, 3)):
        pads = padding_for("same", k, s, d, i=i)
        assert pads == tf_documented_same(i, k, s, d), (i, k, s, d)
        o = -(-i // s)
        assert conv_output_size(i, k, s, "same", d) == o
        assert torch_conv(i, k, s, d=d, pads=pads) == o


def test_tf_same_hand_example():
    # 13 inputs, window 6, stride 5: SAME pads 1 before and 2 after and gives ceil(13/5) = 3
    # windows; VALID gives 2 windows and never reads the last 2 inputs.
    assert padding_for("same", 6, s=5, i=13) == (1, 2)
    assert conv_output_size(13, 6, 5, "same") == 3
    assert conv_output_size(13, 6, 5, "valid") == 2
    assert dropped_input(13, 6, 5) == 2
    assert dropped_input(13, 6, 5, "same") == 0


def test_same_unit_stride_agrees_with_pytorch_same():
    for i, k, d in itertools.product(range(1, 12), range(1, 7), range(1, 4)):
        before, after = padding_for("same", k, 1, d)
        assert before + after == d * (k - 1) and after - before in (0, 1)
        x = torch.zeros(1, 1, i, 1)
        w = torch.zeros(1, 1, k, 1)
        with warnings.catch_warnings():  # torch notes it pads a copy for even kernels
            warnings.simplefilter("ignore", UserWarning)
            assert F.conv2d(x, w, padding="same", dilation=(d, 1)).shape[2] == i
        assert padding_for("same", k, 1, d, i=i) == (before, after)


def test_dropped_input_against_gradient_support():
    """Brute force: the trailing inputs whose gradient is zero when every output is used."""
    for i, k, s in itertools.product(range(1, 14), range(1, 5), range(1, 5)):
        if k <= i and k >= s:  # Dumoulin & Visin's "some input units are left out"
            assert dropped_input(i, k, s) == (i - k) % s
    for i, k, s, p, d in itertools.product(range(1, 14), range(1, 5), range(1, 5),
                                           range(0, 3), range(1, 3)):
        if d * (k - 1) + 1 > i + 2 * p:
            continue
        x = torch.ones(1, 1, i, 1, dtype=torch.float64, requires_grad=True)
        w = torch.ones(1, 1, k, 1, dtype=torch.float64)
        F.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).sum().backward()
        read = np.flatnonzero(x.grad[0, 0, :, 0].numpy())
        expected = i - 1 - read.max() if read.size else i
        assert dropped_input(i, k, s, p, d) == expected, (i, k, s, p, d)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn", [conv_output_size, conv_transpose_output_size, pool_output_size])
@pytest.mark.parametrize("arg, bad", [("i", 2.0), ("k", "3"), ("s", True), ("d", None)])
def test_bad_type_is_type_error_naming_argument(fn, arg, bad):
    kwargs = dict(i=5, k=3, s=1, d=1)
    kwargs[arg] = bad
    with pytest.raises(TypeError, match=rf"^{arg} \("):
        fn(**kwargs)


@pytest.mark.parametrize("fn", [conv_output_size, conv_transpose_output_size, pool_output_size])
@pytest.mark.parametrize("arg", ["i", "k", "s", "d"])
def test_non_positive_is_value_error_naming_argument(fn, arg):
    for bad in (0, -1):
        kwargs = dict(i=5, k=3, s=1, d=1)
        kwargs[arg] = bad
        with pytest.raises(ValueError, match=rf"^{arg} \(.*must be >= 1"):
            fn(**kwargs)


def test_negative_or_wrong_padding():
    for fn in (conv_output_size, conv_transpose_output_size, pool_output_size, dropped_input):
        with pytest.raises(ValueError, match=r"^p \(padding\) must be >= 0"):
            fn(5, 3, p=-1)
        with pytest.raises(TypeError, match=r"^p \(padding\)"):
            fn(5, 3, p=1.5)
    with pytest.raises(ValueError, match="mode must be one of"):
        conv_output_size(5, 3, p="SAME")
    with pytest.raises(ValueError, match="mode must be one of"):
        padding_for("half", 3)
    with pytest.raises(TypeError, match="transposed convolution must be an int"):
        conv_transpose_output_size(5, 3, p="same")
    with pytest.raises(ValueError, match=r"^p \(padding\) must be at most half"):
        pool_output_size(5, 3, p=2)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="kernel .* larger than the padded input"):
        conv_output_size(4, 5)
    with pytest.raises(ValueError, match=r"kernel \(effective size .* = 5\)"):
        conv_output_size(4, 3, d=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        pool_output_size(2, 3, s=1)
    with pytest.raises(ValueError, match="crops away the whole output"):
        conv_transpose_output_size(1, 3, p=2)


def test_same_with_stride_needs_input_size():
    with pytest.raises(ValueError, match="pass i"):
        padding_for("same", 3, s=2)
    with pytest.raises(ValueError, match=r"^output_padding must be smaller"):
        conv_transpose_output_size(3, 3, s=2, output_padding=2)
    with pytest.raises(TypeError, match="ceil_mode"):
        pool_output_size(5, 2, ceil_mode=1)


def test_import_convlib_does_not_import_torch():
    code = ("import sys, convlib, convlib.arithmetic, convlib.receptive_field\n"
            "convlib.arithmetic.conv_output_size(5, 3)\n"
            "convlib.receptive_field.receptive_field([(3, 1, 1)])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples_run():
    import doctest

    import convlib.arithmetic

    result = doctest.testmod(convlib.arithmetic)
    assert result.attempted >= 4 and result.failed == 0
