"""The upsampling explorer: factor and kernel size -> how flat three upsamplers keep a flat image.

A decoder makes a feature map ``f`` times larger. Three layers do it (chapter Upsampling done
right): a transposed convolution (stride ``f``), resize-then-convolve (nearest-neighbour
``f``-times, then a stride-1 convolution; Odena et al. 2016) and sub-pixel convolution (a
convolution to ``f * f`` times the channels, then :func:`convlib.functional.pixel_shuffle`;
Shi et al. 2016). Fed a constant image with random kernels, the first and the third give a
pattern repeating every ``f`` cells, a checkerboard; the second stays flat; pixel shuffle with
ICNR initialisation (every sub-pixel kernel the same; Aitken et al. 2017) stays flat too.

The explorer pattern of the book (see STYLE.md):

- :func:`transposed_upsample` / :func:`resize_conv_upsample` / :func:`pixel_shuffle_upsample`
  — the three layers for one channel, numpy only (``convlib.functional``);
- :func:`upsampling_state` — pure: the three responses to a constant image, their interiors
  (no border effect), the spread ``(max - min) / mean`` there, the overlap counts, the
  number of weights;
- :func:`upsampling_html` — a state as HTML (small PNG images, no plotting library);
  :func:`upsampling_explorer` — the ipywidgets shell; :func:`upsampling_gallery` — the static
  fallback (a few ``(factor, kernel_size)`` pairs pre-rendered).

See: chapter Upsampling done right.
"""

from __future__ import annotations

import html as _html
from typing import Optional, Sequence

import numpy as np

from convlib import functional as F
from convlib._validate import nonnegative_int, positive_int
from convlib.widgets.player import playable
from convlib.widgets.transposed import _png

__all__ = ["transposed_upsample", "resize_conv_upsample", "pixel_shuffle_upsample",
           "METHODS", "upsampling_state", "upsampling_html", "upsampling_view",
           "upsampling_explorer", "upsampling_gallery", "GALLERY"]

# method key -> label, in the order the state, the figure and the explorer show them
METHODS = {
    "transposed": "transposed conv",
    "resize_conv": "resize, then conv",
    "pixel_shuffle": "pixel shuffle",
    "pixel_shuffle_icnr": "pixel shuffle, ICNR init",
}
# (factor, kernel_size) pairs the static book shows in place of the sliders
GALLERY = ((2, 3), (2, 4), (3, 3), (3, 5))


def transposed_upsample(x: np.ndarray, weight: np.ndarray, factor: int) -> np.ndarray:
    """Transposed convolution, stride ``factor``, no padding: ``x (N, 1, H, W)``,
    ``weight (kh, kw)`` -> ``(N, 1, (H-1)f + kh, (W-1)f + kw)``. Each input pixel stamps the
    kernel, stamps ``f`` cells apart. See: chapter Upsampling done right.
    """
    return F.conv_transpose2d(x, weight[None, None], stride=factor)


def resize_conv_upsample(x: np.ndarray, weight: np.ndarray, factor: int) -> np.ndarray:
    """Resize, then convolve: repeat every pixel ``factor`` times along both axes
    (nearest-neighbour upsampling), then a stride-1 "valid" convolution with ``weight (kh, kw)``:
    ``(N, 1, H, W)`` -> ``(N, 1, fH - k + 1, fW - k + 1)``. See: chapter Upsampling done right.
    """
    up = np.repeat(np.repeat(x, factor, axis=-2), factor, axis=-1)
    return F.conv2d(up, weight[None, None])


def pixel_shuffle_upsample(x: np.ndarray, weights: np.ndarray, factor: int) -> np.ndarray:
    """Sub-pixel convolution: a "valid" convolution with ``f * f`` kernels ``weights (f*f, kh, kw)``
    at low resolution, then :func:`convlib.functional.pixel_shuffle`: ``(N, 1, H, W)`` ->
    ``(N, 1, f(H - k + 1), f(W - k + 1))``. Kernel ``i*f + j`` makes the sub-pixel ``(i, j)``
    of every ``f x f`` output cell. See: chapter Upsampling done right.
    """
    return F.pixel_shuffle(F.conv2d(x, weights[:, None]), factor)


