"""(being written)"""

__all__ = ["depthwise_conv2d", "pointwise_conv2d", "separable_conv2d", ]


def depthwise_conv2d(*args, **kwargs):
    raise NotImplementedError("depthwise_conv2d is being written")


def pointwise_conv2d(*args, **kwargs):
    raise NotImplementedError("pointwise_conv2d is being written")


def separable_conv2d(*args, **kwargs):
    raise NotImplementedError("separable_conv2d is being written")
