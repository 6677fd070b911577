"""The sliding-window explorer drawn as plain HTML tables (no plotting, so a redraw is ~1 ms).

Pure functions from a state (:func:`convlib.widgets.state.sliding_window_state`) to an HTML
string. The colours follow :mod:`convlib.viz` (Dumoulin & Visin's conv_arithmetic style):
input blue, padding white with a dashed border, the window dark blue, output green.
"""

from __future__ import annotations

import base64
import html as _html
import io

import numpy as np

__all__ = ["sliding_window_html", "message_html"]

INPUT, PADDING, WINDOW, WINDOW_PAD, KERNEL, OUTPUT, CURRENT = (
    "#c6dbef", "#ffffff", "#2171b5", "#6baed6", "#fdd0a2", "#c7e9c0", "#238b45")
_CELL = ("width:30px;height:30px;text-align:center;vertical-align:middle;padding:0;"
         "font:12px monospace;")


def _num(v: float) -> str:
    return f"{v:g}" if float(v) != int(v) or abs(v) >= 1e6 else str(int(v))


def _pair(values) -> str:
    """``(2, 2) -> "2"``; ``(1, 2) -> "(1, 2)"``: one number when every side is the same."""
    return str(values[0]) if len(set(values)) == 1 else str(tuple(values))


def _cell(text: str, bg: str, fg: str = "#000", border: str = "1px solid #555",
          role: str = "", title: str = "") -> str:
    """One ``<td>`` of an explorer's grid; ``role`` (a ``data-role``) lets tests find it."""
    tip = f' title="{_html.escape(title)}"' if title else ""
    tip += f' data-role="{role}"' if role else ""
    return (f'<td style="{_CELL}background:{bg};color:{fg};border:{border}"{tip}>'
            f"{_html.escape(text)}</td>")


def _table(caption: str, rows: list[list[str]]) -> str:
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return ('<div style="display:inline-block;vertical-align:top;margin-right:18px">'
            f'<div style="font:13px sans-serif;margin-bottom:4px">{_html.escape(caption)}</div>'
            f'<table style="border-collapse:collapse;margin:0">{body}</table></div>')


def sliding_window_html(x: np.ndarray, weight: np.ndarray, state: dict,
                        output: np.ndarray | None = None) -> str:
    """HTML of the padded input (window highlighted), the kernel and the output.

    x: ``(H, W)``; weight: ``(kh, kw)``; state: from ``sliding_window_state(x, weight, ...)``;
    output: the full ``(Ho, Wo)`` map if known (else only the current cell shows a value).
    Cells carry ``data-role`` "window", "window-padding" (a padding cell under the window),
    "padding" or "current" (the output cell being computed); window cells have a ``title`` naming their input coordinates.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    x = np.asarray(x)
    weight = np.asarray(weight)
    top, _, left, _ = state["pads"]
    hp, wp = state["padded_shape"]
    in_window = {}
    for (a, b), r in np.ndenumerate(state["rows"]):
        in_window[(int(r) + top, int(state["cols"][a, b]) + left)] = weight[a, b]
    grid = []
    for pr in range(hp):
        row = []
        for pc in range(wp):
            r, c = pr - top, pc - left
            pad = not (0 <= r < x.shape[0] and 0 <= c < x.shape[1])
            text = "0" if pad else _num(x[r, c])
            border = "1px dashed #999" if pad else "1px solid #555"
            if (pr, pc) in in_window:
                row.append(_cell(text, WINDOW_PAD if pad else WINDOW, "#fff",
                                 "2px dashed #08306b" if pad else "2px solid #08306b",
                                 role="window-padding" if pad else "window",
                                 title=f"x[{r}, {c}]{' (padding)' if pad else ''}, "
                                 f"kernel weight {_num(in_window[(pr, pc)])}"))
            else:
                row.append(_cell(text, PADDING if pad else INPUT, "#999" if pad else "#000", border,
                                 role="padding" if pad else ""))
        grid.append(row)
    kernel = [[_cell(_num(v), KERNEL) for v in r] for r in weight]
    ho, wo = state["output_shape"]
    i, j = state["out_index"]
    out_rows = []
    for oi in range(ho):
        row = []
        for oj in range(wo):
            if (oi, oj) == (i, j):
                row.append(_cell(_num(round(state["value"], 4)), CURRENT, "#fff", "2px solid #00441b",
                                 role="current"))
            else:
                row.append(_cell("" if output is None else _num(round(float(output[oi, oj]), 4)), OUTPUT))
        out_rows.append(row)
    terms = " + ".join(f"{_num(v)}·{_num(w)}" for v, w in zip(state["window"].ravel(), weight.ravel()))
    s, d, p = state["stride"], state["dilation"], state["pads"]
    caption = (f"stride {_pair(s)}, padding {_pair(p)}, dilation {_pair(d)}: "
               f"output {ho}x{wo}, position {state['position'] + 1} of {state['n_positions']}")
    return (
        f'<div style="font:13px sans-serif">{_html.escape(caption)}</div>'
        '<div style="margin:6px 0">'
        + _table(f"input {x.shape[0]}x{x.shape[1]} (+ padding)", grid)
        + _table(f"kernel {weight.shape[0]}x{weight.shape[1]}", kernel)
        + _table(f"output {ho}x{wo}", out_rows)
        + "</div>"
        f'<div style="font:12px monospace">out[{i}, {j}] = {_html.escape(terms)} = '
        f"<b>{_num(round(state['value'], 4))}</b></div>"
    )


def message_html(message: str) -> str:
    """A visible explanation (not a traceback) for a combination that has no output."""
    return ('<div style="font:13px sans-serif;padding:8px;border-left:4px solid #d94801;'
            f'background:#fff5eb">No output for these settings: {_html.escape(message)}</div>')


def figure_png(fig, dpi: int = 72) -> bytes:
    """PNG bytes of a matplotlib figure, which is then closed (explorers redraw often)."""
    import matplotlib.pyplot as plt  # only when a picture is made

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def img_html(png: bytes, style: str = "") -> str:
    """``<img>`` showing PNG bytes inline (a data URI), so a static page needs no file."""
    attr = f" style='{style}'" if style else ""
    return f"<img{attr} src='data:image/png;base64,{base64.b64encode(png).decode()}'/>"

