"""The one comparison every numerical test uses: convlib's numpy result against an oracle.

The oracle is PyTorch (or a brute-force computation); tolerances follow DESIGN.md:
1e-5 relative for float32 inputs, 1e-10 for float64, measured against the largest
magnitude of the expected array so that entries near zero do not demand impossible digits.
"""

from __future__ import annotations

import numpy as np

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def to_numpy(value):
    """A torch tensor (detached) or anything array-like, as a numpy array."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def assert_close(actual, expected, dtype=None, what: str = "output", rtol: float | None = None) -> None:
    """Assert ``actual`` (numpy) equals ``expected`` (torch or numpy) in shape and value."""
    actual = np.asarray(actual)
    expected = to_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(expected.dtype)
    tol = rtol if rtol is not None else RTOL.get(dtype, 1e-5)
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    if err.size and err.max() > tol * scale:
        idx = np.unravel_index(int(err.argmax()), err.shape)
        raise AssertionError(
            f"{what}: max abs error {err.max():.3g} at {idx} exceeds {tol:g} x {scale:.3g} "
            f"(got {actual[idx]!r}, expected {expected[idx]!r})"
        )


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
