"""The receptive-field explorer: build a stack of layers, pick an output, see what it sees.

The explorer pattern of the book (see STYLE.md), in three pieces:

- :func:`rf_stack_state` — pure numpy/stdlib: for a stack of conv / pooling layers (the same
  on both axes), an input size and one output position, the receptive field ``r``, effective
  stride ``S``, effective padding ``P`` and centre ``c`` (Araujo et al., via
  :func:`convlib.receptive_field.receptive_field`), the input region, and, level by level,
  exactly which cells the output depends on (holes included, so dilation's gaps show);
- :func:`rf_svg` — that state drawn as an SVG string (no plotting library: ~1 ms a redraw):
  a one-axis "tower" of the levels, and the 2-D input with the receptive field on it;
- :func:`rf_explorer` — the ipywidgets shell; :func:`rf_gallery` — the static fallback,
  a row of pre-rendered presets that the HTML book shows with no kernel.

See: chapter Receptive field.
"""

from __future__ import annotations

import html as _html
from typing import Optional, Sequence, Union

import numpy as np

from convlib._validate import as_pair, nonnegative_int, positive_int
from convlib.receptive_field import Layer, ReceptiveField, receptive_field
from convlib.widgets.player import playable

__all__ = ["rf_stack_state", "rf_support", "rf_svg", "rf_view", "rf_explorer", "rf_gallery",
           "PRESETS", "PRESET_SIZES"]

LayerSpec = Union[Layer, Sequence[int]]

# Presets of the gallery and the explorer: title -> layers as (kernel, stride, padding, dilation).
PRESETS: dict[str, list[tuple[int, int, int, int]]] = {
    "three 3×3 convs": [(3, 1, 1, 1), (3, 1, 1, 1), (3, 1, 1, 1)],
    "3×3 conv, 2×2 pool, 3×3 conv": [(3, 1, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1)],
    "dilated 3×3, rates 1, 2, 4": [(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)],
    "dilation 2 twice (gridding)": [(3, 1, 2, 2), (3, 1, 2, 2)],
    "AlexNet's start: 11/4, pool 3/2": [(11, 4, 2, 1), (3, 2, 0, 1)],
}
# Input size each preset is shown on (large enough for the stack to have several outputs).
PRESET_SIZES = {"AlexNet's start: 11/4, pool 3/2": 36}

_IN, _PAD, _HIT, _HIT_PAD, _OUT, _CUR = ("#c6dbef", "#ffffff", "#2171b5", "#6baed6",
                                         "#c7e9c0", "#238b45")


def rf_support(layers: Sequence[Layer], sizes: Sequence[int], index: int,
               virtual: bool = False) -> list[np.ndarray]:
    """Cells each level depends on, for output ``index`` of the last layer (one axis).

    ``sizes``: ``[input size, size after layer 1, ..., size after layer L]``. Returns
    ``L + 1`` sorted int arrays, level 0 (input) first. Going back through layer ``l``
    (kernel ``k``, stride ``s``, padding ``p``, dilation ``d``), output cell ``o`` reads cells
    ``o*s - p + t*d`` for ``t = 0..k-1`` of the level below. With ``virtual=False`` cells in
    the padding (``< 0`` or ``>= size``) are zeros and lead nowhere: what remains is exactly
    the set of input pixels the output depends on. With ``virtual=True`` padding cells are
    followed too: the extent then equals Araujo et al.'s region ``[index*S - P,
    index*S - P + r - 1]``.

    See: chapter Receptive field.
    """
    cells = np.array([nonnegative_int(index, "index")])
    out = [cells]
    for layer, size in zip(reversed(list(layers)), reversed(list(sizes[:-1]))):
        taps = np.arange(layer.kernel) * layer.dilation - layer.padding
        cells = np.unique((cells[:, None] * layer.stride + taps[None, :]).ravel())
        if not virtual:
            cells = cells[(cells >= 0) & (cells < size)]
        out.append(cells)
    return out[::-1]


def _layers(layers: Sequence[LayerSpec]) -> list[Layer]:
    if isinstance(layers, (Layer, str)) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
    if not layers:
        raise ValueError("layers must hold at least one layer")
    out = []
    for n, spec in enumerate(layers):
        if isinstance(spec, Layer):
            out.append(spec)
        elif isinstance(spec, (list, tuple)) and len(spec) in (3, 4):
            out.append(Layer(*spec, name=f"layer {n + 1}"))
        else:
            raise TypeError(f"layers[{n}] must be a Layer or (kernel, stride, padding[, dilation]), "
                            f"got {spec!r}")
    return out


