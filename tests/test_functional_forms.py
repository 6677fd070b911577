"""The argument forms torch.nn.functional accepts, accepted the same way by convlib.functional.

- unbatched inputs ``(C, H, W)`` / ``(C, L)``: unbatched results, forward and backward;
- conv1d backward and conv_transpose1d forward/backward (batched and not);
- stride / padding / dilation / kernel_size as a 1-tuple (both axes) where torch takes it, and
  the empty tuple refused where torch refuses it (pooling's empty stride means kernel_size).
Each against PyTorch's forward and autograd on seeded random sweeps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convlib.functional as C
from oracle import assert_close

pytestmark = [pytest.mark.conv, pytest.mark.usefixtures("torch_for_tiny_shapes")]


def grads(torch_op, arrays, grad_seed, **kwargs):
    """torch output and the autograd gradients of ``arrays`` (None entries pass through)."""
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch_op(*ts, **kwargs)
    y = out[0] if isinstance(out, tuple) else out
    g = np.random.default_rng(grad_seed).standard_normal(tuple(y.shape)).astype(arrays[0].dtype)
    y.backward(torch.tensor(g))
    return out, g, [None if t is None else t.grad for t in ts]


def conv_case(seed: int, spatial: int, transposed: bool = False):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2]))
    cg, og = (int(v) for v in rng.integers(1, 4, size=2))
    k = tuple(int(v) for v in rng.integers(1, 4, size=spatial))
    stride = tuple(int(v) for v in rng.integers(1, 3, size=spatial))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=spatial))
    padding = tuple(int(v) for v in rng.integers(0, 2, size=spatial))
    size = [d * (kk - 1) + 1 + int(rng.integers(0, 5)) for kk, d in zip(k, dilation)]
    dtype = (np.float32, np.float64)[seed % 2]
    batch = () if seed % 2 == 0 else (int(rng.integers(1, 3)),)
    x = rng.standard_normal(batch + (cg * groups, *size)).astype(dtype)
    wshape = (cg * groups, og) if transposed else (og * groups, cg)
    w = rng.standard_normal(wshape + k).astype(dtype)
    b = rng.standard_normal(og * groups).astype(dtype) if seed % 3 else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if transposed:
        kw["output_padding"] = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    # the 1-tuple / int forms torch also takes
    if seed % 4 == 1:
        kw["stride"] = stride[:1]
    if seed % 4 == 3:
        kw["dilation"] = dilation[0]
    if seed % 5 == 2:
        kw["padding"] = padding[:1]
    return x, w, b, kw


OPS = {
    # name: (convlib forward, convlib backward, torch op, spatial dims, transposed)
    "conv2d": (C.conv2d, C.conv2d_backward, F.conv2d, 2, False),
    "conv_transpose2d": (C.conv_transpose2d, C.conv_transpose2d_backward,
                         F.conv_transpose2d, 2, True),
    "conv1d": (C.conv1d, C.conv1d_backward, F.conv1d, 1, False),
    "conv_transpose1d": (C.conv_transpose1d, C.conv_transpose1d_backward,
                         F.conv_transpose1d, 1, True),
}


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("seed", range(40))
def test_conv_forms_forward_and_backward_match_torch(name, seed):
    fwd, bwd, torch_op, spatial, transposed = OPS[name]
    x, w, b, kw = conv_case(seed + 1000 * spatial, spatial, transposed)
    try:
        (yt, g, (gxt, gwt, gbt)) = grads(torch_op, [x, w, b], seed, **kw)
    except RuntimeError:
        with pytest.raises(ValueError):
            fwd(x, w, b, **kw)
        return
    what = f"{name} seed {seed} x {x.shape} w {w.shape} {kw}"
    y = fwd(x, w, b, **kw)
    assert y.dtype == x.dtype
    assert_close(y, yt, what=what)
    gx, gw, gb = bwd(g, x, w, **kw)
    assert_close(gx, gxt, what=what + " grad_input")
    assert_close(gw, gwt, what=what + " grad_weight")
    if gbt is not None:
        assert_close(gb, gbt, what=what + " grad_bias")


def test_the_conv_sweep_covers_unbatched_and_one_tuples():
    seen = set()
    for seed in range(40):
        x, _, _, kw = conv_case(seed + 2000, 2)
        seen.add(("unbatched", x.ndim == 3))
        seen.add(("1-tuple stride", len(kw["stride"]) == 1))
        seen.add(("1-tuple padding", len(kw["padding"]) == 1))
        seen.add(("int dilation", isinstance(kw["dilation"], int)))
    assert {("unbatched", True), ("unbatched", False), ("1-tuple stride", True),
            ("1-tuple padding", True), ("int dilation", True)} <= seen


def pool_case(seed: int):
    rng = np.random.default_rng(500 + seed)
    k = int(rng.integers(1, 4))
    h, w = (int(v) for v in rng.integers(k, 10, size=2))
    shape = (int(rng.integers(1, 4)), h, w)
    if seed % 2:
        shape = (2,) + shape
    dtype = (np.float32, np.float64)[seed % 3 == 0]
    x = (rng.permutation(int(np.prod(shape))) / 5.0 - 3).reshape(shape).astype(dtype)
    kw = dict(kernel_size=(k,) if seed % 3 == 1 else k,
              stride=[None, (), (int(rng.integers(1, 3)),), int(rng.integers(1, 3))][seed % 4],
              padding=(int(rng.integers(0, k // 2 + 1)),))
    return x, kw


@pytest.mark.parametrize("seed", range(40))
def test_max_pool2d_forms_match_torch(seed):
    x, kw = pool_case(seed)
    (yt, it), g, (gxt,) = grads(F.max_pool2d, [x], seed, return_indices=True, **kw)
    what = f"seed {seed} x {x.shape} {kw}"
    y, idx = C.max_pool2d(x, return_indices=True, **kw)
    assert_close(y, yt, what=what)
    assert np.array_equal(idx, it.numpy()), what
    assert_close(C.max_pool2d_backward(g, idx, x.shape), gxt, what=what + " grad")


@pytest.mark.parametrize("seed", range(40))
def test_avg_pool2d_forms_match_torch(seed):
    x, kw = pool_case(seed)
    yt, g, (gxt,) = grads(F.avg_pool2d, [x], seed, **kw)
    what = f"seed {seed} x {x.shape} {kw}"
    assert_close(C.avg_pool2d(x, **kw), yt, what=what)
    assert_close(C.avg_pool2d_backward(g, x.shape, **kw), gxt, what=what + " grad")


def test_pooling_dilation_as_one_tuple_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 9, 9))
    yt, it = F.max_pool2d(torch.tensor(x), 3, dilation=(2,), return_indices=True)
    y, idx = C.max_pool2d(x, 3, dilation=(2,), return_indices=True)
    assert_close(y, yt)
    assert np.array_equal(idx, it.numpy())


@pytest.mark.parametrize("seed", range(10))
def test_depthwise_and_pointwise_take_unbatched_inputs(seed):
    rng = np.random.default_rng(seed)
    c, m = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    x = rng.standard_normal((c, 7, 6))
    w = rng.standard_normal((c * m, 1, 3, 3))
    kw = dict(stride=int(rng.integers(1, 3)), padding=1)
    assert_close(C.depthwise_conv2d(x, w, **kw), F.conv2d(torch.tensor(x), torch.tensor(w),
                                                          groups=c, **kw))
    wp = rng.standard_normal((5, c, 1, 1))
    b = rng.standard_normal(5)
    assert_close(C.pointwise_conv2d(x, wp, b),
                 F.conv2d(torch.tensor(x), torch.tensor(wp), torch.tensor(b)))


def test_unbatched_result_equals_the_batched_one():
    """Independent of torch: (C, H, W) gives exactly conv2d(x[None])[0], for every op."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((4, 9, 8)), rng.standard_normal((6, 2, 3, 3))
    np.testing.assert_array_equal(C.conv2d(x, w, groups=2), C.conv2d(x[None], w, groups=2)[0])
    y, idx = C.max_pool2d(x, 3, 2, return_indices=True)
    y4, idx4 = C.max_pool2d(x[None], 3, 2, return_indices=True)
    np.testing.assert_array_equal(y, y4[0])
    np.testing.assert_array_equal(idx, idx4[0])
    np.testing.assert_array_equal(C.max_unpool2d(y, idx, 3, 2, output_size=(9, 8)),
                                  C.max_unpool2d(y4, idx4, 3, 2, output_size=(9, 8))[0])
    np.testing.assert_array_equal(C.avg_pool2d(x, 2), C.avg_pool2d(x[None], 2)[0])
    np.testing.assert_array_equal(C.adaptive_avg_pool2d(x, 3), C.adaptive_avg_pool2d(x[None], 3)[0])


