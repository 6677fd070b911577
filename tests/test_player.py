"""The static explorer player (convlib.widgets.player): grid, states, serialisation, hook.

Oracles: brute force over the grid parameters, and the explorers' pure view functions
(``arithmetic_view``) evaluated at the values each recorded state says it shows.
"""

from __future__ import annotations

import json
import math
import re

import pytest

pytest.importorskip("ipywidgets")
import ipywidgets as W  # noqa: E402

from convlib.widgets import player  # noqa: E402
from convlib.widgets.player import (control_grid, pack_strings, player_data,  # noqa: E402
                                    player_html, thin, unpack_strings)


# ---- the grid --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 14))
def test_thin_keeps_start_and_stays_within_m(n: int) -> None:
    for m in range(1, n + 2):
        for keep in range(n):
            got = thin(n, m, keep)
            assert got == sorted(set(got)), (n, m, keep, got)
            assert keep in got and len(got) <= max(m, 1)
            assert all(0 <= j < n for j in got)
            if m >= n:
                assert got == list(range(n))
            elif m >= 3 and 0 < keep < n - 1:  # both ends survive
                assert got[0] == 0 and got[-1] == n - 1, (n, m, keep, got)


def test_thin_rejects_a_start_outside_the_range() -> None:
    with pytest.raises(ValueError, match="keep"):
        thin(5, 3, 5)


@pytest.mark.parametrize("sizes,starts,budget", [
    ((12, 7, 4, 5, 4), (5, 2, 1, 1, 0), 300), ((31, 8), (10, 2), 300), ((2, 2, 2), (0, 1, 0), 8),
    ((40, 37, 3), (3, 0, 2), 50), ((5,), (4,), 1), ((9, 9), (8, 0), 7)])
def test_control_grid_fits_the_budget_and_holds_every_start(sizes, starts, budget) -> None:
    grid = control_grid(sizes, starts, budget)
    assert math.prod(len(g) for g in grid) <= budget
    for g, n, s in zip(grid, sizes, starts):
        assert s in g and g == sorted(set(g)) and all(0 <= k < n for k in g)
    if math.prod(sizes) <= budget:
        assert grid == [list(range(n)) for n in sizes]


def test_control_grid_thins_named_options_last() -> None:
    grid = control_grid((4, 30), (0, 0), 40, fixed=(True, False))
    assert grid[0] == [0, 1, 2, 3] and len(grid[1]) == 10
    # a small budget: the sliders keep two values, the named options give way first
    grid = control_grid((64, 32, 2, 5), (31, 15, 0, 0), 16, fixed=(False, False, False, True))
    assert [len(g) for g in grid] == [2, 2, 2, 2]


def test_control_grid_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        control_grid((3, 3), (0,))
    with pytest.raises(ValueError, match="max_states"):
        control_grid((3,), (0,), 0)


# ---- states of a small explorer ----------------------------------------------------------------


def _toy(a0: int = 3, b0: int = 1):
    """Slider a (0..9), slider b whose max is a, checkbox; the view says what it sees."""
    a = W.IntSlider(a0, min=0, max=9, description="a")
    b = W.IntSlider(b0, min=0, max=max(a0, 1), description="b")
    c = W.Checkbox(False, description="c")
    view = W.HTML()

    def refresh(_=None):
        b.max = max(a.value, 1)
        view.value = f"<p>a={a.value} b={b.value} c={c.value}</p>"

    for w in (a, b, c):
        w.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([a, b, c]), view]), (a, b, c)


def _states(data: dict) -> list[list[str]]:
    strings = unpack_strings(data["strings"])
    return [[strings[k] for k in st] for st in data["states"]]


def test_every_state_shows_what_the_widget_shows_at_those_values() -> None:
    box, (a, b, c) = _toy()
    data, skeleton = player_data(box)
    assert data["sizes"] == [10, 4, 2]  # b: 0..3 at the start (its max follows a)
    assert len(data["states"]) == 10 * 4 * 2 and data["slots"] == 1
    for view, ra, rb, rc in _states(data):
        # the readouts are the values the widget really had (b is clamped by a)
        assert view == f"<p>a={ra} b={rb} c={rc == 'on'}</p>"
        assert int(rb) <= max(int(ra), 1)
    assert (a.value, b.value, c.value) == (3, 1, False)  # the box is left as it was
    assert skeleton.count('data-ctl="') == 3 and 'data-slot="0"' in skeleton


