"""Exercises for chapter 12, "Seeing inside a CNN": occlusion sensitivity for a trained model
and one image, and the first-layer filter grid.

References: ``convlib.interpret.occlusion_sensitivity`` (itself checked against a brute-force
loop in tests/test_interpret.py) and ``convlib.viz.filter_grid_image`` (checked against a
brute-force tiling in tests/test_inside_widget.py). Every diagnosis recomputes the output one
specific mistake produces (see exercises/mistakes.py).
"""

from __future__ import annotations

import numpy as np

from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import AnyOf, Mistake

__all__ = ["chapter", "q1", "q2", "Classifier", "load_classifier"]

chapter = Chapter("ch12", "Seeing inside a CNN", notebook="ch12_seeing_inside")


class Classifier:
    """The chapter's trained shapes CNN as a plain function of numpy arrays:
    ``predict(batch)`` with ``batch (N, 3, H, W)`` float32 returns class probabilities
    ``(N, 10)`` float32 (softmax of the logits); ``predict.logits(batch)`` the logits."""

    def __init__(self, model):
        self.model = model.eval()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        with torch.inference_mode():
            return self.model(x).numpy()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        z = self.logits(batch).astype(np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def __repr__(self) -> str:
        return "predict (the chapter's shapes CNN: batch -> probabilities)"

    def __deepcopy__(self, memo):  # the weights are never modified: share them
        return self


def load_classifier() -> Classifier:
    """The committed shapes CNN (5×5 first layer) wrapped as a :class:`Classifier`."""
    from convlib.pretrained import shapes_cnn

    return Classifier(shapes_cnn())


# ---- q1: occlusion sensitivity -------------------------------------------------------------
def _ref_occlusion(predict, image, target, patch, stride, fill=None):
    from convlib.interpret import occlusion_sensitivity

    return occlusion_sensitivity(predict.model, image, target, patch, stride, fill)


def _brute(score, image, target, patch, stride, fill, n_pos=None, step=None, base_sub=True):
    """A plain loop with one knob per mistake: ``score`` (batch -> per-class numbers),
    ``n_pos(H, W)`` the number of positions, ``step`` where position i starts."""
    h, w = image.shape[1:]
    fill = float(image.mean()) if fill is None else float(fill)
    ho, wo = n_pos(h, w) if n_pos else ((h - patch) // stride + 1, (w - patch) // stride + 1)
    step = stride if step is None else step
    copies = []
    for i in range(ho):
        for j in range(wo):
            im = image.copy()
            im[:, i * step:i * step + patch, j * step:j * step + patch] = fill
            copies.append(im)
    s = score(np.stack(copies))[:, target].reshape(ho, wo)
    base = score(image[None])[0, target]
    return (base - s).astype(np.float32) if base_sub else s.astype(np.float32)


def _w(a, **knobs):
    return _brute(a["predict"], a["image"], a["target"], a["patch"], a["stride"], a["fill"], **knobs)


_OCCLUSION_MISTAKES = [
    Mistake("logits instead of probabilities", (
        "your map measures the drop of the logit (the score before softmax). The occlusion map "
        "of the chapter measures the drop of the class PROBABILITY: predict(...) already returns "
        "probabilities, use them as they are."),
        lambda ref, a: _brute(a["predict"].logits, a["image"], a["target"], a["patch"], a["stride"],
                              a["fill"])),
    Mistake("patch moved by one pixel per position", (
        "you computed the right number of positions, but placed patch (i, j) at row i and column "
        "j. Position i starts at row i * stride: image[:, i*stride : i*stride + patch, ...]."),
        lambda ref, a: _w(a, step=1) if a["stride"] != 1 else None),
    Mistake("patch moved by its own size", (
        "you stepped the patch by `patch` pixels instead of `stride`. The number of positions is "
        "(H - patch) // stride + 1 and position i starts at row i * stride."),
        lambda ref, a: AnyOf([_w(a, step=a["patch"]),
                              _w(a, step=a["patch"], n_pos=lambda h, w: ((h - a["patch"]) // a["patch"] + 1,
                                                                          (w - a["patch"]) // a["patch"] + 1))])
        if a["stride"] != a["patch"] else None),
    Mistake("one position too few", (
        "your map misses the last row and column of positions. The count is the conv output size "
        "(H - patch) // stride + 1: the +1 counts the first position, at row 0."),
        lambda ref, a: ref(**a)[:-1, :-1]),
    Mistake("H // stride positions", (
        "you used H // stride positions. The patch must fit inside the image: there are "
        "(H - patch) // stride + 1 positions, the same formula as a convolution's output size."),
        lambda ref, a: _w(a, n_pos=lambda h, w: (h // a["stride"], w // a["stride"]))
        if a["image"].shape[1] // a["stride"] != (a["image"].shape[1] - a["patch"]) // a["stride"] + 1 else None),
    Mistake("sign reversed", (
        "your map is p(occluded) - p(image). The map shows the DROP: p(image) - p(occluded), "
        "positive where hiding the patch hurts the class."),
        lambda ref, a: -ref(**a)),
    Mistake("occluded probabilities, not their drop", (
        "you returned p(occluded) itself. Subtract it from the probability of the unoccluded "
        "image: p(image) - p(occluded)."),
        lambda ref, a: _w(a, base_sub=False)),
    Mistake("fill=None not replaced by the image mean", (
        "with fill=None the patch should be the mean of the whole image (a neutral grey of its "
        "own colours); your patch looks black (0)."),
        lambda ref, a: ref(**{**a, "fill": 0.0}) if a["fill"] is None else None),
]


def _cases_occlusion(rng):
    from convlib.data import shapes_dataset

    predict = load_classifier()
    x, y = shapes_dataset(6, seed=2024)
    p = predict(x)
    other = int(np.argsort(p[3])[-2])  # a class that is not the prediction
    return [
        Case("patch 8, stride 8: 4x4 positions that tile the image, grey fill",
             (predict, x[0], int(y[0]), 8, 8), {"fill": 0.5}),
        Case("patch 8, stride 4: overlapping positions", (predict, x[1], int(y[1]), 8, 4), {"fill": 0.5}),
        Case("patch 6, stride 5: the last patch stops short of the edge",
             (predict, x[2], int(y[2]), 6, 5), {"fill": 0.5}),
        Case("fill=None: the patch takes the image's mean value", (predict, x[4], int(y[4]), 8, 4)),
        Case("a target that is not the predicted class: the drop can be negative",
             (predict, x[3], other, 10, 3), {"fill": 0.5}),
        Case("patch 12, stride 2: 11x11 positions", (predict, x[5], int(y[5]), 12, 2), {"fill": 0.0}),
    ]


q1 = chapter.task(
    "q1", "occlusion sensitivity of a trained model", function="occlusion_map",
    forbid=library("occlusion_sensitivity", "interpret", what="the occlusion map"),
    reference=_ref_occlusion, cases=_cases_occlusion, mistakes=_OCCLUSION_MISTAKES, timeout=20,
    hints=[
        "Number of positions per side: H_out = (H - patch) // stride + 1 (and W_out). The baseline "
        "is base = predict(image[None])[0, target]. fill=None means fill = image.mean().",
        "For each (i, j): im = image.copy(); im[:, i*stride : i*stride + patch, j*stride : "
        "j*stride + patch] = fill; collect the copies with np.stack, call predict once on the "
        "batch, then heat = base - probs[:, target].reshape(H_out, W_out). Keep float32.",
    ])


# ---- q2: the first-layer filter grid -------------------------------------------------------
def _ref_grid(weight, ncols, pad=1):
    from convlib.viz.inside import filter_grid_image

    return filter_grid_image(weight, ncols, pad, pad_value=1.0)


def _tile(norm, ncols, pad, background=1.0, column_major=False):
    """Brute-force tiling of already-normalised filters ``(O, C, kh, kw)``."""
    o, c, kh, kw = norm.shape
    ncols = min(ncols, o)
    rows = -(-o // ncols)
    out = np.full((rows * (kh + pad) - pad, ncols * (kw + pad) - pad, c), background)
    for k in range(o):
        r, q = (k % rows, k // rows) if column_major else divmod(k, ncols)
        out[r * (kh + pad):r * (kh + pad) + kh, q * (kw + pad):q * (kw + pad) + kw] = \
            norm[k].transpose(1, 2, 0)
    return out


def _minmax(w, axes):
    lo = w.min(axis=axes, keepdims=True)
    span = w.max(axis=axes, keepdims=True) - lo
    return np.where(span > 0, (w - lo) / np.where(span > 0, span, 1.0), 0.5)


_GRID_MISTAKES = [
    Mistake("one scale for all filters", (
        "you rescaled all filters together (one min and max for the whole weight). Rescale each "
        "filter on its own: w[k] -> (w[k] - w[k].min()) / (w[k].max() - w[k].min())."),
        lambda ref, a: _tile(_minmax(a["weight"], None), a["ncols"], a["pad"])),
    Mistake("each colour channel rescaled on its own", (
        "you rescaled every channel of a filter separately, which changes its colours. Take the "
        "min and max over ALL the filter's values (its channels, rows and columns) together."),
        lambda ref, a: _tile(_minmax(a["weight"], (2, 3)), a["ncols"], a["pad"])
        if a["weight"].shape[1] > 1 else None),
    Mistake("no rescaling", (
        "your tiles hold the raw weights. Rescale each filter to [0, 1] first, so imshow can "
        "draw it: (w - min) / (max - min), and 0.5 for a constant filter."),
        lambda ref, a: _tile(a["weight"], a["ncols"], a["pad"])),
    Mistake("filters placed column by column", (
        "filter k belongs in row k // ncols and column k % ncols (row by row, like reading)."),
        lambda ref, a: _tile(_minmax(a["weight"], (1, 2, 3)), a["ncols"], a["pad"], column_major=True)),
    Mistake("gaps filled with 0", (
        "the gaps between tiles and the empty slots should be white (1.0): create the picture "
        "with np.ones(...) or np.full(..., 1.0)."),
        lambda ref, a: _tile(_minmax(a["weight"], (1, 2, 3)), a["ncols"], a["pad"], background=0.0)),
    Mistake("channels first", (
        "your picture is (C, height, width). imshow needs (height, width, C): put the channel "
        "axis last, e.g. with tile = w[k].transpose(1, 2, 0)."),
        lambda ref, a: ref(**a).transpose(2, 0, 1)),
]


def _cases_grid(rng):
    from convlib.pretrained import shapes_cnn

    const = rng.standard_normal((4, 3, 3, 3))
    const[2] = 0.25
    conv1 = shapes_cnn().conv1.weight.detach().numpy().astype(np.float64)
    return [
        Case("four grey (1-channel) 3x3 filters in one row", (rng.standard_normal((4, 1, 3, 3)), 4)),
        Case("six RGB 3x3 filters, 3 per row", (rng.standard_normal((6, 3, 3, 3)), 3)),
        Case("five 2x2 filters, 3 per row: the last slot stays white", (rng.standard_normal((5, 3, 2, 2)), 3)),
        Case("a constant filter is drawn mid-grey (0.5): do not divide by zero", (const, 2)),
        Case("no gaps (pad=0)", (rng.standard_normal((4, 3, 2, 3)), 2), {"pad": 0}),
        Case("the chapter's conv1: 16 RGB 5x5 filters, 8 per row, 2-pixel gaps", (conv1, 8), {"pad": 2}),
    ]


q2 = chapter.task(
    "q2", "a first-layer filter grid", function="filter_grid",
    forbid=library("filter_grid_image", "viz", "make_grid", what="the filter grid"),
    reference=_ref_grid, cases=_cases_grid, mistakes=_GRID_MISTAKES,
    hints=[
        "weight is (O, C, kh, kw). With ncols = min(ncols, O) and rows = ceil(O / ncols) "
        "(-(-O // ncols)), the picture is np.ones((rows*(kh+pad) - pad, ncols*(kw+pad) - pad, C)).",
        "For filter k: f = weight[k]; lo, hi = f.min(), f.max(); tile = (f - lo) / (hi - lo) if "
        "hi > lo else np.full_like(f, 0.5); r, c = divmod(k, ncols); "
        "out[r*(kh+pad) : r*(kh+pad)+kh, c*(kw+pad) : c*(kw+pad)+kw] = tile.transpose(1, 2, 0).",
    ])
