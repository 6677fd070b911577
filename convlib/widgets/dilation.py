"""The dilated-convolution explorer: choose the rates of a 3-layer stack, see which input
pixels one output depends on.

A stack of dilated convolutions with the same rate (say 2, 2, 2) reads only every second row
and column: the output at the centre never sees the pixels in between, a checkerboard of holes
(the *gridding* effect, Wang et al., "Understanding Convolution for Semantic Segmentation",
2018). Rates without a common factor, such as 1, 2, 5 (hybrid dilated convolution), fill them.

The explorer pattern of the book (see STYLE.md):

- :func:`dilate_kernel` — the zeros a dilation inserts into a kernel;
- :func:`influence_counts` / :func:`dilation_state` — pure numpy: the number of paths from every
  input pixel to one output of the stack, computed by pushing a one-hot back through the stack
  with :func:`convlib.functional.conv_transpose2d` (the adjoint: exactly the gradient's
  support); the receptive field from :func:`convlib.receptive_field.receptive_field`;
- :func:`influence_svg` — a state as SVG; :func:`dilation_explorer` — the ipywidgets shell;
  :func:`dilation_gallery` — the static fallback (presets pre-rendered).

See: chapter Dilated (atrous) convolution.
"""

from __future__ import annotations

import base64
import html as _html
from typing import Optional, Sequence

import numpy as np

from convlib import functional as F
from convlib._validate import as_array, positive_int
from convlib.receptive_field import receptive_field
from convlib.widgets.transposed import _png, insert_zeros
from convlib.widgets.player import playable

__all__ = ["dilate_kernel", "influence_counts", "dilation_state", "influence_svg",
           "influence_view", "dilation_explorer", "dilation_gallery", "PRESETS"]

# title -> rates of a stack of 3x3 convolutions (the gallery and the explorer's dropdown)
PRESETS: dict[str, tuple[int, ...]] = {
    "rates 1, 1, 1 (plain 3×3 stack)": (1, 1, 1),
    "rates 2, 2, 2 (gridding)": (2, 2, 2),
    "rates 1, 2, 4": (1, 2, 4),
    "rates 1, 2, 5 (hybrid dilated)": (1, 2, 5),
    "rates 2, 4, 8 (gridding)": (2, 4, 8),
    "rates 1, 2, 3 (hybrid dilated)": (1, 2, 3),
}


def dilate_kernel(weight, dilation: int) -> np.ndarray:
    """The kernel a dilated convolution effectively applies: ``dilation - 1`` zeros between
    taps along the last two axes.

    ``weight: (..., kh, kw)`` -> ``(..., d*(kh-1)+1, d*(kw-1)+1)``, so that
    ``conv2d(x, weight, dilation=d) == conv2d(x, dilate_kernel(weight, d))``.
    The effective size is ``d*(k-1)+1`` (Dumoulin & Visin's ``k̂``). Input not modified.

    >>> dilate_kernel(np.array([[1.0, 2.0, 3.0]]), 2)
    array([[1., 0., 2., 0., 3.]])

    See: chapter Dilated (atrous) convolution.
    """
    return insert_zeros(as_array(weight, "weight"), positive_int(dilation, "dilation"))


def _rates(rates) -> tuple[int, ...]:
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__"):
        raise TypeError(f"rates must be a sequence of ints, got {type(rates).__name__}")
    out = tuple(positive_int(r, f"rates[{n}]") for n, r in enumerate(rates))
    if not out:
        raise ValueError("rates must hold at least one rate")
    return out


