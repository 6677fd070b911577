"""convlib.blocks: shapes, shortcuts, channel bookkeeping, and deformable conv against oracles.

Oracles: torch.nn.ChannelShuffle, torch.nn.functional.conv2d, and tests/deform_oracle.py
(an independent grid_sample implementation of torchvision.ops.deform_conv2d's semantics).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convlib.blocks import (BasicBlock, Bottleneck, ConvBNAct, DeformConv2d, DenseBlock,
                            DenseLayer, DepthwiseSeparable, Inception, InvertedResidual,
                            ShuffleV2Unit, Transition, channel_shuffle, deform_conv2d)
from deform_oracle import deform_conv2d_torch
from oracle import assert_close, to_numpy

pytestmark = pytest.mark.blocks


def close(actual: torch.Tensor, expected: torch.Tensor, what: str = "output") -> None:
    """``oracle.assert_close`` for a torch result (detached first)."""
    assert_close(to_numpy(actual), expected, what=what)


def nparams(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def zero_last_bn(bn: nn.BatchNorm2d) -> None:
    """Make a residual branch output exactly zero (in eval mode, running mean 0)."""
    with torch.no_grad():
        bn.weight.zero_()
        bn.bias.zero_()


# --- conv-BN-act and depthwise separable -------------------------------------------------

def test_conv_bn_act_same_padding_and_children():
    m = ConvBNAct(3, 8, 5, stride=2).eval()
    assert [n for n, _ in m.named_children()] == ["conv", "bn", "act"]
    assert m(randn(2, 3, 17, 17)).shape == (2, 8, 9, 9)
    assert m.conv.bias is None
    linear = ConvBNAct(4, 4, 3, activation=None)
    assert [n for n, _ in linear.named_children()] == ["conv", "bn"]
    assert ConvBNAct(4, 4, 3, dilation=2)(randn(1, 4, 9, 9)).shape == (1, 4, 9, 9)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(in_channels=6, out_channels=4, groups=4), ValueError, "groups"),
    (dict(in_channels=0, out_channels=4), ValueError, "in_channels"),
    (dict(in_channels=3, out_channels=4, stride=0), ValueError, "stride"),
    (dict(in_channels=3, out_channels=4, kernel_size=2.0), TypeError, "kernel_size"),
])
def test_conv_bn_act_rejects_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        ConvBNAct(**kwargs)


def test_depthwise_separable_params_and_shape():
    c_in, c_out = 32, 64
    m = DepthwiseSeparable(c_in, c_out, stride=2)
    # 3×3 depthwise (9·C_in) + 1×1 pointwise (C_in·C_out) + two BNs (γ, β)
    assert nparams(m) == 9 * c_in + c_in * c_out + 2 * c_in + 2 * c_out
    assert m.depthwise.conv.groups == c_in
    assert m.eval()(randn(1, c_in, 16, 16)).shape == (1, c_out, 8, 8)


# --- residual blocks -----------------------------------------------------------------------

def test_basic_block_identity_shortcut_when_shapes_match():
    m = BasicBlock(8, 8).eval()
    assert isinstance(m.shortcut, nn.Identity)
    zero_last_bn(m.bn2)
    x = randn(2, 8, 6, 6)
    close(m(x), F.relu(x), what="BasicBlock with a zero residual branch")


@pytest.mark.parametrize("c_in, c_out, stride", [(8, 16, 1), (8, 8, 2), (8, 16, 2)])
def test_basic_block_projection_shortcut(c_in, c_out, stride):
    m = BasicBlock(c_in, c_out, stride).eval()
    assert isinstance(m.shortcut, nn.Sequential)
    assert m.shortcut.conv.kernel_size == (1, 1) and m.shortcut.conv.stride == (stride, stride)
    assert m(randn(1, c_in, 8, 8)).shape == (1, c_out, 8 // stride, 8 // stride)


def test_bottleneck_shapes_identity_and_resnext_width():
    m = Bottleneck(64, 16).eval()                 # 4·16 = 64 out: identity shortcut
    assert m.out_channels == 64 and isinstance(m.shortcut, nn.Identity)
    zero_last_bn(m.bn3)
    x = randn(1, 64, 5, 5)
    close(m(x), F.relu(x), what="Bottleneck with a zero residual branch")

    down = Bottleneck(64, 32, stride=2).eval()
    assert down(x).shape == (1, 128, 3, 3) and not isinstance(down.shortcut, nn.Identity)

    # ResNeXt-50 32×4d, stage 1: width = int(64·4/64)·32 = 128, grouped 3×3
    rx = Bottleneck(64, 64, groups=32, width_per_group=4)
    assert rx.width == 128 and rx.conv2.groups == 32
    assert rx.conv2.weight.shape == (128, 4, 3, 3)
    assert rx.conv3.weight.shape == (256, 128, 1, 1)


@pytest.mark.parametrize("c_in, c_out, stride, residual", [
    (16, 16, 1, True), (16, 24, 1, False), (16, 16, 2, False), (16, 24, 2, False)])
def test_inverted_residual_uses_residual_only_for_stride1_equal_channels(c_in, c_out, stride,
                                                                          residual):
    m = InvertedResidual(c_in, c_out, stride, expand_ratio=6).eval()
    assert m.use_residual is residual
    assert m.hidden == 96
    zero_last_bn(m.block.project.bn)
    x = randn(1, c_in, 8, 8)
    y = m(x)
    assert y.shape == (1, c_out, 8 // stride, 8 // stride)
    expected = x if residual else torch.zeros_like(y)
    close(y, expected, what="inverted residual with a zero branch")


def test_inverted_residual_is_linear_at_the_end_and_skips_expand_for_ratio_1():
    m = InvertedResidual(8, 16, 1, expand_ratio=1).eval()
    assert [n for n, _ in m.block.named_children()] == ["depthwise", "project"]
    assert isinstance(m.block.depthwise.act, nn.ReLU6)
    assert not hasattr(m.block.project, "act")
    assert (m(randn(1, 8, 6, 6)) < 0).any()       # no ReLU after the projection
    with pytest.raises(ValueError, match="expand_ratio"):
        InvertedResidual(8, 8, 1, expand_ratio=0.5)


# --- dense ---------------------------------------------------------------------------------

@pytest.mark.parametrize("c_in, layers, growth", [(16, 3, 8), (64, 6, 32), (5, 1, 7)])
def test_dense_block_channels_grow_by_growth_rate(c_in, layers, growth):
    m = DenseBlock(layers, c_in, growth, bn_size=2).eval()
    assert m.out_channels == c_in + layers * growth
    for i, layer in enumerate(m.children()):
        assert layer.conv1.in_channels == c_in + i * growth
    x = randn(2, c_in, 6, 6)
    y = m(x)
    assert y.shape == (2, c_in + layers * growth, 6, 6)
    close(y[:, :c_in], x, what="a dense block passes its input through")


def test_dense_layer_and_transition():
    layer = DenseLayer(24, growth_rate=12, bn_size=4)
    assert layer.conv1.out_channels == 48 and layer.conv2.weight.shape == (12, 48, 3, 3)
    assert layer.eval()(randn(1, 24, 5, 5)).shape == (1, 12, 5, 5)
    t = Transition(24, 12).eval()
    assert t(randn(1, 24, 8, 9)).shape == (1, 12, 4, 4)


# --- inception -----------------------------------------------------------------------------

def test_inception_concatenates_branches():
    m = Inception(192, 64, 96, 128, 16, 32, 32).eval()
    assert m.out_channels == 256
    assert m(randn(1, 192, 7, 7)).shape == (1, 256, 7, 7)
    assert m.branch3.conv.conv.kernel_size == (3, 3)      # torchvision's choice
    paper = Inception(192, 64, 96, 128, 16, 32, 32, large_kernel=5)
    assert paper.branch3.conv.conv.kernel_size == (5, 5)
    assert nparams(paper) - nparams(m) == 16 * 32 * (25 - 9)
    with pytest.raises(ValueError, match="large_kernel"):
        Inception(8, 1, 1, 1, 1, 1, 1, large_kernel=4)


# --- shuffle -------------------------------------------------------------------------------

@pytest.mark.parametrize("channels, groups", [(6, 2), (6, 3), (12, 4), (8, 1), (8, 8)])
def test_channel_shuffle_matches_torch(channels, groups):
    x = randn(2, channels, 3, 4)
    before = x.clone()
    close(channel_shuffle(x, groups), nn.ChannelShuffle(groups)(x), what="shuffle")
    assert torch.equal(x, before)


def test_channel_shuffle_rejects_bad_input():
    with pytest.raises(ValueError, match="groups"):
        channel_shuffle(randn(1, 6, 2, 2), 4)
    with pytest.raises(ValueError, match="4-D"):
        channel_shuffle(randn(6, 2, 2), 2)
    with pytest.raises(TypeError, match="x"):
        channel_shuffle([[1.0]], 1)


def test_shufflev2_unit_shapes_and_pass_through_half():
    unit = ShuffleV2Unit(24, 24, 1).eval()
    assert not hasattr(unit, "branch1")
    x = randn(1, 24, 6, 6)
    y = unit(x)
    assert y.shape == x.shape
    # after shuffling 2 groups, the untouched first half sits on the even channels
    close(y[:, 0::2], x[:, :12], what="ShuffleV2 identity half")
    down = ShuffleV2Unit(24, 116, 2).eval()
    assert down(x).shape == (1, 116, 3, 3)
    with pytest.raises(ValueError, match="in_channels"):
        ShuffleV2Unit(24, 48, 1)


# --- deformable ----------------------------------------------------------------------------

def test_deform_layer_with_zero_offsets_is_a_plain_conv():
    torch.manual_seed(0)
    m = DeformConv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    with torch.no_grad():
        conv.weight.copy_(m.weight)
        conv.bias.copy_(m.bias)
    assert torch.count_nonzero(m.offset_conv.weight) == 0
    x = randn(2, 4, 9, 10, dtype=torch.float32)
    close(m(x), conv(x), what="DeformConv2d with zero offsets")


@pytest.mark.parametrize("cfg", [
    # n, c_in, c_out, h, w, kernel, stride, padding, dilation, groups, offset groups, mask
    (2, 4, 6, 7, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1, 1, False),
    (1, 6, 4, 9, 7, (3, 3), (2, 2), (2, 2), (2, 2), 2, 3, True),
    (2, 4, 4, 5, 6, (2, 3), (1, 2), (0, 1), (1, 1), 4, 2, True),
])
def test_deform_conv2d_matches_grid_sample_oracle(cfg):
    n, c_in, c_out, h, w, (kh, kw), s, p, d, groups, g_off, use_mask = cfg
    x, weight, bias = randn(n, c_in, h, w, dtype=torch.float64, seed=1), \
        randn(c_out, c_in // groups, kh, kw, dtype=torch.float64, seed=2), \
        randn(c_out, dtype=torch.float64, seed=3)
    ho, wo = F.conv2d(x, weight, None, s, p, d, groups).shape[-2:]
    offset = 3 * randn(n, 2 * g_off * kh * kw, ho, wo, dtype=torch.float64, seed=4)
    mask = torch.rand(n, g_off * kh * kw, ho, wo, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(5)) if use_mask else None
    inputs = [t.clone() for t in (x, offset)]
    got = deform_conv2d(x, offset, weight, bias, s, p, d, mask)
    close(got, deform_conv2d_torch(x, offset, weight, bias, s, p, d, mask),
                 what="deform_conv2d")
    assert torch.equal(x, inputs[0]) and torch.equal(offset, inputs[1])


def test_deform_conv2d_integer_and_half_pixel_offsets_shift_the_input():
    # brute force: every tap moved by (dy, dx) = (1, 0) reads the zero-padded image one row
    # lower; a (0, 0.5) move reads the mean of two horizontal neighbours.
    x = randn(1, 3, 6, 7, dtype=torch.float64)
    weight = randn(2, 3, 3, 3, dtype=torch.float64, seed=1)
    offset = torch.zeros(1, 18, 6, 7, dtype=torch.float64)
    offset[:, 0::2] = 1.0
    padded = F.pad(x, (1, 1, 1, 2))                 # one extra zero row at the bottom
    close(deform_conv2d(x, offset, weight, padding=1), F.conv2d(padded[:, :, 1:], weight))
    offset = torch.zeros(1, 18, 6, 7, dtype=torch.float64)
    offset[:, 1::2] = 0.5
    padded = F.pad(x, (1, 2, 1, 1))                 # one extra zero column on the right
    halfway = (padded[..., :-1] + padded[..., 1:]) / 2
    close(deform_conv2d(x, offset, weight, padding=1), F.conv2d(halfway, weight))


def test_deform_layer_learns_offsets():
    m = DeformConv2d(3, 4)
    m(randn(1, 3, 8, 8)).square().sum().backward()
    assert m.offset_conv.weight.grad is not None
    assert m.offset_conv.weight.grad.abs().sum() > 0


def test_deform_conv2d_rejects_bad_shapes():
    x, w = randn(1, 4, 5, 5), randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match="offset"):
        deform_conv2d(x, torch.zeros(1, 18, 5, 5), w)          # output is 3×3, not 5×5
    with pytest.raises(ValueError, match="mask"):
        deform_conv2d(x, torch.zeros(1, 18, 3, 3), w, mask=torch.ones(1, 8, 3, 3))
    with pytest.raises(TypeError, match="input"):
        deform_conv2d(x.numpy(), torch.zeros(1, 18, 3, 3), w)
    with pytest.raises(ValueError, match="stride"):
        deform_conv2d(x, torch.zeros(1, 18, 3, 3), w, stride=0)
