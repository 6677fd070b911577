"""Exercises for the chapter "Receptive fields of networks with branches": the field of one
branch (a chain), then the field of a merge of branches, with the misalignment of their centres.

q1's reference is ``convlib.receptive_field.receptive_field`` (Araujo et al.'s recurrence);
q2's is ``convlib.receptive_field.merge_fields`` (the union of the branches' fields), which
tests/test_receptive_field_graph.py checks against a brute-force probe on real torch modules.
Each diagnosis recomputes the output a specific mistake produces.
"""

from __future__ import annotations

import numpy as np

from convlib.receptive_field import GraphField, merge_fields, receptive_field
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake
from exercises.rules import library

__all__ = ["chapter", "q1", "q2"]

chapter = Chapter("ch13", "Receptive fields of networks with branches",
                  notebook="ch13_branch_receptive_field")


def _spec(layer) -> tuple[int, int, int, int]:
    k, s, p, *d = layer
    return int(k), int(s), int(p), int(d[0]) if d else 1


# ---- q1: one branch ---------------------------------------------------------------------
def _ref_branch(layers):
    last = receptive_field([_spec(layer) for layer in layers])[-1]
    return np.array([last.size, last.stride, last.padding, last.center], dtype=np.float64)


def _branch(layers, *, jump_first=False, pad_times_jump=True, half=0.0, dilation=True):
    """The chain with one thing changed: the mistakes below."""
    r, jump, pad = 1, 1, 0
    for layer in layers:
        k, s, p, d = _spec(layer)
        k_hat = d * (k - 1) + 1 if dilation else k
        if jump_first:
            jump *= s
        r += (k_hat - 1) * jump
        pad += p * jump if pad_times_jump else p
        if not jump_first:
            jump *= s
    return np.array([r, jump, pad, -pad + (r - 1) / 2 + half], dtype=np.float64)


def _has(a, test) -> bool:
    return any(test(_spec(layer)) for layer in a["layers"])


_BRANCH_MISTAKES = [
    Mistake("stride multiplied in too early", (
        "your r and P use the jump *after* this layer's stride instead of the jump before it. "
        "A layer's kernel steps over the cells of the level below, which are S_{l-1} input "
        "pixels apart: add to r and P first, then multiply S by s."),
        lambda ref, a: _branch(a["layers"], jump_first=True) if _has(a, lambda l: l[1] > 1) else None),
    Mistake("padding not scaled by the jump", (
        "your P adds each layer's padding p as it is. One cell of padding at a deeper level is "
        "S_{l-1} input pixels wide: P += p * S_{l-1}."),
        lambda ref, a: _branch(a["layers"], pad_times_jump=False)),
    Mistake("dilation ignored", (
        "a dilated kernel spans d*(k-1)+1 cells of the level below, so it adds (d*(k-1))*S to r."),
        lambda ref, a: _branch(a["layers"], dilation=False) if _has(a, lambda l: l[3] > 1) else None),
    Mistake("centre off by a half", (
        "your c is -P + r/2. The field covers pixels -P ... -P + r - 1; its centre is their "
        "midpoint -P + (r - 1)/2."),
        lambda ref, a: _branch(a["layers"], half=0.5)),
]


def _cases_branch(rng):
    return [
        Case("one 3x3 conv, padding 1", ([(3, 1, 1)],)),
        Case("ResNet basic block, main path: 3x3 stride 2, then 3x3", ([(3, 2, 1), (3, 1, 1)],)),
        Case("the strided 1x1 shortcut of the same block", ([(1, 2, 0)],)),
        Case("Inception's pooling branch: 3x3 max pool (stride 1, padding 1), then 1x1",
             ([(3, 1, 1), (1, 1, 0)],)),
        Case("a 2x2 pool then a 3x3 conv: a half-pixel centre", ([(2, 2, 0), (3, 1, 1)],)),
        Case("a dilated conv between two strided ones",
             ([(3, 2, 1), (3, 1, 2, 2), (5, 2, 2)],)),
        Case("a random branch of five layers",
             ([(int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(0, 3)),
                int(rng.integers(1, 3))) for _ in range(5)],)),
    ]


q1 = chapter.task(
    "q1", "the receptive field of one branch", function="branch_field",
    forbid=library("receptive_field", "graph_receptive_field", "input_region",
                   "of_model", "graph_of_model", what="the recurrence"),
    reference=_ref_branch, cases=_cases_branch, mistakes=_BRANCH_MISTAKES,
    hints=[
        "Start from r = 1, S = 1, P = 0 (one input pixel). For each layer (k, s, p[, d]): "
        "k_hat = d*(k - 1) + 1; r += (k_hat - 1) * S; P += p * S; and only then S *= s.",
        "Unpack a layer with `k, s, p, *rest = layer; d = rest[0] if rest else 1`. At the end "
        "c = -P + (r - 1) / 2; return np.array([r, S, P, c], dtype=np.float64).",
    ])


