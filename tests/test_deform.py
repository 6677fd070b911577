"""convlib.functional.deform_conv2d (+ backward) against torchvision's semantics.

Oracles: PyTorch's F.conv2d (zero and integer offsets), a pure-Python transcription of
torchvision's per-sample bilinear rule, the grid_sample-based torch implementation in
tests/deform_oracle.py (values, and every gradient through autograd), and central differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.functional import deform_conv2d, deform_conv2d_backward
from deform_oracle import deform_conv2d_torch
from oracle import assert_close

pytestmark = pytest.mark.deformable

NAMES = ("input", "offset", "weight", "bias", "mask")


def out_size(i, k, s, p, d):
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def make_case(seed: int) -> dict:
    """A random, valid deformable-conv configuration (groups, offset groups, stride, ...)."""
    r = np.random.default_rng(seed)
    groups = int(r.choice([1, 1, 2, 3]))
    c_in = groups * int(r.integers(1, 4))
    c_out = groups * int(r.integers(1, 4))
    offset_groups = int(r.choice([d for d in range(1, c_in + 1) if c_in % d == 0]))
    kh, kw = (int(v) for v in r.integers(1, 4, size=2))
    stride = tuple(int(v) for v in r.integers(1, 4, size=2))
    dilation = tuple(int(v) for v in r.integers(1, 3, size=2))
    padding = tuple(int(v) for v in r.integers(0, 3, size=2))
    n = int(r.integers(1, 3))
    h = dilation[0] * (kh - 1) + 1 + int(r.integers(0, 6))
    w = dilation[1] * (kw - 1) + 1 + int(r.integers(0, 6))
    ho, wo = out_size(h, kh, stride[0], padding[0], dilation[0]), out_size(w, kw, stride[1], padding[1], dilation[1])
    dtype = np.float32 if seed % 2 else np.float64
    taps = kh * kw
    offset = r.normal(scale=float(r.choice([0.5, 2.0, 4.0])), size=(n, 2 * offset_groups * taps, ho, wo))
    # keep sampling positions off integers, where the offset gradient is one-sided and a
    # float32 rounding could pick the other side
    frac = offset - np.round(offset)
    offset = np.where(np.abs(frac) < 1e-3, offset + 2e-3, offset)
    case = dict(
        input=r.normal(size=(n, c_in, h, w)),
        offset=offset,
        weight=r.normal(size=(c_out, c_in // groups, kh, kw)),
        bias=r.normal(size=c_out) if r.random() < 0.7 else None,
        mask=r.uniform(size=(n, offset_groups * taps, ho, wo)) if r.random() < 0.6 else None,
    )
    case = {k: (None if v is None else v.astype(dtype)) for k, v in case.items()}
    case.update(stride=stride, padding=padding, dilation=dilation)
    return case


def torch_reference(case: dict, grad_output=None):
    """Oracle output (float64) and, given grad_output, the autograd gradients."""
    tensors = {k: (None if case[k] is None else
                   torch.tensor(case[k], dtype=torch.float64, requires_grad=True)) for k in NAMES}
    out = deform_conv2d_torch(**tensors, stride=case["stride"], padding=case["padding"],
                              dilation=case["dilation"])
    if grad_output is None:
        return out, None
    out.backward(torch.tensor(grad_output, dtype=torch.float64))
    return out, {k: (None if t is None else t.grad) for k, t in tensors.items()}


# --- (1) zero offsets: plain convolution ---------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_zero_offsets_equal_conv2d(seed):
    case = make_case(1000 + seed)
    case["offset"] = np.zeros_like(case["offset"])
    dtype = case["input"].dtype
    t = {k: (None if case[k] is None else torch.from_numpy(case[k])) for k in ("input", "weight", "bias")}
    expected = F.conv2d(t["input"], t["weight"], t["bias"], stride=case["stride"],
                        padding=case["padding"], dilation=case["dilation"],
                        groups=case["input"].shape[1] // case["weight"].shape[1])
    case["mask"] = None
    assert_close(deform_conv2d(**case), expected, dtype, what="zero offsets")
    case["mask"] = np.ones((case["offset"].shape[0], case["offset"].shape[1] // 2) + case["offset"].shape[2:], dtype)
    assert_close(deform_conv2d(**case), expected, dtype, what="zero offsets, mask of ones")


# --- (2) integer offsets: convolution of a shifted image -----------------------------------

@pytest.mark.parametrize("seed", range(10))
def test_integer_offsets_equal_shifted_conv2d(seed):
    """Tap t of offset group g shifted by whole pixels (a, b) reads x[y + a, x + b]: the sum,
    over (g, t), of conv2d with that single tap on the zero-extended image started at (a, b)."""
    case = make_case(2000 + seed)
    case["mask"] = None
    x, wgt = case["input"], case["weight"]
    n, c_in = x.shape[:2]
    kh, kw = wgt.shape[2:]
    g_off = case["offset"].shape[1] // (2 * kh * kw)
    ho, wo = case["offset"].shape[2:]
    rng = np.random.default_rng(seed)
    shifts = rng.integers(-3, 4, size=(g_off, kh * kw, 2))
    case["offset"] = np.broadcast_to(
        shifts.reshape(1, -1, 1, 1), case["offset"].shape).astype(x.dtype)

    (ph, pw), margin = case["padding"], max(case["padding"]) + 4
    big = F.pad(torch.from_numpy(x), (margin,) * 4)
    groups = c_in // wgt.shape[1]
    expected = torch.zeros((n, wgt.shape[0], ho, wo), dtype=big.dtype)
    for g in range(g_off):
        in_group = torch.zeros(c_in, dtype=big.dtype)
        in_group[g * c_in // g_off:(g + 1) * c_in // g_off] = 1
        for t in range(kh * kw):
            one_tap = torch.zeros_like(torch.from_numpy(wgt))
            one_tap[:, :, t // kw, t % kw] = torch.from_numpy(wgt)[:, :, t // kw, t % kw]
            a, b = shifts[g, t]
            window = (big * in_group[None, :, None, None])[:, :, margin - ph + a:, margin - pw + b:]
            expected += F.conv2d(window, one_tap, stride=case["stride"],
                                 dilation=case["dilation"], groups=groups)[:, :, :ho, :wo]
    if case["bias"] is not None:
        expected += torch.from_numpy(case["bias"])[None, :, None, None]
    assert_close(deform_conv2d(**case), expected, x.dtype, what="integer offsets")


# --- the oracle's out-of-image rule is torchvision's ---------------------------------------

def torchvision_bilinear(img, y, x):
    """Transcription of torchvision's CPU bilinear_interpolate (deform_conv2d_kernel.cpp)."""
    H, W = img.shape
    if y <= -1 or y >= H or x <= -1 or x >= W:
        return 0.0
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    ly, lx = y - y0, x - x0
    def at(i, j):
        return img[i, j] if 0 <= i < H and 0 <= j < W else 0.0
    return ((1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1)
            + ly * (1 - lx) * at(y0 + 1, x0) + ly * lx * at(y0 + 1, x0 + 1))