def test_the_start_state_is_in_the_skeleton_and_indexes_right() -> None:
    box, _ = _toy(a0=5, b0=2)
    data, skeleton = player_data(box)
    flat = 0
    for size, k in zip(data["sizes"], data["start"]):
        flat = flat * size + k
    view = _states(data)[flat][0]
    assert view == "<p>a=5 b=2 c=False</p>" and view in skeleton


def test_the_budget_coarsens_the_grid() -> None:
    box, _ = _toy()
    data, _ = player_data(box, max_states=12)
    assert len(data["states"]) <= 12 and math.prod(data["sizes"]) == len(data["states"])
    big = W.IntSlider(0, min=0, max=99, description="n")
    view = W.HTML()
    noise = __import__("random").Random(0)

    def refresh(_=None):  # incompressible views of ~4 kB each
        view.value = f"{big.value}:" + "".join(noise.choice("abcdefghij") for _ in range(4000))

    big.observe(refresh, names="value")
    refresh()
    data, _ = player_data(W.VBox([big, view]), max_bytes=60_000)
    assert len(data["strings"]) <= 60_000 and 2 <= len(data["states"]) < 30


def test_explicit_grid_values() -> None:
    box, _ = _toy()
    data, _ = player_data(box, grid={"a": [0, 9]})
    assert data["sizes"][0] == 3  # 0, 9 and the start 3
    with pytest.raises(ValueError, match="names no control"):
        player_data(box, grid={"nope": [1]})


def test_pack_strings_round_trip() -> None:
    strings = ["<b>x</b>", "ü 中文 </script>", ""]
    packed = pack_strings(strings)
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", packed)
    assert unpack_strings(packed) == strings


# ---- the hook and the page fragment --------------------------------------------------------------


def test_player_only_when_the_book_is_built(monkeypatch) -> None:
    monkeypatch.delenv(player.STATIC_ENV, raising=False)
    box = player.attach(_toy()[0])
    live = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in live and "text/html" not in live
    monkeypatch.setenv(player.STATIC_ENV, "1")
    built = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in built
    assert built["text/html"].startswith('<div class="cb-player"')


def test_html_fragment_escapes_script_ends() -> None:
    view = W.HTML("<script>alert(1)</script>")
    slider = W.IntSlider(0, min=0, max=1, description="s")
    slider.observe(lambda ch: setattr(view, "value", f"</script>{ch['new']}"), names="value")
    html = player_html(W.VBox([slider, view]))
    payload = re.search(r'<script type="application/json" class="cb-player-data">(.*?)</script>',
                        html, re.S).group(1)
    data = json.loads(payload)
    assert _states(data)[1][0] == "</script>1"


def test_arithmetic_explorer_states_equal_the_pure_view() -> None:
    from convlib.widgets import arithmetic_explorer, arithmetic_view

    box = arithmetic_explorer(i=6, k=3, s=2, p=1, d=1)
    data, _ = player_data(box)
    assert 100 <= len(data["states"]) <= player.MAX_STATES
    assert len(data["strings"]) <= player.MAX_BYTES
    seen = set()
    for view, *readouts in _states(data):
        i, k, s, p, d = map(int, readouts)
        assert view == arithmetic_view(i, k, s, p, d)[0]
        seen.add((i, k, s, p, d))
    assert len(seen) == len(data["states"])  # no two grid points show the same setting
    assert (6, 3, 2, 1, 1) in seen


def test_a_control_without_room_is_shown_fixed_not_dead() -> None:
    noise = __import__("random").Random(1)
    sliders = [W.IntSlider(0, min=0, max=5, description=f"s{j}") for j in range(3)]
    view = W.HTML()

    def refresh(_=None):  # incompressible views of ~4 kB: only a few states fit in 12 kB
        view.value = "".join(noise.choice("abcdefghij") for _ in range(4000))

    for sl in sliders:
        sl.observe(refresh, names="value")
    refresh()
    data, skeleton = player_data(W.VBox([*sliders, view]), max_bytes=12_000)
    assert len(data["strings"]) <= 12_000 and len(data["states"]) < 8
    fixed = [j for j, n in enumerate(data["sizes"]) if n == 1]
    assert fixed
    for j in fixed:
        assert f'<input type="hidden" data-ctl="{j}" value="0">' in skeleton
    assert skeleton.count("(fixed in the static page)") == len(fixed)
    assert skeleton.count('type="range"') == 3 - len(fixed)
