"""The separable-cost explorer: C_in, C_out, k → parameters and multiply-adds of a standard
k×k convolution and of its depthwise-separable replacement, and their ratio.

Pure part: :func:`separable_cost_state` (formulas only, microseconds per call; the tests check
the formulas against ``convlib.cost`` counting real PyTorch layers). Widget:
:func:`separable_explorer`. Static book: :func:`separable_cost_table`, a pre-computed table.

See: chapter Pointwise, depthwise and depthwise-separable convolution.
"""

from __future__ import annotations

import html as _html
from typing import Iterable, Sequence

from convlib._validate import positive_int
from convlib.widgets.player import playable

__all__ = ["separable_cost_state", "separable_cost_html", "separable_explorer",
           "separable_cost_table"]


def separable_cost_state(in_channels: int, out_channels: int, kernel_size: int,
                         size: int = 56, depth_multiplier: int = 1) -> dict:
    """Costs of one ``size × size`` output map (stride 1, "same" padding, no bias):

    - standard: params ``k²·C_in·C_out``, MACs ``k²·C_in·C_out·H·W``;
    - separable (depthwise with multiplier M, then pointwise): params ``k²·C_in·M +
      C_in·M·C_out``, MACs ``(k²·C_in·M + C_in·M·C_out)·H·W``;
    - ``ratio`` = separable / standard = ``M/C_out + M/k²`` (``formula_ratio``).

    Returns a dict with those numbers and the inputs. See: chapter Pointwise, depthwise and
    depthwise-separable convolution.
    """
    cin = positive_int(in_channels, "in_channels")
    cout = positive_int(out_channels, "out_channels")
    k = positive_int(kernel_size, "kernel_size")
    hw = positive_int(size, "size") ** 2
    m = positive_int(depth_multiplier, "depth_multiplier")
    std = k * k * cin * cout
    dw, pw = k * k * cin * m, cin * m * cout
    return {"in_channels": cin, "out_channels": cout, "kernel_size": k, "size": size,
            "depth_multiplier": m,
            "standard_params": std, "standard_macs": std * hw,
            "depthwise_params": dw, "pointwise_params": pw, "separable_params": dw + pw,
            "depthwise_macs": dw * hw, "pointwise_macs": pw * hw, "separable_macs": (dw + pw) * hw,
            "ratio": (dw + pw) / std, "formula_ratio": m / cout + m / (k * k)}


def _bar(fraction: float, colour: str) -> str:
    width = max(1, round(220 * min(fraction, 1.0)))
    return (f"<div style='display:inline-block;height:11px;width:{width}px;"
            f"background:{colour};vertical-align:middle'></div>")


def separable_cost_html(state: dict) -> str:
    """A small HTML table of one :func:`separable_cost_state`, with bars scaled to the standard
    convolution's multiply-adds."""
    s = state
    rows = [
        ("standard k×k conv", s["standard_params"], s["standard_macs"], 1.0, "#6baed6"),
        ("  depthwise k×k", s["depthwise_params"], s["depthwise_macs"],
         s["depthwise_macs"] / s["standard_macs"], "#fd8d3c"),
        ("  pointwise 1×1", s["pointwise_params"], s["pointwise_macs"],
         s["pointwise_macs"] / s["standard_macs"], "#74c476"),
        ("separable total", s["separable_params"], s["separable_macs"], s["ratio"], "#238b45"),
    ]
    td = "<td style='padding:2px 8px;text-align:right;font-family:monospace'>"
    body = "".join(f"<tr><td style='padding:2px 8px;white-space:pre'>{_html.escape(name)}</td>"
                   f"{td}{p:,}</td>{td}{mac:,}</td><td>{_bar(frac, colour)}</td></tr>"
                   for name, p, mac, frac, colour in rows)
    head = ("<tr><th></th><th style='padding:2px 8px'>parameters</th>"
            f"<th style='padding:2px 8px'>MACs ({s['size']}×{s['size']})</th><th></th></tr>")
    caption = (f"C_in={s['in_channels']}, C_out={s['out_channels']}, k={s['kernel_size']}: "
               f"separable / standard = {s['ratio']:.4f} "
               f"(1/C_out + 1/k² = {s['formula_ratio']:.4f}), "
               f"{1 / s['ratio']:.1f}× fewer multiply-adds")
    return (f"<div style='font:13px sans-serif;margin-bottom:4px'>{_html.escape(caption)}</div>"
            f"<table style='border-collapse:collapse;font-size:13px'>{head}{body}</table>")


@playable
def separable_explorer(in_channels: int = 32, out_channels: int = 64, kernel_size: int = 3,
                       size: int = 56):
    """Sliders for C_in, C_out and k; shows :func:`separable_cost_html`. Returns an
    ipywidgets box. See: chapter Pointwise, depthwise and depthwise-separable convolution.
    """
    import ipywidgets as W

    style, layout = {"description_width": "90px"}, W.Layout(width="330px")
    sliders = [W.IntSlider(in_channels, min=1, max=512, description="C_in", style=style,
                           layout=layout),
               W.IntSlider(out_channels, min=1, max=1024, description="C_out", style=style,
                           layout=layout),
               W.IntSlider(kernel_size, min=1, max=11, step=2, description="kernel k",
                           style=style, layout=layout)]
    out = W.HTML()

    def refresh(_change=None) -> None:
        out.value = separable_cost_html(separable_cost_state(*(s.value for s in sliders),
                                                             size=size))

    for s in sliders:
        s.observe(refresh, names="value")
    refresh()
    return W.VBox(sliders + [out])


def separable_cost_table(settings: Iterable[Sequence[int]], size: int = 56):
    """The explorer for the static book: one row per ``(C_in, C_out, k)`` setting with both
    multiply-add counts and the ratio (the parameters have the same ratio). Returns
    ``IPython.display.HTML``."""
    from IPython.display import HTML

    td = "<td style='padding:2px 6px;text-align:right;font-family:monospace'>"
    head = "".join(f"<th style='padding:2px 6px'>{h}</th>" for h in (
        "C_in", "C_out", "k", "standard MACs", "separable MACs", "ratio", "1/C_out + 1/k²"))
    rows = []
    for cin, cout, k in settings:
        s = separable_cost_state(cin, cout, k, size=size)
        cells = (cin, cout, k, f"{s['standard_macs']:,}", f"{s['separable_macs']:,}",
                 f"{s['ratio']:.4f}",
                 f"{s['formula_ratio']:.4f}")
        rows.append("<tr>" + "".join(f"{td}{c}</td>" for c in cells) + "</tr>")
    return HTML(f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}</tr>"
                f"{''.join(rows)}</table>")