def test_channel_shuffle_keeps_torchs_reading_of_3d_input():
    """torch's channel_shuffle reads a 3-D array as (N, C, L), not as unbatched (C, H, W)."""
    x = np.arange(2 * 6 * 3.0).reshape(2, 6, 3)
    np.testing.assert_array_equal(C.channel_shuffle(x, 3),
                                  F.channel_shuffle(torch.tensor(x), 3).numpy())


# --- forms torch refuses ---------------------------------------------------------------------

X2, W2 = np.zeros((1, 2, 6, 6)), np.zeros((2, 2, 3, 3))
X1, W1 = np.zeros((1, 2, 6)), np.zeros((2, 2, 3))

REFUSED = [
    # (convlib call, torch call, convlib exception, message)
    (lambda: C.conv2d(X2, W2, stride=()), lambda t: F.conv2d(t(X2), t(W2), stride=()),
     ValueError, r"stride must be an int or a tuple of 1 or 2 ints \(conv2d follows PyTorch"),
    (lambda: C.conv2d(X2, W2, padding=()), lambda t: F.conv2d(t(X2), t(W2), padding=()),
     ValueError, "padding must be an int or a tuple of 1 or 2"),
    (lambda: C.conv2d(X2, W2, dilation=[]), lambda t: F.conv2d(t(X2), t(W2), dilation=[]),
     ValueError, "dilation must be an int or a tuple of 1 or 2"),
    (lambda: C.conv_transpose2d(X2, W2, output_padding=()),
     lambda t: F.conv_transpose2d(t(X2), t(W2), output_padding=()),
     ValueError, "output_padding must be an int or a tuple of 1 or 2"),
    (lambda: C.conv1d(X1, W1, stride=()), lambda t: F.conv1d(t(X1), t(W1), stride=()),
     ValueError, r"stride must be an int or a 1-tuple \(conv1d follows PyTorch"),
    (lambda: C.conv1d(X1, W1, stride=(1, 1)), lambda t: F.conv1d(t(X1), t(W1), stride=(1, 1)),
     TypeError, "stride must be an int or a tuple of 1 ints"),
    (lambda: C.conv_transpose1d(X1, W1, padding=(0, 0)),
     lambda t: F.conv_transpose1d(t(X1), t(W1), padding=(0, 0)),
     TypeError, "padding must be an int or a tuple of 1 ints"),
    (lambda: C.max_pool2d(X2, ()), lambda t: F.max_pool2d(t(X2), ()),
     ValueError, "kernel_size must be an int or a tuple of 1 or 2"),
    (lambda: C.avg_pool2d(X2, 2, padding=()), lambda t: F.avg_pool2d(t(X2), 2, padding=()),
     ValueError, "padding must be an int or a tuple of 1 or 2"),
    (lambda: C.max_pool2d(X2, 2, dilation=()), lambda t: F.max_pool2d(t(X2), 2, dilation=()),
     ValueError, "dilation must be an int or a tuple of 1 or 2"),
]


