"""The branch receptive-field explorer (convlib.widgets.branch_rf) and its drawing
(convlib.viz.branch_rf). Oracles: windows enumerated tap by tap (no formula), torch's output
sizes, and the probe-checked graph calculator for the union."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from convlib.receptive_field import Layer, graph_receptive_field  # noqa: E402
from convlib.viz.branch_rf import draw_branch_windows  # noqa: E402
from convlib.viz.grid import count_patches  # noqa: E402
from convlib.widgets.branch_rf import (BRANCH_PRESETS, branch_rf_explorer,  # noqa: E402
                                       branch_rf_gallery, branch_rf_state, branch_rf_svg,
                                       branch_rf_view)

pytestmark = pytest.mark.receptive_field


def _taps(chain, index):
    """Input pixels (padding included) that output ``index`` of a chain reaches, tap by tap."""
    cells = {index}
    for layer in reversed(chain):
        layer = layer if isinstance(layer, Layer) else Layer(*layer)
        cells = {o * layer.stride - layer.padding + t * layer.dilation
                 for o in cells for t in range(layer.kernel)}
    return cells


def _torch_size(chain, n):
    mods = []
    for layer in chain:
        layer = layer if isinstance(layer, Layer) else Layer(*layer)
        before, after = layer.pads
        mods += [nn.ZeroPad2d((0, 0, before, after)),
                 nn.Conv2d(1, 1, (layer.kernel, 1), (layer.stride, 1), 0, (layer.dilation, 1))]
    with torch.no_grad():
        return nn.Sequential(*mods)(torch.zeros(1, 1, n, 1)).shape[2]


@pytest.mark.parametrize("title", list(BRANCH_PRESETS))
def test_state_windows_are_the_union_of_tap_by_tap_windows(title):
    branches = BRANCH_PRESETS[title]
    state = branch_rf_state(branches, input_size=14)
    assert state["sizes"] == [_torch_size(c, 14) for c in branches]
    assert state["sizes_match"] and state["problem"] == ""
    i = state["index"]
    assert i == (state["output_size"] - 1) // 2
    union = set()
    centres = []
    for chain, window in zip(branches, state["windows"]):
        cells = _taps(chain, i)
        assert window == (min(cells), max(cells))
        centres.append((min(cells) + max(cells)) / 2)
        union |= cells
    assert state["window"] == (min(union), max(union))
    assert state["misalignment"] == max(centres) - min(centres)
    assert state["aligned"] == (max(centres) == min(centres))


def test_presets_show_aligned_and_misaligned_merges():
    assert branch_rf_state(BRANCH_PRESETS["ResNet basic block, stride 2"])["aligned"]
    mis = branch_rf_state(BRANCH_PRESETS["misaligned: padding 2 above only"], 12, 5)
    assert not mis["aligned"] and mis["misalignment"] == 1
    assert mis["windows"] == [(4, 6), (3, 5)] and mis["window"] == (3, 6)
    half = branch_rf_state(BRANCH_PRESETS["stride 2, an even kernel: half a pixel off"])
    assert half["misalignment"] == 0.5


def test_state_reports_sizes_torch_could_not_merge_and_bad_input():
    state = branch_rf_state([[(3, 1, 1)], [(3, 1, 0)]], input_size=10)
    assert state["sizes"] == [10, 8] and not state["sizes_match"]
    assert "different output sizes" in state["problem"]
    with pytest.raises(ValueError, match="effective strides of its inputs differ"):
        branch_rf_state([[(3, 2, 1)], [(3, 1, 1)]])
    with pytest.raises(ValueError, match="index must be < the merged output size 12"):
        branch_rf_state([[(3, 1, 1)]], 12, 12)
    with pytest.raises(TypeError, match="branches must be a list"):
        branch_rf_state("3x3")
    with pytest.raises(TypeError, match=r"branches\[0\]\[0\] must be a Layer"):
        branch_rf_state([[(3, 1)]])
    with pytest.raises(ValueError, match="at least one branch"):
        branch_rf_state([])
    branches = [[(3, 1, 1)], [(1, 1, 0)]]
    copy = [list(b) for b in branches]
    branch_rf_state(branches)
    assert branches == copy


def test_drawing_has_one_cell_per_window_pixel_and_a_centre_per_row():
    fields = graph_receptive_field([("a", "input", (3, 1, 1)),
                                    ("b", "input", Layer(3, 1, 2, padding_after=0)),
                                    ("m", ["a", "b"], "add")], input_size=8)
    fig = draw_branch_windows(fields["m"], index=1, input_size=8)
    assert count_patches(fig, "branch-window") == 3 + 3
    assert count_patches(fig, "merged-window") == 4
    assert sum(1 for line in fig.axes[0].lines if line.get_gid() == "centre") == 3
    assert "1 pixel(s) apart" in fig.axes[0].get_title(loc="left")
    plt.close(fig)
    with pytest.raises(TypeError, match="GraphField of a merge"):
        draw_branch_windows(fields["a"])
    with pytest.raises(ValueError, match="names must hold 2 labels"):
        draw_branch_windows(fields["m"], names=["x"])


def test_view_gallery_and_explorer():
    body, out = branch_rf_view(BRANCH_PRESETS["misaligned: padding 2 above only"], 12)
    assert out == 12 and "<svg" in body and "misaligned" in body
    body, out = branch_rf_view([[(3, 2, 1)], [(3, 1, 1)]])
    assert out == 0 and "effective strides" in body
    html = branch_rf_gallery().data
    assert html.count("<svg") == len(BRANCH_PRESETS)
    pytest.importorskip("ipywidgets")
    box = branch_rf_explorer()
    view = box.children[-1]
    before = view.value
    assert "centres aligned" in before                  # the ResNet-like default
    branch1 = box.children[0].children[1].children
    branch1[3].value = 2                                # padding above of branch 1 ...
    branch1[4].value = 0                                # ... and none below: same size, shifted
    assert "misaligned" in view.value and view.value != before


def test_svg_draws_each_window_cell_and_centre():
    state = branch_rf_state(BRANCH_PRESETS["misaligned: padding 2 above only"], 12, 0)
    svg = branch_rf_svg(state)
    assert svg.count('data-role="branch-window"') == 3 + 3
    assert svg.count('data-role="merged-window"') == 4
    assert svg.count('data-role="centre"') == 3
    # output 0: branch 1's window starts 2 rows above the image: two dashed padding cells
    assert state["windows"][1] == (-2, 0)
    assert svg.count('stroke-dasharray="3,2"') == 1 + 2 + 2
