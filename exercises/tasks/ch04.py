"""Exercises for the chapter "Receptive field": a receptive-field calculator for a list of
layers (size r, effective stride S, effective padding P, centre c), and a brute-force probe.

q1's reference is ``convlib.receptive_field`` (Araujo et al.'s recurrence); q2's reference is
an independent brute-force probe that pushes one impulse per input pixel through all-ones
kernels with ``convlib.functional.conv2d`` (itself tested against PyTorch). The two agree on
every case (tests/test_exercises_ch04.py). Each diagnosis recomputes the output a specific
mistake produces.
"""

from __future__ import annotations

import numpy as np

import convlib.functional as F
from convlib.receptive_field import receptive_field
from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake

__all__ = ["chapter", "q1", "q2", "probe_reference"]

chapter = Chapter("ch04", "Receptive field", notebook="ch04_receptive_field")


def _spec(layer) -> tuple[int, int, int, int]:
    k, s, p, *d = layer
    return int(k), int(s), int(p), int(d[0]) if d else 1


# ---- q1: the calculator ------------------------------------------------------------------
def _ref_table(layers):
    recs = receptive_field([_spec(layer) for layer in layers])
    return np.array([[r.size, r.stride, r.padding, r.center] for r in recs], dtype=np.float64)


def _table(layers, *, dilation=True, jump_first=False, pad_times_jump=True, half=0.0):
    """The calculator with one thing changed: the mistakes below."""
    r, jump, pad, rows = 1, 1, 0, []
    for layer in layers:
        k, s, p, d = _spec(layer)
        k_hat = d * (k - 1) + 1 if dilation else k
        if jump_first:
            jump *= s
        r += (k_hat - 1) * jump
        pad += p * jump if pad_times_jump else p
        if not jump_first:
            jump *= s
        rows.append([r, jump, pad, -pad + (r - 1) / 2 + half])
    return np.array(rows, dtype=np.float64)


def _has(a, test) -> bool:
    return any(test(_spec(layer)) for layer in a["layers"])


_TABLE_MISTAKES = [
    Mistake("dilation ignored", (
        "your r is what the layers would give with dilation 1. A dilated kernel spans "
        "d*(k-1)+1 input cells of the level below, so it adds (d*(k-1))*S_prev to r."),
        lambda ref, a: _table(a["layers"], dilation=False) if _has(a, lambda l: l[3] > 1) else None),
    Mistake("stride multiplied in too early", (
        "your r and P use the jump *after* this layer's stride (S_l) instead of the jump before "
        "it (S_{l-1}). A layer's kernel steps over the cells of the level below it, and those "
        "are S_{l-1} input pixels apart: add to r and P first, then multiply the jump by s."),
        lambda ref, a: _table(a["layers"], jump_first=True) if _has(a, lambda l: l[1] > 1) else None),
    Mistake("padding not scaled by the jump", (
        "your P adds the padding p of each layer as it is. Padding a deeper layer by one cell "
        "shifts the field by one cell of *that* level, which is S_{l-1} input pixels: "
        "P += p * S_{l-1}."),
        lambda ref, a: _table(a["layers"], pad_times_jump=False)),
    Mistake("centre off by a half", (
        "your c is -P + r/2. The field covers pixels -P ... -P + r - 1, so its centre is "
        "their midpoint -P + (r - 1)/2."),
        lambda ref, a: _table(a["layers"], half=0.5)),
]


def _cases_table(rng):
    return [
        Case("one 3x3 conv, no padding", ([(3, 1, 0)],)),
        Case("three 3x3 convs with padding 1 (r grows by 2 per layer)",
             ([(3, 1, 1), (3, 1, 1), (3, 1, 1)],)),
        Case("conv, 2x2 pool (stride 2), conv: the jump doubles after the pool",
             ([(3, 1, 1), (2, 2, 0), (3, 1, 1)],)),
        Case("AlexNet's first four layers (Araujo et al.: r = 67, S = 16)",
             ([(11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0)],)),
        Case("dilated 3x3 convs, rates 1, 2, 4 (4-tuples: kernel, stride, padding, dilation)",
             ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)],)),
        Case("a strided conv after a dilated one, with padding",
             ([(3, 1, 2, 2), (3, 2, 1), (5, 2, 2), (2, 2, 0)],)),
        Case("a random stack of six layers",
             ([(int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(0, 3)),
                int(rng.integers(1, 3))) for _ in range(6)],)),
    ]


