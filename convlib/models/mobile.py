"""The mobile networks: MobileNetV1, MobileNetV2, ShuffleNetV2 ×1.0.

See: chapter What networks cost.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from convlib._validate import positive_int
from convlib.blocks import ConvBNAct, DepthwiseSeparable, InvertedResidual, ShuffleV2Unit

__all__ = ["mobilenet_v1", "mobilenet_v2", "shufflenet_v2_x1_0"]

# (out channels, stride) of the 13 depthwise-separable blocks, Table 1 of Howard et al. 2017
# (the table's last depthwise "s2" is a misprint: the map stays 7×7, so the stride is 1).
_V1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

# (expansion t, channels c, repeats n, first stride s), Table 2 of Sandler et al. 2018
_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v1(num_classes: int = 1000) -> nn.Sequential:
    """MobileNetV1 (Howard et al. 2017) at width 1.0: a 3×3 stride-2 conv to 32 channels,
    13 :class:`~convlib.blocks.DepthwiseSeparable` blocks, global average pooling, one
    linear layer. The paper reports 4.2 M parameters and 569 M multiply-adds at 224×224.
    ``(N, 3, 224, 224) -> (N, num_classes)``. (torchvision has no MobileNetV1.)

    See: chapter Depthwise separable convolution.
    """
    num_classes = positive_int(num_classes, "num_classes")
    features: list[nn.Module] = [ConvBNAct(3, 32, 3, stride=2)]
    in_channels = 32
    for out_channels, stride in _V1:
        features.append(DepthwiseSeparable(in_channels, out_channels, stride))
        in_channels = out_channels
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(*features), avgpool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(), classifier=nn.Linear(1024, num_classes)))


def mobilenet_v2(num_classes: int = 1000) -> nn.Sequential:
    """MobileNetV2 (Sandler et al. 2018) at width 1.0: a 3×3 stride-2 conv to 32 channels,
    17 :class:`~convlib.blocks.InvertedResidual` blocks, a 1×1 conv to 1280, global pooling,
    dropout 0.2 and one linear layer. ``(N, 3, 224, 224) -> (N, num_classes)``;
    3,504,872 parameters.

    See: chapter Inverted residuals and linear bottlenecks.
    """
    num_classes = positive_int(num_classes, "num_classes")
    features: list[nn.Module] = [ConvBNAct(3, 32, 3, stride=2, activation=nn.ReLU6)]
    in_channels = 32
    for t, c, n, s in _V2:
        for i in range(n):
            features.append(InvertedResidual(in_channels, c, s if i == 0 else 1, expand_ratio=t))
            in_channels = c
    features.append(ConvBNAct(in_channels, 1280, 1, activation=nn.ReLU6))
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(*features), avgpool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(),
        classifier=nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))))


def shufflenet_v2_x1_0(num_classes: int = 1000) -> nn.Sequential:
    """ShuffleNetV2 ×1.0 (Ma et al. 2018): a 3×3 stride-2 conv to 24 channels and max
    pooling, three stages of 4, 8, 4 :class:`~convlib.blocks.ShuffleV2Unit`s (116, 232, 464
    channels; the first unit of each halves the resolution), a 1×1 conv to 1024, global
    pooling, one linear layer. ``(N, 3, 224, 224) -> (N, num_classes)``; 2,278,604 parameters.

    See: chapter The ShuffleNet unit.
    """
    num_classes = positive_int(num_classes, "num_classes")
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=ConvBNAct(3, 24, 3, stride=2), maxpool=nn.MaxPool2d(3, 2, padding=1))
    in_channels = 24
    for stage, (out_channels, n) in enumerate(zip((116, 232, 464), (4, 8, 4)), start=2):
        units = [ShuffleV2Unit(in_channels, out_channels, 2)]
        units += [ShuffleV2Unit(out_channels, out_channels, 1) for _ in range(n - 1)]
        layers[f"stage{stage}"] = nn.Sequential(*units)
        in_channels = out_channels
    layers.update(conv5=ConvBNAct(in_channels, 1024, 1), avgpool=nn.AdaptiveAvgPool2d(1),
                  flatten=nn.Flatten(), fc=nn.Linear(1024, num_classes))
    return nn.Sequential(layers)
