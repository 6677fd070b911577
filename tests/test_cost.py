"""convlib.cost: counts against hand-derived formulas and PyTorch's own FLOP counter;
profile rows against the totals, the receptive-field recurrence and the layer outputs."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from convlib.blocks import BasicBlock, DeformConv2d
from convlib.cost import Latency, Profile, count_macs, count_params, measure_latency, profile
from convlib.models import resnet18

pytestmark = pytest.mark.blocks


def flop_counter_macs(module: nn.Module, shape) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(torch.zeros(shape))
    return counter.get_total_flops() // 2


# --- count_params ----------------------------------------------------------------------------

def test_count_params_hand_formulas():
    assert count_params(nn.Conv2d(3, 8, 3)) == 8 * 3 * 9 + 8
    assert count_params(nn.Conv2d(8, 8, 3, groups=4, bias=False)) == 8 * 2 * 9
    assert count_params(nn.Linear(10, 4)) == 44
    assert count_params(nn.BatchNorm2d(8)) == 16           # γ, β; running stats are buffers
    shared = nn.Linear(4, 4)
    assert count_params(nn.Sequential(shared, shared)) == 20
    frozen = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    frozen[0].requires_grad_(False)
    assert count_params(frozen, trainable_only=True) == 10
    with pytest.raises(TypeError, match="module"):
        count_params("resnet")


# --- count_macs -------------------------------------------------------------------------------

@pytest.mark.parametrize("c_in, c_out, k, stride, padding, dilation, groups, h, w", [
    (3, 8, (3, 3), 1, 1, 1, 1, 10, 12),
    (8, 16, (5, 3), 2, (2, 1), 1, 4, 11, 9),
    (6, 6, (3, 3), 1, 2, 2, 6, 8, 8),           # depthwise, dilated
    (4, 12, (1, 1), 3, 0, 1, 2, 10, 10),
])
def test_conv_macs_hand_formula(c_in, c_out, k, stride, padding, dilation, groups, h, w):
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups)
    ho, wo = conv(torch.zeros(1, c_in, h, w)).shape[-2:]
    expected = k[0] * k[1] * (c_in // groups) * c_out * ho * wo   # k²·Cin/g·Cout·Ho·Wo
    assert count_macs(conv, (1, c_in, h, w)) == expected
    assert count_macs(conv, (3, c_in, h, w)) == 3 * expected         # a batch of 3


def test_linear_and_transposed_conv_macs():
    assert count_macs(nn.Linear(20, 7), (1, 20)) == 140
    up = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    assert count_macs(up, (1, 4, 5, 5)) == 4 * 5 * 5 * (6 // 2) * 9      # each input scatters
    assert count_macs(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(3)),
                      (1, 3, 8, 8)) == 0


def test_deform_conv_macs_count_its_conv_and_offset_predictor():
    m = DeformConv2d(4, 8, 3, padding=1, groups=2)
    conv_part = 9 * 2 * 8 * 6 * 6
    offsets = 9 * 4 * 18 * 6 * 6
    assert count_macs(m, (1, 4, 6, 6)) == conv_part + offsets


@pytest.mark.parametrize("build, shape", [
    (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8),
                           nn.Conv2d(8, 16, 1), nn.Flatten(), nn.Linear(16 * 4 * 4, 5)),
     (1, 3, 12, 12)),
    (lambda: BasicBlock(4, 8, stride=2), (1, 4, 9, 9)),
    (lambda: resnet18(num_classes=3), (1, 3, 32, 32)),
])
def test_macs_equal_pytorch_flop_counter_on_small_nets(build, shape):
    torch.manual_seed(0)
    net = build()
    assert count_macs(net, shape) == flop_counter_macs(net, shape)


def test_bad_input_shape():
    with pytest.raises(TypeError, match="input_shape"):
        count_macs(nn.Conv2d(1, 1, 1), 224)
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(nn.Conv2d(1, 1, 1), (1, 1, 0, 4))


# --- profile ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 8, 3, padding=1), bn1=nn.BatchNorm2d(8), relu1=nn.ReLU(),
        conv2=nn.Conv2d(8, 8, 3, padding=1), pool=nn.MaxPool2d(2),
        block=BasicBlock(8, 16, stride=2),
        gap=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(16, 4)))


def test_profile_rows_sum_to_totals(net):
    rows = profile(net, (1, 3, 16, 16))
    assert isinstance(rows, Profile) and isinstance(rows, list)
    assert sum(r.params for r in rows) == count_params(net) == rows.total_params
    assert sum(r.macs for r in rows) == count_macs(net, (1, 3, 16, 16))
    with torch.device("meta"):
        big = resnet18()
    assert profile(big, (1, 3, 224, 224)).total_params == count_params(big)


def test_profile_rows_shapes_memory_and_receptive_field(net):
    rows = {r.name: r for r in profile(net, (1, 3, 16, 16))}
    assert rows["conv1"].output_shape == (1, 8, 16, 16)
    assert rows["conv1"].activation_bytes == 8 * 16 * 16 * 4          # float32
    assert rows["block.conv1"].output_shape == (1, 16, 4, 4)
    assert rows["fc"].macs == 64 and rows["fc"].params == 68
    # Araujo et al.'s recurrence by hand: 3×3 → 3, 3×3 → 5, 2×2/2 pool → 6
    assert [rows[n].receptive_field for n in ("conv1", "bn1", "relu1", "conv2", "pool")] == \
        [3, 3, 3, 5, 6]
    # inside a branching block and after the global pooling the chain is not plain
    assert rows["block.conv1"].receptive_field is None and rows["fc"].receptive_field is None
    rect = profile(nn.Conv2d(1, 1, (3, 5)), (1, 1, 8, 8))
    assert rect[0].receptive_field == (3, 5)


def test_profile_double_precision_and_layer_owning_parameters():
    rows = profile(nn.Conv2d(2, 3, 3).double(), (1, 2, 5, 5))
    assert rows[0].activation_bytes == 3 * 3 * 3 * 8
    deform = profile(DeformConv2d(2, 4), (1, 2, 5, 5))
    assert [r.name for r in deform] == ["offset_conv", "DeformConv2d"]
    assert deform.total_params == count_params(DeformConv2d(2, 4))


def test_profile_leaves_the_module_as_found(net):
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    profile(net, (2, 3, 16, 16))
    measure_latency(net, (2, 3, 16, 16), warmup=1, repeat=2)
    assert net.training and all(m.training for m in net.modules())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)      # no BN statistics moved


def test_profile_renders_as_text_and_html(net):
    rows = profile(net, (1, 3, 16, 16))
    text, page = str(rows), rows._repr_html_()
    assert "block.shortcut.conv" in text and "total" in text and "1×16×4×4" in text
    assert page.startswith("<table>") and page.count("<tr>") == len(rows) + 2
    assert f"{rows.total_params:,}" in text and f"{rows.total_macs:,}" in page


# --- latency ----------------------------------------------------------------------------------

def test_measure_latency_reports_median_and_spread():
    result = measure_latency(nn.Conv2d(3, 4, 3), (1, 3, 16, 16), warmup=1, repeat=5)
    assert isinstance(result, Latency) and result.repeat == 5
    assert 0 < result.min_ms <= result.q1_ms <= result.median_ms <= result.q3_ms <= result.max_ms
    assert "ms median" in str(result)
    with pytest.raises(ValueError, match="repeat"):
        measure_latency(nn.Conv2d(3, 4, 3), (1, 3, 8, 8), repeat=0)
    with torch.device("meta"):
        ghost = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="CPU"):
        measure_latency(ghost, (1, 3, 8, 8))
