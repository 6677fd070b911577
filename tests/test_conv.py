"""conv2d, conv_transpose2d and their backward against PyTorch (values and autograd).

Seeded sweeps over hundreds of random configurations: groups, dilation > 1, stride > kernel,
batch > 1, 1xN and Nx1 kernels, "same"/"valid", float32 and float64; then the properties that
tie the ops together (the transposed conv is conv2d's input gradient) and a hand-checked case.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.functional import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from convlib.functional import conv1d
from oracle import assert_close

pytestmark = [pytest.mark.conv, pytest.mark.usefixtures("torch_for_tiny_shapes"), pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")]



DTYPES = (np.float32, np.float64)


def conv_config(seed: int) -> dict:
    """A random but valid conv2d configuration (arrays and keyword arguments)."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, og = rng.integers(1, 4, size=2)
    kh, kw = rng.integers(1, 5, size=2)
    if seed % 5 == 0:  # a 1xN or Nx1 kernel every fifth case
        kh, kw = (1, kw) if seed % 10 == 0 else (kh, 1)
    stride = tuple(int(s) for s in rng.integers(1, 5, size=2))  # often larger than the kernel
    dilation = tuple(int(d) for d in rng.integers(1, 4, size=2))
    mode = rng.choice(["int", "pair", "same", "valid"], p=[0.3, 0.4, 0.15, 0.15])
    if mode == "same":
        stride, padding, pads = (1, 1), "same", (0, 0)
    elif mode == "valid":
        padding, pads = "valid", (0, 0)
    elif mode == "int":
        padding = int(rng.integers(0, 3)); pads = (padding, padding)
    else:
        padding = tuple(int(p) for p in rng.integers(0, 3, size=2)); pads = padding
    # The input must hold the dilated kernel once padded; add a few extra pixels at random.
    hw = [max(1, dd * (k - 1) + 1 - 2 * p + int(rng.integers(0, 7)))
          for k, dd, p in zip((kh, kw), dilation, pads)]
    n = int(rng.integers(1, 4))
    dtype = DTYPES[seed % 2]
    x = rng.standard_normal((n, cg * groups, *hw)).astype(dtype)
    weight = rng.standard_normal((og * groups, cg, kh, kw)).astype(dtype)
    bias = rng.standard_normal(og * groups).astype(dtype) if rng.random() < 0.7 else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return dict(x=x, weight=weight, bias=bias, kwargs=kwargs, dtype=dtype)


