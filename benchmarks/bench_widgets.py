"""How long one widget update takes: the call an explorer makes when a control moves.

    python benchmarks/bench_widgets.py            # every registered explorer
    python benchmarks/bench_widgets.py rf         # only names containing "rf"

Target (issue "Part I chapters"): under 50 ms per update. Each case times the pure view
function (state + rendering, what the widget calls), best and median of R runs after a warm-up,
and the update through the real ipywidgets shell when the case gives one. Not a test: speed is
measured here, never asserted.

To add your explorer, append to CASES a ``(name, update)`` pair: ``update`` is a function with
no arguments that performs one update (vary the setting with a counter so nothing is cached).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from typing import Callable

TARGET_MS = 50.0
REPEATS = 30


def _rf_cases() -> list[tuple[str, Callable[[], object]]]:
    from convlib.widgets.receptive_field import PRESETS, rf_explorer, rf_view

    stacks = list(PRESETS.values())
    counter = itertools.count()

    def view_small():
        n = next(counter)
        return rf_view(stacks[n % len(stacks)], 16 + n % 8)

    def view_large():
        n = next(counter)
        return rf_view([(3, 1, 1, 1)] * 6 + [(2, 2, 0, 1)], 40, (n % 20, 7))

    box = rf_explorer()
    size_slider = box.children[2].children[0]

    def widget_update():
        size_slider.value = 12 + next(counter) % 28   # one slider move -> one redraw

    return [("rf_view: preset stacks, 16-23 px input", view_small),
            ("rf_view: 7 layers, 40 px input", view_large),
            ("rf_explorer: input-size slider move (widget shell)", widget_update)]


def _arithmetic_cases() -> list[tuple[str, Callable[[], object]]]:
    from convlib.widgets.arithmetic import arithmetic_explorer, arithmetic_view

    counter = itertools.count()

    def view_small():
        n = next(counter)
        return arithmetic_view(6 + n % 3, 3, 2, 1, 1 + n % 2)

    def view_large():
        n = next(counter)
        return arithmetic_view(12, 1 + n % 7, 1, 4, 1)   # 12 + 8 padded cells, up to 20 rows

    box = arithmetic_explorer()
    input_slider = box.children[0].children[0].children[0]

    def widget_update():
        input_slider.value = 1 + next(counter) % 12       # one slider move -> one redraw

    return [("arithmetic_view: i=6-8, k=3, s=2, p=1", view_small),
            ("arithmetic_view: i=12, p=4, s=1 (largest table)", view_large),
            ("arithmetic_explorer: input-size slider move (widget shell)", widget_update)]


def _chapter_cases() -> list[tuple[str, Callable[[], object]]]:
    """The other chapters' explorers: the view / state + HTML call each widget makes."""
    from convlib.widgets import (block_cost_html, block_cost_state, deform_view, explorer_view,
                                 family_html, family_state, groups_html, groups_state,
                                 influence_view, overlap_view, pooling_view, separable_cost_html,
                                 separable_cost_state)
    from convlib.widgets.pooling import demo_pool_input
    from convlib.widgets.sliding_window import demo_image, demo_kernel

    counter = itertools.count()
    x, w, xp = demo_image(7), demo_kernel(3), demo_pool_input(6)
    cases = [
        ("sliding window (chapter 1): stride/padding/position", lambda n: explorer_view(
            x, w, stride=1 + n % 2, padding=n % 2, position=n % 4)),
        ("pooling: kernel/stride/mode/position", lambda n: pooling_view(
            xp, 2 + n % 2, padding=n % 2, mode=("max", "avg")[n % 2], position=n % 4)),
        ("transposed: overlap pattern for (k, s)", lambda n: overlap_view(2 + n % 4, 1 + n % 3)),
        ("dilation: influence mask of a 3-layer stack", lambda n: influence_view(
            (1, 2, 1 + n % 5))),
        ("separable: cost table", lambda n: separable_cost_html(separable_cost_state(
            16 + n % 64, 32 + n % 64, 3 + 2 * (n % 2)))),
        ("groups: connectivity with and without shuffle", lambda n: groups_html(groups_state(
            24, (1, 2, 3, 4, 6)[n % 5]))),
        ("deformable: sampling grid and output", lambda n: deform_view(
            dy=0.1 * (n % 7), dx=-0.2, scale=1 + 0.1 * (n % 3), angle=5.0 * (n % 4))),
        ("block cost: inverted residual (meta device)", lambda n: block_cost_html(block_cost_state(
            "inverted_residual", 16 + 8 * (n % 4), 16 + 8 * (n % 4)))),
        ("block family: dense block (meta device)", lambda n: family_html(family_state(
            "dense", num_layers=2 + n % 4))),
    ]
    from convlib.pretrained import held_out_set, shapes_cnn
    from convlib.widgets.inside import ActivationBank, inside_html, inside_state

    bank = ActivationBank.build(shapes_cnn(), *held_out_set(64))   # once, as the chapter does

    def inside(n):
        layer = bank.layers[n % len(bank.layers)]
        state = inside_state(bank, n % 64, layer, n % 16)
        return inside_html(bank, state, n % 64, layer, n % 16)

    cases.append(("seeing inside: feature map + top images", inside))
    return [(name, (lambda f=f: f(next(counter)))) for name, f in cases]


def _branch_rf_cases() -> list[tuple[str, Callable[[], object]]]:
    from convlib.receptive_field import Layer
    from convlib.widgets.branch_rf import BRANCH_PRESETS, branch_rf_view

    counter = itertools.count()
    presets = list(BRANCH_PRESETS.values())

    def view(n):
        if n % 2:
            return branch_rf_view(presets[n % len(presets)], 12 + n % 12)
        return branch_rf_view([[Layer(1 + n % 5, 2, n % 3, padding_after=(n + 1) % 3),
                                Layer(3, 1, 1)], [(1, 2, 0)]], 24)

    return [("branch_rf_view: presets and two edited branches",
             lambda: view(next(counter)))]


# name -> function returning [(case name, update)]; add your explorer's cases here
def _upsampling_cases() -> list[tuple[str, Callable[[], object]]]:
    from convlib.widgets.upsampling import upsampling_view

    counter = itertools.count()

    def view():
        n = next(counter)
        return upsampling_view(2 + n % 3, 3 + n % 5, n % 10)

    return [("upsampling_view: factor 2-4, kernel 3-7", view)]


CASES: dict[str, Callable[[], list]] = {
    "branch rf (receptive fields of branches)": _branch_rf_cases,
    "rf (receptive field)": _rf_cases,
    "arithmetic (padding, stride, dilation)": _arithmetic_cases,
    "chapters (the other explorers)": _chapter_cases,
    "upsampling (transposed conv, resize-conv, pixel shuffle)": _upsampling_cases,
}


def _time(update: Callable[[], object]) -> tuple[float, float]:
    update()  # warm-up
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        update()
        times.append((time.perf_counter() - t) * 1e3)
    return min(times), statistics.median(times)


def main(argv: list[str]) -> int:
    pattern = argv[0] if argv else ""
    print(f"widget update time, best / median of {REPEATS} (target < {TARGET_MS:.0f} ms)")
    for group, make in CASES.items():
        if pattern not in group:
            continue
        for name, update in make():
            best, median = _time(update)
            verdict = "ok" if median < TARGET_MS else "SLOW"
            print(f"  {name:<58s} {best:7.2f} / {median:7.2f} ms  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
