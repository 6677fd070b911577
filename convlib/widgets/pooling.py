"""The pooling explorer: forward values and backward gradients, side by side.

The explorer pattern of the book (see :mod:`convlib.widgets.sliding_window`):
:func:`pooling_state` computes everything the explorer shows (numpy only, unit-tested),
:func:`pooling_html` draws it as plain HTML tables (a redraw is about a millisecond),
:func:`pooling_explorer` is the thin ipywidgets shell and :func:`pooling_static` the
fallback for the static book (a small gallery of pre-rendered settings).

The values come from :mod:`convlib.functional` (``max_pool2d`` / ``avg_pool2d`` and their
backward functions). The window geometry is recomputed here from first principles, cell by
cell, so that the tests can hold the two against each other and against PyTorch.
"""

from __future__ import annotations

import html as _html
from typing import Any, Optional, Sequence, Union

import numpy as np

from convlib import functional as F
from convlib._validate import as_array, as_pair, nonnegative_int, one_of, positive_pair
from convlib.widgets.html import _cell as _td
from convlib.widgets.html import _table, message_html
from convlib.widgets.player import playable

__all__ = ["pooling_state", "pooling_html", "pooling_view", "pooling_explorer", "pooling_static",
           "demo_pool_input", "GALLERY"]

IntPair = Union[int, Sequence[int]]
MODES = ("max", "avg")
# The settings the static book shows in place of the sliders: one lesson each.
GALLERY = (
    dict(kernel_size=2, stride=2, mode="max"),                      # routes to the argmax
    dict(kernel_size=3, stride=1, mode="max"),                      # overlaps accumulate
    dict(kernel_size=2, stride=2, mode="avg"),                      # spreads equally
    dict(kernel_size=2, stride=2, ceil_mode=True, mode="max"),      # a window hangs off the edge
    dict(kernel_size=3, stride=2, padding=1, mode="avg"),           # padding counted in the mean
    dict(kernel_size=3, stride=2, padding=1, mode="avg", count_include_pad=False),
)

# cell kinds of the drawn (padded, extended) input grid
INPUT, PADDING, BEYOND = "input", "padding", "beyond"


def demo_pool_input(size: int = 5, seed: int = 3) -> np.ndarray:
    """A ``(size, size)`` grid of distinct small integers (a seeded permutation of 1..size²).

    Distinct values make every window's maximum unique, so the argmax is unambiguous.
    """
    size = nonnegative_int(size, "size")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    rng = np.random.default_rng(seed)
    return rng.permutation(size * size).reshape(size, size).astype(float) + 1.0


def _cell_kind(r: np.ndarray, n: int, p: int) -> np.ndarray:
    """Kind of each coordinate along one axis: input, padding or beyond the padded input."""
    kind = np.full(r.shape, INPUT, dtype=object)
    kind[(r < 0) | (r >= n)] = PADDING
    kind[(r < -p) | (r >= n + p)] = BEYOND
    return kind