def influence_counts(rates: Sequence[int], kernel_size: int = 3, size: Optional[int] = None,
                     position: Optional[tuple[int, int]] = None) -> np.ndarray:
    """For a stack of stride-1, "same"-padded ``kernel_size`` convolutions with dilations
    ``rates`` on a ``size × size`` input: how many paths lead from each input pixel to output
    ``position`` (default the centre). ``(size, size)`` ints; non-zero = the pixel influences
    the output (with all-positive weights nothing cancels, so this is the exact support of
    the gradient of that output).

    Computed backwards: a one-hot at the output pushed through the adjoint of each layer,
    last to first, ``conv_transpose2d(., ones, padding=d*(k-1)//2, dilation=d)``.
    ``size`` defaults to the receptive field plus a margin of 2 on each side.

    See: chapter Dilated (atrous) convolution.
    """
    rs = _rates(rates)
    k = positive_int(kernel_size, "kernel_size")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a centred 'same' padding), got {k}")
    r = receptive_field([(k, 1, 0, d) for d in rs])[-1].size
    n = r + 4 if size is None else positive_int(size, "size")
    i, j = ((n - 1) // 2,) * 2 if position is None else tuple(position)
    if not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"position {(i, j)} is outside the {n}x{n} input")
    y = np.zeros((1, 1, n, n))
    y[0, 0, i, j] = 1.0
    ones = np.ones((1, 1, k, k))
    for d in reversed(rs):
        y = F.conv_transpose2d(y, ones, padding=d * (k - 1) // 2, dilation=d)
    return np.rint(y[0, 0]).astype(np.int64)


def dilation_state(rates: Sequence[int], kernel_size: int = 3, size: Optional[int] = None) -> dict:
    """Everything the explorer shows for one stack of rates.

    Returns a dict: ``rates``, ``kernel_size``, ``counts`` (:func:`influence_counts`, centre
    output), ``mask`` (``counts > 0``), ``rf`` (receptive-field size of the stack, Araujo et
    al.: ``1 + sum (k-1)*d``), ``box`` (the ``rf × rf`` slice pair around the centre),
    ``seen`` / ``holes`` (pixels of that box the output does / does not depend on),
    ``coverage`` (``seen / rf²``), ``parameters`` (``len(rates) * k²`` weights, one channel).

    See: chapter Dilated (atrous) convolution.
    """
    rs = _rates(rates)
    k = positive_int(kernel_size, "kernel_size")
    counts = influence_counts(rs, k, size)
    n = counts.shape[0]
    rf = receptive_field([(k, 1, 0, d) for d in rs])[-1].size
    c = (n - 1) // 2
    lo = c - (rf - 1) // 2
    box = (slice(max(lo, 0), min(lo + rf, n)),) * 2
    inside = counts[box] > 0
    seen = int(inside.sum())
    return {"rates": rs, "kernel_size": k, "counts": counts, "mask": counts > 0, "rf": rf,
            "box": box, "seen": seen, "holes": int(inside.size - seen),
            "coverage": seen / inside.size, "parameters": len(rs) * k * k}


# ----------------------------------------------------------------------------- drawing
def _rgb(v: float, hi: float) -> tuple[int, int, int]:
    if v <= 0:
        return (255, 255, 255)
    t = 0.35 + 0.65 * v / hi
    a, b = np.array([0xde, 0xeb, 0xf7]), np.array([0x08, 0x30, 0x6b])
    return tuple(int(c) for c in (a + t * (b - a)).round())


def influence_svg(state: dict, cell: Optional[float] = None) -> str:
    """A state of :func:`dilation_state` as SVG: input pixels shaded by the number of paths to
    the centre output (white = never seen), the receptive-field box outlined in orange, the
    centre marked, a caption with ``r``, coverage and holes. The pixels are one small PNG
    ``<image data-role="map">`` (``cell`` pixels per input pixel, white = unseen), the box
    ``data-role="box"``, the centre ``data-role="centre"``.

    See: chapter Dilated (atrous) convolution.
    """
    counts = state["counts"]
    n = counts.shape[0]
    cell = cell or float(np.clip(260 / n, 4, 14))
    hi = float(counts.max())
    rows, cols = state["box"]
    cell = max(2, int(round(cell)))
    rgb = np.array([[_rgb(v, hi) for v in row] for row in counts], dtype=np.uint8)
    big = np.repeat(np.repeat(rgb, cell, 0), cell, 1)
    if cell >= 5:  # thin grey lines between pixels
        big[::cell, :] = np.minimum(big[::cell, :], 220)
        big[:, ::cell] = np.minimum(big[:, ::cell], 220)
    png = base64.b64encode(_png(big)).decode("ascii")
    y0 = 4.0
    parts = [f'<image x="4" y="{y0:.0f}" width="{n * cell}" height="{n * cell}" data-role="map" '
             f'href="data:image/png;base64,{png}"/>']
    parts.append(f'<rect x="{4 + cols.start * cell:.1f}" y="{y0 + rows.start * cell:.1f}" '
                 f'width="{(cols.stop - cols.start) * cell:.1f}" height="{(rows.stop - rows.start) * cell:.1f}" '
                 f'fill="none" stroke="#d94801" stroke-width="2" stroke-dasharray="4,2" data-role="box"/>')
    cc = (n - 1) // 2
    parts.append(f'<circle cx="{4 + (cc + 0.5) * cell:.1f}" cy="{y0 + (cc + 0.5) * cell:.1f}" '
                 f'r="{max(2.0, cell * 0.25):.1f}" fill="#d94801" data-role="centre"/>')
    side = n * cell + 8
    rates = ", ".join(map(str, state["rates"]))
    lines = [f"rates {rates}: receptive field {state['rf']}×{state['rf']}",
             f"sees {state['seen']} of {state['rf'] ** 2} pixels ({100 * state['coverage']:.0f}%), "
             f"{state['holes']} holes"]
    width = max(side, 250)
    height = side + 34
    for m, line in enumerate(lines):
        parts.append(f'<text x="4" y="{side + 12 + 14 * m:.1f}" font-size="12" '
                     f'font-family="sans-serif">{_html.escape(line)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}">' + "".join(parts) + "</svg>")


def influence_view(rates: Sequence[int], kernel_size: int = 3, size: Optional[int] = None) -> str:
    """The HTML the explorer shows for one stack; bad settings explain themselves.

    See: chapter Dilated (atrous) convolution.
    """
    try:
        return influence_svg(dilation_state(rates, kernel_size, size))
    except (ValueError, TypeError) as exc:
        return ('<div style="font:13px sans-serif;padding:8px;border-left:4px solid #d94801;'
                f'background:#fff5eb">Nothing to show: {_html.escape(str(exc))}</div>')


def dilation_gallery(presets: Optional[dict] = None, size: Optional[int] = 33):
    """The static explorer: one pre-rendered influence map per preset stack, side by side,
    as ``IPython.display.HTML`` (works in the HTML book with no kernel). All on the same
    ``size`` so they compare; ``None`` sizes each to its receptive field.

    See: chapter Dilated (atrous) convolution.
    """
    from IPython.display import HTML

    presets = PRESETS if presets is None else presets
    blocks = [f'<div style="display:inline-block;vertical-align:top;margin:6px 14px 6px 0">'
              f'<div style="font:bold 13px sans-serif">{_html.escape(title)}</div>'
              f'{influence_view(rates, 3, size)}</div>' for title, rates in presets.items()]
    return HTML('<div class="dilation-gallery">' + "".join(blocks) + "</div>")


@playable
def dilation_explorer(rates: Sequence[int] = (2, 2, 2), size: int = 33):
    """An ipywidgets box: one slider per layer of a 3-layer stack of 3×3 convolutions (its
    dilation rate, 1 to 8); the influence map of the centre output follows.
    :func:`dilation_gallery` is its static fallback.

    See: chapter Dilated (atrous) convolution.
    """
    import ipywidgets as W

    rs = _rates(rates)
    if len(rs) != 3:
        raise ValueError(f"rates must hold 3 rates (one per layer), got {len(rs)}")
    style = {"description_width": "60px"}
    sliders = [W.IntSlider(value=r, min=1, max=8, description=f"layer {m + 1}", style=style)
               for m, r in enumerate(rs)]
    view = W.HTML()

    def refresh(_change=None) -> None:
        view.value = influence_view([s.value for s in sliders], 3, size)

    for s in sliders:
        s.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox(sliders), view])
