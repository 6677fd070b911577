"""Exercises for the chapter "Deformable convolution": bilinear sampling with zeros outside the
image, then a one-channel deformable convolution with given offsets.

References are built on ``convlib.functional.deform_conv2d`` (tested against a torch oracle in
tests/test_deform.py). The diagnoses recompute the output of one specific mistake with a small
vectorised bilinear sampler (``_sample``) that can make it: ``dy``/``dx`` swapped, clamping at
the border instead of zeros, the floor/ceil weights swapped, rounding instead of interpolating,
the offsets ignored or read in the wrong layout.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from exercises.rules import library, uses
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake

__all__ = ["chapter", "q1", "q2"]

chapter = Chapter("ch09", "Deformable convolution", notebook="ch09_deformable_conv")


def _sample(image, y, x, border="zeros", swap_weights=False, nearest=False):
    """Bilinear sample of ``image (H, W)`` at arrays ``y, x`` (same shape), with a mistake."""
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if nearest:
        y, x = np.floor(y + 0.5), np.floor(x + 0.5)
    y0, x0 = np.floor(y), np.floor(x)
    ly, lx = y - y0, x - x0
    if swap_weights:
        ly, lx = 1 - ly, 1 - lx
    out = np.zeros(np.broadcast(y, x).shape)
    for ay, wy in ((0, 1 - ly), (1, ly)):
        for ax, wx in ((0, 1 - lx), (1, lx)):
            r, c = (y0 + ay).astype(int), (x0 + ax).astype(int)
            if border == "clamp":
                v = img[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
            else:
                ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
                v = np.where(ok, img[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], 0.0)
            out = out + wy * wx * v
    return out


# ---- q1: bilinear sampling -----------------------------------------------------------------
def _ref_sample(image, y, x):
    h, w = image.shape
    offset = np.zeros((1, 2, h, w))
    offset[0, :, 0, 0] = y, x                 # output (0, 0) of a 1x1 kernel reads (y, x)
    return float(F.deform_conv2d(image[None, None].astype(np.float64), offset,
                                 np.ones((1, 1, 1, 1)))[0, 0, 0, 0])


def _scalar_mistake(**kw):
    return lambda ref, a: float(_sample(a["image"], a["y"], a["x"], **kw))


_SWAP_YX = Mistake("y and x swapped", (
    "your value is the sample at (x, y). y is the ROW (first index, height) and x the COLUMN: "
    "read image[row, col] = image[y0, x0] etc."), lambda ref, a: ref(a["image"], a["x"], a["y"]))
_CLAMP = Mistake("clamping at the border", (
    "corners outside the image must read 0, not the nearest edge pixel. Test "
    "0 <= r < H and 0 <= c < W for each corner and skip (or zero) the ones outside."),
    _scalar_mistake(border="clamp"))
_SWAP_W = Mistake("floor and ceil weights swapped", (
    "the corner at y0 = floor(y) gets weight (1 - ly) and the corner y0 + 1 gets ly (ly = y - y0): "
    "the NEARER corner gets the larger weight. The same for x."), _scalar_mistake(swap_weights=True))
_NEAREST = Mistake("rounded to the nearest pixel", (
    "you read the nearest pixel; bilinear interpolation mixes the four pixels around (y, x), "
    "each weighted by the area of the rectangle opposite to it."), _scalar_mistake(nearest=True))

q1 = chapter.task(
    "q1", "bilinear sampling, zeros outside", function="bilinear_sample",
    forbid=library("deform_conv2d", "map_coordinates", "grid_sample", "interp2d", what="bilinear sampling"),
    reference=_ref_sample,
    cases=lambda rng: [
        Case("a whole pixel inside", (np.arange(12.0).reshape(3, 4), 1.0, 2.0)),
        Case("halfway between two columns", (np.arange(12.0).reshape(3, 4), 1.0, 2.5)),
        Case("a fractional position, 4x5 image", (rng.integers(0, 9, (4, 5)).astype(float), 1.25, 2.75)),
        Case("a non-square image, y and x differ", (rng.integers(0, 9, (3, 6)).astype(float), 0.5, 4.2)),
        Case("half a pixel above the image: the missing corners read 0",
             (rng.integers(1, 9, (4, 4)).astype(float), -0.5, 1.25)),
        Case("beyond the right border", (rng.integers(1, 9, (4, 5)).astype(float), 2.75, 4.5)),
        Case("entirely outside: 0", (rng.integers(1, 9, (4, 4)).astype(float), -1.5, 2.0)),
        Case("the last pixel exactly", (rng.integers(1, 9, (3, 5)).astype(float), 2.0, 4.0)),
    ],
    mistakes=[_SWAP_YX, _CLAMP, _SWAP_W, _NEAREST],
    hints=[
        "y0, x0 = floor(y), floor(x); ly, lx = y - y0, x - x0. The four corners are (y0, x0), "
        "(y0, x0+1), (y0+1, x0), (y0+1, x0+1) with weights (1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly*lx.",
        "Use int(np.floor(y)) (int() alone rounds -0.5 towards 0). For each corner (r, c) add "
        "weight * image[r, c] only if 0 <= r < H and 0 <= c < W; return a float.",
    ])


# ---- q2: a one-channel deformable convolution ------------------------------------------------
def _ref_deform(x, offset, weight, padding=0):
    return F.deform_conv2d(x[None, None].astype(np.float64), offset[None].astype(np.float64),
                           weight[None, None].astype(np.float64), padding=padding)[0, 0]


def _deform(x, offset, weight, padding=0, swap_yx=False, planar=False, **kw):
    kh, kw_ = weight.shape
    ho, wo = offset.shape[1:]
    K = kh * kw_
    out = np.zeros((ho, wo))
    p, q = np.mgrid[0:ho, 0:wo]
    for t in range(K):
        i, j = divmod(t, kw_)
        dy, dx = (offset[t], offset[K + t]) if planar else (offset[2 * t], offset[2 * t + 1])
        if swap_yx:
            dy, dx = dx, dy
        out += weight[i, j] * _sample(x, p - padding + i + dy, q - padding + j + dx, **kw)
    return out


q2 = chapter.task(
    "q2", "a one-channel deformable convolution", function="deform_conv2d_single",
    forbid=library("deform_conv2d", "deform_conv2d_backward", what="the deformable convolution"),
    rules=[uses("bilinear_sample", "the task says: use your bilinear_sample")],
    reference=_ref_deform,
    cases=lambda rng: [
        Case("zero offsets: an ordinary 3x3 convolution",
             (rng.integers(-3, 4, (5, 5)).astype(float), np.zeros((18, 3, 3)),
              rng.integers(-2, 3, (3, 3)).astype(float))),
        Case("every tap shifted by one row down (dy = 1)",
             (rng.integers(-3, 4, (6, 6)).astype(float),
              np.tile(np.array([1.0, 0.0])[:, None, None], (9, 4, 4)),
              rng.integers(-2, 3, (3, 3)).astype(float))),
        Case("fractional random offsets, 6x7 image",
             (rng.integers(-3, 4, (6, 7)).astype(float), rng.uniform(-1.5, 1.5, (18, 4, 5)),
              rng.integers(-2, 3, (3, 3)).astype(float))),
        Case("padding 1 and offsets that leave the image (zeros there)",
             (rng.integers(1, 5, (5, 5)).astype(float), rng.uniform(-2.5, 2.5, (18, 5, 5)),
              rng.integers(-2, 3, (3, 3)).astype(float)), {"padding": 1}),
        Case("a 2x3 kernel on a non-square image",
             (rng.integers(-3, 4, (5, 7)).astype(float), rng.uniform(-1, 1, (12, 4, 5)),
              rng.integers(-2, 3, (2, 3)).astype(float))),
    ],
    mistakes=[
        Mistake("offsets ignored", "your output is the ordinary convolution: add offset[2t] to "
                "the row and offset[2t + 1] to the column of tap t before sampling.",
                lambda ref, a: ref(**{**a, "offset": np.zeros_like(a["offset"])})
                if np.any(a["offset"]) else None),
        Mistake("dy and dx swapped", "offset[2t] is dy (added to the ROW), offset[2t + 1] is dx "
                "(added to the COLUMN).", lambda ref, a: _deform(**a, swap_yx=True)),
        Mistake("offsets read as all dy, then all dx", (
            "the offsets are interleaved per tap: channel 2t is dy and 2t + 1 is dx of tap "
            "t = i * kw + j (not dy = offset[t], dx = offset[K + t])."),
            lambda ref, a: _deform(**a, planar=True)),
        Mistake("clamping at the border", "samples outside the image must read 0, not the edge "
                "pixel: use your bilinear_sample from q1.", lambda ref, a: _deform(**a, border="clamp")),
        Mistake("floor and ceil weights swapped", "corner floor(y) gets weight 1 - ly, corner "
                "floor(y) + 1 gets ly.", lambda ref, a: _deform(**a, swap_weights=True)),
    ],
    hints=[
        "Output size: Ho = H + 2 * padding - kh + 1 (stride 1), which is offset.shape[1]. Tap "
        "t = i * kw + j of output (p, q) reads x at (p - padding + i + offset[2t, p, q], "
        "q - padding + j + offset[2t + 1, p, q]). Do not pad x: outside reads 0 anyway.",
        "out[p, q] = sum over i, j of weight[i, j] * bilinear_sample(x, y_t, x_t). Three loops "
        "(p, q and the tap) are fine here.",
    ])