def rf_stack_state(layers: Sequence[LayerSpec], input_size: int = 16,
                   position: Optional[Union[int, Sequence[int]]] = None) -> dict:
    """Everything the explorer shows for one stack, one input size and one output cell.

    layers: ``Layer`` records or ``(kernel, stride, padding[, dilation])`` tuples, applied
    alike to rows and columns; input_size: ``H = W`` of the input; position: the output cell
    ``(i, j)`` (an int means ``(i, i)``; default: the centre of the last feature map).

    Returns a dict: ``records`` (one :class:`~convlib.receptive_field.ReceptiveField` per
    layer), ``sizes`` ``[H, H_1, ..., H_L]``, ``r``, ``S``, ``P``, ``c`` of the last layer,
    ``position``, ``rows`` / ``cols`` (first, last) input pixels of the region,
    ``centre`` (row, col) = ``(c + i*S, c + j*S)``, ``support`` / ``virtual``
    (:func:`rf_support` along the rows, per level), ``mask`` ``(H, H)`` bool (the input pixels
    the output depends on), ``outside`` (how many of the ``r`` rows of the region are padding).
    Raises ``ValueError`` naming the problem when a layer has no output or ``position`` is
    outside the last feature map. Inputs are not modified.

    See: chapter Receptive field.
    """
    specs = _layers(layers)
    n = positive_int(input_size, "input_size")
    records = receptive_field(specs, input_size=n)   # raises if a window does not fit
    sizes = [n] + [rec.output_size for rec in records]
    last = records[-1]
    out = last.output_size
    if position is None:
        i = j = (out - 1) // 2
    else:
        i, j = as_pair(position, "position")
        if not (0 <= i < out and 0 <= j < out):
            raise ValueError(f"position {(i, j)} is outside the {out}x{out} output of the last layer")
    rows = (i * last.stride - last.padding, i * last.stride - last.padding + last.size - 1)
    cols = (j * last.stride - last.padding, j * last.stride - last.padding + last.size - 1)
    support_r = rf_support(specs, sizes, i)
    support_c = rf_support(specs, sizes, j)
    mask = np.zeros((n, n), bool)
    mask[np.ix_(support_r[0], support_c[0])] = True
    outside = sum(1 for v in range(rows[0], rows[1] + 1) if v < 0 or v >= n)
    return {
        "layers": specs, "records": records, "sizes": sizes,
        "r": last.size, "S": last.stride, "P": last.padding, "c": last.center,
        "position": (i, j), "rows": rows, "cols": cols,
        "centre": (last.center + i * last.stride, last.center + j * last.stride),
        "support": support_r, "virtual": rf_support(specs, sizes, i, virtual=True),
        "mask": mask, "outside": outside,
    }


# ----------------------------------------------------------------------------- drawing
def _rect(x, y, w, h, fill, stroke="#555", dash=False, width=1.0, extra="") -> str:
    d = ' stroke-dasharray="3,2"' if dash else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"{d}{extra}/>')


def _text(x, y, s, size=11, anchor="start", color="#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-family="sans-serif" '
            f'text-anchor="{anchor}" fill="{color}">{_html.escape(s)}</text>')


def _fmt(v: float) -> str:
    return str(int(v)) if float(v) == int(v) else f"{v:g}"


def _tower(state: dict, x0: float, y0: float, cell: float) -> tuple[list[str], float, float]:
    """The one-axis picture: one row of cells per level, input at the bottom."""
    sizes, support, virtual = state["sizes"], state["support"], state["virtual"]
    lo = min(0, int(min(v.min() for v in virtual)))
    hi = max(max(sizes), int(max(v.max() for v in virtual)) + 1)
    label_w = 168
    parts, n_levels = [], len(sizes)
    row_h = cell + 16
    for level in range(n_levels):
        y = y0 + (n_levels - 1 - level) * row_h
        size = sizes[level]
        real, virt = set(support[level].tolist()), set(virtual[level].tolist())
        top = level == n_levels - 1
        for v in range(lo, hi):
            inside = 0 <= v < size
            if not inside and v not in virt:
                continue
            x = x0 + label_w + (v - lo) * cell
            if top and v == state["position"][0]:
                fill, role = _CUR, "current"
            elif v in real:
                fill, role = (_HIT if inside else _HIT_PAD), ("rf" if inside else "rf-padding")
            elif v in virt:
                fill, role = _HIT_PAD, "rf-padding"
            else:
                fill, role = (_OUT if top else _IN), ""
            parts.append(_rect(x, y, cell, cell, fill, dash=not inside,
                               extra=f' data-role="{role}"' if role else ""))
        if level == 0:
            name = f"input ({size})"
        else:
            rec = state["records"][level - 1]
            lay = rec.layer
            d = f", d{lay.dilation}" if lay.dilation > 1 else ""
            name = (f"k{lay.kernel} s{lay.stride} p{lay.padding}{d} → {size}: "
                    f"r={rec.size} S={rec.stride} P={rec.padding}")
        parts.append(_text(x0, y + cell * 0.8, name, 10))
    width = label_w + (hi - lo) * cell
    return parts, width, n_levels * row_h