def upsampling_state(factor: int = 2, kernel_size: int = 3, size: int = 12,
                     seed: int = 0) -> dict:
    """Everything the explorer shows for one ``(factor, kernel_size)``.

    A constant ``size x size`` image of ones goes through the three layers (and pixel shuffle
    with ICNR initialisation), each with random kernels, weights uniform in [0, 1) drawn from
    ``seed``. Returns a dict: ``factor``, ``kernel_size``, ``size``, ``methods`` (the keys of
    :data:`METHODS`), ``labels`` (their names), and per method a dict with ``output`` (the whole response), ``interior``
    (the cells no border reaches: for the transposed conv rows and columns ``k - 1 ..
    (size-1)f``, every cell of the other, "valid", layers), ``spread`` (``(max - min) / mean``
    over the interior: 0 when flat), ``flat`` (spread below 1e-9), ``counts`` (1-D: the number
    of kernel taps reaching each interior cell with all-ones kernels, the overlap count) and
    ``params`` (weights of a one-channel layer). Raises ``ValueError`` when ``size`` is too
    small for the kernel. See: chapter Upsampling done right.
    """
    f = positive_int(factor, "factor")
    k = positive_int(kernel_size, "kernel_size")
    n = positive_int(size, "size")
    seed = nonnegative_int(seed, "seed")
    if n < k + 1 or (n - 1) * f + 1 - (k - 1) < f:
        raise ValueError(f"size must be at least {k + 1} and leave an interior for "
                         f"kernel_size={k}, factor={f}, got {n}")
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.0, 1.0, (k, k))
    w_sub = rng.uniform(0.0, 1.0, (f * f, k, k))
    inner = slice(k - 1, (n - 1) * f + 1)
    # method -> (layer, its random weight, all-ones 1-D weight, the interior along one axis)
    layers = {
        "transposed": (transposed_upsample, w, np.ones((1, k)), inner),
        "resize_conv": (resize_conv_upsample, w, np.ones((1, k)), slice(None)),
        "pixel_shuffle": (pixel_shuffle_upsample, w_sub, np.ones((f * f, 1, k)), slice(None)),
        "pixel_shuffle_icnr": (pixel_shuffle_upsample, np.repeat(w[None], f * f, axis=0),
                               np.ones((f * f, 1, k)), slice(None)),
    }
    state = {"factor": f, "kernel_size": k, "size": n, "methods": tuple(METHODS),
             "labels": dict(METHODS)}
    for key, (layer, weight, ones_1d, cut) in layers.items():
        out = layer(np.ones((1, 1, n, n)), weight, f)[0, 0]
        interior = out[cut, cut]
        counts = layer(np.ones((1, 1, 1, n)), ones_1d, f)[0, 0, 0][cut]
        spread = float(interior.max() - interior.min()) / float(interior.mean())
        state[key] = {"output": out, "interior": interior, "spread": spread,
                      "flat": spread < 1e-9, "counts": counts, "params": int(weight.size)}
    return state


# ----------------------------------------------------------------------------- drawing
def _image_uri(a: np.ndarray, cell: int) -> str:
    """``a`` (2-D) divided by its mean as a small PNG data URI: 0.5 x mean white-ish ... 1.5 x
    mean dark blue, so every method is on the same relative scale."""
    import base64

    t = np.clip((a / a.mean() - 0.5), 0.0, 1.0)[..., None]
    lo, hi = np.array([0xf7, 0xfb, 0xff]), np.array([0x08, 0x30, 0x6b])
    rgb = (lo + t * (hi - lo)).round().astype(np.uint8)
    rgb = np.repeat(np.repeat(rgb, cell, 0), cell, 1)
    return "data:image/png;base64," + base64.b64encode(_png(rgb)).decode("ascii")


