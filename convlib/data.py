"""Images and a small labelled data set, made on the spot from a seed — never downloaded.

``sample_image`` draws pictures whose feature maps are telling (edges, textures, shapes);
``shapes_dataset`` renders ten classes of shapes at random position, scale, rotation, colour
and noise, deterministically from ``seed``. Both return float32 arrays in [0, 1], NCHW / CHW.
Numpy only. See: chapter "Seeing inside a CNN".
"""

from __future__ import annotations

import numpy as np

from convlib._validate import nonnegative_int, one_of, positive_int

__all__ = ["SHAPE_CLASSES", "SAMPLE_IMAGES", "shapes_dataset", "render_shapes", "sample_image"]

SHAPE_CLASSES = (
    "disk", "ring", "square", "frame", "triangle",
    "plus", "h_bar", "v_bar", "two_dots", "diamond",
)
SAMPLE_IMAGES = ("checkerboard", "stripes", "shapes", "gradient", "edges")


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1]: ``(yy, xx)`` each of shape (size, size)."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    return np.meshgrid(c, c, indexing="ij")


def _shape_mask(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of points ``(u, v)`` (shape-local coordinates, unit scale) in shape ``name``."""
    au, av = np.abs(u), np.abs(v)
    if name == "disk":
        return u * u + v * v <= 1.0
    if name == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.45)
    if name == "square":
        return (au <= 0.8) & (av <= 0.8)
    if name == "frame":
        return (au <= 0.9) & (av <= 0.9) & ~((au <= 0.55) & (av <= 0.55))
    if name == "triangle":  # apex up: v grows downwards in image coordinates
        return (v <= 0.75) & (au <= (v + 0.85) * 0.6)
    if name == "plus":
        return ((au <= 0.28) & (av <= 0.95)) | ((av <= 0.28) & (au <= 0.95))
    if name == "h_bar":
        return (au <= 1.0) & (av <= 0.3)
    if name == "v_bar":
        return (au <= 0.3) & (av <= 1.0)
    if name == "two_dots":
        return ((u - 0.55) ** 2 + v * v <= 0.16) | ((u + 0.55) ** 2 + v * v <= 0.16)
    if name == "diamond":
        return au + av <= 1.0
    raise ValueError(f"unknown shape {name!r}")


def render_shapes(labels: np.ndarray, centers: np.ndarray, scales: np.ndarray,
                  angles: np.ndarray, size: int = 32) -> np.ndarray:
    """Binary masks ``(n, size, size)`` of shapes ``labels`` (indices into SHAPE_CLASSES).

    ``centers (n, 2)`` as (y, x) in [-1, 1]; ``scales (n,)`` radii in the same units;
    ``angles (n,)`` in radians. Vectorized over all samples of one class at a time.
    """
    yy, xx = _grid(size)
    masks = np.zeros((len(labels), size, size), dtype=bool)
    for k, name in enumerate(SHAPE_CLASSES):
        idx = np.flatnonzero(labels == k)
        if idx.size == 0:
            continue
        dy = yy[None] - centers[idx, 0, None, None]
        dx = xx[None] - centers[idx, 1, None, None]
        cos, sin = np.cos(angles[idx])[:, None, None], np.sin(angles[idx])[:, None, None]
        s = scales[idx][:, None, None]
        u = (cos * dx + sin * dy) / s
        v = (-sin * dx + cos * dy) / s
        masks[idx] = _shape_mask(name, u, v)
    return masks


def shapes_dataset(n: int, seed: int = 0, size: int = 32, noise: float = 0.05,
                   max_angle: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled RGB images ``(n, 3, size, size)`` float32 and labels ``(n,)`` int64.

    Classes are balanced (label ``i % 10`` then shuffled). Position, scale, rotation
    (±``max_angle`` rad, small enough that h_bar and v_bar stay distinct), foreground and
    background colour (kept apart by at least 0.35 in mean intensity) and Gaussian noise are
    drawn from ``np.random.default_rng(seed)``: the same seed gives the same images.
    """
    n = positive_int(n, "n")
    seed = nonnegative_int(seed, "seed")
    size = positive_int(size, "size")
    if size < 8:
        raise ValueError(f"size must be >= 8 to draw a shape, got {size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SHAPE_CLASSES)).astype(np.int64)
    scales = rng.uniform(0.35, 0.6, n)
    centers = rng.uniform(-1, 1, (n, 2)) * (0.95 - scales)[:, None]
    angles = rng.uniform(-max_angle, max_angle, n)
    masks = render_shapes(labels, centers, scales, angles, size).astype(np.float32)
    fg = rng.uniform(0, 1, (n, 3))
    bg = rng.uniform(0, 1, (n, 3))
    # push the two colours apart so every shape is visible
    gap = fg.mean(1) - bg.mean(1)
    shift = np.where(np.abs(gap) < 0.35, (0.35 - np.abs(gap)) * np.where(gap >= 0, 1, -1), 0.0)
    fg = np.clip(fg + shift[:, None] / 2, 0, 1)
    bg = np.clip(bg - shift[:, None] / 2, 0, 1)
    images = masks[:, None] * fg[:, :, None, None] + (1 - masks[:, None]) * bg[:, :, None, None]
    images = images + rng.normal(0, noise, images.shape)
    return np.clip(images, 0, 1).astype(np.float32), labels


def sample_image(name: str = "shapes", size: int = 64) -> np.ndarray:
    """A grey-scale test picture ``(1, size, size)`` float32 in [0, 1].

    "checkerboard" (8 squares a side), "stripes" (diagonal), "shapes" (a disk, a square and a
    triangle), "gradient" (left to right), "edges" (one vertical and one horizontal step).
    """
    one_of(name, "name", SAMPLE_IMAGES)
    size = positive_int(size, "size")
    yy, xx = _grid(size)
    if name == "checkerboard":
        img = ((np.floor((xx + 1) * 4) + np.floor((yy + 1) * 4)) % 2).astype(float)
    elif name == "stripes":
        img = 0.5 + 0.5 * np.sin((xx + yy) * 3 * np.pi)
    elif name == "gradient":
        img = (xx + 1) / 2
    elif name == "edges":
        img = 0.15 + 0.5 * (xx > -0.2) + 0.3 * (yy > 0.3)
    else:
        labels = np.array([0, 2, 4])
        centers = np.array([[-0.45, -0.45], [0.45, -0.4], [0.0, 0.45]])
        masks = render_shapes(labels, centers, np.full(3, 0.3), np.zeros(3), size)
        img = 0.1 + 0.8 * masks.any(0)
    return np.clip(img, 0, 1).astype(np.float32)[None]
