"""The convolution-arithmetic explorer: input size, kernel, stride, padding, dilation -> sizes.

Pure half (:func:`arithmetic_state`, :func:`transposed_state`): along one axis, which input
cells each output reads, the output size from :mod:`convlib.arithmetic`, the cells no window
reads, and an explanation instead of an exception for settings with no output. Rendering
(:func:`arithmetic_html`, a plain HTML table, about a millisecond), the ipywidgets shell
(:func:`arithmetic_explorer`) and the static fallback (:func:`arithmetic_gallery`) sit on top.
:data:`RELATIONSHIPS` lists Dumoulin & Visin's 15 relationships with one small example each.

A 2-D layer is two independent 1-D problems, so one axis is all the explorer needs.
See: chapter Padding, stride and dilation.
"""

from __future__ import annotations

import html as _html
from typing import Any, Sequence, Union

import numpy as np

from convlib import arithmetic as A
from convlib._validate import nonnegative_int, positive_int
from convlib.widgets.player import playable

__all__ = ["arithmetic_state", "transposed_state", "arithmetic_html", "arithmetic_view",
           "arithmetic_explorer", "arithmetic_gallery", "RELATIONSHIPS", "relationship_state"]

Padding = Union[int, str]

# Dumoulin & Visin (2016), the 15 relationships, each with a small example (all outputs
# <= 4 x 4 so that an animation of every window position stays light).
RELATIONSHIPS: tuple[dict, ...] = (
    dict(n=1, kind="conv", name="no zero padding, unit strides", formula="o = (i - k) + 1",
         example=dict(i=4, k=3)),
    dict(n=2, kind="conv", name="zero padding, unit strides", formula="o = (i - k) + 2p + 1",
         example=dict(i=3, k=4, p=2)),
    dict(n=3, kind="conv", name="half (same) padding: k odd, p = floor(k/2), s = 1",
         formula="o = i", example=dict(i=4, k=3, p=1)),
    dict(n=4, kind="conv", name="full padding: p = k - 1, s = 1", formula="o = i + (k - 1)",
         example=dict(i=3, k=2, p=1)),
    dict(n=5, kind="conv", name="no zero padding, non-unit strides",
         formula="o = floor((i - k) / s) + 1", example=dict(i=5, k=3, s=2)),
    dict(n=6, kind="conv", name="zero padding, non-unit strides ((i + 2p - k) a multiple of s)",
         formula="o = floor((i + 2p - k) / s) + 1", example=dict(i=5, k=3, s=2, p=1)),
    dict(n=6, kind="conv", name="zero padding, non-unit strides ((i + 2p - k) mod s = 1: "
         "the last row of the padded input is never read)",
         formula="o = floor((i + 2p - k) / s) + 1", example=dict(i=6, k=3, s=2, p=1)),
    dict(n=7, kind="pool", name="pooling (no padding)", formula="o = floor((i - k) / s) + 1",
         example=dict(i=5, k=3, s=1)),
    dict(n=8, kind="transposed", name="transposed of no padding, unit strides: p' = k - 1",
         formula="o' = i' + (k - 1)", example=dict(i=2, k=3)),
    dict(n=9, kind="transposed", name="transposed of zero padding, unit strides: p' = k - p - 1",
         formula="o' = i' + (k - 1) - 2p", example=dict(i=4, k=4, p=2)),
    dict(n=10, kind="transposed", name="transposed of half padding: p' = p", formula="o' = i'",
         example=dict(i=4, k=3, p=1)),
    dict(n=11, kind="transposed", name="transposed of full padding: p' = 0",
         formula="o' = i' - (k - 1)", example=dict(i=4, k=2, p=1)),
    dict(n=12, kind="transposed", name="transposed of no padding, stride s ((i - k) a multiple "
         "of s): s - 1 zeros between inputs, p' = k - 1", formula="o' = s(i' - 1) + k",
         example=dict(i=2, k=2, s=2)),
    dict(n=13, kind="transposed", name="transposed of padding p, stride s ((i + 2p - k) a "
         "multiple of s): p' = k - p - 1", formula="o' = s(i' - 1) + k - 2p",
         example=dict(i=2, k=3, s=2, p=1)),
    dict(n=14, kind="transposed", name="transposed, general: a = (i + 2p - k) mod s extra zeros "
         "at the bottom/right", formula="o' = s(i' - 1) + a + k - 2p",
         example=dict(i=2, k=3, s=2, p=1, output_padding=1)),
    dict(n=15, kind="conv", name="dilated convolution: k_hat = k + (k - 1)(d - 1)",
         formula="o = floor((i + 2p - k - (k - 1)(d - 1)) / s) + 1", example=dict(i=7, k=3, d=2)),
)


