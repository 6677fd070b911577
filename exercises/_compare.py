"""Comparing what the learner returned with what was expected, and saying what differs.

``compare(expected, actual)`` returns ``None`` when they agree, else a :class:`Problem` whose
``text`` is written for the learner (expected vs actual shape, first differing element, ...).
It handles arrays, tuples of arrays (``names`` label them) and plain numbers.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Problem", "compare", "show_value", "TOLERANCE"]

TOLERANCE = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-8}


@dataclass
class Problem:
    kind: str          # none | type | length | shape | nonfinite | dtype | value
    text: str
    what: str = "output"


def show_value(value, name: str = "", max_size: int = 49) -> str:
    """A short, readable rendering of an argument or result (values only when small)."""
    prefix = f"{name} = " if name else ""
    if isinstance(value, np.ndarray):
        head = f"array of shape {value.shape}, {value.dtype}"
        if value.size <= max_size and value.ndim <= 4:
            body = np.array2string(value, precision=4, suppress_small=True, separator=", ")
            pad = " " * len(prefix)
            body = body.replace("\n", "\n" + pad)
            return f"{prefix}{body}    # {head}"
        return f"{prefix}<{head}>"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{prefix}{type(value).__name__} of {len(value)} items"
    text = repr(value)
    return prefix + (text if len(text) <= 80 else text[:77] + "...")


def _kind_name(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    mod = type(value).__module__.split(".")[0]
    if mod == "torch":
        return "a torch.Tensor"
    return f"a {type(value).__name__}"


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _fmt(v) -> str:
    return np.format_float_positional(float(v), precision=6, trim="-") if np.isfinite(v) else repr(float(v))


def _compare_array(expected: np.ndarray, actual, what: str) -> Problem | None:
    if actual is None:
        return Problem("none", f"Your function returned None for {what}: did you forget `return`?", what)
    if isinstance(actual, (list, tuple)):
        hint = ""
        try:
            arr = np.asarray(actual, dtype=expected.dtype)
            if arr.shape == expected.shape and _values_problem(expected, arr, what) is None:
                hint = " The values are right: only the container is wrong."
        except (ValueError, TypeError):
            pass
        return Problem("type", f"{what} is a Python {type(actual).__name__}, expected a numpy array "
                       f"of shape {expected.shape}. Return np.array(...) or build the result with "
                       f"np.zeros(shape, dtype=...).{hint}", what)
    if not isinstance(actual, np.ndarray):
        extra = " (convert with .numpy())" if _kind_name(actual) == "a torch.Tensor" else ""
        return Problem("type", f"{what} should be a numpy array, got {_kind_name(actual)}{extra}.", what)
    if actual.shape != expected.shape:
        return Problem("shape", f"{what} has the wrong shape: expected {expected.shape}, got {actual.shape}.", what)
    if np.issubdtype(actual.dtype, np.number) and not np.issubdtype(actual.dtype, np.complexfloating):
        bad = ~np.isfinite(actual.astype(np.float64))
        if bad.any() and np.isfinite(expected).all():
            idx = _first_index(bad)
            return Problem("nonfinite", f"{what} contains {int(bad.sum())} non-finite value(s), the first "
                           f"at index {idx}: {actual[idx].item()!r}. NaN often comes from np.empty(...) that "
                           f"was never filled (use np.zeros), or from 0/0.", what)
    if actual.dtype != expected.dtype:
        return Problem("dtype", _dtype_text(expected, actual, what), what)
    return _values_problem(expected, actual, what)


def _dtype_text(expected, actual, what) -> str:
    text = f"{what} has dtype {actual.dtype}, expected {expected.dtype} (the dtype of the inputs)."
    if np.issubdtype(actual.dtype, np.integer) and np.issubdtype(expected.dtype, np.floating):
        text += " An integer array cannot hold fractions: create it with dtype=x.dtype."
    elif {actual.dtype, expected.dtype} <= {np.dtype(np.float32), np.dtype(np.float64)}:
        text += (" float32 vs float64: np.zeros(shape) is always float64; create the output with "
                 "np.zeros(shape, dtype=x.dtype) so it follows the input.")
    return text


def _values_problem(expected: np.ndarray, actual: np.ndarray, what: str) -> Problem | None:
    tol = TOLERANCE.get(np.dtype(expected.dtype), 1e-8)
    e = expected.astype(np.float64)
    a = actual.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(e))) if e.size else 1.0)
    bad = np.abs(a - e) > tol * scale
    if not bad.any():
        return None
    idx = _first_index(bad)
    where = f"index {idx}" if idx else "the value"
    return Problem("value", f"{what}: {int(bad.sum())} of {bad.size} values differ. First difference at "
                   f"{where}: expected {_fmt(e[idx])}, got {_fmt(a[idx])}.", what)


def _compare_number(expected, actual, what: str) -> Problem | None:
    if actual is None:
        return Problem("none", f"Your function returned None for {what}: did you forget `return`?", what)
    if isinstance(actual, np.ndarray) and actual.ndim == 0:
        actual = actual.item()
    if isinstance(actual, bool) or not isinstance(actual, numbers.Number):
        return Problem("type", f"{what} should be a number, got {_kind_name(actual)}.", what)
    if isinstance(expected, numbers.Integral):
        if not isinstance(actual, numbers.Integral):
            same = float(actual) == float(expected)
            return Problem("dtype", f"{what} should be a whole number (int), got {actual!r}"
                           + (" - the value is right, but `/` gives a float: use `//`." if same else
                              f"; expected {expected}. Use `//` for whole-number division."), what)
        if int(actual) != int(expected):
            return Problem("value", f"{what}: expected {expected}, got {actual}.", what)
        return None
    if not np.isclose(float(actual), float(expected), rtol=1e-8, atol=1e-12):
        return Problem("value", f"{what}: expected {_fmt(expected)}, got {_fmt(actual)}.", what)
    return None


def compare(expected, actual, names: tuple[str, ...] | None = None, what: str = "output") -> Problem | None:
    """``None`` if ``actual`` matches ``expected`` (array, number or tuple of those)."""
    if isinstance(expected, tuple):
        names = names or tuple(f"{what}[{i}]" for i in range(len(expected)))
        if actual is None:
            return Problem("none", "Your function returned None: did you forget `return`?", what)
        if not isinstance(actual, (tuple, list)):
            return Problem("type", f"Expected a tuple of {len(expected)} ({', '.join(names)}), "
                           f"got {_kind_name(actual)}.", what)
        if len(actual) != len(expected):
            return Problem("length", f"Expected {len(expected)} results ({', '.join(names)}), "
                           f"got {len(actual)}.", what)
        for e, a, n in zip(expected, actual, names):
            p = compare(e, a, what=n)
            if p is not None:
                return p
        return None
    if isinstance(expected, np.ndarray):
        return _compare_array(expected, actual, what)
    return _compare_number(expected, actual, what)
