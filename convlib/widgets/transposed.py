"""The transposed-convolution explorer: kernel size and stride -> the overlap pattern.

A transposed convolution scatters every input value, times the kernel, onto the output; with
a constant input and an all-ones kernel, each output cell therefore holds *how many* input
pixels paint it. When the kernel size is not divisible by the stride that count alternates
(Odena, Dumoulin & Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016): the
checkerboard.

The explorer pattern of the book (see STYLE.md):

- :func:`overlap_counts` / :func:`overlap_state` — pure numpy (through
  :func:`convlib.functional.conv_transpose2d`): the 1-D and 2-D overlap counts, the interior
  where no border effect reaches, and whether that interior is flat;
- :func:`stacked_overlap` / :func:`resize_conv_counts` — several layers, and the
  resize-then-convolve alternative;
- :func:`insert_zeros` — ``stride - 1`` zeros between neighbouring pixels (Dumoulin & Visin's
  equivalent direct convolution);
- :func:`overlap_svg` — a state drawn as SVG (about a millisecond a redraw);
- :func:`transposed_explorer` — the ipywidgets shell; :func:`transposed_gallery` — the static
  fallback (a few ``(k, s)`` pairs pre-rendered).

See: chapter Transposed convolution.
"""

from __future__ import annotations

import base64
import html as _html
import struct
import zlib
from typing import Optional, Sequence

import numpy as np

from convlib import functional as F
from convlib._validate import as_array, nonnegative_int, positive_int
from convlib.widgets.player import playable

__all__ = ["insert_zeros", "overlap_counts", "overlap_state", "stacked_overlap",
           "resize_conv_counts", "overlap_svg", "overlap_view", "transposed_explorer",
           "transposed_gallery", "GALLERY"]

# (kernel_size, stride) pairs the static book shows in place of the sliders.
GALLERY = ((3, 1), (3, 2), (4, 2), (5, 2), (3, 3), (5, 3))


def insert_zeros(x, gap: int) -> np.ndarray:
    """``gap - 1`` zeros between neighbouring entries of the last two axes of ``x``.

    ``x: (..., H, W)`` -> ``(..., (H-1)*gap + 1, (W-1)*gap + 1)``: ``out[..., i*gap, j*gap] =
    x[..., i, j]``, zeros elsewhere. On an input this is the stride of a transposed
    convolution (Dumoulin & Visin's "fractionally strided" view); on a kernel it is dilation.
    The input is not modified.

    >>> insert_zeros(np.array([[1.0, 2.0]]), 3)
    array([[1., 0., 0., 2.]])

    See: chapter Transposed convolution.
    """
    x = as_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (..., H, W), got shape {x.shape}")
    gap = positive_int(gap, "gap")
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + ((h - 1) * gap + 1 if h else 0, (w - 1) * gap + 1 if w else 0),
                   dtype=x.dtype)
    out[..., ::gap, ::gap] = x
    return out


def overlap_counts(size: int, kernel_size: int, stride: int, ndim: int = 1) -> np.ndarray:
    """How many input pixels paint each output cell of a transposed convolution.

    ``conv_transpose2d`` of a constant ``size`` (x ``size``) input of ones with an all-ones
    ``kernel_size`` kernel and stride ``stride``, no padding: a 1-D array of length
    ``(size - 1)*stride + kernel_size`` (``ndim=1``) or the square 2-D map (``ndim=2``), which
    is the outer product of the 1-D counts. Interior cell ``t`` gets
    ``#{i : 0 <= t - i*stride < kernel_size}`` contributions.

    See: chapter Transposed convolution.
    """
    size = positive_int(size, "size")
    k = positive_int(kernel_size, "kernel_size")
    s = positive_int(stride, "stride")
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 or 2, got {ndim!r}")
    h = 1 if ndim == 1 else size
    kh = 1 if ndim == 1 else k
    y = F.conv_transpose2d(np.ones((1, 1, h, size)), np.ones((1, 1, kh, k)), stride=s)[0, 0]
    return y[0] if ndim == 1 else y


def _interior(size: int, k: int, s: int) -> slice:
    """Output cells ``k - 1 .. (size - 1)*s``: every input that could paint them exists."""
    return slice(k - 1, (size - 1) * s + 1)


