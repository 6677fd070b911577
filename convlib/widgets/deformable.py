"""The deformable-convolution explorer: move, scale and rotate the sampling grid of one 3×3
kernel and see where it samples the image and what it outputs.

A deformable convolution (Dai et al., 2017) adds a learned, fractional offset ``(dy, dx)`` to
every kernel tap at every output position and reads the input there by bilinear
interpolation. Here the offsets are set by hand, the same for every output position, from four
numbers: a global shift ``(dy, dx)``, a scale factor and a rotation angle of the whole grid.

The explorer pattern of the book (see STYLE.md):

- :func:`grid_offsets` / :func:`offset_field` — the per-tap offsets of a shifted, scaled,
  rotated grid, and the full ``offset`` tensor :func:`convlib.functional.deform_conv2d` takes;
- :func:`bilinear_terms` — the four corners, weights and pixel values of one bilinear sample;
- :func:`deform_state` — pure numpy: sampling positions of one output, the sampled values,
  the output (deformable and plain), all from :func:`convlib.functional.deform_conv2d`;
- :func:`deform_svg` / :func:`deform_view` — a state as SVG; :func:`deformable_explorer` — the
  ipywidgets shell; :func:`deformable_gallery` — the static fallback (presets pre-rendered).

See: chapter Deformable convolution.
"""

from __future__ import annotations

import base64
import html as _html
import math
from typing import Optional, Sequence

import numpy as np

from convlib import functional as F
from convlib._validate import as_array, nonnegative_pair, positive_pair
from convlib.widgets.transposed import _png
from convlib.widgets.player import playable

__all__ = ["grid_offsets", "offset_field", "bilinear_terms", "deform_state", "deform_svg",
           "deform_view", "deformable_explorer", "deformable_gallery", "demo_deform_image",
           "DEFORM_PRESETS"]

# title -> (dy, dx, scale, angle in degrees): the gallery and the explorer's starting points
DEFORM_PRESETS: dict[str, tuple[float, float, float, float]] = {
    "regular grid (zero offsets)": (0.0, 0.0, 1.0, 0.0),
    "shifted by (1.5, -2)": (1.5, -2.0, 1.0, 0.0),
    "scaled ×2.5 (a dilated grid)": (0.0, 0.0, 2.5, 0.0),
    "rotated 30°": (0.0, 0.0, 1.0, 30.0),
    "scaled ×2, rotated 45°": (0.0, 0.0, 2.0, 45.0),
    "shrunk ×0.5": (0.0, 0.0, 0.5, 0.0),
}


def _number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    if not math.isfinite(float(v)):
        raise ValueError(f"{name} must be finite, got {v}")
    return float(v)


def grid_offsets(kernel_size=3, dy: float = 0.0, dx: float = 0.0, scale: float = 1.0,
                 angle: float = 0.0, dilation=1) -> np.ndarray:
    """Per-tap offsets ``(kh * kw, 2)`` (columns ``dy, dx``; tap ``t = i * kw + j``) that move the
    regular grid of a ``kh × kw`` kernel to the grid scaled by ``scale`` and rotated by ``angle``
    degrees (counter-clockwise as drawn, y pointing down) about the kernel centre, then
    shifted by ``(dy, dx)``::

        r_t = (i - (kh-1)/2, j - (kw-1)/2) * dilation        (tap position relative to the centre)
        new_t = scale * Rot(angle) r_t + (dy, dx),   offset_t = new_t - r_t

    >>> grid_offsets(3, dy=1.0)[:2]
    array([[1., 0.],
           [1., 0.]])

    See: chapter Deformable convolution.
    """
    kh, kw = positive_pair(kernel_size, "kernel_size")
    d = positive_pair(dilation, "dilation")
    dy, dx = _number(dy, "dy"), _number(dx, "dx")
    scale, angle = _number(scale, "scale"), _number(angle, "angle")
    i, j = np.divmod(np.arange(kh * kw), kw)
    ry = (i - (kh - 1) / 2) * d[0]
    rx = (j - (kw - 1) / 2) * d[1]
    a = math.radians(angle)
    ny = scale * (math.cos(a) * ry - math.sin(a) * rx) + dy    # y points down: this turns
    nx = scale * (math.sin(a) * ry + math.cos(a) * rx) + dx    # counter-clockwise on screen
    return np.stack([ny - ry, nx - rx], axis=1)


