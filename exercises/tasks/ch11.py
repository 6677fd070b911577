"""Exercises for chapter group 11: "Dense connectivity", "Inception", "The ShuffleNet unit" and
"What networks cost".

Cost by formula: the learner returns plain ints; the references build the real
``convlib.blocks`` module on PyTorch's meta device and count it with ``convlib.cost`` (no
arithmetic runs). See ``exercises/checking.py``.
"""

from __future__ import annotations

import torch

from exercises.rules import library
from exercises.checking import Case, Chapter
from exercises.mistakes import Mistake

__all__ = ["chapter", "q1", "q2", "q3"]

chapter = Chapter("ch11", "Dense blocks, Inception and what networks cost",
                  notebook="ch11_dense_inception")


def _dense(num_layers, in_channels, growth_rate, bn_size=4):
    from convlib.blocks import DenseBlock

    with torch.device("meta"):
        return DenseBlock(num_layers, in_channels, growth_rate, bn_size)


# ---- q1: output channels of a dense block -----------------------------------------------------
def _ref_channels(num_layers, in_channels, growth_rate):
    return int(_dense(num_layers, in_channels, growth_rate).out_channels)


q1 = chapter.task(
    "q1", "the output channels of a dense block", function="dense_block_channels",
    forbid=library("DenseBlock", "blocks", what="the count"),
    reference=_ref_channels,
    cases=[
        Case("one layer: 16 channels in, growth rate 8", (1, 16, 8)),
        Case("DenseNet-121 block 1: 6 layers, 64 in, k = 32", (6, 64, 32)),
        Case("DenseNet-121 block 3: 24 layers, 256 in, k = 32", (24, 256, 32)),
        Case("a small growth rate: 12 layers, 24 in, k = 12", (12, 24, 12)),
    ],
    mistakes=[
        Mistake("block input forgotten", (
            "you returned only the new channels, num_layers * growth_rate. The block's output is "
            "the concatenation of its INPUT and every layer's new channels."),
            lambda ref, a: a["num_layers"] * a["growth_rate"]),
        Mistake("one layer short", (
            "you counted num_layers - 1 layers of new channels: that is what the LAST layer sees "
            "as its input. The output also contains the last layer's own growth_rate channels."),
            lambda ref, a: a["in_channels"] + (a["num_layers"] - 1) * a["growth_rate"]),
    ],
    hints=[
        "Each layer adds growth_rate channels to the stack; the stack starts with the block's "
        "input.",
        "return in_channels + num_layers * growth_rate",
    ])


# ---- q2: parameters of a dense block ------------------------------------------------------------
def _ref_params(num_layers, in_channels, growth_rate, bn_size=4):
    from convlib.cost import count_params

    return int(count_params(_dense(num_layers, in_channels, growth_rate, bn_size)))


def _params_variant(no_bn=False, same_input=False, inner_from_input=False):
    def wrong(ref, a):
        n, c0, k, b = a["num_layers"], a["in_channels"], a["growth_rate"], a["bn_size"]
        total = 0
        for layer in range(n):
            c = c0 if same_input else c0 + layer * k
            inner = c if inner_from_input else b * k
            total += c * inner + 9 * inner * k
            if not no_bn:
                total += 2 * c + 2 * inner
        return total
    return wrong


q2 = chapter.task(
    "q2", "the parameters of a dense block", function="dense_block_params",
    forbid=library("DenseBlock", "blocks", "count_params", "cost", what="the count"),
    reference=_ref_params,
    cases=[
        Case("one layer: 16 in, k = 8, bn_size 4", (1, 16, 8)),
        Case("two layers: 8 in, k = 4, bn_size 2", (2, 8, 4), {"bn_size": 2}),
        Case("DenseNet-121 block 1: 6 layers, 64 in, k = 32", (6, 64, 32)),
        Case("DenseNet-121 block 4: 16 layers, 512 in, k = 32", (16, 512, 32)),
    ],
    mistakes=[
        Mistake("BatchNorm parameters forgotten", (
            "each layer has two BatchNorms with a scale and a shift per channel: 2 * c_l for "
            "the first (on the concatenated input) and 2 * bn_size * k for the second."),
            _params_variant(no_bn=True)),
        Mistake("every layer sees only the block input", (
            "layer l (from 1) sees in_channels + (l - 1) * growth_rate channels, not "
            "in_channels: its input is the concatenation of everything before it."),
            _params_variant(same_input=True)),
        Mistake("inner width taken from the input", (
            "the 1x1 convolution goes to bn_size * growth_rate channels, whatever the width of "
            "its input."), _params_variant(inner_from_input=True)),
    ],
    hints=[
        "Layer l (l = 1 .. num_layers) sees c_l = in_channels + (l - 1) * growth_rate channels: "
        "BN (2 c_l) -> 1x1 conv c_l -> b k (no bias) -> BN (2 b k) -> 3x3 conv b k -> k (no "
        "bias), with b = bn_size.",
        "Sum over the layers of 2*c + c*b*k + 2*b*k + 9*b*k*k, with c = in_channels + l * "
        "growth_rate for l in range(num_layers).",
    ])