def brute_force(x, offset, weight, stride, padding, dilation, mask):
    n, c_in = x.shape[:2]
    c_out, c_in_g, kh, kw = weight.shape
    ho, wo = offset.shape[2:]
    g_off = offset.shape[1] // (2 * kh * kw)
    out = np.zeros((n, c_out, ho, wo))
    for b in range(n):
        for o in range(c_out):
            grp = o // (c_out // (c_in // c_in_g))
            for c in range(c_in_g):
                ch = grp * c_in_g + c
                g = ch // (c_in // g_off)
                for p in range(ho):
                    for q in range(wo):
                        for i in range(kh):
                            for j in range(kw):
                                t = i * kw + j
                                y = p * stride - padding + i * dilation + offset[b, 2 * (g * kh * kw + t), p, q]
                                xx = q * stride - padding + j * dilation + offset[b, 2 * (g * kh * kw + t) + 1, p, q]
                                m = mask[b, g * kh * kw + t, p, q]
                                out[b, o, p, q] += weight[o, c, i, j] * m * torchvision_bilinear(x[b, ch], y, xx)
    return out


def test_both_match_a_transcription_of_torchvision_near_the_border():
    r = np.random.default_rng(7)
    x = r.normal(size=(2, 4, 4, 5))
    weight = r.normal(size=(2, 2, 2, 2))                    # groups = 2
    ho, wo = out_size(4, 2, 1, 1, 1), out_size(5, 2, 1, 1, 1)
    offset = r.uniform(-3, 3, size=(2, 2 * 2 * 4, ho, wo))  # 2 offset groups, many samples outside
    offset[:, :, 0, :2] = np.round(offset[:, :, 0, :2])     # some exactly on integers (-1, H, ...)
    mask = r.uniform(size=(2, 2 * 4, ho, wo))
    expected = brute_force(x, offset, weight, 1, 1, 1, mask)
    ours = deform_conv2d(x, offset, weight, padding=1, mask=mask)
    theirs = deform_conv2d_torch(*(torch.from_numpy(a) for a in (x, offset, weight)), padding=1,
                                 mask=torch.from_numpy(mask))
    assert_close(ours, expected, what="numpy vs torchvision transcription")
    assert_close(theirs.numpy(), expected, what="torch oracle vs torchvision transcription")


# --- (3) + (4) random configurations: values and every gradient -----------------------------

@pytest.mark.parametrize("seed", range(120))
def test_forward_and_backward_match_torch_oracle(seed):
    case = make_case(seed)
    dtype = case["input"].dtype
    out = deform_conv2d(**case)
    assert out.dtype == dtype
    grad_output = np.random.default_rng(seed + 10_000).normal(size=out.shape).astype(dtype)
    expected, grads = torch_reference(case, grad_output)
    assert_close(out, expected, dtype, what=f"output (seed {seed})")
    ours = dict(zip(NAMES, deform_conv2d_backward(grad_output, **case)))
    for name in NAMES:
        if case[name] is None:
            assert ours[name] is None, f"grad_{name} should be None when {name} is None"
            continue
        assert ours[name].dtype == dtype, f"grad_{name} dtype"
        assert_close(ours[name], grads[name], dtype, what=f"grad_{name} (seed {seed})")


def test_central_differences_float64():
    r = np.random.default_rng(3)
    kh = kw = 2
    ho, wo = out_size(5, 2, 2, 1, 2), out_size(6, 2, 1, 1, 2)
    base = r.integers(-2, 2, size=(1, 2 * 2 * 4, ho, wo))
    case = dict(
        input=r.normal(size=(1, 4, 5, 6)),
        offset=base + r.uniform(0.1, 0.9, size=base.shape),   # fractions away from integers
        weight=r.normal(size=(4, 2, kh, kw)),
        bias=r.normal(size=4),
        mask=r.uniform(size=(1, 2 * 4, ho, wo)),
        stride=(2, 1), padding=1, dilation=2,
    )
    grad_output = r.normal(size=(1, 4, ho, wo))
    grads = dict(zip(NAMES, deform_conv2d_backward(grad_output, **case)))
    eps = 1e-6
    for name in NAMES:
        arr = case[name]
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            values = []
            for step in (eps, -eps):
                bumped = arr.copy()
                bumped[idx] += step
                values.append(np.sum(deform_conv2d(**{**case, name: bumped}) * grad_output))
            numeric[idx] = (values[0] - values[1]) / (2 * eps)
        assert_close(grads[name], numeric, what=f"grad_{name} vs central differences", rtol=1e-6)