def transposed_config(seed: int) -> dict:
    """A random valid conv_transpose2d configuration."""
    rng = np.random.default_rng(10_000 + seed)
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, og = rng.integers(1, 4, size=2)
    kh, kw = rng.integers(1, 5, size=2)
    if seed % 5 == 0:
        kh, kw = (1, kw) if seed % 10 == 0 else (kh, 1)
    stride = tuple(int(s) for s in rng.integers(1, 5, size=2))
    dilation = tuple(int(d) for d in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    hw = []
    for k, s, d, p, op in zip((kh, kw), stride, dilation, padding, output_padding):
        i = int(rng.integers(1, 6))
        while (i - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
            i += 1
        hw.append(i)
    n = int(rng.integers(1, 4))
    dtype = DTYPES[seed % 2]
    x = rng.standard_normal((n, cg * groups, *hw)).astype(dtype)
    weight = rng.standard_normal((cg * groups, og, kh, kw)).astype(dtype)
    bias = rng.standard_normal(og * groups).astype(dtype) if rng.random() < 0.7 else None
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)
    return dict(x=x, weight=weight, bias=bias, kwargs=kwargs, dtype=dtype)


def torch_grads(torch_op, x, weight, bias, grad_seed, **kwargs):
    """Output and autograd gradients of ``torch_op`` for a random upstream gradient."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True) if bias is not None else None
    y = torch_op(xt, wt, bt, **kwargs)
    g = np.random.default_rng(grad_seed).standard_normal(tuple(y.shape)).astype(x.dtype)
    y.backward(torch.tensor(g))
    return y, g, xt.grad, wt.grad, (bt.grad if bt is not None else torch.tensor(g).sum((0, 2, 3)))


# --- conv2d ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(300))
def test_conv2d_matches_torch(seed):
    c = conv_config(seed)
    y = conv2d(c["x"], c["weight"], c["bias"], **c["kwargs"])
    expected = F.conv2d(torch.tensor(c["x"]), torch.tensor(c["weight"]),
                        None if c["bias"] is None else torch.tensor(c["bias"]), **c["kwargs"])
    assert y.dtype == c["dtype"]
    assert_close(y, expected, what=f"conv2d {c['kwargs']}")


@pytest.mark.parametrize("seed", range(200))
def test_conv2d_backward_matches_autograd(seed):
    c = conv_config(seed)
    y, g, gx, gw, gb = torch_grads(F.conv2d, c["x"], c["weight"], c["bias"], seed, **c["kwargs"])
    grad_input, grad_weight, grad_bias = conv2d_backward(g, c["x"], c["weight"], **c["kwargs"])
    for name, got, want in (("grad_input", grad_input, gx), ("grad_weight", grad_weight, gw),
                            ("grad_bias", grad_bias, gb)):
        assert got.dtype == c["dtype"], name
        assert_close(got, want, what=f"{name} {c['kwargs']}")


# --- conv_transpose2d ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(200))
def test_conv_transpose2d_matches_torch(seed):
    c = transposed_config(seed)
    y = conv_transpose2d(c["x"], c["weight"], c["bias"], **c["kwargs"])
    expected = F.conv_transpose2d(torch.tensor(c["x"]), torch.tensor(c["weight"]),
                                  None if c["bias"] is None else torch.tensor(c["bias"]),
                                  **c["kwargs"])
    assert y.dtype == c["dtype"]
    assert_close(y, expected, what=f"conv_transpose2d {c['kwargs']}")


@pytest.mark.parametrize("seed", range(200))
def test_conv_transpose2d_backward_matches_autograd(seed):
    c = transposed_config(seed)
    y, g, gx, gw, gb = torch_grads(F.conv_transpose2d, c["x"], c["weight"], c["bias"], seed,
                                   **c["kwargs"])
    grads = conv_transpose2d_backward(g, c["x"], c["weight"], **c["kwargs"])
    for name, got, want in zip(("grad_input", "grad_weight", "grad_bias"), grads, (gx, gw, gb)):
        assert got.dtype == c["dtype"], name
        assert_close(got, want, what=f"{name} {c['kwargs']}")


# --- properties ---------------------------------------------------------------------------------

def _explicit(c):
    """The config with "same"/"valid" replaced by explicit symmetric padding, or None."""
    kw = dict(c["kwargs"])
    if kw["padding"] == "valid":
        kw["padding"] = 0
    elif kw["padding"] == "same":
        k = c["weight"].shape[2:]
        totals = [d * (kk - 1) for kk, d in zip(k, kw["dilation"])]
        if any(t % 2 for t in totals):  # asymmetric: conv_transpose2d cannot express it
            return None
        kw["padding"] = tuple(t // 2 for t in totals)
    return kw


@pytest.mark.parametrize("seed", range(100))
def test_conv2d_input_gradient_is_the_transposed_conv(seed):
    c = conv_config(seed)
    kw = _explicit(c)
    if kw is None:
        pytest.skip("asymmetric 'same' padding")
    x, w = c["x"], c["weight"]
    y = conv2d(x, w, **kw)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(c["dtype"])
    grad_input = conv2d_backward(g, x, w, **kw)[0]
    # output_padding recovers the rows/columns the strided conv dropped at the end.
    s, p, d = (np.broadcast_to(kw[k], 2) for k in ("stride", "padding", "dilation"))
    op = [(i + 2 * pp - dd * (k - 1) - 1) % ss
          for i, k, ss, pp, dd in zip(x.shape[2:], w.shape[2:], s, p, d)]
    if any(o >= ss and o >= dd for o, ss, dd in zip(op, s, d)):
        pytest.skip("PyTorch allows output_padding < stride or < dilation only")
    transposed = conv_transpose2d(g, w, None, kw["stride"], kw["padding"], tuple(op), kw["groups"],
                                  kw["dilation"])
    assert_close(grad_input, transposed, what="grad_input vs conv_transpose2d")


@pytest.mark.parametrize("seed", range(40))
def test_adjoint_identity(seed):
    """<conv2d(x), y> == <x, conv_transpose2d(y)>: the defining property of the transpose."""
    c = conv_config(seed)
    kw = _explicit(c)
    if kw is None:
        pytest.skip("asymmetric 'same' padding")
    x = c["x"].astype(np.float64)
    w = c["weight"].astype(np.float64)
    y = conv2d(x, w, **kw)
    v = np.random.default_rng(seed).standard_normal(y.shape)
    s, p, d = (np.broadcast_to(kw[k], 2) for k in ("stride", "padding", "dilation"))
    op = tuple(int((i + 2 * pp - dd * (k - 1) - 1) % ss)
               for i, k, ss, pp, dd in zip(x.shape[2:], w.shape[2:], s, p, d))
    if any(o >= ss and o >= dd for o, ss, dd in zip(op, s, d)):
        pytest.skip("output_padding not expressible")
    back = conv_transpose2d(v, w, None, kw["stride"], kw["padding"], op, kw["groups"], kw["dilation"])
    assert back.shape == x.shape
    assert np.isclose(np.vdot(y, v), np.vdot(x, back), rtol=1e-10, atol=1e-10)


def test_hand_checked_values():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    y = conv2d(x, w, np.array([0.5]), stride=2)
    # out[0, 0, 0, 0] = 1*x[0,0] + (-1)*x[1,1] + 0.5 = 0 - 5 + 0.5
    assert y[0, 0, 0, 0] == 0 - 5 + 0.5
    assert y.shape == (1, 1, 2, 2)
    assert np.all(y == -4.5)


def test_float32_stays_float32_and_output_is_contiguous():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    y = conv2d(x, w, np.zeros(6, np.float32), padding=1, groups=2)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    grads = conv2d_backward(y, x, w, padding=1, groups=2)
    assert all(g.dtype == np.float32 for g in grads)
    assert grads[0].flags.c_contiguous
    t = conv_transpose2d(y, w, stride=1, padding=1, groups=2)
    assert t.dtype == np.float32 and t.shape == x.shape


def test_integer_inputs_are_accepted_as_float64():
    y = conv2d(np.ones((1, 1, 3, 3), dtype=int), np.ones((1, 1, 2, 2), dtype=int))
    assert y.dtype == np.float64 and np.all(y == 4)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    g = rng.standard_normal((2, 6, 4, 4))
    gt = rng.standard_normal((2, 2, 9, 7))
    wt = rng.standard_normal((4, 1, 3, 2))
    arrays = [x, w, b, g, gt, wt]
    copies = [a.copy() for a in arrays]
    for a in arrays:  # a read-only input must also work: nothing writes into it
        a.flags.writeable = False
    conv2d(x, w, b, stride=2, padding=1, groups=2)
    conv2d_backward(g, x, w, stride=2, padding=1, groups=2)
    conv_transpose2d(x, wt, None, stride=1, padding=1, groups=2)
    conv_transpose2d_backward(gt, x, wt, stride=1, padding=0, groups=2)
    conv1d(x[:, :, 0], w[:, :, 0], b, padding="same", groups=2)
    for a, copy in zip(arrays, copies):
        assert np.array_equal(a, copy)


# --- conv1d: the H = 1 case ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(40))
def test_conv1d_matches_torch(seed):
    c = conv_config(seed)
    x, w = c["x"][:, :, 0], c["weight"][:, :, 0]
    kw = {k: (v[1] if isinstance(v, tuple) else v) for k, v in c["kwargs"].items()}
    if kw["padding"] != "same":  # lengthen x so that the dilated kernel fits (conv_config sized H)
        pad = 0 if kw["padding"] == "valid" else kw["padding"]
        need = kw["dilation"] * (w.shape[-1] - 1) + 1 - x.shape[-1] - 2 * pad
        if need > 0:
            x = np.concatenate([x, np.zeros(x.shape[:2] + (need,), x.dtype)], axis=-1)
    y = conv1d(x, w, c["bias"], **kw)
    expected = F.conv1d(torch.tensor(x), torch.tensor(w),
                        None if c["bias"] is None else torch.tensor(c["bias"]), **kw)
    assert_close(y, expected, what=f"conv1d {kw}")


@pytest.mark.parametrize("view", ["strided", "reversed", "fortran", "transposed"])
def test_non_contiguous_inputs(view):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((2, 4, 9, 9))
    x = {"strided": base[:, :, ::2], "reversed": base[..., ::-1],
         "fortran": np.asfortranarray(base), "transposed": base.transpose(0, 1, 3, 2)}[view]
    w = rng.standard_normal((6, 2, 3, 2))[..., ::-1]
    kw = dict(stride=2, padding=1, groups=2)
    xt, wt = torch.tensor(x.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    y = F.conv2d(xt, wt, **kw)
    assert_close(conv2d(x, w, **kw), y)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(torch.tensor(g))
    gx, gw, _ = conv2d_backward(g.T.copy().T, x, w, **kw)  # a Fortran-ordered grad_output too
    assert_close(gx, xt.grad, what="grad_input")
    assert_close(gw, wt.grad, what="grad_weight")


def test_empty_batch_like_torch():
    x, w = np.zeros((0, 4, 5, 5)), np.ones((6, 2, 3, 3))
    assert conv2d(x, w, groups=2).shape == tuple(F.conv2d(torch.tensor(x), torch.tensor(w), groups=2).shape)
    grads = conv2d_backward(np.zeros((0, 6, 3, 3)), x, w, groups=2)
    assert [g.shape for g in grads] == [x.shape, w.shape, (6,)]
    assert not grads[1].any() and not grads[2].any()
    assert conv_transpose2d(x, np.ones((4, 3, 3, 3))).shape == (0, 3, 7, 7)


def test_the_sweeps_cover_every_feature():
    """The random configurations above really include each case the issue asks for."""
    convs = [conv_config(s) for s in range(200)]
    feats = {
        "groups > 1": any(c["kwargs"]["groups"] > 1 for c in convs),
        "dilation > 1": any(max(c["kwargs"]["dilation"]) > 1 for c in convs),
        "stride > kernel": any(c["kwargs"]["stride"][0] > c["weight"].shape[2] for c in convs),
        "batch > 1": any(c["x"].shape[0] > 1 for c in convs),
        "1xN kernel": any(c["weight"].shape[2] == 1 and c["weight"].shape[3] > 1 for c in convs),
        "Nx1 kernel": any(c["weight"].shape[3] == 1 and c["weight"].shape[2] > 1 for c in convs),
        "same": any(c["kwargs"]["padding"] == "same" for c in convs),
        "valid": any(c["kwargs"]["padding"] == "valid" for c in convs),
        "float32": any(c["dtype"] == np.float32 for c in convs),
        "float64": any(c["dtype"] == np.float64 for c in convs),
        "no bias": any(c["bias"] is None for c in convs),
    }
    trans = [transposed_config(s) for s in range(200)]
    feats["output_padding >= stride (< dilation)"] = any(
        op >= s for c in trans for op, s in zip(c["kwargs"]["output_padding"], c["kwargs"]["stride"]))
    feats["transposed groups > 1"] = any(c["kwargs"]["groups"] > 1 for c in trans)
    assert all(feats.values()), [k for k, v in feats.items() if not v]


def test_one_by_one_kernel_single_image_does_not_touch_x():
    """With a 1x1 kernel and N=1 the im2col matrix is a view of x itself: it must stay untouched."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((1, 3, 4, 5)), rng.standard_normal((2, 3, 1, 1))
    g = rng.standard_normal((1, 2, 4, 5))
    x0 = x.copy()
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.conv2d(xt, wt).backward(torch.tensor(g))
    gx, gw, _ = conv2d_backward(g, x, w)
    assert np.array_equal(x, x0)
    assert_close(gx, xt.grad, what="grad_input")
    assert_close(gw, wt.grad, what="grad_weight")
