"""Exercises for the chapter "Pooling": max pooling forward with indices, its backward
through those indices, and the backward of average pooling.

References are ``convlib.functional`` (itself tested against PyTorch in tests/test_pooling.py);
every diagnosis recomputes the output a specific mistake produces (see exercises/mistakes.py).
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch03", "Pooling", notebook="ch03_pooling")


def _distinct(rng, *shape):
    """Whole numbers with no repeats in a plane: every window has one clear maximum."""
    n, h, w = int(np.prod(shape[:-2], dtype=int)), shape[-2], shape[-1]
    planes = [rng.permutation(h * w) for _ in range(n)]
    return (np.stack(planes).reshape(shape) - h * w // 2).astype(np.float64)


def _geometry(a):
    k = a["kernel_size"]
    s = k if a.get("stride") is None else a["stride"]
    return k, s


def _window_taps(shape, k, s):
    """Plane row and column of tap (u, v) of window (i, j): two arrays (Ho, Wo, k, k)."""
    h, w = shape[-2:]
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    rows = (np.arange(ho) * s)[:, None, None, None] + np.arange(k)[None, None, :, None]
    cols = (np.arange(wo) * s)[None, :, None, None] + np.arange(k)[None, None, None, :]
    return np.broadcast_to(rows, (ho, wo, k, k)), np.broadcast_to(cols, (ho, wo, k, k))


# ---- q1: forward, remembering where each maximum was ---------------------------------------
def _ref_forward(x, kernel_size, stride=None):
    return F.max_pool2d(x, kernel_size, stride, return_indices=True)


def _cases_forward(rng):
    ties = rng.integers(0, 2, (1, 1, 4, 4)).astype(np.float64)
    ties[0, 0, :2, :2] = [[1.0, 1.0], [0.0, 1.0]]  # three equal maxima in the first window
    return [
        Case("a 4x4 plane, 2x2 windows (stride defaults to the kernel size)", (_distinct(rng, 1, 1, 4, 4), 2)),
        Case("a 5x5 plane, 2x2 windows: the last row and column belong to no window",
             (_distinct(rng, 1, 1, 5, 5), 2)),
        Case("3x3 windows with stride 1: the windows overlap", (_distinct(rng, 1, 1, 5, 5), 3), {"stride": 1}),
        Case("a non-square 4x6 plane, 2x2 windows, stride 1", (_distinct(rng, 1, 1, 4, 6), 2), {"stride": 1}),
        Case("a batch of 2 images with 3 channels: indices count within each plane",
             (_distinct(rng, 2, 3, 4, 4), 2)),
        Case("ties: the first maximum in row-major order wins, as in PyTorch", (ties, 2)),
        Case("float32 input: out is float32, indices stay int64",
             (rng.standard_normal((1, 2, 6, 6)).astype(np.float32), 3), {"stride": 3}),
    ]


def _wrong_indices(transform):
    """A q1 mistake: right maxima, indices rewritten by ``transform(plane_idx, args, ho_wo)``."""
    def wrong(ref, a):
        out, idx = ref(**a)
        new = transform(idx, a)
        return None if new is None else (out, new.astype(np.int64))
    return wrong


def _window_relative(idx, a):
    k, s = _geometry(a)
    w = a["x"].shape[-1]
    ho, wo = idx.shape[-2:]
    r, c = np.divmod(idx, w)
    return (r - (np.arange(ho) * s)[:, None]) * k + (c - (np.arange(wo) * s)[None, :])


def _column_major(idx, a):
    h, w = a["x"].shape[-2:]
    r, c = np.divmod(idx, w)
    return c * h + r


def _whole_tensor(idx, a):
    n, ch, h, w = a["x"].shape
    if n * ch == 1:
        return None
    return idx + (np.arange(n * ch).reshape(n, ch, 1, 1) * h * w)


def _last_on_ties(ref, a):
    x = a["x"]
    k, s = _geometry(a)
    out, idx = ref(**a)
    rows, cols = _window_taps(x.shape, k, s)
    vals = x[..., rows, cols].reshape(x.shape[:2] + rows.shape[:2] + (k * k,))
    last = k * k - 1 - np.argmax(vals[..., ::-1], axis=-1)
    r = rows.reshape(rows.shape[:2] + (k * k,))
    c = cols.reshape(cols.shape[:2] + (k * k,))
    pick_r = np.take_along_axis(np.broadcast_to(r, vals.shape), last[..., None], -1)[..., 0]
    pick_c = np.take_along_axis(np.broadcast_to(c, vals.shape), last[..., None], -1)[..., 0]
    new = pick_r * x.shape[-1] + pick_c
    return None if np.array_equal(new, idx) else (out, new.astype(np.int64))


def _row_col_pairs(ref, a):
    out, idx = ref(**a)
    return out, np.stack(np.divmod(idx, a["x"].shape[-1]), axis=-1)


def _stride_one(ref, a):
    if a.get("stride") is not None or a["kernel_size"] == 1:
        return None
    return ref(**{**a, "stride": 1})


q1 = chapter.task(
    "q1", "max pooling that remembers its argmax", function="max_pool2d_with_indices",
    forbid=library("max_pool2d", "global_max_pool2d", what="max pooling"),
    reference=_ref_forward, cases=_cases_forward, output_names=("out", "indices"),
    mistakes=[
        Mistake("indices relative to the window", (
            "your indices count positions inside each window (0 .. k*k-1). They must say where the "
            "maximum is in the whole input PLANE: index = row * W + col, with row = i*stride + u "
            "and col = j*stride + v (PyTorch's convention, which unravel_index undoes)."),
            _wrong_indices(_window_relative)),
        Mistake("indices counted column by column", (
            "your index is col * H + row. Count row by row, as numpy and PyTorch flatten a plane: "
            "index = row * W + col."), _wrong_indices(_column_major)),
        Mistake("indices over the whole tensor", (
            "your indices also count the planes before this one (n * C + c) * H * W. Each index is "
            "a position within its own (H, W) plane: row * W + col, from 0 to H*W - 1."),
            _wrong_indices(_whole_tensor)),
        Mistake("(row, col) pairs instead of one flat index", (
            "indices must have the shape of out, one int per output: the flat index row * W + col "
            "(np.ravel_multi_index((row, col), (H, W)) gives it)."), _row_col_pairs),
        Mistake("the last maximum on ties", (
            "when several cells of a window hold the maximum, PyTorch (and the backward pass the "
            "book checks against) keeps the FIRST one in row-major order. np.argmax already "
            "returns the first; a loop should only replace the best on a strictly larger value (>)."),
            _last_on_ties),
        Mistake("stride=None taken as 1", (
            "stride=None means stride = kernel_size (non-overlapping windows), as in "
            "torch.nn.functional.max_pool2d. Start with: if stride is None: stride = kernel_size."),
            _stride_one),
    ],
    hints=[
        "H_out = (H - k) // stride + 1 (no padding here). For each output (i, j) the window is "
        "x[:, :, i*s : i*s + k, j*s : j*s + k]. Make out with np.zeros(..., dtype=x.dtype) and "
        "indices with np.zeros(..., dtype=np.int64).",
        "Flatten the window of one plane: t = np.argmax(window.ravel()) (the first maximum); "
        "u, v = divmod(t, k); then indices[n, c, i, j] = (i*s + u) * W + (j*s + v). Loops over "
        "n, c, i, j are fine.",
    ])


# ---- q2: backward through the indices -----------------------------------------------------
def _ref_backward(grad_output, indices, input_shape, kernel_size, stride=None):
    return F.max_pool2d_backward(grad_output, indices, input_shape)


def _backward_case(rng, label, shape, k, stride=None, dtype=np.float64):
    x = _distinct(rng, *shape)
    if dtype != np.float64:
        x = x.astype(dtype)
    out, idx = F.max_pool2d(x, k, stride, return_indices=True)
    g = rng.integers(1, 6, out.shape).astype(dtype)
    kwargs = {} if stride is None else {"stride": stride}
    return Case(label, (g, idx, shape, k), kwargs)


def _cases_backward(rng):
    cases = [
        _backward_case(rng, "a 4x4 plane, 2x2 windows: one gradient per window", (1, 1, 4, 4), 2),
        _backward_case(rng, "a 5x5 plane, 2x2 windows: the last row and column get 0", (1, 1, 5, 5), 2),
        _backward_case(rng, "a batch of 2 images with 2 channels", (2, 2, 4, 4), 2),
        _backward_case(rng, "float32 gradients stay float32", (1, 2, 4, 4), 2, dtype=np.float32),
    ]
    # overlapping windows that share their maximum: the gradients must add up
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1], x[0, 0, 2, 3] = 9.0, 8.0
    out, idx = F.max_pool2d(x, 3, 1, return_indices=True)
    cases.insert(2, Case("3x3 windows, stride 1: several windows share a maximum",
                         (np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), idx, (1, 1, 4, 4), 3), {"stride": 1}))
    return cases


def _spread(divide):
    def wrong(ref, a):
        k, s = _geometry(a)
        return F.avg_pool2d_backward(a["grad_output"], a["input_shape"], k, s,
                                     divisor_override=None if divide else 1)
    return wrong


def _overwritten(ref, a):
    g, idx = a["grad_output"], a["indices"]
    n, c, h, w = a["input_shape"]
    out = np.zeros((n * c, h * w), dtype=g.dtype)
    planes = np.repeat(np.arange(n * c), idx[0, 0].size)
    out[planes, idx.reshape(-1)] = g.reshape(-1)  # repeated targets: the last write wins
    expected = ref(**a)
    out = out.reshape(n, c, h, w)
    return None if np.array_equal(out, expected) else out


def _indices_as_window(ref, a):
    g, idx = a["grad_output"], a["indices"]
    k, s = _geometry(a)
    n, c, h, w = a["input_shape"]
    ho, wo = idx.shape[-2:]
    r = (np.arange(ho) * s)[:, None] + idx // k
    col = (np.arange(wo) * s)[None, :] + idx % k
    ok = ((r < h) & (col < w)).reshape(-1)  # a careful learner skips what falls outside
    out = np.zeros((n * c, h * w), dtype=g.dtype)
    planes = np.repeat(np.arange(n * c), ho * wo)
    np.add.at(out, (planes[ok], (r * w + col).reshape(-1)[ok]), g.reshape(-1)[ok])
    return out.reshape(n, c, h, w)


def _all_in_first_plane(ref, a):
    g, idx = a["grad_output"], a["indices"]
    n, c, h, w = a["input_shape"]
    if n * c == 1:
        return None
    out = np.zeros((n, c, h * w), dtype=g.dtype)
    np.add.at(out[0, 0], idx.reshape(-1), g.reshape(-1))
    return out.reshape(n, c, h, w)


q2 = chapter.task(
    "q2", "max pooling backward through the indices", function="max_pool2d_backward",
    forbid=library("max_pool2d_backward", what="the backward pass"),
    reference=_ref_backward, cases=_cases_backward,
    mistakes=[
        Mistake("gradient sent to every window position", (
            "every cell of each window received grad_output[i, j]. Max pooling passes the gradient "
            "ONLY to the cell that was the maximum (recorded in indices); the other cells of the "
            "window did not influence the output, so their gradient is 0."), _spread(False)),
        Mistake("gradient averaged over the window", (
            "you spread grad_output[i, j] / (k*k) over the window: that is AVERAGE pooling's "
            "backward (question 3). Max pooling sends the whole grad_output[i, j] to the argmax."),
            _spread(True)),
        Mistake("overlapping gradients overwritten", (
            "when two windows share their maximum, that cell must receive BOTH gradients: "
            "grad_input[...] += grad_output[...], not =. (With fancy indexing, use np.add.at: "
            "plain `a[idx] += g` also keeps only one of repeated indices.)"), _overwritten),
        Mistake("indices read as positions in the window", (
            "the indices are positions in the whole (H, W) plane (row * W + col), as your q1 "
            "returns them; you offset them by the window's corner again. Use "
            "row, col = divmod(index, W) directly."), _indices_as_window),
        Mistake("every gradient in the first plane", (
            "all gradients landed in grad_input[0, 0]. The indices count within one plane: "
            "the gradient of grad_output[n, c, i, j] goes to grad_input[n, c, row, col]."),
            _all_in_first_plane),
    ],
    hints=[
        "Start from grad_input = np.zeros(input_shape, dtype=grad_output.dtype). For every n, c, i, "
        "j: row, col = divmod(indices[n, c, i, j], W) and add grad_output[n, c, i, j] there. "
        "kernel_size and stride are not needed: the indices say everything.",
        "Add, do not assign: grad_input[n, c, row, col] += grad_output[n, c, i, j]. Without loops: "
        "np.add.at(grad_input.reshape(N * C, H * W), (plane numbers, indices.reshape(-1)), "
        "grad_output.reshape(-1)).",
    ])


# ---- q3: average pooling backward --------------------------------------------------------
def _ref_avg_backward(grad_output, input_shape, kernel_size, stride=None):
    return F.avg_pool2d_backward(grad_output, input_shape, kernel_size, stride)


def _cases_avg(rng):
    def case(label, shape, k, stride=None):
        s = k if stride is None else stride
        ho, wo = (shape[2] - k) // s + 1, (shape[3] - k) // s + 1
        g = rng.integers(1, 9, (shape[0], shape[1], ho, wo)).astype(np.float64)
        return Case(label, (g, shape, k), {} if stride is None else {"stride": stride})
    return [
        case("a 4x4 plane, 2x2 windows", (1, 1, 4, 4), 2),
        case("a 5x5 plane, 2x2 windows: the last row and column get 0", (1, 1, 5, 5), 2),
        case("3x3 windows, stride 1: shares from overlapping windows add up", (1, 1, 4, 4), 3, 1),
        case("a batch of 2 images, 2 channels, 3x3 windows, stride 2", (2, 2, 7, 7), 3, 2),
    ]


def _avg_manual(a, stride=None, divisor=None, accumulate=True):
    """Average pooling's backward done by hand, with one thing possibly changed."""
    g, k = a["grad_output"], a["kernel_size"]
    s = stride or (k if a.get("stride") is None else a["stride"])
    d = k * k if divisor is None else divisor
    out = np.zeros(a["input_shape"], dtype=g.dtype)
    h, w = out.shape[-2:]
    if (g.shape[2] - 1) * s + k > h or (g.shape[3] - 1) * s + k > w:
        return None
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            share = g[:, :, i, j][:, :, None, None] / d
            if accumulate:
                out[:, :, i * s:i * s + k, j * s:j * s + k] += share
            else:
                out[:, :, i * s:i * s + k, j * s:j * s + k] = share
    return out


