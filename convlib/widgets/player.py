"""Explorers in the static book: their states rendered at build time, played without a kernel.

One mechanism for every explorer. :func:`playable` wraps an explorer function; the ipywidgets
box it returns is unchanged in a live kernel (sliders recompute instantly). When the book is
built (``./dev book`` sets ``CONVBOOK_STATIC=1``), the box's rich display also carries a
``text/html`` part, and the HTML builder prefers it (``nb_mime_priority_overrides`` in
``_config.yml``): a *player*. To make it, the box's own controls are moved over a grid of
values (:func:`control_grid`, at most :data:`MAX_STATES` states and about :data:`MAX_BYTES`
per explorer, coarsened when the sliders' ranges are larger); after each move the HTML of every
view (``ipywidgets.HTML``) is recorded. So the static page shows exactly the picture and text
the live widget computes, for those values. ``book/_ext/convbook_site.py`` adds the small
vanilla-JS player (``convbook-player.js``) to pages that hold one.

The page holds, per explorer, one ``<script type="application/json">`` (:func:`player_data`):
``sizes`` (grid points per control), ``strings`` (each distinct view or readout HTML once) and
``states`` (for every grid point, in row-major order of the controls, the index of each slot's
string followed by each control's readout). Nothing is computed in a live kernel until the
static HTML is asked for.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html as _html
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_STATES", "MAX_BYTES", "BLOCK_STATES", "STATIC_ENV", "Control", "playable", "attach",
           "static_enabled", "control_grid", "thin", "find_controls", "player_data",
           "player_html", "pack_strings", "unpack_strings", "DATA_RE", "data_script"]

STATIC_ENV = "CONVBOOK_STATIC"
MAX_STATES = 300
MAX_BYTES = 1_500_000
SAMPLE = 12  # states rendered before the size of all of them is estimated
BLOCK_STATES = 16  # explorers that draw a matplotlib diagram per state (~0.1-0.3 s each)


def static_enabled() -> bool:
    """True while the book is being built (``CONVBOOK_STATIC=1``, set by ``./dev book``)."""
    return os.environ.get(STATIC_ENV, "0") not in ("", "0")


# ---- the grid ------------------------------------------------------------------------------


def thin(n: int, m: int, keep: int) -> list[int]:
    """At most ``m`` of the indices ``0..n-1``, evenly spread (both ends when ``m >= 3``),
    always holding ``keep`` (the control's starting value), sorted."""
    if not 0 <= keep < n:
        raise ValueError(f"keep must be in 0..{n - 1}, got {keep}")
    if n <= m:
        return list(range(n))
    if m <= 1:
        return [keep]
    picked = sorted({round(j * (n - 1) / (m - 1)) for j in range(m)})
    if keep not in picked:  # the point nearest the start moves onto it (ends last)
        inner = [j for j in picked if 0 < j < n - 1] or picked
        picked.remove(min(inner, key=lambda j: abs(j - keep)))
        picked.append(keep)
    return sorted(picked)


def control_grid(sizes: Sequence[int], starts: Sequence[int], max_states: int = MAX_STATES,
                 fixed: Sequence[bool] | None = None) -> list[list[int]]:
    """For each control (``sizes[j]`` possible values, starting at index ``starts[j]``), the
    value indices the static player offers, so that the product is at most ``max_states``.

    The control with the most points is thinned first (:func:`thin`), sliders down to two
    values before a control marked ``fixed`` (a choice between named options), and no control
    down to a single value while another still has more than two.
    """
    if len(sizes) != len(starts):
        raise ValueError("sizes and starts must have the same length")
    if max_states < 1:
        raise ValueError(f"max_states must be at least 1, got {max_states}")
    fixed = list(fixed) if fixed is not None else [False] * len(sizes)
    counts = list(sizes)
    grid = [thin(n, c, s) for n, c, s in zip(sizes, counts, starts)]
    while math.prod(len(g) for g in grid) > max_states:
        # sliders down to two values first, then named choices, then anything to one value
        for floor, pool in ((2, [not f for f in fixed]), (2, [True] * len(grid)),
                            (1, [True] * len(grid))):
            movable = [j for j in range(len(grid)) if len(grid[j]) > floor and pool[j]]
            if movable:
                break
        j = max(movable, key=lambda j: (len(grid[j]), -j))
        counts[j] = len(grid[j]) - 1
        grid[j] = thin(sizes[j], counts[j], starts[j])
    return grid


# ---- the widget tree -----------------------------------------------------------------------


@dataclass
class Control:
    """One control of an explorer: its widget, its possible values and their labels."""

    widget: Any
    kind: str  # "range" (slider), "select" (dropdown, toggle buttons) or "check"
    values: list
    labels: list[str]
    grid: list[int] = field(default_factory=list)  # indices into values

    @property
    def description(self) -> str:
        return getattr(self.widget, "description", "") or ""

    def index(self) -> int:
        """Index of the widget's current value in ``values`` (nearest for a slider)."""
        value = self.widget.value
        if self.kind == "select":
            return int(self.widget.index)
        if self.kind == "check":
            return int(bool(value))
        return min(range(len(self.values)), key=lambda k: abs(self.values[k] - value))

    def set(self, k: int) -> None:
        if self.kind == "select":
            self.widget.index = k
        else:
            self.widget.value = self.values[k]

    def readout(self) -> str:
        """The value as the live widget shows it."""
        w = self.widget
        if self.kind == "select":
            return str(w.label)
        if self.kind == "check":
            return "on" if w.value else "off"
        return format(w.value, getattr(w, "readout_format", "") or "")


def _slider_values(w) -> list:
    n = int(round((w.max - w.min) / w.step)) + 1
    if isinstance(w.value, int) and isinstance(w.step, int):
        return [w.min + k * w.step for k in range(n)]
    return [round(w.min + k * w.step, 10) for k in range(n)]


def _control(w) -> Control | None:
    import ipywidgets as W

    if isinstance(w, (W.IntSlider, W.FloatSlider)):
        values = _slider_values(w)
        return Control(w, "range", values, [format(v, w.readout_format) for v in values])
    if isinstance(w, W.SelectionSlider):
        return Control(w, "range", list(w._options_values), [str(x) for x in w._options_labels])
    if isinstance(w, (W.Dropdown, W.ToggleButtons, W.RadioButtons)):
        return Control(w, "select", list(w._options_values), [str(x) for x in w._options_labels])
    if isinstance(w, (W.Checkbox, W.ToggleButton)):
        return Control(w, "check", [False, True], ["off", "on"])
    return None


def find_controls(box) -> tuple[list[Control], list[Any]]:
    """(controls, views) of a widget tree, in display order: the sliders, dropdowns, toggle
    buttons and checkboxes a reader moves, and the ``HTML`` widgets that show the result."""
    import ipywidgets as W

    controls: list[Control] = []
    views: list[Any] = []

    def walk(w) -> None:
        if isinstance(w, W.Box):
            for child in w.children:
                walk(child)
        elif isinstance(w, (W.HTML, W.HTMLMath)):
            views.append(w)
        else:
            c = _control(w)
            if c is not None and not getattr(w, "disabled", False):
                controls.append(c)

    walk(box)
    return controls, views


def _is_live(w, live: set[int]) -> bool:
    """Does this subtree hold a control or a view (else it is a passive snapshot)?"""
    import ipywidgets as W

    if id(w) in live:
        return True
    return isinstance(w, W.Box) and any(_is_live(c, live) for c in w.children)


def _snapshot(w) -> str:
    """Read-only HTML of a passive subtree (labels, text boxes; buttons are left out)."""
    import ipywidgets as W

    if isinstance(w, W.Box):
        direction = "column" if isinstance(w, W.VBox) else "row"
        inner = "".join(_snapshot(c) for c in w.children)
        return f'<div class="cb-box" style="flex-direction:{direction}">{inner}</div>' if inner else ""
    if isinstance(w, W.Label):
        return f'<span class="cb-label">{_html.escape(str(w.value))}</span>'
    if isinstance(w, (W.IntText, W.BoundedIntText, W.FloatText, W.BoundedFloatText, W.Text)):
        return (f'<span class="cb-label">{_html.escape(w.description or "")} '
                f'<b>{_html.escape(str(w.value))}</b></span>')
    return ""


# ---- the states ----------------------------------------------------------------------------


def _layout(w, controls: list[Control], views: list, passive: list) -> str:
    """The player's HTML skeleton: boxes as flex rows/columns, controls as inputs, every view
    and passive subtree as a slot filled from the state."""
    import ipywidgets as W

    live = {id(c.widget) for c in controls} | {id(v) for v in views}
    if isinstance(w, W.Box):
        if not _is_live(w, live):
            passive.append(w)
            return f'<div class="cb-slot" data-slot="{len(views) + len(passive) - 1}"></div>'
        direction = "column" if isinstance(w, W.VBox) else "row"
        inner = "".join(_layout(c, controls, views, passive) for c in w.children)
        return f'<div class="cb-box" style="flex-direction:{direction}">{inner}</div>'
    for j, c in enumerate(controls):
        if c.widget is w:
            return _control_html(j, c)
    for k, v in enumerate(views):
        if v is w:
            return f'<div class="cb-slot cb-view" data-slot="{k}"></div>'
    return ""


def _control_html(j: int, c: Control) -> str:
    desc = _html.escape(c.description)
    labels = [c.labels[k] for k in c.grid]
    at = c.grid.index(c.index()) if c.index() in c.grid else 0
    if len(labels) <= 1:  # no room in the budget: shown as a fixed value, not a dead control
        return (f'<label class="cb-ctl cb-fixed"><span class="cb-desc">{desc}</span>'
                f'<input type="hidden" data-ctl="{j}" value="0">'
                f'<output class="cb-readout" data-readout="{j}">'
                f"{_html.escape(c.readout())}</output>"
                '<span class="cb-fixed-note">(fixed in the static page)</span></label>')
    if c.kind == "check":
        checked = " checked" if c.widget.value else ""
        field_ = f'<input type="checkbox" data-ctl="{j}"{checked}>'
    elif c.kind == "select":
        opts = "".join(f'<option{" selected" if k == at else ""}>{_html.escape(t)}</option>'
                       for k, t in enumerate(labels))
        field_ = f'<select data-ctl="{j}">{opts}</select>'
    else:
        field_ = (f'<input type="range" data-ctl="{j}" min="0" max="{len(labels) - 1}" step="1" '
                  f'value="{at}" aria-label="{desc}">')
    return (f'<label class="cb-ctl"><span class="cb-desc">{desc}</span>{field_}'
            f'<output class="cb-readout" data-readout="{j}">'
            f"{_html.escape(c.readout())}</output></label>")


def _goto(controls: list[Control], point: Sequence[int]) -> None:
    """Move every control to the grid point, twice: a control whose range depends on another
    (a window position, say) is set again once the others have their values."""
    for _ in range(2):
        for c, k in zip(controls, point):
            c.set(c.grid[k])


def player_data(box, max_states: int = MAX_STATES, max_bytes: int = MAX_BYTES,
                grid: dict[str, Sequence] | None = None) -> tuple[dict, str]:
    """(data, skeleton): every state of the explorer ``box`` over its control grid, and the
    player's HTML skeleton. ``grid`` may name, by a control's description, the values to use.

    At most ``max_states`` states; if their packed strings exceed ``max_bytes``, the grid is
    coarsened and the states rendered again. The controls end where they started. See the
    module docstring for the data's layout.
    """
    controls, views = find_controls(box)
    starts = [c.index() for c in controls]
    for c, s in zip(controls, starts):
        c.grid = [s]
    passive: list = []
    _layout(box, controls, views, passive)

    def snapshot() -> list[str]:
        return ([v.value for v in views] + [_snapshot(p) for p in passive]
                + [c.readout() for c in controls])

    fixed = [c.kind != "range" for c in controls]
    sizes = [len(c.values) for c in controls]
    # every control gets at least two values when the budget allows it at all
    budget = min(max(max_states, 2 ** len(controls)), MAX_STATES)
    while True:
        chosen = dict(grid or {})
        for c, g, s in zip(controls, control_grid(sizes, starts, budget, fixed), starts):
            c.grid = g
            if c.description in chosen:  # the explorer's own choice of values (and the start)
                c.grid = sorted({_nearest(c, v) for v in chosen.pop(c.description)} | {s})
        if chosen:
            raise ValueError(f"grid names no control of this explorer: {sorted(chosen)}")
        strings: dict[str, int] = {}
        states: list[list[int]] = []
        total = math.prod(len(c.grid) for c in controls)
        estimate = 0
        try:
            for point in _points([len(c.grid) for c in controls]):
                _goto(controls, point)
                states.append([strings.setdefault(s, len(strings)) for s in snapshot()])
                if len(states) == SAMPLE < total and not grid:  # too big? coarsen now
                    estimate = len(pack_strings(list(strings))) * total // SAMPLE
                    if estimate > max_bytes:
                        break
        finally:  # back to where the reader's box started
            for _ in range(2):
                for c, s in zip(controls, starts):
                    c.set(s)
        if estimate > max_bytes:
            budget = max(1, min(budget - 1, int(max_bytes / estimate * total * 0.9)))
            continue
        packed = pack_strings(list(strings))
        if len(packed) <= max_bytes or len(states) <= 1 or grid:
            break
        budget = max(1, min(budget - 1, int(len(states) * max_bytes / len(packed) * 0.9)))
    data = {"version": 1, "sizes": [len(c.grid) for c in controls],
            "start": [c.grid.index(s) if s in c.grid else 0 for c, s in zip(controls, starts)],
            "slots": len(views) + len(passive), "strings": packed, "states": states}
    skeleton = _fill(_layout(box, controls, views, []), data, list(strings))
    return data, skeleton


def pack_strings(strings: list[str]) -> str:
    """The strings table as the page holds it: JSON, gzip (no timestamp), base64; the player
    unpacks it with the browser's ``DecompressionStream``."""
    raw = json.dumps(strings, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def unpack_strings(packed: str) -> list[str]:
    """Inverse of :func:`pack_strings`."""
    return json.loads(gzip.decompress(base64.b64decode(packed)))


def _nearest(c: Control, value) -> int:
    if c.kind == "range" and not isinstance(value, str):
        return min(range(len(c.values)), key=lambda k: abs(c.values[k] - value))
    if value not in c.values:
        raise ValueError(f"{value!r} is not a value of the control {c.description!r}")
    return c.values.index(value)


def _points(sizes: Sequence[int]):
    """Every grid point in row-major order (the last control changes fastest)."""
    point = [0] * len(sizes)
    total = math.prod(sizes)
    for _ in range(total):
        yield tuple(point)
        for j in reversed(range(len(sizes))):
            point[j] += 1
            if point[j] < sizes[j]:
                break
            point[j] = 0


def player_html(box, max_states: int = MAX_STATES, max_bytes: int = MAX_BYTES,
                grid: dict[str, Sequence] | None = None) -> str:
    """The static player of an explorer box: skeleton (showing the starting state) + data."""
    data, skeleton = player_data(box, max_states, max_bytes, grid)
    n = len(data["states"])
    note = (f'<div class="cb-player-note">Static page: {n} precomputed setting'
            f'{"s" if n != 1 else ""} of this explorer (a slider offers only these values). '
            "Run the notebook for every value.</div>")
    return (f'<div class="cb-player" data-states="{n}">'
            f"{data_script(data)}{skeleton}{note}</div>")


#: a player's data in a page: group 2 is the JSON (see :func:`data_script`)
DATA_RE = re.compile(r'(<script type="application/json" class="cb-player-data">)(.*?)(</script>)',
                     re.S)


def data_script(data: dict) -> str:
    """The ``<script>`` element that holds a player's data in the page (``</`` escaped as
    ``<\\/``, valid JSON, so no string can end the element)."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" class="cb-player-data">{payload}</script>'



def _fill(skeleton: str, data: dict, strings: list[str]) -> str:
    """The skeleton with the starting state's HTML in its slots (shown even without JS)."""
    flat = 0
    for size, k in zip(data["sizes"], data["start"]):
        flat = flat * size + k
    state = data["states"][flat]
    out = skeleton
    for k in range(data["slots"]):
        tag = f'data-slot="{k}"></div>'
        out = out.replace(tag, f'data-slot="{k}" data-shown="{state[k]}">{strings[state[k]]}</div>', 1)
    return out


# ---- hooking an explorer -------------------------------------------------------------------


def attach(box, max_states: int = MAX_STATES, grid: dict[str, Sequence] | None = None):
    """Give ``box`` a ``text/html`` display part (the static player), computed only when the
    book is built (:func:`static_enabled`); returns ``box``."""
    plain = box._repr_mimebundle_

    def bundle(**kwargs):
        data = plain(**kwargs)
        if static_enabled() and data is not None:
            data = dict(data)
            data["text/html"] = player_html(box, max_states, MAX_BYTES, grid)
        return data

    box._repr_mimebundle_ = bundle
    return box


def playable(fn: Callable | None = None, *, max_states: int = MAX_STATES,
             grid: dict[str, Sequence] | None = None):
    """Decorator for an explorer function: the box it returns gets its static player
    (:func:`attach`). ``@playable`` or ``@playable(max_states=..., grid={...})``."""
    def wrap(f: Callable) -> Callable:
        @functools.wraps(f)
        def explorer(*args, **kwargs):
            return attach(f(*args, **kwargs), max_states, grid)
        return explorer
    return wrap(fn) if fn is not None else wrap