def overlap_state(kernel_size: int, stride: int, size: int = 6) -> dict:
    """Everything the explorer shows for one ``(kernel_size, stride)``.

    Returns a dict: ``kernel_size``, ``stride``, ``size`` (input length), ``counts`` (1-D),
    ``counts_2d``, ``interior`` (a slice of the 1-D output free of border effects),
    ``low`` / ``high`` (min and max count in the interior), ``flat`` (``low == high``; true
    exactly when ``kernel_size % stride == 0`` and the interior spans a period), ``ratio``
    (``high / low``, how much brighter the bright cells are; ``inf`` when ``kernel_size <
    stride`` leaves cells no input paints).
    Raises ``ValueError`` if the input is too short to have an interior of ``stride`` cells.

    See: chapter Transposed convolution.
    """
    k = positive_int(kernel_size, "kernel_size")
    s = positive_int(stride, "stride")
    n = positive_int(size, "size")
    inner = _interior(n, k, s)
    if (n - 1) * s + 1 - (k - 1) < s:
        raise ValueError(f"size must be at least {-(-(k - 1) // s) + 1} for kernel_size={k}, "
                         f"stride={s}, got {n}")
    counts = overlap_counts(n, k, s)
    mid = counts[inner]
    low, high = float(mid.min()), float(mid.max())
    return {"kernel_size": k, "stride": s, "size": n, "counts": counts,
            "counts_2d": np.outer(counts, counts), "interior": inner, "low": low, "high": high,
            "flat": low == high, "ratio": high / low if low else float("inf")}


def stacked_overlap(kernel_size: int, stride: int, layers: int, size: int = 4) -> np.ndarray:
    """1-D overlap counts after ``layers`` transposed convolutions in a row (all-ones kernels).

    Each layer multiplies the length by about ``stride``; the uneven pattern of one layer is
    painted again at every scale, so the ratio between bright and dark cells grows.
    See: chapter Transposed convolution.
    """
    k, s = positive_int(kernel_size, "kernel_size"), positive_int(stride, "stride")
    y = np.ones((1, 1, 1, positive_int(size, "size")))
    for _ in range(positive_int(layers, "layers")):
        y = F.conv_transpose2d(y, np.ones((1, 1, 1, k)), stride=s)
    return y[0, 0, 0]


def resize_conv_counts(size: int, kernel_size: int, stride: int) -> np.ndarray:
    """Resize-then-convolve on a constant input (1-D): nearest upsampling by ``stride`` then a
    stride-1 convolution with an all-ones ``kernel_size`` kernel ("valid").

    Every output reads the same number of upsampled cells, so the result is flat:
    ``kernel_size`` everywhere, whatever the stride (Odena et al.'s fix).
    See: chapter Transposed convolution.
    """
    n, k, s = (positive_int(v, name) for v, name in
               ((size, "size"), (kernel_size, "kernel_size"), (stride, "stride")))
    up = np.repeat(np.ones((1, 1, 1, n)), s, axis=-1)
    return F.conv2d(up, np.ones((1, 1, 1, k)))[0, 0, 0]


# ----------------------------------------------------------------------------- drawing
_BAR, _BAR_EDGE, _DIM = "#2171b5", "#08306b", "#9ecae1"


def _rgb(v: float, lo: float, hi: float) -> tuple[int, int, int]:
    t = 0.6 if hi == lo else (v - lo) / (hi - lo)
    a, b = np.array([0xde, 0xeb, 0xf7]), np.array([0x08, 0x30, 0x6b])
    return tuple(int(c) for c in (a + t * (b - a)).round())


