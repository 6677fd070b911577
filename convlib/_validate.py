"""Argument checks shared by every public function of convlib.

Each check raises a ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong
value) whose message names the argument and the rule it broke, so a learner never meets an
obscure numpy error first. Nothing here modifies its input.
"""

from __future__ import annotations

import numbers
from typing import Sequence, Union

import numpy as np

IntPair = Union[int, Sequence[int]]

__all__ = [
    "as_pair",
    "positive_pair",
    "nonnegative_pair",
    "positive_int",
    "nonnegative_int",
    "as_array",
    "check_groups",
    "one_of",
    "torch_sequence",
]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_pair(value: IntPair, name: str, n: int = 2) -> tuple[int, ...]:
    """``3 -> (3, 3)``; ``(2, 3) -> (2, 3)``. Raises TypeError naming ``name`` otherwise."""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(
        f"{name} must be an int or a tuple of {n} ints, got {value!r}"
    )


def torch_sequence(value: object, name: str, op: str, n: int = 2) -> object:
    """PyTorch's spelling of an ``n``-D argument: a 1-tuple ``(v,)`` means ``v`` on every axis.

    ``torch.nn.functional.conv2d`` and ``max_pool2d`` take ``stride=(2,)`` as ``stride=2`` and
    refuse ``stride=()``. Returns ``value`` with a 1-sequence widened to ``n`` entries (anything
    else unchanged, for the usual checks to judge); an empty sequence raises ValueError naming
    PyTorch's rule for ``op``.
    """
    if isinstance(value, (tuple, list)):
        if len(value) == 0:
            forms = "a 1-tuple" if n == 1 else f"a tuple of 1 or {n} ints"
            raise ValueError(f"{name} must be an int or {forms} ({op} follows PyTorch, "
                             f"which refuses an empty tuple), got {value!r}")
        if len(value) == 1 and n > 1:
            return tuple(value) * n
    return value


def positive_pair(value: IntPair, name: str, n: int = 2) -> tuple[int, ...]:
    """Like :func:`as_pair`, and every entry must be >= 1."""
    pair = as_pair(value, name, n)
    for v in pair:
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {value!r}")
    return pair


def nonnegative_pair(value: IntPair, name: str, n: int = 2) -> tuple[int, ...]:
    """Like :func:`as_pair`, and every entry must be >= 0."""
    pair = as_pair(value, name, n)
    for v in pair:
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    return pair


def positive_int(value: object, name: str) -> int:
    """An int >= 1 (bools are rejected)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def nonnegative_int(value: object, name: str) -> int:
    """An int >= 0 (bools are rejected)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


_LAYOUT_NAMES = {3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}


def as_array(x: object, name: str, ndim: int | None = None, layout: str | None = None) -> np.ndarray:
    """Return ``x`` as a floating-point numpy array without copying a float array.

    Integer arrays become float64; bool, complex and object arrays are rejected. ``ndim``
    checks the rank; ``layout`` (e.g. ``"(N, C, H, W)"``) only improves the message.
    The caller must not write into the result: it may be the caller's own array.
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}") from exc
        if arr.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}")
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.complexfloating) or not np.issubdtype(
        arr.dtype, np.number
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        layout = layout or _LAYOUT_NAMES.get(ndim, f"{ndim}-D")
        raise ValueError(
            f"{name} must be a {ndim}-D array {layout}, got shape {tuple(arr.shape)}"
        )
    return arr


def check_groups(groups: object, in_channels: int, out_channels: int) -> int:
    """``groups`` must be >= 1 and divide both channel counts."""
    g = positive_int(groups, "groups")
    if in_channels % g:
        raise ValueError(f"groups={g} must divide the input channels ({in_channels})")
    if out_channels % g:
        raise ValueError(f"groups={g} must divide the output channels ({out_channels})")
    return g


def one_of(value: object, name: str, choices: Sequence[str]) -> str:
    """A string among ``choices`` (case-sensitive), else ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value
