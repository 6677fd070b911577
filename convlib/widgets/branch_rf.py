"""The branch receptive-field explorer: two (or more) branches read the same input and are
merged; where does one merged output look, and are the branches centred on the same pixel?

The explorer pattern of the book (see STYLE.md), in three pieces:

- :func:`branch_rf_state` — pure stdlib/numpy: for branches given as chains of layers, an input
  size and an output index, every branch's field (``r``, ``S``, ``P``, centre, window), the
  merged field (their union), whether the centres line up, and whether the branches' output
  sizes agree (PyTorch can add or concatenate them only then);
- :func:`branch_rf_svg` / :func:`branch_rf_view` — that state as an SVG drawing (each
  branch's window and the merged one, as :func:`convlib.viz.branch_rf.draw_branch_windows`
  draws them with matplotlib for the chapter's figures) and one line of numbers;
- :func:`branch_rf_explorer` — the ipywidgets shell (kernel, stride, padding above and below
  per branch); :func:`branch_rf_gallery` — the static fallback, pre-rendered presets.

See: chapter Receptive fields of networks with branches.
"""

from __future__ import annotations

import html as _html
from typing import Optional, Sequence, Union

from convlib._validate import nonnegative_int, positive_int
from convlib.receptive_field import Layer, graph_receptive_field
from convlib.widgets.player import playable

__all__ = ["branch_rf_state", "branch_rf_svg", "branch_rf_view", "branch_rf_explorer",
           "branch_rf_gallery", "BRANCH_PRESETS"]

LayerSpec = Union[Layer, Sequence[int]]

# title -> branches (each a chain of layers); tuples are (kernel, stride, padding[, dilation]).
BRANCH_PRESETS: dict[str, list[list[LayerSpec]]] = {
    "ResNet basic block, stride 2": [[(3, 2, 1), (3, 1, 1)], [(1, 2, 0)]],
    "Inception module (1×1, 3×3, 5×5, pool)": [[(1, 1, 0)], [(1, 1, 0), (3, 1, 1)],
                                                [(1, 1, 0), (5, 1, 2)], [(3, 1, 1), (1, 1, 0)]],
    "misaligned: padding 2 above only": [[(3, 1, 1)], [Layer(3, 1, 2, padding_after=0)]],
    "stride 2, an even kernel: half a pixel off": [[(3, 2, 1)], [(4, 2, 1)]],
}


def _chains(branches) -> list[list[Layer]]:
    if isinstance(branches, (str, Layer)) or not isinstance(branches, (list, tuple)):
        raise TypeError(f"branches must be a list of branches, got {type(branches).__name__}")
    if not branches:
        raise ValueError("branches must hold at least one branch")
    out = []
    for b, chain in enumerate(branches):
        if isinstance(chain, (str, Layer)) or not isinstance(chain, (list, tuple)) or not chain:
            raise TypeError(f"branches[{b}] must be a non-empty list of layers, got {chain!r}")
        layers = []
        for n, spec in enumerate(chain):
            if isinstance(spec, Layer):
                layers.append(spec)
            elif isinstance(spec, (list, tuple)) and len(spec) in (3, 4):
                layers.append(Layer(*spec))
            else:
                raise TypeError(f"branches[{b}][{n}] must be a Layer or (kernel, stride, "
                                f"padding[, dilation]), got {spec!r}")
        out.append(layers)
    return out


def _describe(chain: Sequence[Layer]) -> str:
    parts = []
    for layer in chain:
        before, after = layer.pads
        pad = f"p{before}" if before == after else f"p{before}/{after}"
        d = f" d{layer.dilation}" if layer.dilation > 1 else ""
        parts.append(f"{layer.kernel}×{layer.kernel} s{layer.stride} {pad}{d}")
    return " → ".join(parts)


