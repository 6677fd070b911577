"""Drawing of a merge's receptive field: each branch's window on the input, and their union.

Returns a Figure and never calls ``plt.show()``. Window cells carry the gid "branch-window"
(one per cell, per branch), "merged-window" for the union, and "centre" for each centre
marker, so tests can find them.
See: chapter Receptive fields of networks with branches.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from convlib._validate import nonnegative_int, positive_int
from convlib.receptive_field import GraphField
from convlib.viz.grid import COLORS

__all__ = ["draw_branch_windows", "BRANCH_COLORS"]

BRANCH_COLORS = ("#2171b5", "#d94801", "#6a51a3", "#238b45", "#cb181d")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v) == int(v) else f"{v:g}"


def draw_branch_windows(merge: GraphField, index: int = 0, input_size: Optional[int] = None,
                        names: Optional[Sequence[str]] = None, *, title: Optional[str] = None,
                        dpi: int = 80) -> Figure:
    """Where output feature ``index`` of a merge looks, branch by branch, along one axis.

    merge: a merge's record from :func:`convlib.receptive_field.graph_receptive_field` (or
    :func:`~convlib.receptive_field.merge_fields`); one row per branch shows its window
    ``[index*S - P_b, index*S - P_b + r_b - 1]`` with its centre (a diamond and a dotted
    line), the bottom row the merged window (their union) and its centre. With
    ``input_size``, cells outside ``0 .. input_size - 1`` are drawn hatched: padding.
    names: labels of the branches (default their node names).
    See: chapter Receptive fields of networks with branches.
    """
    if not isinstance(merge, GraphField) or not merge.branches:
        raise TypeError("merge must be the GraphField of a merge (a record with branches)")
    index = nonnegative_int(index, "index")
    n = positive_int(input_size, "input_size") if input_size is not None else None
    branches = list(merge.branches)
    labels = list(names) if names is not None else [b.name for b in branches]
    if len(labels) != len(branches):
        raise ValueError(f"names must hold {len(branches)} labels, got {len(labels)}")
    rows = [(lab, b, BRANCH_COLORS[i % len(BRANCH_COLORS)])
            for i, (lab, b) in enumerate(zip(labels, branches))]
    rows.append(("merged (union)", merge, "#252525"))
    first, last = merge.region(index)
    lo, hi = min(first, 0) - 1, max(last, (n - 1) if n else last) + 1
    width = min(7.5, max(5.5, 0.25 * (hi - lo + 1) + 2.8))
    fig, ax = plt.subplots(figsize=(width, 0.62 * len(rows) + 1.3), dpi=dpi)
    for y, (label, field, color) in enumerate(rows):
        y0 = len(rows) - 1 - y
        a, b = field.region(index)
        gid = "merged-window" if field is merge else "branch-window"
        for v in range(a, b + 1):
            pad = n is not None and not 0 <= v < n
            ax.add_patch(Rectangle((v - 0.5, y0 - 0.35), 1, 0.7, facecolor=color,
                                   alpha=0.35 if pad else 0.85, hatch="//" if pad else None,
                                   edgecolor=COLORS["edge"], linewidth=0.6, gid=gid))
        centre = field.center + index * field.stride
        ax.plot([centre], [y0], marker="D", color="white", markeredgecolor="black",
                markersize=7, zorder=5, gid="centre")
        ax.axvline(centre, color=color, linestyle=":", linewidth=1.2, zorder=0)
    if n is not None:
        ax.axvspan(-0.5, n - 0.5, color=COLORS["input"], alpha=0.35, zorder=-1)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{label}\nr={f.size}, P={f.padding}, centre {_fmt(f.center + index * f.stride)}"
                        for label, f, _ in reversed(rows)], fontsize=9)
    ax.tick_params(axis="y", length=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("input pixel (along one axis)")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if title is None:
        title = (f"output {index}: branches aligned" if merge.aligned else
                 f"output {index}: centres {_fmt(merge.misalignment)} pixel(s) apart")
    ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig
