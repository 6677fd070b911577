"""The building blocks of classic CNNs as ``torch.nn.Module``s (imports torch).

Each block is one screen of code with a docstring naming its paper and the chapter that
explains it. ``import convlib`` does not import this package; ``import convlib.blocks`` does.
"""

from convlib.blocks.basic import ConvBNAct, DepthwiseSeparable
from convlib.blocks.deform import DeformConv2d, deform_conv2d
from convlib.blocks.dense import DenseBlock, DenseLayer, Transition
from convlib.blocks.inception import Inception
from convlib.blocks.residual import BasicBlock, Bottleneck, InvertedResidual
from convlib.blocks.shuffle import ShuffleV2Unit, channel_shuffle

__all__ = [
    "ConvBNAct", "DepthwiseSeparable",
    "BasicBlock", "Bottleneck", "InvertedResidual",
    "DenseLayer", "DenseBlock", "Transition",
    "Inception",
    "ShuffleV2Unit", "channel_shuffle",
    "DeformConv2d", "deform_conv2d",
]