def _png(rgb: np.ndarray) -> bytes:
    """A minimal PNG file of an ``(H, W, 3)`` uint8 image (no plotting library: fast, small)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    h, w = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[r].tobytes() for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def overlap_svg(state: dict, cell: float = 10.0) -> str:
    """A state of :func:`overlap_state` as one SVG string: 1-D bars (interior cells dark,
    border cells light) on the left, the 2-D count map on the right, and a caption.
    Bars carry ``data-role="bar"`` (and ``data-count``); the 2-D map is one small PNG
    ``<image data-role="map">`` (a few hundred bytes: the static gallery embeds several).

    See: chapter Transposed convolution.
    """
    counts, inner = state["counts"], state["interior"]
    top = float(counts.max())
    n = counts.size
    bar_h = 70.0
    parts = []
    x0, y0 = 8.0, 22.0
    parts.append(f'<text x="{x0}" y="14" font-size="12" font-family="sans-serif">1-D: '
                 f'inputs per output cell</text>')
    for t, v in enumerate(counts):
        h = bar_h * v / top
        inside = inner.start <= t < inner.stop
        parts.append(f'<rect x="{x0 + t * cell:.1f}" y="{y0 + bar_h - h:.1f}" width="{cell - 2:.1f}" '
                     f'height="{h:.1f}" fill="{_BAR if inside else _DIM}" stroke="{_BAR_EDGE}" '
                     f'stroke-width="0.5" data-role="bar" data-count="{int(v)}"/>')
        parts.append(f'<text x="{x0 + t * cell + (cell - 2) / 2:.1f}" y="{y0 + bar_h + 11:.1f}" '
                     f'font-size="8" text-anchor="middle" font-family="sans-serif">{int(v)}</text>')
    w1 = max(n * cell + 16, 160)
    c2 = int(np.clip(110 // n, 3, 10))
    grid = state["counts_2d"]
    lo, hi = float(grid.min()), float(grid.max())
    gx = int(x0 + w1)
    parts.append(f'<text x="{gx}" y="14" font-size="12" font-family="sans-serif">2-D map</text>')
    rgb = np.array([[_rgb(v, lo, hi) for v in row] for row in grid], dtype=np.uint8)
    png = base64.b64encode(_png(np.repeat(np.repeat(rgb, c2, 0), c2, 1))).decode("ascii")
    parts.append(f'<image x="{gx}" y="{int(y0)}" width="{n * c2}" height="{n * c2}" '
                 f'data-role="map" href="data:image/png;base64,{png}"/>')
    height = max(y0 + bar_h + 20, y0 + n * c2 + 6) + 22
    k, s = state["kernel_size"], state["stride"]
    verdict = (f"flat, {state['low']:g} everywhere" if state["flat"] else
               f"uneven, {state['low']:g} or {state['high']:g} (ratio {state['ratio']:.2g})")
    caption = f"k={k}, s={s}, k mod s = {k % s}: {verdict}"
    width = max(gx + n * c2 + 10, x0 + 6.8 * len(caption))
    parts.append(f'<text x="{x0}" y="{height - 8:.1f}" font-size="12" '
                 f'font-family="sans-serif">{_html.escape(caption)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}">' + "".join(parts) + "</svg>")


def overlap_view(kernel_size: int, stride: int, size: int = 6) -> str:
    """The HTML the explorer shows for one setting; impossible settings explain themselves.

    See: chapter Transposed convolution.
    """
    try:
        return overlap_svg(overlap_state(kernel_size, stride, size))
    except (ValueError, TypeError) as exc:
        return ('<div style="font:13px sans-serif;padding:8px;border-left:4px solid #d94801;'
                f'background:#fff5eb">Nothing to show: {_html.escape(str(exc))}</div>')


def transposed_gallery(pairs: Sequence[tuple[int, int]] = GALLERY, size: int = 6):
    """The static explorer: one pre-rendered overlap picture per ``(kernel_size, stride)``,
    as ``IPython.display.HTML`` (works in the HTML book with no kernel).

    See: chapter Transposed convolution.
    """
    from IPython.display import HTML

    blocks = [f'<div style="display:inline-block;vertical-align:top;margin:6px 14px 6px 0">'
              f'<div style="font:bold 13px sans-serif">kernel {k}, stride {s}</div>'
              f'{overlap_view(k, s, size)}</div>' for k, s in pairs]
    return HTML('<div class="overlap-gallery">' + "".join(blocks) + "</div>")


@playable
def transposed_explorer(kernel_size: int = 3, stride: int = 2, size: Optional[int] = 6):
    """An ipywidgets box: sliders for the kernel size, the stride and the input length; the
    overlap bars and map follow. :func:`transposed_gallery` is its static fallback.

    See: chapter Transposed convolution.
    """
    import ipywidgets as W

    style = {"description_width": "90px"}
    ks = W.IntSlider(value=positive_int(kernel_size, "kernel_size"), min=1, max=8,
                     description="kernel size", style=style)
    st = W.IntSlider(value=positive_int(stride, "stride"), min=1, max=4, description="stride",
                     style=style)
    n = W.IntSlider(value=nonnegative_int(size, "size"), min=2, max=12, description="input length",
                    style=style)
    view = W.HTML()

    def refresh(_change=None) -> None:
        view.value = overlap_view(ks.value, st.value, n.value)

    for control in (ks, st, n):
        control.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([ks, st, n]), view])