def _message(what: str, span: int, padded: int, i: int, before: int, after: int) -> str:
    pad = f" (input {i} + padding {before} + {after})" if before or after else ""
    return f"the {what} ({span}) is larger than the padded input ({padded}){pad}"


def arithmetic_state(i: int, k: int, s: int = 1, p: Padding = 0, d: int = 1) -> dict:
    """What a convolution does along one axis, for the explorer and the drawings.

    ``i`` input size, ``k`` kernel, ``s`` stride, ``p`` padding per side (int) or
    ``"valid"`` / ``"same"`` / ``"full"`` (:func:`convlib.arithmetic.padding_for`; ``"same"``
    with ``s > 1`` is TensorFlow's, possibly asymmetric), ``d`` dilation.

    Returns a dict: ``ok``; ``message`` (why there is no output, else ``None``); ``pads``
    ``(before, after)``; ``padded`` size; ``k_hat`` = ``d*(k-1)+1``; ``o`` (output size,
    ``conv_output_size``; 0 when not ok); ``reads`` ``(o, k)`` int array, input index read by
    tap ``t`` of output ``j``: ``j*s + t*d - before`` (negative or ``>= i``: a padding cell);
    ``read`` ``(i,)`` bool, input cells some window reads; ``dropped`` (input cells at the
    end no window reads, ``dropped_input``); ``formula`` (the sum with these numbers).
    Raises only for arguments of the wrong type or sign (ValueError / TypeError naming them).
    See: chapter Padding, stride and dilation.
    """
    i = positive_int(i, "i (input size)")
    k = positive_int(k, "k (kernel size)")
    s = positive_int(s, "s (stride)")
    d = positive_int(d, "d (dilation)")
    before, after = A.padding_for(p, k, s, d, i) if isinstance(p, str) else (
        (nonnegative_int(p, "p (padding)"),) * 2)
    k_hat = A.effective_kernel_size(k, d)
    padded = i + before + after
    state: dict[str, Any] = dict(i=i, k=k, s=s, d=d, p=p, pads=(before, after), padded=padded,
                                 k_hat=k_hat, ok=True, message=None)
    if k_hat > padded:
        what = "dilated kernel" if d > 1 else "kernel"
        message = _message(what, k_hat, padded, i, before, after)
        if d > 1:
            message += f"; d*(k-1)+1 = {d}*{k - 1}+1"
        state.update(ok=False, o=0, reads=np.zeros((0, k), int), read=np.zeros(i, bool),
                     dropped=i, message=message,
                     formula=f"i + p_before + p_after - k_hat = {padded} - {k_hat} < 0: "
                             "no window fits")
        return state
    o = A.conv_output_size(i, k, s, p, d)
    reads = (np.arange(o)[:, None] * s + np.arange(k)[None, :] * d - before)
    read = np.zeros(i, bool)
    inside = reads[(reads >= 0) & (reads < i)]
    read[inside] = True
    state.update(o=o, reads=reads, read=read, dropped=A.dropped_input(i, k, s, p, d),
                 formula=f"floor(({i} + {before} + {after} - {k_hat}) / {s}) + 1 = "
                         f"floor({padded - k_hat} / {s}) + 1 = {o}")
    return state


