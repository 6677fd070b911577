"""The plain stacks and GoogLeNet: AlexNet, VGG-16, GoogLeNet (Inception v1).

See: chapter What networks cost.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from convlib._validate import positive_int
from convlib.blocks import ConvBNAct, Inception

__all__ = ["alexnet", "vgg16", "googlenet"]


def alexnet(num_classes: int = 1000) -> nn.Sequential:
    """AlexNet (Krizhevsky et al. 2012), the single-tower variant torchvision builds
    (64-192-384-256-256 channels). ``(N, 3, 224, 224) -> (N, num_classes)``;
    61,100,840 parameters for 1000 classes.

    See: chapter What networks cost.
    """
    num_classes = positive_int(num_classes, "num_classes")
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )
    classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )
    return nn.Sequential(OrderedDict(features=features, avgpool=nn.AdaptiveAvgPool2d(6),
                                     flatten=nn.Flatten(), classifier=classifier))


def vgg16(num_classes: int = 1000) -> nn.Sequential:
    """VGG-16, configuration D of Simonyan & Zisserman 2015: thirteen 3×3 convs in five
    stages (64, 128, 256, 512, 512 channels), each closed by 2×2 max pooling, then three
    fully connected layers. ``(N, 3, 224, 224) -> (N, num_classes)``; 138,357,544 parameters.

    See: chapter What networks cost.
    """
    num_classes = positive_int(num_classes, "num_classes")
    layers: list[nn.Module] = []
    in_channels = 3
    for width, repeats in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(repeats):
            layers += [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU()]
            in_channels = width
        layers.append(nn.MaxPool2d(2, 2))
    classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )
    return nn.Sequential(OrderedDict(features=nn.Sequential(*layers),
                                      avgpool=nn.AdaptiveAvgPool2d(7),
                                      flatten=nn.Flatten(), classifier=classifier))


# (in, 1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool proj) — Table 1 of Szegedy et al. 2015
_INCEPTION = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def googlenet(num_classes: int = 1000, large_kernel: int = 3) -> nn.Sequential:
    """GoogLeNet (Szegedy et al. 2015) as torchvision builds it, without the auxiliary
    classifiers: a conv stem, nine :class:`~convlib.blocks.Inception` modules with max
    pooling between stages 3/4/5, global average pooling, dropout and one linear layer.
    ``large_kernel=3`` copies torchvision's 3×3 in the "5×5" branch (6,624,904 parameters);
    ``large_kernel=5`` gives the paper's module. ``(N, 3, 224, 224) -> (N, num_classes)``.

    See: chapter Inception.
    """
    num_classes = positive_int(num_classes, "num_classes")
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=ConvBNAct(3, 64, 7, stride=2, eps=1e-3),
        maxpool1=nn.MaxPool2d(3, 2, ceil_mode=True),
        conv2=ConvBNAct(64, 64, 1, eps=1e-3),
        conv3=ConvBNAct(64, 192, 3, eps=1e-3),
        maxpool2=nn.MaxPool2d(3, 2, ceil_mode=True),
    )
    for name, cfg in _INCEPTION.items():
        layers[name] = Inception(*cfg, large_kernel=large_kernel)
        if name == "inception3b":
            layers["maxpool3"] = nn.MaxPool2d(3, 2, ceil_mode=True)
        elif name == "inception4e":
            layers["maxpool4"] = nn.MaxPool2d(2, 2, ceil_mode=True)
    layers.update(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                  dropout=nn.Dropout(0.2), fc=nn.Linear(1024, num_classes))
    return nn.Sequential(layers)