def branch_rf_state(branches, input_size: int = 12, index: Optional[int] = None) -> dict:
    """Everything the explorer shows for one set of branches merged at the end.

    branches: a list of chains, each a list of ``Layer`` records or ``(kernel, stride,
    padding[, dilation])`` tuples (use ``Layer(..., padding_after=...)`` for uneven padding);
    input_size: pixels along the axis; index: the merged output (default: the middle one).

    Returns a dict: ``fields`` (one :class:`~convlib.receptive_field.GraphField` per branch),
    ``merged`` (their union, with ``branches``), ``names`` (each chain described),
    ``sizes`` (each branch's output size, ``None`` where a kernel does not fit),
    ``sizes_match``, ``aligned``, ``misalignment`` (pixels between the extreme centres),
    ``index``, ``windows`` (per branch ``(first, last)`` for that output) and ``window`` (the
    merged one), ``problem`` (a sentence when torch could not merge these branches, else
    ``""``). Different effective strides raise ``ValueError``. Inputs are not modified.

    See: chapter Receptive fields of networks with branches.
    """
    chains = _chains(branches)
    n = positive_int(input_size, "input_size")
    nodes, ends = [], []
    for b, chain in enumerate(chains):
        prev = "input"
        for k, layer in enumerate(chain):
            nodes.append((f"b{b}.{k}", prev, layer))
            prev = f"b{b}.{k}"
        ends.append(prev)
    nodes.append(("merge", ends, "add"))
    fields = graph_receptive_field(nodes)          # raises when the strides differ
    sizes = []
    for chain in chains:
        try:
            sizes.append(graph_receptive_field(
                [(f"l{k}", "input" if k == 0 else f"l{k - 1}", layer)
                 for k, layer in enumerate(chain)], input_size=n)[f"l{len(chain) - 1}"].output_size)
        except ValueError:
            sizes.append(None)
    sizes_match = None not in sizes and len(set(sizes)) == 1
    out = sizes[0] if sizes_match else max((s for s in sizes if s), default=1)
    if index is None:
        index = (out - 1) // 2
    index = nonnegative_int(index, "index")
    if index >= out:
        raise ValueError(f"index must be < the merged output size {out}, got {index}")
    problem = ""
    if None in sizes:
        problem = "a kernel does not fit the padded input on some branch"
    elif not sizes_match:
        problem = ("the branches give different output sizes "
                   f"({', '.join(map(str, sizes))}): PyTorch cannot add or concatenate them")
    merged = fields["merge"]
    branch_fields = list(merged.branches)
    return {
        "fields": branch_fields, "merged": merged, "names": [_describe(c) for c in chains],
        "sizes": sizes, "sizes_match": sizes_match, "aligned": merged.aligned,
        "misalignment": merged.misalignment, "index": index, "input_size": n,
        "output_size": out, "windows": [f.region(index) for f in branch_fields],
        "window": merged.region(index), "problem": problem,
    }


# ----------------------------------------------------------------------------- drawing
_COLORS = ("#2171b5", "#d94801", "#6a51a3", "#238b45", "#cb181d")


def _svg_text(x: float, y: float, s: str, size: int = 11, anchor: str = "start") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-family="sans-serif" '
            f'text-anchor="{anchor}" fill="#222">{_html.escape(s)}</text>')


def branch_rf_svg(state: dict, cell: float = 16.0) -> str:
    """The state of :func:`branch_rf_state` as one SVG string (no plotting library: ~1 ms).

    One row per branch and a last row for the merge: the window of output ``index`` along the
    input axis (hatched-pale cells are padding), a white diamond at each centre and a dotted
    line through it; the input's pixels are shaded. Cells carry ``data-role``
    "branch-window" / "merged-window", markers "centre".
    See: chapter Receptive fields of networks with branches.
    """
    n, i = state["input_size"], state["index"]
    rows = [(name, f, w, _COLORS[b % len(_COLORS)])
            for b, (name, f, w) in enumerate(zip(state["names"], state["fields"],
                                                  state["windows"]))]
    rows.append(("merged (union)", state["merged"], state["window"], "#252525"))
    lo = min(0, min(w[0] for _, _, w, _ in rows)) - 1
    hi = max(n - 1, max(w[1] for _, _, w, _ in rows)) + 1
    label_w, row_h, top = 210.0, cell + 18, 8.0
    x_of = lambda v: label_w + (v - lo) * cell  # noqa: E731
    parts = [f'<rect x="{x_of(0):.1f}" y="{top:.1f}" width="{n * cell:.1f}" '
             f'height="{len(rows) * row_h:.1f}" fill="#deebf7"/>']
    for r, (name, f, (a, b), color) in enumerate(rows):
        y = top + r * row_h + 9
        centre = f.center + i * f.stride
        role = "merged-window" if r == len(rows) - 1 else "branch-window"
        for v in range(a, b + 1):
            pad = not 0 <= v < n
            dash = ' stroke-dasharray="3,2"' if pad else ""
            parts.append(f'<rect x="{x_of(v):.1f}" y="{y:.1f}" width="{cell:.1f}" '
                         f'height="{cell:.1f}" fill="{color}" fill-opacity="'
                         f'{0.3 if pad else 0.85}" stroke="#444" stroke-width="0.6"{dash} '
                         f'data-role="{role}"/>')
        cx = x_of(centre) + cell / 2
        parts.append(f'<line x1="{cx:.1f}" y1="{top:.1f}" x2="{cx:.1f}" '
                     f'y2="{top + len(rows) * row_h:.1f}" stroke="{color}" '
                     f'stroke-dasharray="2,2"/>')
        d = cell * 0.3
        cy = y + cell / 2
        parts.append(f'<polygon points="{cx - d:.1f},{cy:.1f} {cx:.1f},{cy - d:.1f} '
                     f'{cx + d:.1f},{cy:.1f} {cx:.1f},{cy + d:.1f}" fill="white" '
                     f'stroke="black" data-role="centre"/>')
        parts.append(_svg_text(4, y + cell * 0.45, name, 11))
        parts.append(_svg_text(4, y + cell * 0.45 + 12,
                               f"r={f.size}, P={f.padding}, centre {centre:g}", 10))
    axis_y = top + len(rows) * row_h + 14
    step = max(1, int(round(40 / cell)))
    for v in range(lo + 1, hi):
        if v % step == 0:
            parts.append(_svg_text(x_of(v) + cell / 2, axis_y, str(v), 10, "middle"))
    parts.append(_svg_text(x_of(lo) + (hi - lo + 1) * cell / 2, axis_y + 14,
                           "input pixel (along one axis)", 11, "middle"))
    width, height = x_of(hi) + cell + 6, axis_y + 22
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:100%;height:auto">'
            + "".join(parts) + "</svg>")