def transposed_state(i: int, k: int, s: int = 1, p: int = 0, output_padding: int = 0) -> dict:
    """A transposed convolution (of a conv with ``k, s, p``) as a direct conv, along one axis.

    Dumoulin & Visin's recipe: put ``s - 1`` zeros between the ``i`` inputs (the *stretched*
    input, ``s*(i-1)+1`` cells), pad ``k - p - 1`` zeros before and ``k - p - 1 +
    output_padding`` after, and slide the (flipped) kernel with stride 1. Returns a dict:
    ``o`` (``conv_transpose_output_size``), ``stretched``, ``pads``, ``padded``, ``real``
    ``(padded,)`` bool (cells holding an input value, the rest are zeros), ``reads`` ``(o, k)``
    (padded positions read by each output), ``k_hat`` = ``k``, ``ok`` / ``message`` as in
    :func:`arithmetic_state`. Needs ``p <= k - 1`` (else the equivalent padding is negative).
    See: chapter Transposed convolution.
    """
    i = positive_int(i, "i (input size)")
    k = positive_int(k, "k (kernel size)")
    s = positive_int(s, "s (stride)")
    p = nonnegative_int(p, "p (padding)")
    a = nonnegative_int(output_padding, "output_padding")
    if p > k - 1:
        raise ValueError(f"p (padding) must be <= k - 1 = {k - 1} to draw the equivalent "
                         f"direct convolution, got {p}")
    o = A.conv_transpose_output_size(i, k, s, p, 1, a)
    stretched = s * (i - 1) + 1
    before, after = k - p - 1, k - p - 1 + a
    padded = stretched + before + after
    real = np.zeros(padded, bool)
    real[before:before + stretched:s] = True
    reads = np.arange(o)[:, None] + np.arange(k)[None, :]
    return dict(i=i, k=k, s=s, p=p, output_padding=a, o=o, stretched=stretched,
                pads=(before, after), padded=padded, real=real, reads=reads, k_hat=k, d=1,
                ok=True, message=None,
                formula=f"s(i' - 1) + a + k - 2p = {s}*{i - 1} + {a} + {k} - {2 * p} = {o}")


def relationship_state(rel: dict) -> dict:
    """:func:`arithmetic_state` or :func:`transposed_state` of one entry of :data:`RELATIONSHIPS`
    (pooling shares the convolution's geometry)."""
    ex = dict(rel["example"])
    if rel["kind"] == "transposed":
        return transposed_state(**ex)
    return arithmetic_state(**ex)


# ---- rendering -----------------------------------------------------------------------------
_C = {"input": "#c6dbef", "pad": "#ffffff", "read": "#2171b5", "read_pad": "#6baed6",
      "dropped": "#fdae6b", "out": "#c7e9c0"}
_TD = "width:22px;height:20px;text-align:center;padding:0;font:11px monospace;"


def _td(text: str, bg: str, border: str = "1px solid #777", fg: str = "#000", role: str = "") -> str:
    r = f' data-role="{role}"' if role else ""
    return f'<td style="{_TD}background:{bg};color:{fg};border:{border}"{r}>{_html.escape(text)}</td>'