# ---- q2: a merge -----------------------------------------------------------------------
def _fields(branches):
    return [GraphField(f"branch {n}", int(r), int(s), int(p), -int(p) + (int(r) - 1) / 2)
            for n, (r, s, p) in enumerate(branches)]


def _ref_merge(branches):
    fields = _fields(branches)
    m = merge_fields(fields)
    return np.array([m.size, m.stride, m.padding, m.center, m.misalignment], dtype=np.float64)


def _result(r, s, p, fields):
    centres = [f.center for f in fields]
    return np.array([r, s, p, -p + (r - 1) / 2, max(centres) - min(centres)], dtype=np.float64)


def _widest(ref, a):
    fields = _fields(a["branches"])
    w = max(fields, key=lambda f: f.size)
    return _result(w.size, w.stride, w.padding, fields)


def _separate_max(ref, a):
    fields = _fields(a["branches"])
    return _result(max(f.size for f in fields), fields[0].stride,
                   max(f.padding for f in fields), fields)


def _padding_gap(ref, a):
    out = np.array(ref(a["branches"]), dtype=np.float64)
    pads = [int(p) for _, _, p in a["branches"]]
    out[4] = max(pads) - min(pads)
    return out


def _signed(ref, a):
    out = np.array(ref(a["branches"]), dtype=np.float64)
    fields = _fields(a["branches"])
    out[4] = fields[-1].center - fields[0].center
    return out if out[4] < 0 else None


_MERGE_MISTAKES = [
    Mistake("the widest branch instead of the union", (
        "you kept the branch with the largest r. That is right only when the branches' centres "
        "line up. In general the merged field runs from the leftmost start of any branch "
        "(P = max P_b) to the rightmost end (max of r_b - 1 - P_b), which can be wider than "
        "every single branch."),
        _widest),
    Mistake("r and P maximised separately", (
        "you took the largest r and the largest P, possibly from different branches. Work with "
        "the two edges instead: start = -max P_b, end = max (r_b - 1 - P_b), then "
        "r = end - start + 1."),
        _separate_max),
    Mistake("misalignment measured on the paddings", (
        "your misalignment compares the branches' P. Compare their centres "
        "c_b = -P_b + (r_b - 1)/2: two branches with different P can still be centred on the "
        "same pixel (a 3x3 conv with padding 1 and a 5x5 conv with padding 2 both have c = 0)."),
        _padding_gap),
    Mistake("signed misalignment", (
        "the misalignment is a distance: max c_b - min c_b, never negative."),
        _signed),
]


def _cases_merge(rng):
    return [
        Case("one branch: the merge changes nothing", ([(3, 1, 1)],)),
        Case("ResNet basic block: main path (7, 2, 3) + strided 1x1 shortcut (1, 2, 0)",
             ([(7, 2, 3), (1, 2, 0)],)),
        Case("Inception module: 1x1, 3x3, 5x5 and pool branches, all centred",
             ([(1, 1, 0), (3, 1, 1), (5, 1, 2), (3, 1, 1)],)),
        Case("misaligned: padding 1 on one path, padding 2 (on top only) on the other",
             ([(3, 1, 1), (3, 1, 2)],)),
        Case("a branch shifted the other way, with a wider one", ([(3, 1, 0), (5, 1, 2)],)),
        Case("stride 2 with a half-pixel centre on one branch", ([(3, 2, 1), (4, 2, 1)],)),
        Case("three random branches with the same stride",
             ([(int(r), 4, int(p)) for r, p in zip(rng.integers(3, 30, 3), rng.integers(0, 12, 3))],)),
    ]


q2 = chapter.task(
    "q2", "the receptive field of a merge", function="merge_field",
    forbid=library("merge_fields", "graph_receptive_field", "graph_of_model",
                   what="the merge"),
    reference=_ref_merge, cases=_cases_merge, mistakes=_MERGE_MISTAKES,
    hints=[
        "Feature 0 of branch b sees input pixels -P_b ... -P_b + r_b - 1. The merge sees their "
        "union: from the smallest start to the largest end. So P = max(P_b) and the end is "
        "max(r_b - 1 - P_b); r = P + end + 1. All branches share S.",
        "Each branch's centre is c_b = -P_b + (r_b - 1) / 2; misalignment = max(c_b) - min(c_b). "
        "Return np.array([r, S, P, -P + (r - 1) / 2, misalignment], dtype=np.float64).",
    ])