def _image(state: dict, x0: float, y0: float, cell: float) -> tuple[list[str], float, float]:
    """The 2-D input: the pixels the output depends on, the region's outline, the centre."""
    n = state["sizes"][0]
    (r0, r1), (c0, c1) = state["rows"], state["cols"]
    lo_r, lo_c = min(0, r0), min(0, c0)
    hi_r, hi_c = max(n, r1 + 1), max(n, c1 + 1)
    ox = x0 + (0 - lo_c) * cell
    oy = y0 + 16 + (0 - lo_r) * cell
    parts = [_text(x0, y0 + 11, f"input {n}×{n}, output {state['position']}", 12)]
    mask = state["mask"]
    for a in range(n):
        for b in range(n):
            parts.append(_rect(ox + b * cell, oy + a * cell, cell, cell,
                               _HIT if mask[a, b] else _IN, stroke="#888", width=0.5,
                               extra=' data-role="rf"' if mask[a, b] else ""))
    parts.append(_rect(ox + c0 * cell, oy + r0 * cell, (c1 - c0 + 1) * cell,
                       (r1 - r0 + 1) * cell, "none", stroke="#d94801", dash=True, width=2,
                       extra=' data-role="region"'))
    cy, cx = state["centre"]
    parts.append(f'<circle cx="{ox + (cx + 0.5) * cell:.1f}" cy="{oy + (cy + 0.5) * cell:.1f}" '
                 f'r="{max(2.5, cell * 0.3):.1f}" fill="#d94801" data-role="centre"/>')
    return parts, max((hi_c - lo_c) * cell, 150), 16 + (hi_r - lo_r) * cell


def rf_svg(state: dict, cell: Optional[float] = None) -> str:
    """The state of :func:`rf_stack_state` as one SVG string (tower left, input right).

    Tower: one row of cells per level along the rows axis, input at the bottom; dark cells
    are the ones the chosen output (dark green) depends on, dashed cells are padding.
    Input: dark pixels are the receptive field, the dashed orange box is the full region
    ``[i*S - P, i*S - P + r - 1]`` (it may run into the padding), the dot is its centre.
    Cells carry ``data-role`` "rf", "rf-padding", "current", "region", "centre".

    See: chapter Receptive field.
    """
    span = max(max(state["sizes"]), state["r"]) + 2 * state["P"]
    cell = cell or float(np.clip(250 / max(span, 1), 4, 14))
    tower, tw, th = _tower(state, 4, 4, cell)
    img_cell = float(np.clip(230 / max(state["sizes"][0] + 2 * state["P"], 1), 3, 14))
    image, iw, ih = _image(state, tw + 30, 4, img_cell)
    r, S, P, c = state["r"], state["S"], state["P"], state["c"]
    caption = (f"r = {r}, S = {S}, P = {P}, c = -P + (r-1)/2 = {_fmt(c)};  "
               f"rows {state['rows'][0]}…{state['rows'][1]}, "
               f"cols {state['cols'][0]}…{state['cols'][1]}"
               + (f" ({state['outside']} rows of padding)" if state["outside"] else ""))
    width, height = tw + 30 + iw + 8, max(th, ih) + 30
    parts = tower + image + [_text(4, height - 8, caption, 12)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:100%;height:auto">'
            + "".join(parts) + "</svg>")


def rf_view(layers: Sequence[LayerSpec], input_size: int = 16,
            position: Optional[Union[int, Sequence[int]]] = None) -> tuple[str, int]:
    """``(html, output_size)`` for one setting: the one call the widget makes per change.

    Impossible settings give an explanation (and output size 0) instead of an exception.
    See: chapter Receptive field.
    """
    try:
        state = rf_stack_state(layers, input_size, position)
    except (ValueError, TypeError) as exc:
        return ('<div style="font:13px sans-serif;padding:8px;border-left:4px solid #d94801;'
                f'background:#fff5eb">No receptive field to show: {_html.escape(str(exc))}</div>', 0)
    return rf_svg(state), state["sizes"][-1]