def branch_rf_view(branches, input_size: int = 12,
                   index: Optional[int] = None) -> tuple[str, int]:
    """``(html, output_size)`` for one setting: :func:`branch_rf_svg` and a line of numbers.

    Impossible settings (strides that differ, an index past the end) give an explanation and
    output size 0 instead of an exception. See: chapter Receptive fields of networks with
    branches.
    """
    from convlib.widgets.html import message_html

    try:
        state = branch_rf_state(branches, input_size, index)
    except (ValueError, TypeError) as exc:
        return message_html(str(exc)), 0
    m = state["merged"]
    verdict = ("centres aligned" if state["aligned"] else
               f"<b>misaligned</b>: centres {state['misalignment']:g} pixel(s) apart")
    line = (f"merged: r = {m.size}, S = {m.stride}, P = {m.padding}, c = {m.center:g}; "
            f"{verdict}; output sizes {', '.join(str(s) for s in state['sizes'])}")
    warn = (f"<div style='color:#a50f15'>{_html.escape(state['problem'])}</div>"
            if state["problem"] else "")
    body = (f"<div style='font:13px sans-serif'>{branch_rf_svg(state)}"
            f"<div>{line}</div>{warn}</div>")
    return body, state["output_size"]


def branch_rf_gallery(presets: Optional[dict] = None, input_size: int = 12):
    """The static explorer: one pre-rendered picture per preset, as ``IPython.display.HTML``.

    presets: ``{title: branches}`` (default :data:`BRANCH_PRESETS`). Works in the HTML book
    with no kernel. See: chapter Receptive fields of networks with branches.
    """
    from IPython.display import HTML

    presets = BRANCH_PRESETS if presets is None else presets
    blocks = []
    for title, branches in presets.items():
        body, _ = branch_rf_view(branches, input_size)
        blocks.append(f"<div style='margin:10px 0'><div style='font:bold 13px sans-serif'>"
                      f"{_html.escape(title)}</div>{body}</div>")
    return HTML("<div class='branch-rf-gallery'>" + "".join(blocks) + "</div>")


@playable
def branch_rf_explorer(input_size: int = 12):
    """An ipywidgets box: two branches, each one conv (kernel, stride, padding above, padding
    below) optionally followed by a 3×3 conv (stride 1, padding 1); the input size and the
    merged output index. The drawing and the numbers follow every change.

    Returns the box; :func:`branch_rf_gallery` is the static fallback.
    See: chapter Receptive fields of networks with branches.
    """
    import ipywidgets as W

    style = {"description_width": "90px"}
    box = W.Layout(width="170px")

    def controls(k, s, top, bottom, second):
        return [W.IntSlider(value=v, min=lo, max=hi, description=name, layout=box,
                            style=style)
                for v, lo, hi, name in ((k, 1, 9, "kernel"), (s, 1, 4, "stride"),
                                        (top, 0, 6, "padding above"),
                                        (bottom, 0, 6, "padding below"))] + [
            W.Checkbox(value=second, description="then a 3×3 conv", indent=False)]

    a = controls(3, 2, 1, 1, True)
    b = controls(1, 2, 0, 0, False)
    size = W.IntSlider(value=positive_int(input_size, "input_size"), min=4, max=24,
                       description="input size", style=style)
    index = W.IntSlider(value=0, min=0, max=1, description="output", style=style)
    view = W.HTML()
    busy = {"now": False}

    def chain(ws):
        k, s, top, bottom, second = (w.value for w in ws)
        layers = [Layer(k, s, top, padding_after=bottom)]
        return layers + [Layer(3, 1, 1)] if second else layers

    def refresh(_change=None):
        if busy["now"]:
            return
        busy["now"] = True
        try:
            branches = [chain(a), chain(b)]
            _, out = branch_rf_view(branches, size.value, 0)
            index.max = max(out - 1, 1)
            index.disabled = out <= 1
            if out and index.value >= out:
                index.value = (out - 1) // 2
            view.value = branch_rf_view(branches, size.value, index.value if out else None)[0]
        finally:
            busy["now"] = False

    for w in a + b + [size, index]:
        w.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([W.VBox([W.HTML("<b>branch 0</b>"), *a]),
                           W.VBox([W.HTML("<b>branch 1</b>"), *b])]),
                   W.HBox([size, index]), view])
