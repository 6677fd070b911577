"""im2col / col2im against torch's unfold / fold, and conv_matrix against torch's Jacobian."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.functional import col2im, conv2d, conv_matrix, conv_transpose2d, im2col
from oracle import assert_close

pytestmark = [pytest.mark.conv, pytest.mark.usefixtures("torch_for_tiny_shapes")]




def unfold_config(seed: int) -> dict:
    rng = np.random.default_rng(20_000 + seed)
    kernel = tuple(int(k) for k in rng.integers(1, 5, size=2))
    if seed % 5 == 0:
        kernel = (1, kernel[1]) if seed % 10 == 0 else (kernel[0], 1)
    dilation = tuple(int(d) for d in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 5, size=2))
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p + int(rng.integers(0, 7)))
               for k, d, p in zip(kernel, dilation, padding))
    dtype = (np.float32, np.float64)[seed % 2]
    x = rng.standard_normal((int(rng.integers(1, 4)), int(rng.integers(1, 5)), *hw)).astype(dtype)
    return dict(x=x, kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)


@pytest.mark.parametrize("seed", range(200))
def test_im2col_is_unfold_and_col2im_is_fold(seed):
    c = unfold_config(seed)
    x = c.pop("x")
    cols = im2col(x, **c)
    expected = F.unfold(torch.tensor(x), **c)
    assert cols.dtype == x.dtype
    assert_close(cols, expected, what=f"im2col {c}")
    back = col2im(cols, x.shape[2:], **c)
    assert_close(back, F.fold(expected, x.shape[2:], **c), what=f"col2im {c}")


@pytest.mark.parametrize("seed", range(30))
def test_col2im_is_the_adjoint_of_im2col(seed):
    """<im2col(x), v> == <x, col2im(v)> for random x and v (float64)."""
    c = unfold_config(seed)
    x = c.pop("x").astype(np.float64)
    cols = im2col(x, **c)
    v = np.random.default_rng(seed).standard_normal(cols.shape)
    assert np.isclose(np.vdot(cols, v), np.vdot(x, col2im(v, x.shape[2:], **c)), rtol=1e-10)


def test_unbatched_inputs_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 5, 6))
    cols = im2col(x, (2, 3), padding=1)
    assert_close(cols, F.unfold(torch.tensor(x), (2, 3), padding=1))
    assert_close(col2im(cols, (5, 6), (2, 3), padding=1),
                 F.fold(torch.tensor(cols), (5, 6), (2, 3), padding=1))


def test_im2col_small_example_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    # column j is the window at position j, read row by row
    assert im2col(x, 2)[0, :, 0].tolist() == [0, 1, 3, 4]
    assert im2col(x, 2)[0, :, 3].tolist() == [4, 5, 7, 8]


# --- conv_matrix ------------------------------------------------------------------------------

def matrix_config(seed: int) -> dict:
    rng = np.random.default_rng(30_000 + seed)
    groups = int(rng.choice([1, 2]))
    cg, og = (int(v) for v in rng.integers(1, 3, size=2))
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 2, size=2))
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p + int(rng.integers(0, 4)))
               for k, d, p in zip(kernel, dilation, padding))
    weight = rng.standard_normal((og * groups, cg, *kernel))
    return dict(weight=weight, input_size=hw, stride=stride, padding=padding, dilation=dilation,
                groups=groups)


@pytest.mark.parametrize("seed", range(40))
def test_conv_matrix_is_torch_conv2d_of_each_basis_image(seed):
    c = matrix_config(seed)
    w = c["weight"]
    cin = w.shape[1] * c["groups"]
    kw = {k: c[k] for k in ("stride", "padding", "dilation", "groups")}
    # conv2d is linear, so its Jacobian's column k is torch's conv2d of the k-th basis image.
    size = cin * int(np.prod(c["input_size"]))
    basis = torch.eye(size, dtype=torch.float64).reshape(size, cin, *c["input_size"])
    jac = F.conv2d(basis, torch.tensor(w), **kw).reshape(size, -1).T
    assert_close(conv_matrix(**c), jac, what=f"conv_matrix {kw}")


@pytest.mark.parametrize("seed", range(40))
def test_conv_matrix_times_x_and_its_transpose(seed):
    c = matrix_config(seed)
    w = c["weight"]
    kw = {k: c[k] for k in ("stride", "padding", "dilation", "groups")}
    rng = np.random.default_rng(seed)
    cin = w.shape[1] * c["groups"]
    x = rng.standard_normal((1, cin, *c["input_size"]))
    C = conv_matrix(**c)
    y = F.conv2d(torch.tensor(x), torch.tensor(w), **kw)
    assert_close(C @ x[0].ravel(), y[0].ravel(), what="C @ x")
    # C.T is the transposed convolution, with output_padding recovering the input size.
    v = rng.standard_normal(tuple(y.shape))
    op = tuple((i + 2 * p - d * (k - 1) - 1) % s for i, k, s, p, d in
               zip(c["input_size"], w.shape[2:], c["stride"], c["padding"], c["dilation"]))
    if any(o >= s and o >= d for o, s, d in zip(op, c["stride"], c["dilation"])):
        pytest.skip("PyTorch allows output_padding < stride or < dilation only")
    t = F.conv_transpose2d(torch.tensor(v), torch.tensor(w), None, c["stride"], c["padding"], op,
                           c["groups"], c["dilation"])
    assert_close(C.T @ v[0].ravel(), t[0].ravel(), what="C.T @ y vs torch conv_transpose2d")
    assert_close(C.T @ v[0].ravel(),
                 conv_transpose2d(v, w, None, c["stride"], c["padding"], op, c["groups"],
                                  c["dilation"])[0].ravel(), what="C.T @ y vs conv_transpose2d")


def test_conv_matrix_accepts_channels_in_input_size_and_same_padding():
    w = np.random.default_rng(0).standard_normal((2, 3, 3, 2))
    C = conv_matrix(w, (3, 4, 5), padding="same")
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 5))
    assert C.shape == (2 * 4 * 5, 3 * 4 * 5)
    assert_close(C @ x[0].ravel(), conv2d(x, w, padding="same")[0].ravel())


def test_conv_matrix_keeps_float32():
    assert conv_matrix(np.ones((1, 1, 2, 2), np.float32), 3).dtype == np.float32


def test_inputs_are_not_modified():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 2, 2))
    x.flags.writeable = False
    w.flags.writeable = False
    x0, w0 = x.copy(), w.copy()
    cols = im2col(x, 2, padding=1)
    cols2 = np.array(cols)
    cols2.flags.writeable = False
    col2im(cols2, (6, 5), 2, padding=1)
    conv_matrix(w, (6, 5), padding=1)
    assert np.array_equal(x, x0) and np.array_equal(w, w0) and np.array_equal(cols, cols2)
