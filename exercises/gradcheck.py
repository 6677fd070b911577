"""Central-difference gradient checks, reported the way the cs231n assignments do.

``rel_error(a, b) = max_i |a_i - b_i| / max(|a_i| + |b_i|, 1e-8)``: around 1e-7 or less means
the analytic gradient is right; 1e-2 or more means it is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["GradientCheck", "numeric_gradient", "rel_error"]


def rel_error(a, b) -> float:
    """cs231n's relative error between two arrays of the same shape."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f / d x by central differences, one entry at a time: (f(x + h) - f(x - h)) / 2h."""
    x = np.array(x, dtype=np.float64)  # a private copy that we nudge
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


@dataclass
class GradientCheck:
    """How to check a backward task numerically.

    ``forward(**arguments)`` is the reference forward pass; the backward task's argument named
    ``grad_output`` is the upstream gradient ``g``, so the checked scalar is
    ``L = sum(forward(...) * g)``. ``wrt`` maps each of the task's output names (e.g.
    ``"grad_x"``) to the forward argument it differentiates (e.g. ``"x"``).
    """

    forward: Callable
    wrt: dict = field(default_factory=dict)
    grad_output: str = "grad_output"
    h: float = 1e-5
    threshold: float = 1e-7

    def errors(self, arguments: dict, outputs: dict) -> dict:
        """Relative error of each learner gradient in ``outputs`` against central differences."""
        g = np.asarray(arguments[self.grad_output], dtype=np.float64)
        fwd_args = {k: v for k, v in arguments.items() if k != self.grad_output}
        result = {}
        for out_name, arg_name in self.wrt.items():
            def loss(value, arg_name=arg_name):
                return float(np.sum(self.forward(**{**fwd_args, arg_name: value}) * g))
            numeric = numeric_gradient(loss, fwd_args[arg_name], self.h)
            result[out_name] = rel_error(numeric, outputs[out_name])
        return result