def test_no_mask_and_no_bias_give_none_and_match_mask_of_ones():
    case = make_case(5)  # any case; force both optional arguments
    case["bias"], case["mask"] = None, None
    shape = deform_conv2d(**case).shape
    g = np.random.default_rng(0).normal(size=shape).astype(case["input"].dtype)
    gi, go, gw, gb, gm = deform_conv2d_backward(g, **case)
    assert gb is None and gm is None
    n, c2, ho, wo = case["offset"].shape
    ones = np.ones((n, c2 // 2, ho, wo), case["input"].dtype)
    gi1, go1, gw1, _, gm1 = deform_conv2d_backward(g, **{**case, "mask": ones})
    assert gm1 is not None and gm1.shape == ones.shape
    for a, b, what in ((gi, gi1, "input"), (go, go1, "offset"), (gw, gw1, "weight")):
        np.testing.assert_array_equal(a, b, err_msg=f"grad_{what}")


# --- (5) bad input, inputs never modified ---------------------------------------------------

def good():
    r = np.random.default_rng(0)
    return dict(input=r.normal(size=(2, 4, 6, 6)), offset=r.normal(size=(2, 2 * 2 * 9, 4, 4)),
                weight=r.normal(size=(6, 2, 3, 3)), bias=r.normal(size=6),
                mask=r.uniform(size=(2, 2 * 9, 4, 4)), stride=1, padding=0, dilation=1)


def with_value(arr, idx, value):
    arr = arr.copy()
    arr[idx] = value
    return arr


BAD = [
    ("input rank", lambda c: {"input": c["input"][0]}, ValueError, "input must be a 4-D"),
    ("offset rank", lambda c: {"offset": c["offset"][0]}, ValueError, "offset must be a 4-D"),
    ("weight rank", lambda c: {"weight": c["weight"][0]}, ValueError, "weight must be a 4-D"),
    ("mask rank", lambda c: {"mask": c["mask"][0]}, ValueError, "mask must be a 4-D"),
    ("bias rank", lambda c: {"bias": c["bias"][None]}, ValueError, "bias must be a 1-D"),
    ("input type", lambda c: {"input": "image"}, TypeError, "input"),
    ("bool offset", lambda c: {"offset": c["offset"] > 0}, TypeError, "offset"),
    ("groups mismatch", lambda c: {"weight": np.ones((6, 3, 3, 3))}, ValueError, "input has 4 channels"),
    ("out channels vs groups", lambda c: {"weight": c["weight"][:5], "bias": c["bias"][:5]}, ValueError, "groups=2 must divide the output"),
    ("bias length", lambda c: {"bias": c["bias"][:4]}, ValueError, "bias must have 6"),
    ("offset channels", lambda c: {"offset": c["offset"][:, :30]}, ValueError, "a positive multiple of 2 \\* 3 \\* 3"),
    ("offset groups do not divide C_in", lambda c: {"offset": np.concatenate([c["offset"], c["offset"][:, :18]], 1),
                                                    "mask": None}, ValueError, "offset_groups = 3"),
    ("offset batch", lambda c: {"offset": c["offset"][:1]}, ValueError, "offset has batch size 1"),
    ("offset spatial", lambda c: {"offset": c["offset"][:, :, :3]}, ValueError, "offset has spatial size"),
    ("mask channels", lambda c: {"mask": c["mask"][:, :9]}, ValueError, "mask must have shape"),
    ("mask spatial", lambda c: {"mask": c["mask"][:, :, :, :2]}, ValueError, "mask must have shape"),
    ("nan offset", lambda c: {"offset": with_value(c["offset"], (0, 0, 0, 0), np.nan)}, ValueError, "offset must be finite"),
    ("inf offset", lambda c: {"offset": with_value(c["offset"], (1, 3, 2, 1), -np.inf)}, ValueError, "offset must be finite"),
    ("nan mask", lambda c: {"mask": with_value(c["mask"], (0, 0, 0, 0), np.nan)}, ValueError, "mask must be finite"),
    ("stride 0", lambda c: {"stride": 0}, ValueError, "stride must be >= 1"),
    ("dilation 0", lambda c: {"dilation": (1, 0)}, ValueError, "dilation must be >= 1"),
    ("negative padding", lambda c: {"padding": -1}, ValueError, "padding must be >= 0"),
    ("padding word", lambda c: {"padding": "same"}, TypeError, "padding must be an int"),
    ("kernel larger than padded input", lambda c: {"dilation": 4}, ValueError, "larger than the padded input"),
]


@pytest.mark.parametrize("what, change, exc, match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_rejected_by_forward_and_backward(what, change, exc, match):
    case = {**good(), **change(good())}
    with pytest.raises(exc, match=match):
        deform_conv2d(**case)
    with pytest.raises(exc, match=match):
        deform_conv2d_backward(np.zeros((2, 6, 4, 4)), **case)


def test_bad_grad_output_is_rejected():
    case = good()
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        deform_conv2d_backward(np.zeros((2, 6, 4, 3)), **case)
    with pytest.raises(ValueError, match="grad_output must be a 4-D"):
        deform_conv2d_backward(np.zeros((6, 4, 4)), **case)


def test_inputs_are_never_modified():
    case = good()
    arrays = {k: v for k, v in case.items() if isinstance(v, np.ndarray)}
    grad_output = np.random.default_rng(1).normal(size=(2, 6, 4, 4))
    copies = {k: v.copy() for k, v in arrays.items()}
    for v in list(arrays.values()) + [grad_output]:
        v.flags.writeable = False                         # any in-place write would raise
    deform_conv2d(**case)
    deform_conv2d_backward(grad_output, **case)
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, copies[k], err_msg=k)