def offset_field(tap_offsets, out_size, batch: int = 1) -> np.ndarray:
    """The ``offset`` argument of :func:`convlib.functional.deform_conv2d` that applies the same
    per-tap offsets ``(K, 2)`` at every output position: ``(batch, 2K, H_out, W_out)``, ``dy``
    and ``dx`` interleaved per tap (channel ``2t`` is ``dy`` of tap ``t``, ``2t + 1`` its ``dx``).

    See: chapter Deformable convolution.
    """
    off = as_array(tap_offsets, "tap_offsets", 2, "(K, 2)")
    if off.shape[1] != 2:
        raise ValueError(f"tap_offsets must have shape (K, 2) (dy, dx per tap), got {off.shape}")
    ho, wo = positive_pair(out_size, "out_size")
    flat = off.reshape(1, -1, 1, 1).astype(np.float64)
    return np.repeat(np.broadcast_to(flat, (1, flat.shape[1], ho, wo)), batch, axis=0)


def bilinear_terms(image, y: float, x: float) -> list[tuple[int, int, float, float]]:
    """The four terms of the bilinear sample of ``image (H, W)`` at ``(y, x)``:
    ``(row, col, weight, value)`` for the corners ``(y0, x0), (y0, x0+1), (y0+1, x0),
    (y0+1, x0+1)`` with ``y0 = floor(y)``, ``ly = y - y0``, weights ``(1-ly)(1-lx)``,
    ``(1-ly) lx``, ``ly (1-lx)``, ``ly lx``; a corner outside the image has value 0.
    The sample is ``sum(weight * value)``.

    See: chapter Deformable convolution.
    """
    img = as_array(image, "image", 2, "(H, W)")
    y, x = _number(y, "y"), _number(x, "x")
    h, w = img.shape
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    out = []
    for ay, wy in ((0, 1 - ly), (1, ly)):
        for ax, wx in ((0, 1 - lx), (1, lx)):
            r, c = y0 + ay, x0 + ax
            v = float(img[r, c]) if 0 <= r < h and 0 <= c < w else 0.0
            out.append((r, c, wy * wx, v))
    return out