def upsampling_html(state: dict, px: int = 150) -> str:
    """A state as HTML: for each method the interior response (value / mean; a checkerboard
    shows as a repeating pattern), its spread, the overlap counts along one row and the number
    of weights. Each panel carries ``data-role="method"`` and ``data-spread``.

    See: chapter Upsampling done right.
    """
    blocks = []
    for key in state["methods"]:
        st = state[key]
        side = st["interior"].shape[0]
        cell = max(1, px // side)
        counts = " ".join(f"{v:g}" for v in st["counts"][:8])
        verdict = "flat" if st["flat"] else f"spread {st['spread']:.2f}"
        blocks.append(
            f'<div data-role="method" data-method="{key}" data-spread="{st["spread"]:.6g}" '
            'style="display:inline-block;vertical-align:top;margin:0 12px 6px 0;'
            'font:12px sans-serif;width:170px">'
            f'<b>{_html.escape(METHODS[key])}</b><br>'
            f'<img src="{_image_uri(st["interior"], cell)}" width="{side * cell}" '
            f'height="{side * cell}" style="image-rendering:pixelated;border:1px solid #999" '
            f'alt="{_html.escape(METHODS[key])} response"><br>'
            f"{verdict}<br>taps per cell: {counts} …<br>weights: {st['params']}</div>")
    f, k = state["factor"], state["kernel_size"]
    caption = (f"factor {f}, kernel {k}: response to a constant image, random kernels "
               "(colour = value / mean, white 0.5 … dark 1.5)")
    return (f'<div class="upsampling-view"><div style="font:13px sans-serif;margin-bottom:4px">'
            f'{_html.escape(caption)}</div>' + "".join(blocks) + "</div>")


def upsampling_view(factor: int, kernel_size: int, seed: int = 0) -> str:
    """The HTML the explorer shows for one setting; impossible settings explain themselves.

    See: chapter Upsampling done right.
    """
    from convlib.widgets.html import message_html

    try:
        return upsampling_html(upsampling_state(factor, kernel_size, seed=seed))
    except (ValueError, TypeError) as exc:
        return message_html(str(exc))


def upsampling_gallery(pairs: Sequence[tuple[int, int]] = GALLERY, seed: int = 0):
    """The static explorer: :func:`upsampling_html` pre-rendered for a few
    ``(factor, kernel_size)`` pairs, as ``IPython.display.HTML`` (no kernel needed).

    See: chapter Upsampling done right.
    """
    from IPython.display import HTML

    return HTML('<div class="upsampling-gallery">'
                + "".join(f'<div style="margin:6px 0 10px">{upsampling_view(f, k, seed)}</div>'
                          for f, k in pairs) + "</div>")


@playable
def upsampling_explorer(factor: int = 2, kernel_size: int = 3, seed: Optional[int] = 0):
    """An ipywidgets box: sliders for the factor, the kernel size and the random seed of the
    kernels; the four responses follow. :func:`upsampling_gallery` is its static fallback.

    See: chapter Upsampling done right.
    """
    import ipywidgets as W

    style = {"description_width": "80px"}
    fs = W.IntSlider(value=positive_int(factor, "factor"), min=1, max=4, description="factor",
                     style=style)
    ks = W.IntSlider(value=positive_int(kernel_size, "kernel_size"), min=1, max=7,
                     description="kernel size", style=style)
    sd = W.IntSlider(value=nonnegative_int(seed, "seed"), min=0, max=9, description="seed",
                     style=style)
    view = W.HTML()

    def refresh(_change=None) -> None:
        view.value = upsampling_view(fs.value, ks.value, sd.value)

    for control in (fs, ks, sd):
        control.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([fs, ks, sd]), view])
