"""(being written)"""

__all__ = ["deform_conv2d", "deform_conv2d_backward", ]


def deform_conv2d(*args, **kwargs):
    raise NotImplementedError("deform_conv2d is being written")


def deform_conv2d_backward(*args, **kwargs):
    raise NotImplementedError("deform_conv2d_backward is being written")
