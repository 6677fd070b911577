"""The cost comparison: a side-by-side table of networks (or blocks) and an explorer that asks
which counted cost — parameters, multiply-adds or activation memory — predicts the measured
latency best.

Pure part: :func:`cost_row`, :class:`CostTable` (renders as an HTML table) and
:func:`rank_correlation`. Widget: :func:`cost_explorer` (a dropdown over figures drawn once, so
a change costs nothing). Static book: :func:`cost_gallery`. The latency figures are measured by
the caller (``convlib.cost.measure_latency``); nothing here times anything.

See: chapter What networks cost.
"""

from __future__ import annotations

import html as _html
from typing import Optional, Sequence

import numpy as np

from convlib.widgets.html import figure_png, img_html
from convlib.widgets.player import playable

__all__ = ["COST_METRICS", "cost_row", "CostTable", "rank_correlation", "metric_png",
           "cost_explorer", "cost_gallery"]

COST_METRICS = {"params": "parameters", "macs": "multiply-adds per image",
                "activation_bytes": "activation memory (bytes of layer outputs)"}


def cost_row(name: str, params: int, macs: int, activation_bytes: int, latency=None,
             note: str = "") -> dict:
    """One row of a :class:`CostTable`. ``latency``: a ``convlib.cost.Latency`` or ``None``.
    Adds ``throughput`` — multiply-adds per second at the median latency, in G/s.

    See: chapter What networks cost.
    """
    row = {"name": str(name), "params": int(params), "macs": int(macs),
           "activation_bytes": int(activation_bytes), "note": note}
    if latency is not None:
        row.update(median_ms=float(latency.median_ms), q1_ms=float(latency.q1_ms),
                   q3_ms=float(latency.q3_ms), min_ms=float(latency.min_ms))
        row["throughput"] = macs / (latency.median_ms * 1e-3) / 1e9
    return row


def _human(n: float, unit: str = "") -> str:
    for scale, suffix in ((2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")) if unit == "B" else \
            ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:g} {unit}".strip()


class CostTable(list):
    """A list of :func:`cost_row` dicts that prints and renders (``_repr_html_``) as a table:
    name, parameters, multiply-adds, activation memory, median latency with its interquartile
    range, fastest run, and achieved multiply-adds per second."""

    HEADER = ("name", "params", "MACs", "activation", "median ms", "IQR ms", "min ms",
              "GMAC/s", "note")

    def _cells(self) -> list[tuple[str, ...]]:
        out = []
        for r in self:
            timed = "median_ms" in r
            out.append((r["name"], _human(r["params"]), _human(r["macs"]),
                        _human(r["activation_bytes"], "B"),
                        f"{r['median_ms']:.2f}" if timed else "",
                        f"{r['q1_ms']:.2f}–{r['q3_ms']:.2f}" if timed else "",
                        f"{r['min_ms']:.2f}" if timed else "",
                        f"{r['throughput']:.1f}" if timed else "", r.get("note", "")))
        return out

    def __str__(self) -> str:
        cells = [self.HEADER] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.HEADER))]
        return "\n".join("  ".join(c.rjust(w) if 0 < i < 8 else c.ljust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))).rstrip()
                         for row in cells)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self.HEADER)
        body = "".join("<tr>" + "".join(
            f"<td style='text-align:{'left' if i in (0, 8) else 'right'}'>{_html.escape(c)}"
            "</td>" for i, c in enumerate(row)) + "</tr>" for row in self._cells())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def column(self, key: str) -> list:
        return [r[key] for r in self]


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (ties get their mean rank): 1 when the
    two orderings agree, -1 when they are reversed.

    See: chapter What networks cost.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got {x.shape}, {y.shape}")

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=float)
        for value in np.unique(v):           # ties: mean rank
            tie = v == value
            r[tie] = r[tie].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        raise ValueError("rank correlation is undefined when one input is constant")
    return float(np.corrcoef(rx, ry)[0, 1])


def metric_png(table: CostTable, metric: str, dpi: int = 65, title: Optional[str] = None) -> bytes:
    """PNG bytes of the log-log scatter of ``metric`` (a key of :data:`COST_METRICS`) against
    the median latency, with quartile bars and the rank correlation in the title.

    See: chapter What networks cost.
    """
    from convlib.viz.cost_plot import plot_macs_latency

    if metric not in COST_METRICS:
        raise ValueError(f"metric must be one of {sorted(COST_METRICS)}, got {metric!r}")
    rho = rank_correlation(table.column(metric), table.column("median_ms"))
    fig = plot_macs_latency(table.column("name"), table.column(metric), table.column("median_ms"),
                            table.column("q1_ms"), table.column("q3_ms"),
                            xlabel=COST_METRICS[metric], dpi=dpi,
                            title=title or f"rank correlation with latency: {rho:.2f}")
    return figure_png(fig, dpi)



@playable
def cost_explorer(table: CostTable):
    """A dropdown choosing the cost on the x axis (parameters, multiply-adds, activation
    memory) against the measured latency. The three figures are drawn once, up front.
    Returns an ipywidgets box.

    See: chapter What networks cost.
    """
    import ipywidgets as W

    pngs = {m: img_html(metric_png(table, m)) for m in COST_METRICS}
    choice = W.Dropdown(options=[(label, m) for m, label in COST_METRICS.items()], value="macs",
                        description="x axis", layout=W.Layout(width="420px"))
    picture = W.HTML(pngs["macs"])
    choice.observe(lambda change: setattr(picture, "value", pngs[change["new"]]), names="value")
    return W.VBox([choice, picture])


def cost_gallery(table: CostTable):
    """The explorer for the static book: the three scatters side by side. Returns
    ``IPython.display.HTML``.

    See: chapter What networks cost.
    """
    from IPython.display import HTML

    cells = "".join(f"<td style='vertical-align:top'>{img_html(metric_png(table, m, dpi=50))}</td>"
                    for m in COST_METRICS)
    return HTML(f"<table><tr>{cells}</tr></table>")