def rf_gallery(presets: Optional[dict] = None, input_size: int = 16):
    """The static explorer: one pre-rendered picture per preset stack, as ``IPython.display.HTML``.

    presets: ``{title: layers}`` (default :data:`PRESETS`, each on its size in
    ``PRESET_SIZES``, else ``input_size``). Works in the HTML book with no kernel.
    See: chapter Receptive field.
    """
    from IPython.display import HTML

    presets = PRESETS if presets is None else presets
    blocks = []
    for title, layers in presets.items():
        svg, _ = rf_view(layers, PRESET_SIZES.get(title, input_size))
        blocks.append(f'<div style="margin:10px 0"><div style="font:bold 13px sans-serif">'
                      f'{_html.escape(title)}</div>{svg}</div>')
    return HTML('<div class="rf-gallery">' + "".join(blocks) + "</div>")


@playable
def rf_explorer(layers: Optional[Sequence[LayerSpec]] = None, input_size: int = 16):
    """An ipywidgets box: add / remove layers, set kernel, stride, padding and dilation of
    each, the input size and the output position; the picture and ``r, S, P, c`` follow.

    Returns the box. In the static book it shows its state at save time; :func:`rf_gallery`
    is the static fallback. See: chapter Receptive field.
    """
    import ipywidgets as W

    start = [tuple(v) for v in (layers or PRESETS["3×3 conv, 2×2 pool, 3×3 conv"])]
    box_layout = W.Layout(width="92px")
    rows: list[tuple] = []
    rows_box = W.VBox()
    size = W.IntSlider(value=positive_int(input_size, "input_size"), min=4, max=40,
                       description="input size", style={"description_width": "80px"})
    pos_i = W.IntSlider(value=0, min=0, max=1, description="output row",
                        style={"description_width": "80px"})
    pos_j = W.IntSlider(value=0, min=0, max=1, description="output col",
                        style={"description_width": "80px"})
    named = [k for k, v in PRESETS.items() if [tuple(x) for x in v] == start]
    preset = W.Dropdown(options=list(PRESETS), value=named[0] if named else None,
                        description="preset", style={"description_width": "80px"})
    add = W.Button(description="add layer", icon="plus", layout=W.Layout(width="110px"))
    view = W.HTML()
    busy = {"now": False}

    def current() -> list[tuple[int, int, int, int]]:
        return [tuple(w.value for w in r[:4]) for r in rows]

    def refresh(_change=None) -> None:
        if busy["now"]:
            return
        busy["now"] = True
        try:
            _, out = rf_view(current(), size.value, 0)
            for slider in (pos_i, pos_j):
                slider.max = max(out - 1, 1)
                slider.disabled = out <= 1
                if out and slider.value >= out:
                    slider.value = (out - 1) // 2
            view.value = rf_view(current(), size.value,
                                 (pos_i.value, pos_j.value) if out else None)[0]
        finally:
            busy["now"] = False

    def make_row(spec) -> tuple:
        k, s, p, d = (list(spec) + [1])[:4]
        ws = [W.BoundedIntText(value=v, min=lo, max=hi, description=name, layout=box_layout,
                               style={"description_width": "14px"})
              for v, lo, hi, name in ((k, 1, 15, "k"), (s, 1, 4, "s"), (p, 0, 8, "p"),
                                      (d, 1, 6, "d"))]
        rm = W.Button(description="remove", layout=W.Layout(width="80px"))
        row = (*ws, rm)
        for w in ws:
            w.observe(refresh, names="value")
        rm.on_click(lambda _b, row=row: remove(row))
        return row

    def layout_rows() -> None:
        rows_box.children = [W.HBox([W.Label(f"layer {n + 1}", layout=W.Layout(width="60px")),
                                     *r]) for n, r in enumerate(rows)]

    def remove(row) -> None:
        if len(rows) > 1:
            rows.remove(row)
            layout_rows()
            refresh()

    def set_stack(specs) -> None:
        rows.clear()
        rows.extend(make_row(s) for s in specs)
        layout_rows()
        pos_i.value = pos_j.value = 0
        refresh()
        _, out = rf_view(current(), size.value, 0)
        if out:
            pos_i.value = pos_j.value = (out - 1) // 2

    add.on_click(lambda _b: (rows.append(make_row((3, 1, 1, 1))), layout_rows(), refresh()))
    def choose(change) -> None:
        busy["now"] = True
        size.value = PRESET_SIZES.get(change["new"], size.value)
        busy["now"] = False
        set_stack(PRESETS[change["new"]])

    preset.observe(choose, names="value")
    for w in (size, pos_i, pos_j):
        w.observe(refresh, names="value")
    set_stack(start)
    return W.VBox([W.HBox([preset, add]), rows_box, W.HBox([size, pos_i, pos_j]), view])
