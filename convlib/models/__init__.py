"""Classic CNNs assembled from :mod:`convlib.blocks` (imports torch).

Every model is an ``nn.Sequential`` with readable child names, so that
``convlib.cost.profile`` lists its layers by meaningful names. Parameter counts equal
torchvision's (checked in the tests); MobileNetV1 follows its paper.
"""

from convlib.models.classic import alexnet, googlenet, vgg16
from convlib.models.densenet import densenet121
from convlib.models.mobile import mobilenet_v1, mobilenet_v2, shufflenet_v2_x1_0
from convlib.models.resnet import resnet18, resnet50

__all__ = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2",
           "googlenet", "densenet121", "shufflenet_v2_x1_0"]
