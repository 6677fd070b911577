"""(being written)"""

__all__ = ["im2col", "col2im", "conv_matrix", ]


def im2col(*args, **kwargs):
    raise NotImplementedError("im2col is being written")


def col2im(*args, **kwargs):
    raise NotImplementedError("col2im is being written")


def conv_matrix(*args, **kwargs):
    raise NotImplementedError("conv_matrix is being written")