q1 = chapter.task(
    "q1", "a receptive-field calculator", function="receptive_field_table",
    forbid=library("receptive_field", "input_region", "of_model", what="the calculator"),
    reference=_ref_table, cases=_cases_table, mistakes=_TABLE_MISTAKES,
    hints=[
        "Carry three numbers from the first layer to the last: r = 1, jump S = 1, P = 0. For each "
        "layer (k, s, p, d): k_hat = d*(k - 1) + 1; r += (k_hat - 1) * S; P += p * S; and only "
        "then S *= s. Append [r, S, P, -P + (r - 1) / 2] after each layer.",
        "Layers come as (kernel, stride, padding) or (kernel, stride, padding, dilation): unpack "
        "with `k, s, p, *rest = layer; d = rest[0] if rest else 1`. Return "
        "np.array(rows, dtype=np.float64), one row per layer.",
    ])


# ---- q2: the brute-force probe -----------------------------------------------------------
def probe_reference(layers, input_size, index):
    """(first, last) input pixel that output ``index`` of the last layer depends on, found by
    pushing one impulse per input pixel (a batch) through all-ones kernels along one axis."""
    n = int(input_size)
    x = np.eye(n)[:, None, None, :]                     # impulse at pixel i in image i
    for layer in layers:
        k, s, p, d = _spec(layer)
        x = F.conv2d(x, np.ones((1, 1, 1, k)), stride=(1, s), padding=(0, p), dilation=(1, d))
    if not 0 <= index < x.shape[-1]:
        raise ValueError(f"index must be < {x.shape[-1]}, got {index}")
    hit = np.flatnonzero(x[:, 0, 0, index] != 0)
    if hit.size == 0:
        raise ValueError(f"output {index} depends on no input pixel: its window reads only padding")
    return int(hit.min()), int(hit.max())


def _clipped_region(ref, a):
    layers, n, i = a["layers"], a["input_size"], a["index"]
    last = receptive_field([_spec(layer) for layer in layers])[-1]
    first = i * last.stride - last.padding
    wrong = (first, first + last.size - 1)
    return wrong if wrong[0] < 0 or wrong[1] >= n else None


_PROBE_MISTAKES = [
    Mistake("padding counted as input", (
        "your range runs into the padding (below 0 or past the last pixel). The probe should "
        "report only real input pixels: padding cells are zeros, nothing can be put there."),
        _clipped_region),
]


def _cases_probe(rng):
    return [
        Case("one 3x3 conv, an interior output", ([(3, 1, 0)], 10, 4)),
        Case("three 3x3 convs with padding, an interior output", ([(3, 1, 1)] * 3, 16, 8)),
        Case("conv, pool, conv: output 0 sits at the border (part of its field is padding)",
             ([(3, 1, 1), (2, 2, 0), (3, 1, 1)], 16, 0)),
        Case("a strided 5x5 conv, the last output", ([(5, 2, 2)], 11, 5)),
        Case("dilation 2 twice: the field has holes, but first and last are still hit",
             ([(3, 1, 2, 2), (3, 1, 2, 2)], 20, 9)),
        Case("AlexNet's first two layers on a 64-pixel input", ([(11, 4, 2), (3, 2, 0)], 64, 3)),
    ]


q2 = chapter.task(
    "q2", "a brute-force probe", function="probe_region",
    forbid=library("receptive_field", "input_region", "of_model", what="the probe"),
    reference=probe_reference, cases=_cases_probe, mistakes=_PROBE_MISTAKES,
    hints=[
        "Make a batch of impulses: x = np.eye(input_size)[:, None, None, :] has shape "
        "(n, 1, 1, n), image i being all zeros but pixel i. Push it through every layer with "
        "convlib.functional.conv2d and an all-ones kernel np.ones((1, 1, 1, k)), "
        "stride=(1, s), padding=(0, p), dilation=(1, d).",
        "After the last layer, out[:, 0, 0, index] says for each impulse i whether it reached "
        "output `index`. hit = np.flatnonzero(out[:, 0, 0, index] != 0); return "
        "(int(hit.min()), int(hit.max())).",
    ])