def arithmetic_html(state: dict) -> str:
    """HTML for one :func:`arithmetic_state`: the numbers, then a table with one row per output.

    Header row: the padded input (padding dashed, ``p``; input cells no window reads orange,
    ``data-role="dropped"``). Row ``j``: the cells output ``j`` reads, dark (``data-role="read"``).
    An impossible setting shows its explanation (``data-role="message"``) instead.
    See: chapter Padding, stride and dilation.
    """
    st = state
    before, after = st["pads"]
    head = (f"i = {st['i']}, k = {st['k']}, s = {st['s']}, padding = {before} before / {after} "
            f"after, d = {st['d']}: effective kernel k_hat = d(k-1)+1 = {st['k_hat']}")
    if not st["ok"]:
        return (f'<div style="font:13px sans-serif">{_html.escape(head)}</div>'
                '<div data-role="message" style="font:13px sans-serif;padding:6px;margin-top:4px;'
                'border-left:4px solid #d94801;background:#fff5eb">No output: '
                f'{_html.escape(st["message"])}. Use a smaller kernel or dilation, or more padding.</div>')
    lines = [head, f"output size o = {st['formula']}"]
    unread = [int(c) for c in np.flatnonzero(~st["read"])]
    if unread:
        shown = ", ".join(map(str, unread[:12])) + (", ..." if len(unread) > 12 else "")
        text = f"{len(unread)} of {st['i']} input cell(s) are never read: {shown}"
        left, parts = (st["padded"] - st["k_hat"]) % st["s"], []
        at_end = st["dropped"] if st["dropped"] and st["dropped"] == left - st["pads"][1] else 0
        if at_end:
            parts.append(f"the last {at_end} after the last window: "
                         f"(i + 2p - k_hat) mod s = {left}")
        if len(unread) > at_end:
            parts.append(("others" if at_end else "they fall") +
                         " between windows or between the taps of a dilated kernel")
        text += " (" + "; ".join(parts) + ")"
        lines.append(text)
    top = "".join(f"<div>{_html.escape(t)}</div>" for t in lines)
    i = st["i"]
    header = [_td("", "#fff", "none")]
    for c in range(st["padded"]):
        x = c - before
        if 0 <= x < i:
            dropped = not st["read"][x]
            header.append(_td(str(x), _C["dropped"] if dropped else _C["input"],
                              role="dropped" if dropped else "input"))
        else:
            header.append(_td("p", _C["pad"], "1px dashed #999", "#999", "padding"))
    rows = ["<tr>" + "".join(header) + "</tr>"]
    for j, taps in enumerate(st["reads"]):
        cells = {int(t) + before for t in taps}
        row = [_td(f"o{j}", _C["out"])]
        for c in range(st["padded"]):
            if c in cells:
                pad = not 0 <= c - before < i
                row.append(_td("", _C["read_pad"] if pad else _C["read"],
                               "1px dashed #08306b" if pad else "1px solid #08306b",
                               role="read"))
            else:
                row.append(_td("", "#fafafa", "1px solid #eee"))
        rows.append("<tr>" + "".join(row) + "</tr>")
    table = '<table style="border-collapse:collapse;margin-top:6px">' + "".join(rows) + "</table>"
    return f'<div style="font:13px sans-serif">{top}{table}</div>'


def arithmetic_view(i: int, k: int, s: int = 1, p: Padding = 0, d: int = 1) -> tuple[str, int]:
    """``(html, o)`` for one setting: the one call the widget makes per slider move.

    See: chapter Padding, stride and dilation.
    """
    st = arithmetic_state(i, k, s, p, d)
    return arithmetic_html(st), st["o"]


@playable
def arithmetic_explorer(i: int = 6, k: int = 3, s: int = 2, p: int = 1, d: int = 1):
    """An ipywidgets box: sliders for i, k, s, p, d and the view of :func:`arithmetic_view`.

    See: chapter Padding, stride and dilation.
    """
    import ipywidgets as W

    style, layout = {"description_width": "110px"}, W.Layout(width="320px")
    sliders = [
        W.IntSlider(value=positive_int(i, "i"), min=1, max=12, description="input size i",
                    style=style, layout=layout),
        W.IntSlider(value=positive_int(k, "k"), min=1, max=7, description="kernel k",
                    style=style, layout=layout),
        W.IntSlider(value=positive_int(s, "s"), min=1, max=4, description="stride s",
                    style=style, layout=layout),
        W.IntSlider(value=nonnegative_int(p, "p"), min=0, max=4, description="padding p",
                    style=style, layout=layout),
        W.IntSlider(value=positive_int(d, "d"), min=1, max=4, description="dilation d",
                    style=style, layout=layout),
    ]
    view = W.HTML()

    def refresh(_change=None) -> None:
        view.value = arithmetic_view(*(sl.value for sl in sliders))[0]

    for sl in sliders:
        sl.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([W.VBox(sliders[:3]), W.VBox(sliders[3:])]), view])


def arithmetic_gallery(settings: Sequence[Sequence]) -> Any:
    """The explorer for the static book: the views of several ``(i, k, s, p, d)`` settings,
    one under the other, as ``IPython.display.HTML`` (no kernel needed).

    See: chapter Padding, stride and dilation.
    """
    from IPython.display import HTML

    parts = []
    for setting in settings:
        html, _ = arithmetic_view(*setting)
        parts.append(f'<div style="margin:10px 0 14px 0">{html}</div>')
    return HTML("".join(parts))