def demo_deform_image(size: int = 16) -> np.ndarray:
    """A ``(size, size)`` test picture for the explorer: a bright disk on a faint diagonal
    gradient (float64 in [0, 1]), so the sampled values change smoothly with position."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2
    disk = ((yy - c) ** 2 + (xx - c - 1.5) ** 2 <= (size / 5) ** 2).astype(np.float64)
    return 0.15 + 0.25 * (xx + yy) / (2 * size) + 0.6 * disk


def deform_state(image, weight=None, position=None, dy: float = 0.0, dx: float = 0.0,
                 scale: float = 1.0, angle: float = 0.0, padding=None, mask=None) -> dict:
    """Everything the explorer shows for one output ``position`` of a one-channel deformable
    convolution (stride 1, dilation 1) whose offsets are :func:`grid_offsets` at every position.

    ``image (H, W)``, ``weight (kh, kw)`` (default: a 3×3 box filter of ones / 9),
    ``position`` (row, col) of the output (default the centre), ``padding`` (default "same",
    ``(k - 1) // 2``), ``mask`` optional ``(K,)`` modulation per tap (v2).
    Returns a dict: ``regular`` and ``positions`` ``(K, 2)`` (absolute ``(y, x)`` of every tap
    before and after the offsets), ``offsets`` ``(K, 2)``, ``samples (K,)`` (bilinear values,
    0 outside), ``inside (K,)`` (sample not entirely in the zero region), ``value`` (the
    deformable output at ``position``, from :func:`convlib.functional.deform_conv2d`),
    ``plain`` (the ordinary conv output there), ``output (H_out, W_out)``, and the arguments.

    See: chapter Deformable convolution.
    """
    img = as_array(image, "image", 2, "(H, W)").astype(np.float64)
    wgt = (np.full((3, 3), 1 / 9) if weight is None
           else as_array(weight, "weight", 2, "(kh, kw)").astype(np.float64))
    kh, kw = wgt.shape
    pad = ((kh - 1) // 2, (kw - 1) // 2) if padding is None else nonnegative_pair(padding, "padding")
    h, w = img.shape
    ho, wo = h + 2 * pad[0] - kh + 1, w + 2 * pad[1] - kw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"the {kh}x{kw} kernel does not fit the image {h}x{w} with padding {pad}")
    p, q = ((ho - 1) // 2, (wo - 1) // 2) if position is None else tuple(int(v) for v in position)
    if not (0 <= p < ho and 0 <= q < wo):
        raise ValueError(f"position {(p, q)} is outside the {ho}x{wo} output")
    offsets = grid_offsets((kh, kw), dy, dx, scale, angle)
    field = offset_field(offsets, (ho, wo))
    m = None
    if mask is not None:
        mv = as_array(mask, "mask", 1, "(kh * kw,)").astype(np.float64)
        if mv.shape[0] != kh * kw:
            raise ValueError(f"mask must have {kh * kw} entries (one per tap), got {mv.shape[0]}")
        m = np.broadcast_to(mv.reshape(1, -1, 1, 1), (1, kh * kw, ho, wo)).copy()
    out = F.deform_conv2d(img[None, None], field, wgt[None, None], padding=pad, mask=m)[0, 0]
    plain = F.conv2d(img[None, None], wgt[None, None], padding=pad)[0, 0]
    i, j = np.divmod(np.arange(kh * kw), kw)
    regular = np.stack([p - pad[0] + i, q - pad[1] + j], axis=1).astype(np.float64)
    positions = regular + offsets
    samples = np.array([sum(wt * v for _, _, wt, v in bilinear_terms(img, y, x))
                        for y, x in positions])
    inside = ((positions[:, 0] > -1) & (positions[:, 0] < h)
              & (positions[:, 1] > -1) & (positions[:, 1] < w))
    return {"image": img, "weight": wgt, "position": (p, q), "padding": pad,
            "dy": float(dy), "dx": float(dx), "scale": float(scale), "angle": float(angle),
            "mask": None if mask is None else mv, "regular": regular, "offsets": offsets,
            "positions": positions, "samples": samples, "inside": inside,
            "value": float(out[p, q]), "plain": float(plain[p, q]), "output": out}


# ----------------------------------------------------------------------------- drawing
def deform_svg(state: dict, cell: float = 18.0) -> str:
    """A state of :func:`deform_state` as SVG: the image (grey PNG ``data-role="image"``), the
    regular grid of the chosen output (hollow grey circles, ``data-role="regular"``), the
    deformed sampling points (orange dots, ``data-role="sample"``, each with ``data-y`` /
    ``data-x``) joined to their regular tap by a line, and a caption with the values.

    See: chapter Deformable convolution.
    """
    img = state["image"]
    h, w = img.shape
    cell = max(4, int(round(cell)))
    margin = 2 * cell                    # room for samples that leave the image
    grey = np.clip(np.rint(255 * (0.25 + 0.75 * img / max(img.max(), 1e-12))), 0, 255)
    rgb = np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    big = np.repeat(np.repeat(rgb, cell, 0), cell, 1)
    big[::cell, :] = np.minimum(big[::cell, :], 200)
    big[:, ::cell] = np.minimum(big[:, ::cell], 200)
    png = base64.b64encode(_png(big)).decode("ascii")

    def xy(y, x):  # pixel centre (y, x) -> svg coordinates
        return margin + (x + 0.5) * cell, margin + (y + 0.5) * cell

    parts = [f'<rect x="0" y="0" width="{w * cell + 2 * margin}" height="{h * cell + 2 * margin}" '
             f'fill="#f7f7f7"/>',
             f'<image x="{margin}" y="{margin}" width="{w * cell}" height="{h * cell}" '
             f'data-role="image" href="data:image/png;base64,{png}"/>']
    for (ry, rx), (sy, sx) in zip(state["regular"], state["positions"]):
        (x1, y1), (x2, y2) = xy(ry, rx), xy(sy, sx)
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'stroke="#d94801" stroke-width="1.2" opacity="0.7"/>')
    for ry, rx in state["regular"]:
        cx, cy = xy(ry, rx)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{cell * 0.28:.1f}" fill="none" '
                     f'stroke="#2171b5" stroke-width="1.5" data-role="regular"/>')
    for (sy, sx), ok in zip(state["positions"], state["inside"]):
        cx, cy = xy(sy, sx)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{cell * 0.22:.1f}" '
                     f'fill="{"#d94801" if ok else "#ffffff"}" stroke="#d94801" stroke-width="1.2" '
                     f'data-role="sample" data-y="{sy:.4f}" data-x="{sx:.4f}"/>')
    width, side = w * cell + 2 * margin, h * cell + 2 * margin
    lines = [f"shift ({state['dy']:g}, {state['dx']:g}), scale {state['scale']:g}, "
             f"angle {state['angle']:g}°",
             f"output {state['position']}: {state['value']:.4f} (plain {state['plain']:.4f})",
             f"{int((~state['inside']).sum())} of {len(state['inside'])} taps read only zeros"]
    for k, line in enumerate(lines):
        parts.append(f'<text x="4" y="{side + 14 + 15 * k}" font-size="12" '
                     f'font-family="sans-serif">{_html.escape(line)}</text>')
    height = side + 16 + 15 * len(lines)
    width = max(width, 260)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">' + "".join(parts) + "</svg>")


def deform_view(image=None, dy: float = 0.0, dx: float = 0.0, scale: float = 1.0,
                angle: float = 0.0, position=None, cell: float = 16.0) -> str:
    """The HTML the explorer shows for one setting; bad settings explain themselves.

    See: chapter Deformable convolution.
    """
    try:
        img = demo_deform_image() if image is None else image
        return deform_svg(deform_state(img, None, position, dy, dx, scale, angle), cell)
    except (ValueError, TypeError) as exc:
        return ('<div style="font:13px sans-serif;padding:8px;border-left:4px solid #d94801;'
                f'background:#fff5eb">Nothing to show: {_html.escape(str(exc))}</div>')


def deformable_gallery(presets: Optional[dict] = None, image=None, cell: float = 11.0):
    """The static explorer: one pre-rendered sampling picture per preset
    ``title -> (dy, dx, scale, angle)``, as ``IPython.display.HTML`` (no kernel needed).

    See: chapter Deformable convolution.
    """
    from IPython.display import HTML

    presets = DEFORM_PRESETS if presets is None else presets
    blocks = [f'<div style="display:inline-block;vertical-align:top;margin:6px 14px 6px 0">'
              f'<div style="font:bold 13px sans-serif">{_html.escape(title)}</div>'
              f'{deform_view(image, *values, cell=cell)}</div>' for title, values in presets.items()]
    return HTML('<div class="deformable-gallery">' + "".join(blocks) + "</div>")


@playable
def deformable_explorer(image=None, dy: float = 0.0, dx: float = 0.0, scale: float = 1.0,
                        angle: float = 0.0, sizes: Sequence[float] = (3.0, 3.0, 3.0)):
    """An ipywidgets box: sliders for the global shift ``dy``, ``dx`` (± ``sizes[0]`` pixels),
    the scale (0 to ``sizes[1]``) and the rotation angle (-180° to 180°) of the 3×3 sampling
    grid, plus the output position; the picture and the output value follow.
    :func:`deformable_gallery` is its static fallback.

    See: chapter Deformable convolution.
    """
    import ipywidgets as W

    img = demo_deform_image() if image is None else as_array(image, "image", 2, "(H, W)")
    h, w = img.shape
    style = {"description_width": "50px"}
    s_dy = W.FloatSlider(value=dy, min=-sizes[0], max=sizes[0], step=0.25, description="dy", style=style)
    s_dx = W.FloatSlider(value=dx, min=-sizes[0], max=sizes[0], step=0.25, description="dx", style=style)
    s_sc = W.FloatSlider(value=scale, min=0.0, max=sizes[1], step=0.25, description="scale", style=style)
    s_an = W.FloatSlider(value=angle, min=-180, max=180, step=15, description="angle", style=style)
    s_r = W.IntSlider(value=(h - 1) // 2, min=0, max=h - 1, description="row", style=style)
    s_c = W.IntSlider(value=(w - 1) // 2, min=0, max=w - 1, description="col", style=style)
    view = W.HTML()

    def refresh(_change=None) -> None:
        view.value = deform_view(img, s_dy.value, s_dx.value, s_sc.value, s_an.value,
                                 (s_r.value, s_c.value))

    sliders = [s_dy, s_dx, s_sc, s_an, s_r, s_c]
    for s in sliders:
        s.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([W.VBox(sliders[:3]), W.VBox(sliders[3:])]), view])
