"""Every class of bad input to the conv ops raises ValueError/TypeError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from convlib.functional import (
    col2im,
    conv2d,
    conv2d_backward,
    conv_matrix,
    conv_transpose2d,
    conv_transpose2d_backward,
    im2col,
)
from convlib.functional import conv1d

pytestmark = pytest.mark.conv

X = np.zeros((2, 4, 6, 6))
W = np.zeros((6, 2, 3, 3))      # conv2d weight for groups=2: 6 out, 4 in
WT = np.zeros((4, 3, 3, 3))     # conv_transpose2d weight: 4 in, 3 out (groups=1)
G = np.zeros((2, 6, 4, 4))      # conv2d(X, W, groups=2) output shape
GT = np.zeros((2, 3, 8, 8))     # conv_transpose2d(X, WT) output shape

CASES = [
    # (name, call, exception, message fragment)
    ("x rank", lambda: conv2d(X[0, 0], W, groups=2), ValueError, "x must be a 4-D"),
    ("weight rank", lambda: conv2d(X, W[0], groups=2), ValueError, "weight must be a 4-D"),
    ("channels", lambda: conv2d(X[:, :3], W, groups=2), ValueError,
     "input has 3 channels but weight expects 4"),
    ("channels, groups=1", lambda: conv2d(X, W), ValueError,
     r"weight expects 2 \(weight.shape\[1\] \* groups"),
    ("groups vs out channels", lambda: conv2d(X, np.zeros((5, 1, 3, 3)), groups=4), ValueError,
     "groups=4 must divide the output channels"),
    ("groups zero", lambda: conv2d(X, W, groups=0), ValueError, "groups must be >= 1"),
    ("groups float", lambda: conv2d(X, W, groups=2.0), TypeError, "groups must be an int"),
    ("bias shape", lambda: conv2d(X, W, np.zeros(5), groups=2), ValueError,
     r"bias must have shape \(6,\)"),
    ("bias rank", lambda: conv2d(X, W, np.zeros((6, 1)), groups=2), ValueError,
     "bias must be a 1-D"),
    ("stride zero", lambda: conv2d(X, W, stride=0, groups=2), ValueError, "stride must be >= 1"),
    ("stride pair", lambda: conv2d(X, W, stride=(1, -1), groups=2), ValueError,
     "stride must be >= 1"),
    ("stride float", lambda: conv2d(X, W, stride=1.5, groups=2), TypeError,
     "stride must be an int or a tuple"),
    ("stride triple", lambda: conv2d(X, W, stride=(1, 1, 1), groups=2), TypeError,
     "stride must be an int or a tuple of 2"),
    ("dilation zero", lambda: conv2d(X, W, dilation=0, groups=2), ValueError,
     "dilation must be >= 1"),
    ("padding negative", lambda: conv2d(X, W, padding=-1, groups=2), ValueError,
     "padding must be >= 0"),
    ("padding word", lambda: conv2d(X, W, padding="full", groups=2), ValueError,
     "padding must be one of 'valid', 'same'"),
    ("same with stride", lambda: conv2d(X, W, stride=2, padding="same", groups=2), ValueError,
     "padding='same' needs stride 1"),
    ("kernel too large", lambda: conv2d(X, np.zeros((6, 2, 7, 3)), groups=2), ValueError,
     "kernel size 7 .* larger than the padded x height 6"),
    ("dilated kernel too large", lambda: conv2d(X, W, dilation=(1, 4), groups=2), ValueError,
     r"kernel size 3 \(dilated to 9\) is larger than the padded x width 6"),
    ("empty weight", lambda: conv2d(X, np.zeros((6, 2, 0, 3)), groups=2), ValueError,
     "weight must have no empty axis"),
    ("x strings", lambda: conv2d([["a"]], W), TypeError, "x must"),
    ("x complex", lambda: conv2d(X + 1j, W, groups=2), TypeError, "x must hold real numbers"),
    ("x bool", lambda: conv2d(X > 0, W, groups=2), TypeError, "x must hold real numbers"),
    ("weight ragged", lambda: conv2d(X, [[1, 2], [3]]), TypeError, "weight must"),
    # conv2d_backward
    ("grad_output shape", lambda: conv2d_backward(G[:, :, :3], X, W, groups=2), ValueError,
     r"grad_output must have the output's shape \(2, 6, 4, 4\)"),
    ("grad_output rank", lambda: conv2d_backward(G[0], X, W, groups=2), ValueError,
     "grad_output must be a 4-D"),
    ("backward checks x too", lambda: conv2d_backward(G, X[:, :3], W, groups=2), ValueError,
     "input has 3 channels"),
    # conv_transpose2d
    ("transposed channels", lambda: conv_transpose2d(X[:, :3], WT), ValueError,
     r"input has 3 channels but weight expects 4 \(weight.shape\[0\]\)"),
    ("transposed groups", lambda: conv_transpose2d(X, WT, groups=3), ValueError,
     "groups=3 must divide the input channels"),
    ("transposed bias", lambda: conv_transpose2d(X, WT, np.zeros(4)), ValueError,
     r"bias must have shape \(3,\)"),
    ("output_padding too large", lambda: conv_transpose2d(X, WT, stride=2, output_padding=2),
     ValueError, "output_padding must be smaller than stride or dilation"),
    ("output_padding negative", lambda: conv_transpose2d(X, WT, output_padding=-1), ValueError,
     "output_padding must be >= 0"),
    ("transposed padding word", lambda: conv_transpose2d(X, WT, padding="same"), TypeError,
     "padding must be an int or a tuple"),
    ("transposed padding too large", lambda: conv_transpose2d(X, WT, padding=5), ValueError,
     "padding=5 is too large"),
    ("transposed stride", lambda: conv_transpose2d(X, WT, stride=0), ValueError,
     "stride must be >= 1"),
    ("transposed dilation", lambda: conv_transpose2d(X, WT, dilation=0), ValueError,
     "dilation must be >= 1"),
    ("transposed x rank", lambda: conv_transpose2d(X[0, 0], WT), ValueError, "x must be a 4-D"),
    ("transposed grad_output", lambda: conv_transpose2d_backward(GT[:, :2], X, WT), ValueError,
     r"grad_output must have the output's shape \(2, 3, 8, 8\)"),
    # im2col / col2im
    ("im2col rank", lambda: im2col(X[0, 0], 2), ValueError, "x must be a 4-D array"),
    ("im2col kernel_size", lambda: im2col(X, 0), ValueError, "kernel_size must be >= 1"),
    ("im2col kernel too large", lambda: im2col(X, 7), ValueError, "larger than the padded x"),
    ("im2col padding word", lambda: im2col(X, 3, padding="same"), TypeError,
     "padding must be an int or a tuple"),
    ("im2col stride", lambda: im2col(X, 3, stride=0), ValueError, "stride must be >= 1"),
    ("col2im rank", lambda: col2im(np.zeros(4), (3, 3), 2), ValueError, "cols must be a 3-D"),
    ("col2im channels", lambda: col2im(np.zeros((1, 5, 4)), (3, 3), 2), ValueError,
     r"cols.shape\[1\]=5 must be divisible by kh\*kw=4"),
    ("col2im blocks", lambda: col2im(np.zeros((1, 4, 5)), (3, 3), 2), ValueError,
     r"cols.shape\[2\]=5 must equal the number of windows"),
    ("col2im output_size", lambda: col2im(np.zeros((1, 4, 4)), (0, 3), 2), ValueError,
     "output_size must be >= 1"),
    ("col2im kernel too large", lambda: col2im(np.zeros((1, 16, 1)), (3, 3), 4), ValueError,
     "larger than the padded output_size"),
    # conv_matrix
    ("conv_matrix rank", lambda: conv_matrix(W[0], 6), ValueError, "weight must be a 4-D"),
    ("conv_matrix channels", lambda: conv_matrix(W, (3, 6, 6), groups=2), ValueError,
     "input_size has 3 channels but weight expects 4"),
    ("conv_matrix groups", lambda: conv_matrix(W, 6, groups=4), ValueError,
     "groups=4 must divide the output channels"),
    ("conv_matrix input_size", lambda: conv_matrix(W, (6, 0)), ValueError,
     "input_size must be >= 1"),
    ("conv_matrix kernel too large", lambda: conv_matrix(W, 2), ValueError,
     "larger than the padded input"),
    ("conv_matrix too big", lambda: conv_matrix(np.zeros((64, 64, 3, 3)), 56, padding=1),
     ValueError, "dense and meant for small examples"),
    # conv1d
    ("conv1d rank", lambda: conv1d(X, W[..., 0]), ValueError, "x must be a 3-D"),
    ("conv1d weight rank", lambda: conv1d(X[..., 0], W), ValueError, "weight must be a 3-D"),
    ("conv1d stride", lambda: conv1d(X[..., 0], W[..., 0], stride=0, groups=2), ValueError,
     "stride must be >= 1"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_with_a_message_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_the_shared_fixtures_are_valid():
    """Guard against a test above passing for the wrong reason."""
    assert conv2d(X, W, groups=2).shape == G.shape
    assert conv_transpose2d(X, WT).shape == GT.shape
    assert conv2d_backward(G, X, W, groups=2)[0].shape == X.shape
    assert conv_transpose2d_backward(GT, X, WT)[0].shape == X.shape
