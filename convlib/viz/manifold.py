"""Why MobileNetV2's projection is linear: a ReLU in few dimensions destroys a manifold,
in many dimensions it mostly keeps it (Sandler et al. 2018, "MobileNetV2", figure 1).

A 2-D spiral is embedded into ``n`` dimensions by a random matrix ``T`` (n × 2), passed
through ReLU and mapped back with the pseudo-inverse ``T⁺``: ``x̂ = T⁺ relu(T x)``. For small
``n`` most coordinates are clipped to zero and the spiral collapses; for large ``n`` enough
coordinates stay positive around every point to recover it. numpy only.

See: chapter Inverted residuals and linear bottlenecks.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convlib._validate import nonnegative_int, positive_int

__all__ = ["spiral", "relu_roundtrip", "readout_error", "draw_relu_manifold"]


def spiral(n_points: int = 400, turns: float = 2.0) -> np.ndarray:
    """``(n_points, 2)`` points on an Archimedean spiral ``r = θ``, centred on the origin."""
    n_points = positive_int(n_points, "n_points")
    theta = np.linspace(0.3, 2 * np.pi * turns, n_points)
    pts = np.stack([theta * np.cos(theta), theta * np.sin(theta)], 1)
    return pts / np.abs(pts).max()


def relu_roundtrip(points: np.ndarray, n_dims: int, seed: int = 0,
                   relu: bool = True) -> np.ndarray:
    """``x̂ = T⁺ relu(T x)`` for each row ``x`` of ``points: (P, 2)``, with ``T: (n_dims, 2)``
    standard normal (seeded) and ``T⁺`` its Moore–Penrose pseudo-inverse. ``relu=False``
    gives ``T⁺ T x = x`` (exact for ``n_dims >= 2``). Returns ``(P, 2)``; the input is not
    modified.
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2), got {points.shape}")
    n_dims = positive_int(n_dims, "n_dims")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    t = rng.standard_normal((n_dims, 2))
    hidden = points @ t.T
    if relu:
        hidden = np.maximum(hidden, 0.0)
    return hidden @ np.linalg.pinv(t).T


def readout_error(points: np.ndarray, n_dims: int, seed: int = 0) -> float:
    """How much of the spiral survives ``relu(T x)``: the mean distance between the points and
    the best *linear* read-out of them from the ``n_dims`` ReLU outputs (least squares, with a
    constant term), divided by the mean distance of the points from their centre. 0 means
    nothing was lost; 1 means no better than guessing the centre.
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2), got {points.shape}")
    n_dims = positive_int(n_dims, "n_dims")
    t = np.random.default_rng(nonnegative_int(seed, "seed")).standard_normal((n_dims, 2))
    hidden = np.maximum(points @ t.T, 0.0)
    design = np.concatenate([hidden, np.ones((len(points), 1))], 1)
    coef, *_ = np.linalg.lstsq(design, points, rcond=None)
    spread = np.linalg.norm(points - points.mean(0), axis=1).mean()
    return float(np.linalg.norm(design @ coef - points, axis=1).mean() / spread)


def draw_relu_manifold(dims: Sequence[int] = (2, 3, 5, 15, 30), seed: int = 0,
                       n_points: int = 400, *, errors: Optional[dict] = None,
                       dpi: int = 100) -> Figure:
    """The input spiral and ``T⁺ relu(T x)`` for each ``n`` in ``dims``, one panel each,
    coloured along the curve, as in Sandler et al.'s figure 1 (the recovered curve is about
    half the size: ReLU zeroes about half the coordinates). Each title gives
    :func:`readout_error`; ``errors``, if a dict, receives ``{n: readout_error}``.

    See: chapter Inverted residuals and linear bottlenecks.
    """
    pts = spiral(n_points)
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(pts)))
    panels = len(dims) + 1
    ncols = min(3, panels)               # rows of three: readable in a narrow column
    nrows = -(-panels // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 2.45 * nrows), dpi=dpi,
                             squeeze=False)
    for ax in grid.ravel()[panels:]:
        fig.delaxes(ax)
    axes = list(grid.ravel()[:panels])
    axes[0].scatter(pts[:, 0], pts[:, 1], c=colours, s=3)
    axes[0].set_title("input (2-D)", fontsize=10)
    for ax, n in zip(axes[1:], dims):
        back = relu_roundtrip(pts, n, seed)
        err = readout_error(pts, n, seed)
        if errors is not None:
            errors[n] = err
        ax.scatter(back[:, 0], back[:, 1], c=colours, s=3)
        ax.set_title(f"n = {n}\nlost {err:.0%}", fontsize=10)
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