@pytest.mark.parametrize("ours, theirs, exc, match", REFUSED, ids=[str(i) for i in range(len(REFUSED))])
def test_forms_torch_refuses_are_refused_with_its_rule(ours, theirs, exc, match):
    with pytest.raises(RuntimeError):
        theirs(torch.tensor)
    with pytest.raises(exc, match=match):
        ours()


BAD = [
    (lambda: C.conv2d(np.zeros((6, 6)), W2), ValueError,
     r"x must be a 4-D array \(N, C, H, W\) or 3-D without the batch axis \(C, H, W\)"),
    (lambda: C.conv2d(np.zeros((1, 1, 2, 6, 6)), W2), ValueError, "x must be a 4-D"),
    (lambda: C.conv2d([["a"]], W2), TypeError, "x must"),
    (lambda: C.conv2d_backward(np.zeros((2, 4, 4)), np.zeros((1, 2, 6, 6)), W2), ValueError,
     "grad_output must be a 4-D"),
    (lambda: C.conv2d_backward(np.zeros((1, 2, 4, 4)), np.zeros((2, 6, 6)), W2), ValueError,
     "grad_output must be a 4-D"),
    (lambda: C.conv1d(np.zeros(6), W1), ValueError, r"x must be a 3-D array \(N, C, L\) or 2-D"),
    (lambda: C.conv1d_backward(np.zeros((1, 2, 4)), X1, W1[..., :2]), ValueError,
     "grad_output must have the output's shape"),
    (lambda: C.conv_transpose1d(X1, W1, output_padding=1), ValueError,
     "output_padding must be smaller than stride or dilation"),
    (lambda: C.max_pool2d_backward(np.zeros((2, 3, 3)), np.zeros((2, 3, 3), np.int64),
                                   (2, 6, 6, 1)), ValueError, "grad_output must be a 4-D"),
    (lambda: C.max_pool2d(X2, 2, stride=(0,)), ValueError, "stride must be >= 1"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_rejected_with_a_message_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
