"""The separable-cost explorer (convlib.widgets.separable): its formulas against convlib.cost
counting real PyTorch layers, and the HTML it renders."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convlib.cost import count_macs, count_params
from convlib.widgets.separable import (separable_cost_html, separable_cost_state,
                                       separable_cost_table)

pytestmark = pytest.mark.depthwise


@pytest.mark.parametrize("cin, cout, k, m", [(3, 8, 3, 1), (16, 32, 5, 1), (8, 8, 1, 1),
                                             (4, 12, 3, 2), (32, 64, 7, 1)])
def test_formulas_equal_counted_layers(cin, cout, k, m):
    size = 9
    s = separable_cost_state(cin, cout, k, size=size, depth_multiplier=m)
    with torch.device("meta"):
        standard = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
        separable = nn.Sequential(nn.Conv2d(cin, cin * m, k, padding=k // 2, groups=cin, bias=False),
                                  nn.Conv2d(cin * m, cout, 1, bias=False))
    shape = (1, cin, size, size)
    assert s["standard_params"] == count_params(standard)
    assert s["standard_macs"] == count_macs(standard, shape)
    assert s["separable_params"] == count_params(separable)
    assert s["separable_macs"] == count_macs(separable, shape)
    assert s["ratio"] == pytest.approx(s["formula_ratio"])
    assert s["ratio"] == pytest.approx(count_macs(separable, shape) / count_macs(standard, shape))


def test_mobilenet_numbers():
    # Howard et al. 2017: 3x3 depthwise separable costs 8 to 9 times less than a standard conv
    s = separable_cost_state(512, 512, 3, size=14)
    assert 8 < 1 / s["ratio"] < 9


def test_html_and_table():
    s = separable_cost_state(32, 64, 3)
    html = separable_cost_html(s)
    assert f"{s['separable_macs']:,}" in html and f"{s['ratio']:.4f}" in html
    table = separable_cost_table([(32, 64, 3), (128, 256, 5)]).data
    assert table.count("<tr>") == 3


def test_bad_input():
    with pytest.raises(ValueError, match="kernel_size"):
        separable_cost_state(4, 4, 0)
    with pytest.raises(TypeError, match="in_channels"):
        separable_cost_state(4.5, 4, 3)


def test_widget_shell_updates_fast():
    import time

    from convlib.widgets.separable import separable_explorer
    box = separable_explorer(32, 64, 3)
    sliders, out = box.children[:3], box.children[3]
    start = time.perf_counter()
    sliders[2].value = 5
    assert time.perf_counter() - start < 0.05
    assert "k=5" in out.value
