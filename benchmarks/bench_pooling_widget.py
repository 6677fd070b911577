"""How long one move of a pooling-explorer control takes (issue 4: under 50 ms per update).

    python benchmarks/bench_pooling_widget.py

Times :func:`convlib.widgets.pooling.pooling_view` (the one call the widget makes per slider
move: state + HTML) over every combination of the explorer's controls on its default 5x5 input,
and reports the median and the worst. Not a test: measured here, never asserted.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from convlib.widgets.pooling import demo_pool_input, pooling_view


def main() -> None:
    x = demo_pool_input()
    times, refused = [], 0
    for k, s, p, ceil, mode, cip in itertools.product(range(1, 5), range(1, 4), range(3),
                                                      (False, True), ("max", "avg"), (True, False)):
        start = time.perf_counter()
        _, n = pooling_view(x, k, s, p, ceil, mode, cip, position=0)
        times.append(time.perf_counter() - start)
        refused += n == 0
    ms = np.array(times) * 1e3
    print(f"pooling explorer: {len(ms)} settings ({refused} refused with an explanation): "
          f"median {np.median(ms):.2f} ms, worst {ms.max():.2f} ms per update (target < 50 ms)")


if __name__ == "__main__":
    main()