def _overlapping(a):
    return (a.get("stride") or a["kernel_size"]) < a["kernel_size"]


q3 = chapter.task(
    "q3", "average pooling backward", function="avg_pool2d_backward",
    forbid=library("avg_pool2d_backward", "avg_pool2d", "conv_transpose2d", what="the backward pass"),
    reference=_ref_avg_backward, cases=_cases_avg,
    mistakes=[
        Mistake("gradient sent to every window position undivided", (
            "each cell got the whole grad_output[i, j]. The output is the MEAN of k*k cells, so "
            "each cell's share is grad_output[i, j] / (k*k)."),
            lambda ref, a: _avg_manual(a, divisor=1)),
        Mistake("divided by k instead of k*k", "a k x k window has k*k cells: divide by k*k.",
                lambda ref, a: _avg_manual(a, divisor=a["kernel_size"])),
        Mistake("overlapping shares overwritten", (
            "a cell inside several windows gets a share from EACH of them: use +=, not =."),
            lambda ref, a: _avg_manual(a, accumulate=False) if _overlapping(a) else None),
        Mistake("stride=None taken as 1", (
            "stride=None means stride = kernel_size, as in torch.nn.functional.avg_pool2d."),
            lambda ref, a: _avg_manual(a, stride=1) if a.get("stride") is None and a["kernel_size"] > 1 else None),
    ],
    hints=[
        "grad_input = np.zeros(input_shape, dtype=grad_output.dtype). Output (i, j) averaged the "
        "k*k cells x[..., i*s : i*s + k, j*s : j*s + k]; each of them gets grad_output[..., i, j] / (k*k).",
        "grad_input[:, :, i*s:i*s+k, j*s:j*s+k] += grad_output[:, :, i, j][:, :, None, None] / (k * k) "
        "inside two loops over i and j.",
    ])