# ---- q3: multiply-adds of an Inception module -----------------------------------------------------
def _ref_inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, height,
                   width, large_kernel=5):
    from convlib.blocks import Inception
    from convlib.cost import count_macs

    with torch.device("meta"):
        m = Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj,
                      large_kernel)
    return int(count_macs(m, (1, in_channels, height, width)))


def _inception_variant(no_reduction=False, kernel=None, no_pool_proj=False):
    def wrong(ref, a):
        c, hw = a["in_channels"], a["height"] * a["width"]
        k = kernel if kernel is not None else a["large_kernel"]
        if kernel is not None and kernel == a["large_kernel"]:
            return None
        per_pixel = c * a["ch1x1"] + (0 if no_pool_proj else c * a["pool_proj"])
        if no_reduction:
            per_pixel += 9 * c * a["ch3x3"] + k * k * c * a["ch5x5"]
        else:
            per_pixel += c * a["ch3x3red"] + 9 * a["ch3x3red"] * a["ch3x3"]
            per_pixel += c * a["ch5x5red"] + k * k * a["ch5x5red"] * a["ch5x5"]
        return hw * per_pixel
    return wrong


_3A = (192, 64, 96, 128, 16, 32, 32)

q3 = chapter.task(
    "q3", "the multiply-adds of an Inception module", function="inception_macs",
    forbid=library("Inception", "blocks", "count_macs", "profile", "cost", what="the count"),
    reference=_ref_inception,
    cases=[
        Case("GoogLeNet's inception 3a at 28x28 (the paper's 5x5)", _3A + (28, 28)),
        Case("a small module: 8 in, widths 4/3->6/2->4/4, 10x10", (8, 4, 3, 6, 2, 4, 4, 10, 10)),
        Case("torchvision's variant: a 3x3 in the third branch", _3A + (28, 28),
             {"large_kernel": 3}),
        Case("inception 4a at 14x14, non-square input 14x12",
             (480, 192, 96, 208, 16, 48, 64, 14, 12)),
    ],
    mistakes=[
        Mistake("the 1x1 reductions left out", (
            "you computed the 3x3 and 5x5 convolutions on all in_channels. In the module they "
            "run on the REDUCED widths ch3x3red and ch5x5red, after a 1x1 convolution "
            "in_channels -> ch3x3red (and -> ch5x5red) that costs its own multiply-adds."),
            _inception_variant(no_reduction=True)),
        Mistake("large kernel fixed at 5", (
            "the third branch uses large_kernel x large_kernel (3 in torchvision's variant): "
            "large_kernel**2 * ch5x5red * ch5x5 per pixel."), _inception_variant(kernel=5)),
        Mistake("large kernel fixed at 3", (
            "the third branch uses large_kernel x large_kernel (5 in the paper): "
            "large_kernel**2 * ch5x5red * ch5x5 per pixel."), _inception_variant(kernel=3)),
        Mistake("pooling projection forgotten", (
            "the max pooling costs nothing, but the 1x1 convolution after it (in_channels -> "
            "pool_proj) does."), _inception_variant(no_pool_proj=True)),
    ],
    hints=[
        "Every branch keeps the height x width size. Per output pixel: branch 1: C*ch1x1; "
        "branch 2: C*ch3x3red + 9*ch3x3red*ch3x3; branch 3: C*ch5x5red + "
        "large_kernel**2*ch5x5red*ch5x5; branch 4 (pool, then 1x1): C*pool_proj.",
        "Add the four per-pixel costs and multiply by height * width; return an int.",
    ])