def pooling_state(x: Any, kernel_size: IntPair = 2, stride: Optional[IntPair] = None,
                  padding: IntPair = 0, ceil_mode: bool = False, mode: str = "max",
                  count_include_pad: bool = True, grad_output: Optional[Any] = None,
                  position: Union[int, Sequence[int]] = 0) -> dict:
    """Everything the pooling explorer shows for one ``(H, W)`` input and one setting.

    Forward: ``y = max_pool2d(x)`` or ``avg_pool2d(x)`` (PyTorch semantics: ``stride=None``
    means ``stride = kernel_size``, ``padding`` per side and at most ``kernel_size // 2``,
    ``ceil_mode`` rounds the output size up). Backward: ``grad_input`` for ``grad_output``
    (default ``1, 2, ..., Ho*Wo`` row by row, so each gradient can be traced): max pooling
    sends ``g[i, j]`` to the argmax of window ``(i, j)``; average pooling adds
    ``g[i, j] / D[i, j]`` to every real cell of the window. Overlapping windows add up.

    Returns a dict: ``input_shape``, ``kernel_size``, ``stride``, ``padding``, ``ceil_mode``,
    ``mode``, ``count_include_pad``, ``output_shape``, ``n_positions``, ``position`` (flat),
    ``out_index``, ``output`` ``(Ho, Wo)``, ``grad_output``, ``grad_input`` ``(H, W)``,
    ``argmax`` ``(Ho, Wo, 2)`` (row, col of each maximum; max mode only, else None),
    ``divisor`` ``(Ho, Wo)`` (avg mode only, else None), ``coverage`` ``(H, W)`` (how many
    windows read each cell), ``grid_origin`` (row, col of input cell (0, 0) in the drawn grid),
    ``grid_kinds`` (the drawn grid: "input", "padding", or "beyond" for ceil-mode cells past
    the padding that no value comes from), ``rows`` / ``cols`` (``kh``,) / (``kw``,) of the
    current window in input coordinates, and ``value`` (its output). Raises ValueError (with
    the reason) for settings PyTorch refuses. ``x`` is not modified. See: chapter Pooling.
    """
    x = as_array(x, "x", ndim=2, layout="(H, W)")
    mode = one_of(mode, "mode", MODES)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"count_include_pad must be a bool, got {count_include_pad!r}")
    k = positive_pair(kernel_size, "kernel_size")
    s = k if stride is None else positive_pair(stride, "stride")
    p = as_pair(padding, "padding")
    x4 = x[None, None]
    if mode == "max":
        out, idx = F.max_pool2d(x4, k, s, p, ceil_mode=ceil_mode, return_indices=True)
    else:
        out = F.avg_pool2d(x4, k, s, p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    ho, wo = out.shape[2:]
    if grad_output is None:
        g = np.arange(1.0, ho * wo + 1.0).reshape(ho, wo)
    else:
        g = as_array(grad_output, "grad_output", ndim=2, layout="(Ho, Wo)")
        if g.shape != (ho, wo):
            raise ValueError(f"grad_output must have the output's shape {(ho, wo)}, got {g.shape}")
    if mode == "max":
        grad_in = F.max_pool2d_backward(g[None, None], idx, x4.shape)[0, 0]
        argmax = np.stack(np.divmod(idx[0, 0], x.shape[1]), axis=-1)
    else:
        grad_in = F.avg_pool2d_backward(g[None, None], x4.shape, k, s, p, ceil_mode=ceil_mode,
                                        count_include_pad=count_include_pad)[0, 0]
        argmax = None

    # Window geometry, cell by cell: window (i, j) starts at (i*s - p) and spans k cells.
    h, w = x.shape
    r0 = np.arange(ho) * s[0] - p[0]
    c0 = np.arange(wo) * s[1] - p[1]
    row_taps = r0[:, None] + np.arange(k[0])[None, :]          # (Ho, kh)
    col_taps = c0[:, None] + np.arange(k[1])[None, :]          # (Wo, kw)
    rk, ck = _cell_kind(row_taps, h, p[0]), _cell_kind(col_taps, w, p[1])
    divisor = None
    if mode == "avg":
        count = INPUT if not count_include_pad else None
        r_in = (rk == INPUT).sum(1) if count else (rk != BEYOND).sum(1)
        c_in = (ck == INPUT).sum(1) if count else (ck != BEYOND).sum(1)
        divisor = np.outer(r_in, c_in).astype(float)
    row_hits = np.zeros((ho, h), int)
    col_hits = np.zeros((wo, w), int)
    for a in range(k[0]):
        ok = (row_taps[:, a] >= 0) & (row_taps[:, a] < h)
        row_hits[np.flatnonzero(ok), row_taps[ok, a]] += 1
    for b in range(k[1]):
        ok = (col_taps[:, b] >= 0) & (col_taps[:, b] < w)
        col_hits[np.flatnonzero(ok), col_taps[ok, b]] += 1
    coverage = row_hits.sum(0)[:, None] * col_hits.sum(0)[None, :]

    # The drawn grid: padding on every side plus, in ceil mode, the overhang of the last window.
    top, left = p
    bottom = max(p[0], int(row_taps.max()) - h + 1)
    right = max(p[1], int(col_taps.max()) - w + 1)
    gr = np.arange(-top, h + bottom)
    gc = np.arange(-left, w + right)
    kinds_r, kinds_c = _cell_kind(gr, h, p[0]), _cell_kind(gc, w, p[1])
    grid_kinds = np.where((kinds_r[:, None] == BEYOND) | (kinds_c[None, :] == BEYOND), BEYOND,
                          np.where((kinds_r[:, None] == PADDING) | (kinds_c[None, :] == PADDING),
                                   PADDING, INPUT)).astype(object)

    n_positions = ho * wo
    if isinstance(position, (tuple, list)):
        i, j = as_pair(position, "position")
        if not (0 <= i < ho and 0 <= j < wo):
            raise ValueError(f"position {(i, j)} is outside the {ho}x{wo} output")
    else:
        flat = nonnegative_int(position, "position")
        if flat >= n_positions:
            raise ValueError(f"position must be in 0..{n_positions - 1} (the output has {ho}x{wo} "
                             f"cells), got {flat}")
        i, j = divmod(flat, wo)
    return {
        "input_shape": (h, w), "kernel_size": k, "stride": s, "padding": p,
        "ceil_mode": bool(ceil_mode), "mode": mode, "count_include_pad": bool(count_include_pad),
        "output_shape": (ho, wo), "n_positions": n_positions, "position": i * wo + j,
        "out_index": (i, j), "output": out[0, 0], "grad_output": g, "grad_input": grad_in,
        "argmax": argmax, "divisor": divisor, "coverage": coverage,
        "grid_origin": (top, left), "grid_kinds": grid_kinds,
        "rows": row_taps[i], "cols": col_taps[j], "value": float(out[0, 0, i, j]),
    }


# ---- HTML rendering (what the widget shows) ---------------------------------------------
COLOURS = {"input": "#c6dbef", "padding": "#ffffff", "beyond": "#eeeeee", "window": "#2171b5",
           "argmax": "#d94801", "output": "#c7e9c0", "current": "#238b45", "grad": "#fdd0a2",
           "grad_hot": "#e6550d", "zero": "#f7f7f7"}


def _num(v: float) -> str:
    """Short cell text: integers as such, other values with two decimals at most."""
    v = float(v)
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 0.01 else f"{v:.1g}"


def pooling_html(x: np.ndarray, state: dict) -> str:
    """HTML of the four grids: input (current window, its argmax), output, grad_output, grad_input.

    x: the ``(H, W)`` input of ``state = pooling_state(x, ...)``. Cells carry ``data-role``:
    "window" (a real cell of the current window), "window-padding" (padding in the window),
    "beyond" (a ceil-mode cell past the padding), "argmax" (the current window's maximum),
    "current" (the output / grad_output cell of the current window), "grad" (a non-zero
    gradient in grad_input). See: chapter Pooling.
    """
    x = np.asarray(x)
    top, left = state["grid_origin"]
    kinds = state["grid_kinds"]
    rows, cols = state["rows"], state["cols"]
    i, j = state["out_index"]
    am = tuple(state["argmax"][i, j]) if state["argmax"] is not None else None
    grid = []
    for gi in range(kinds.shape[0]):
        line = []
        for gj in range(kinds.shape[1]):
            r, c = gi - top, gj - left
            kind = kinds[gi, gj]
            inside = rows[0] <= r <= rows[-1] and cols[0] <= c <= cols[-1]
            text = _num(x[r, c]) if kind == INPUT else ("" if kind == BEYOND else "0" if state["mode"] == "avg" else "-∞")
            if kind == INPUT and am is not None and inside and (r, c) == am:
                line.append(_td(text, COLOURS["argmax"], "#fff", "2px solid #7f2704", "argmax",
                                f"x[{r}, {c}] = max of the window"))
            elif inside and kind == INPUT:
                line.append(_td(text, COLOURS["window"], "#fff", "2px solid #08306b", "window",
                                f"x[{r}, {c}]"))
            elif inside:
                line.append(_td(text, "#9ecae1" if kind == PADDING else "#d9d9d9", "#333",
                                "2px dashed #08306b", "window-padding" if kind == PADDING else "beyond"))
            elif kind == INPUT:
                line.append(_td(text, COLOURS["input"]))
            else:
                line.append(_td(text, COLOURS[kind], "#999", "1px dashed #999",
                                "beyond" if kind == BEYOND else ""))
        grid.append(line)
    ho, wo = state["output_shape"]

    def out_grid(values, base, role_current):
        return [[_td(_num(values[a, b]), COLOURS["current"] if (a, b) == (i, j) else base,
                     "#fff" if (a, b) == (i, j) else "#000",
                     "2px solid #00441b" if (a, b) == (i, j) else "1px solid #555",
                     role_current if (a, b) == (i, j) else "") for b in range(wo)] for a in range(ho)]

    gin = state["grad_input"]
    gmax = float(np.abs(gin).max()) or 1.0
    grad_rows = []
    for a in range(gin.shape[0]):
        line = []
        for b in range(gin.shape[1]):
            v = gin[a, b]
            if v == 0:
                line.append(_td("0", COLOURS["zero"], "#aaa"))
            else:
                hot = abs(v) > 0.5 * gmax
                line.append(_td(_num(v), COLOURS["grad_hot"] if hot else COLOURS["grad"],
                                "#fff" if hot else "#000", role="grad",
                                title=f"read by {state['coverage'][a, b]} window(s)"))
        grad_rows.append(line)
    h, w = state["input_shape"]
    k, s, p = state["kernel_size"], state["stride"], state["padding"]
    pair = lambda t: str(t[0]) if t[0] == t[1] else str(tuple(t))
    setting = (f"{state['mode']} pooling, kernel {pair(k)}, stride {pair(s)}, padding {pair(p)}"
               + (", ceil_mode" if state["ceil_mode"] else "")
               + ("" if state["mode"] == "max" else
                  f", count_include_pad={state['count_include_pad']}")
               + f": {h}x{w} -> {ho}x{wo}")
    if state["mode"] == "max":
        formula = (f"out[{i}, {j}] = max of the window = {_num(state['value'])} at x[{am[0]}, {am[1]}]; "
                   f"backward: grad_input[{am[0]}, {am[1]}] += grad_output[{i}, {j}] = "
                   f"{_num(state['grad_output'][i, j])}")
    else:
        d = state["divisor"][i, j]
        formula = (f"out[{i}, {j}] = (sum of the window) / {_num(d)} = {_num(state['value'])}; "
                   f"backward: each counted cell += grad_output[{i}, {j}] / {_num(d)} = "
                   f"{_num(state['grad_output'][i, j] / d)}")
    return (f'<div style="font:13px sans-serif">{_html.escape(setting)}</div>'
            '<div style="margin:6px 0">'
            + _table("input (+ padding)", grid)
            + _table(f"output {ho}x{wo}", out_grid(state["output"], COLOURS["output"], "current"))
            + '<span style="display:inline-block;width:18px"></span>'
            + _table("grad_output", out_grid(state["grad_output"], COLOURS["grad"], "current"))
            + _table(f"grad_input {h}x{w}", grad_rows)
            + "</div>"
            f'<div style="font:12px monospace">{_html.escape(formula)}</div>')


def pooling_view(x: Any, kernel_size: IntPair = 2, stride: Optional[IntPair] = None,
                 padding: IntPair = 0, ceil_mode: bool = False, mode: str = "max",
                 count_include_pad: bool = True, position: int = 0) -> tuple[str, int]:
    """``(html, n_positions)`` for one setting; an explanation and 0 for refused settings.

    The one call the widget makes per slider move. See: chapter Pooling.
    """
    try:
        st = pooling_state(x, kernel_size, stride, padding, ceil_mode, mode, count_include_pad,
                           position=position)
    except ValueError as exc:
        return message_html(str(exc)), 0
    return pooling_html(x, st), st["n_positions"]


@playable
def pooling_explorer(x: Optional[Any] = None, *, kernel_size: int = 2, stride: int = 2,
                     padding: int = 0, ceil_mode: bool = False, mode: str = "max") -> Any:
    """An ipywidgets box with sliders for the window and the pooling hyper-parameters.

    x: ``(H, W)`` input (default :func:`demo_pool_input`). Shows the input with the current
    window and its maximum, the output, grad_output (1, 2, 3, ... so each gradient can be
    followed) and grad_input. Refused settings (padding above half the kernel) show why.
    In the static book it shows its state at save time; :func:`pooling_static` is the
    gallery that stands in for the sliders. See: chapter Pooling.
    """
    import ipywidgets as W

    x = demo_pool_input() if x is None else as_array(x, "x", ndim=2, layout="(H, W)").copy()
    style = {"description_width": "80px"}
    layout = W.Layout(width="280px")
    ks = W.IntSlider(value=kernel_size, min=1, max=4, description="kernel", style=style, layout=layout)
    st = W.IntSlider(value=stride, min=1, max=3, description="stride", style=style, layout=layout)
    pd = W.IntSlider(value=padding, min=0, max=2, description="padding", style=style, layout=layout)
    pos = W.IntSlider(value=0, min=0, max=1, description="window", style=style, layout=layout)
    md = W.ToggleButtons(options=list(MODES), value=mode, description="mode", style=style)
    cm = W.Checkbox(value=ceil_mode, description="ceil_mode", indent=False)
    ci = W.Checkbox(value=True, description="count_include_pad", indent=False)
    view = W.HTML()
    busy = {"now": False}

    def refresh(_change=None) -> None:
        if busy["now"]:
            return
        busy["now"] = True
        try:
            args = (x, ks.value, st.value, pd.value, cm.value, md.value, ci.value)
            _, n = pooling_view(*args, position=0)
            if n:
                pos.max = max(n - 1, 1)
                pos.value = min(pos.value, n - 1)
            pos.disabled = n <= 1
            ci.disabled = md.value != "avg"
            view.value = pooling_view(*args, position=pos.value if n else 0)[0]
        finally:
            busy["now"] = False

    for control in (ks, st, pd, pos, md, cm, ci):
        control.observe(refresh, names="value")
    refresh()
    controls = W.HBox([W.VBox([ks, st, pd, pos]), W.VBox([md, cm, ci])])
    return W.VBox([controls, view])


def pooling_static(x: Optional[Any] = None, settings: Sequence[dict] = GALLERY,
                   dpi: int = 70) -> list:
    """The explorer for the static book: one pre-rendered figure per setting, in a column.

    Returns a list of matplotlib Figures (:func:`convlib.viz.draw_pooling` of each setting);
    a notebook shows them with ``plt.show()``. See: chapter Pooling.
    """
    from convlib.viz.pooling import draw_pooling

    x = demo_pool_input() if x is None else x
    return [draw_pooling(x, **dict(cfg), dpi=dpi) for cfg in settings]
