"""Pictures of what a CNN computes: filter grids, feature-map grids, heat-map overlays.

- :func:`filter_grid_image` — a conv weight ``(O, C, kh, kw)`` tiled into one image, each
  filter min-max normalised to [0, 1] on its own (numpy; the exercise of chapter 12 checks it)
- :func:`plot_filters` / :func:`plot_filter_comparison` — that image drawn, one or several
  first layers side by side (the ZFNet experiment)
- :func:`plot_heatmaps` — any stack of 2-D arrays as heat maps (filters = parameters, feature
  maps = non-parameters), colour scale symmetric about 0 when values have both signs
- :func:`plot_occlusion_table` — occlusion maps for several patch sizes and strides
- :func:`plot_feature_maps` — the first channels of several layers, one row per layer
- :func:`to_rgb` / :func:`projection_rgb` / :func:`plot_attributions` — an image and maps
  that explain it (occlusion, saliency, deconvnet ...), overlaid or side by side

See: chapter "Seeing inside a CNN".
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convlib._validate import as_array, nonnegative_int, positive_int

__all__ = ["filter_grid_image", "plot_filters", "plot_filter_comparison", "plot_heatmaps",
           "plot_feature_maps", "to_rgb", "projection_rgb", "upsample", "plot_attributions",
           "plot_occlusion_table"]


def filter_grid_image(weight: np.ndarray, ncols: int = 8, pad: int = 1,
                      pad_value: float = 1.0) -> np.ndarray:
    """Tile ``weight (O, C, kh, kw)`` into one picture ``(rows*kh + (rows-1)*pad, ncols*kw +
    (ncols-1)*pad, C)`` with ``rows = ceil(O / ncols)``, filters in row-major order.

    Each filter is normalised on its own over all its ``C*kh*kw`` values:
    ``(w - min) / (max - min)`` (a constant filter becomes 0.5), so its colours keep their
    relative strength; gaps and unused slots hold ``pad_value``. dtype float64.
    See: chapter "Seeing inside a CNN".
    """
    w = as_array(weight, "weight", 4).astype(np.float64)
    ncols = positive_int(ncols, "ncols")
    pad = nonnegative_int(pad, "pad")
    o, c, kh, kw = w.shape
    lo = w.min(axis=(1, 2, 3), keepdims=True)
    span = w.max(axis=(1, 2, 3), keepdims=True) - lo
    norm = np.where(span > 0, (w - lo) / np.where(span > 0, span, 1.0), 0.5)
    ncols = min(ncols, o)
    rows = -(-o // ncols)
    out = np.full((rows * (kh + pad) - pad, ncols * (kw + pad) - pad, c), float(pad_value))
    tiles = norm.transpose(0, 2, 3, 1)  # (O, kh, kw, C)
    for k in range(o):  # loop over filters (a handful), not pixels
        r, q = divmod(k, ncols)
        out[r * (kh + pad):r * (kh + pad) + kh, q * (kw + pad):q * (kw + pad) + kw] = tiles[k]
    return out


def _show(ax, img: np.ndarray) -> None:
    if img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(np.clip(img[..., :3], 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_filters(weight: np.ndarray, ncols: int = 8, title: Optional[str] = None, *,
                 scale: float = 0.5, dpi: int = 100) -> Figure:
    """The filters of a conv layer as small images (:func:`filter_grid_image`).

    RGB when the layer reads 3 channels, grey when it reads 1; for a deeper layer pass
    ``weight[:, :1]`` or a channel average. See: chapter "Seeing inside a CNN".
    """
    img = filter_grid_image(weight, ncols)
    fig, ax = plt.subplots(figsize=(max(2.0, img.shape[1] * scale * 0.1 + 0.5),
                                    max(1.5, img.shape[0] * scale * 0.1 + 0.5)), dpi=dpi)
    _show(ax, img)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_filter_comparison(weights: Mapping[str, np.ndarray], ncols: int = 4, *,
                           dpi: int = 100) -> Figure:
    """Several first layers side by side, each as a filter grid at the same pixel scale."""
    if not weights:
        raise ValueError("weights must name at least one layer")
    imgs = {k: filter_grid_image(v, ncols) for k, v in weights.items()}
    widths = [im.shape[1] for im in imgs.values()]
    fig, axes = plt.subplots(1, len(imgs), figsize=(2.0 + 0.09 * sum(widths), 3.6), dpi=dpi,
                             gridspec_kw={"width_ratios": widths})
    for ax, (name, im) in zip(np.atleast_1d(axes), imgs.items()):
        _show(ax, im)
        ax.set_title(name, fontsize=10)
    fig.tight_layout()
    return fig


def plot_heatmaps(maps: np.ndarray, titles: Optional[Sequence[str]] = None, ncols: int = 8, *,
                  suptitle: Optional[str] = None, cmap: Optional[str] = None,
                  size: float = 1.1, dpi: int = 100,
                  cbar_label: Optional[str] = None) -> Figure:
    """``maps (K, h, w)`` as K heat maps with a shared colour scale and a colour bar.

    Values of both signs (filters) get a diverging map centred on 0 (blue < 0 < red); values
    >= 0 (feature maps after ReLU) a sequential one. See: chapter "Seeing inside a CNN".
    """
    m = as_array(maps, "maps", 3).astype(np.float64)
    k = m.shape[0]
    ncols = min(positive_int(ncols, "ncols"), k)
    rows = -(-k // ncols)
    signed = m.min() < 0 < m.max()
    vmax = float(np.abs(m).max()) or 1.0
    cmap = cmap or ("RdBu_r" if signed else "magma")
    vmin = -vmax if signed else float(m.min())
    fig, axes = plt.subplots(rows, ncols, figsize=(size * ncols + 0.8, size * rows + 0.4),
                             dpi=dpi, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= k:
            ax.axis("off")
            continue
        im = ax.imshow(m[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
    if cbar_label:
        cbar.set_label(cbar_label, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


def plot_feature_maps(maps: Mapping[str, np.ndarray], layers: Sequence[str],
                      n_channels: int = 8, image: Optional[np.ndarray] = None, *,
                      size: float = 0.95, dpi: int = 100) -> Figure:
    """One row per layer: its first ``n_channels`` maps (each on its own colour scale, so
    the pattern shows), the layer's name and shape on the left; ``image (C, H, W)`` first."""
    rows = len(layers) + (image is not None)
    fig, axes = plt.subplots(rows, n_channels, figsize=(size * n_channels + 1.2, size * rows),
                             dpi=dpi, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    r0 = 0
    if image is not None:
        axes[0, 0].imshow(to_rgb(image), interpolation="nearest")
        axes[0, 0].set_ylabel("input", fontsize=10)
        for ax in axes[0, 1:]:
            ax.axis("off")
        r0 = 1
    for r, name in enumerate(layers, start=r0):
        fm = np.asarray(maps[name])
        for c in range(n_channels):
            ax = axes[r, c]
            if c >= fm.shape[0]:
                ax.axis("off")
                continue
            ax.imshow(fm[c], cmap="magma" if fm.min() >= 0 else "RdBu_r",
                      interpolation="nearest")
        axes[r, 0].set_ylabel(f"{name}\n{fm.shape[0]}×{fm.shape[1]}×{fm.shape[2]}", fontsize=10)
    fig.tight_layout(pad=0.3)
    return fig


def to_rgb(image: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` with C in {1, 3} → ``(H, W, 3)`` clipped to [0, 1], for ``imshow``."""
    x = as_array(image, "image", 3)
    if x.shape[0] not in (1, 3):
        raise ValueError(f"image must have 1 or 3 channels, got {x.shape[0]}")
    return np.clip(np.repeat(x, 3 // x.shape[0], axis=0).transpose(1, 2, 0), 0, 1)


def projection_rgb(r: np.ndarray) -> np.ndarray:
    """A back-projection ``(C, H, W)`` shown as Zeiler & Fergus do: ``0.5 + r / (2 max|r|)``,
    so grey is 0 and the strongest value of either sign reaches black or white."""
    x = as_array(r, "r", 3).astype(np.float64)
    m = float(np.abs(x).max()) or 1.0
    return to_rgb(0.5 + x / (2 * m))


def upsample(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of ``heat (h, w)`` to ``shape``: each cell covers a block."""
    h = as_array(heat, "heat", 2)
    rows = np.minimum((np.arange(shape[0]) * h.shape[0]) // shape[0], h.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) * h.shape[1]) // shape[1], h.shape[1] - 1)
    return h[rows[:, None], cols[None, :]]


def plot_attributions(image: np.ndarray, panels: Mapping[str, np.ndarray], *,
                      overlay: bool = False, size: float = 1.9, dpi: int = 100) -> Figure:
    """The image, then one panel per map. A 2-D map is a heat map (``overlay``: drawn
    half-transparent over the image, upsampled to its size); a ``(C, H, W)`` map is a
    back-projection shown with :func:`projection_rgb`."""
    n = len(panels) + 1
    fig, axes = plt.subplots(1, n, figsize=(size * n, size + 0.45), dpi=dpi)
    rgb = to_rgb(image)
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("input", fontsize=9)
    for ax, (name, m) in zip(axes[1:], panels.items()):
        m = np.asarray(m)
        if m.ndim == 3:
            ax.imshow(projection_rgb(m), interpolation="nearest")
        elif overlay:
            ax.imshow(rgb, interpolation="nearest")
            ax.imshow(upsample(m, rgb.shape[:2]), cmap="jet", alpha=0.5, interpolation="nearest")
        else:
            im = ax.imshow(m, cmap="magma", interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.3)
    return fig


def plot_occlusion_table(image: np.ndarray, table: Mapping[tuple, np.ndarray], *,
                         size: float = 1.5, dpi: int = 100) -> Figure:
    """Occlusion maps ``{(patch, stride): (Ho, Wo)}`` in a grid: one row per patch size, one
    column per stride, each drawn over the image on one shared diverging scale (red: the
    class probability drops when that place is hidden), with one colour bar for all. Each
    value is drawn as a stride-sized square at the centre of its patch."""
    patches = sorted({p for p, _ in table})
    strides = sorted({s for _, s in table})
    vmax = max(float(np.abs(h).max()) for h in table.values()) or 1.0
    rgb = to_rgb(image)
    fig, axes = plt.subplots(len(patches), len(strides), squeeze=False, dpi=dpi,
                             figsize=(size * len(strides), size * len(patches) + 0.3))
    for r, p in enumerate(patches):
        for c, s in enumerate(strides):
            ax = axes[r, c]
            ax.imshow(rgb, interpolation="nearest")
            heat = table[p, s]
            # cell (i, j) is drawn as an s×s square centred on its patch's centre
            # (i*s + p/2, j*s + p/2); pixel k of the image spans [k - 0.5, k + 0.5]
            y0 = x0 = (p - s) / 2 - 0.5
            im = ax.imshow(heat, cmap="RdBu_r", vmin=-vmax, vmax=vmax, alpha=0.65,
                           interpolation="nearest",
                           extent=(x0, x0 + heat.shape[1] * s, y0 + heat.shape[0] * s, y0))
            ax.set_xlim(-0.5, rgb.shape[1] - 0.5)
            ax.set_ylim(rgb.shape[0] - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"patch {p}, stride {s}\n{heat.shape[0]}×{heat.shape[1]}", fontsize=8)
    fig.tight_layout(pad=0.3)
    cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, pad=0.03)
    cbar.set_label("drop in P(class) when hidden", fontsize=8)
    return fig
