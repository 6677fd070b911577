"""im2col and col2im (PyTorch's ``unfold`` / ``fold``), and convolution as one dense matrix.

im2col copies every sliding window of the image into a column; a convolution is then a
single matrix product of the flattened kernels with those columns. col2im is its adjoint:
it adds every column entry back onto the pixel it was read from (overlaps add up).
``conv_matrix`` writes the whole convolution as a matrix ``C``; its transpose ``C.T`` is the
transposed convolution.

See: chapter Convolution: from a sliding window to a matrix product.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from convlib._validate import (
    as_array,
    check_groups,
    nonnegative_pair,
    positive_int,
    positive_pair,
)
from convlib.functional._windows import (
    ConvGeometry,
    add_windows,
    conv_geometry,
    crop_nchw,
    pad_nchw,
    windows,
)

__all__ = ["im2col", "col2im", "conv_matrix"]

IntPair = Union[int, Sequence[int]]

# conv_matrix is dense: refuse matrices beyond this many entries (about 0.5 GB of float64).
MAX_MATRIX_ENTRIES = 2**26


def columns(x: np.ndarray, geom: ConvGeometry, groups: int) -> np.ndarray:
    """The im2col matrix of ``x (N, C, H, W)`` laid out for one batched matmul.

    Returns a new C-contiguous array ``(groups, C/groups * kh * kw, N * Ho * Wo)``: rows ordered
    ``(c, a, b)`` like the flattened weight, columns ordered ``(n, i, j)``.
    """
    n, c = x.shape[:2]
    (ho, wo), (kh, kw) = geom.out_hw, geom.kernel
    view = windows(pad_nchw(x, geom.pads), geom.kernel, geom.stride, geom.dilation, geom.out_hw)
    cols = np.ascontiguousarray(view.transpose(1, 4, 5, 0, 2, 3))  # (C, kh, kw, N, Ho, Wo)
    return cols.reshape(groups, c // groups * kh * kw, n * ho * wo)


def _batched(x: np.ndarray, name: str, ndim: int) -> tuple[np.ndarray, bool]:
    """Accept ``x`` with or without its batch axis, as torch's unfold/fold do."""
    if x.ndim == ndim - 1:
        return x[None], True
    if x.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array (or {ndim - 1}-D without the batch axis), "
            f"got shape {tuple(x.shape)}"
        )
    return x, False


def im2col(x: np.ndarray, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0,
           stride: IntPair = 1) -> np.ndarray:
    """Every sliding window of ``x`` as a column: ``torch.nn.functional.unfold``.

    ``x: (N, C, H, W)`` -> ``(N, C*kh*kw, L)`` with ``L = Ho*Wo`` and
    ``out[n, (c*kh + a)*kw + b, i*Wo + j] = x_padded[n, c, i*sh + a*dh, j*sw + b*dw]``.
    A 3-D ``x (C, H, W)`` gives ``(C*kh*kw, L)``.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2)[0]
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])

    See: chapter Convolution: from a sliding window to a matrix product.
    """
    x = as_array(x, "x")
    x4, unbatched = _batched(x, "x", 4)
    kernel = positive_pair(kernel_size, "kernel_size")
    nonnegative_pair(padding, "padding")  # unfold takes no "same"/"valid"
    geom = conv_geometry(x4.shape[2:], kernel, stride, padding, dilation)
    n, c = x4.shape[:2]
    view = windows(pad_nchw(x4, geom.pads), kernel, geom.stride, geom.dilation, geom.out_hw)
    out = view.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kernel[0] * kernel[1],
                                                   geom.out_hw[0] * geom.out_hw[1])
    return out[0] if unbatched else out


def col2im(cols: np.ndarray, output_size: IntPair, kernel_size: IntPair, dilation: IntPair = 1,
           padding: IntPair = 0, stride: IntPair = 1) -> np.ndarray:
    """Add columns back onto an image: ``torch.nn.functional.fold``, the adjoint of im2col.

    ``cols: (N, C*kh*kw, L)`` -> ``(N, C, H, W)`` with ``(H, W) = output_size`` and
    ``out[n, c, y, x] = sum of cols[n, (c*kh + a)*kw + b, i*Wo + j]`` over all ``(a, b, i, j)``
    with ``i*sh + a*dh - ph = y`` and ``j*sw + b*dw - pw = x``.

    >>> col2im(np.ones((1, 4, 4)), (3, 3), 2)[0, 0]   # how many windows cover each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])

    See: chapter Convolution: from a sliding window to a matrix product.
    """
    cols = as_array(cols, "cols")
    cols3, unbatched = _batched(cols, "cols", 3)
    hw = positive_pair(output_size, "output_size")
    kernel = positive_pair(kernel_size, "kernel_size")
    nonnegative_pair(padding, "padding")
    geom = conv_geometry(hw, kernel, stride, padding, dilation, what="output_size")
    n, ck, length = cols3.shape
    taps = kernel[0] * kernel[1]
    if ck % taps:
        raise ValueError(
            f"cols.shape[1]={ck} must be divisible by kh*kw={taps} (kernel_size={kernel})"
        )
    ho, wo = geom.out_hw
    if length != ho * wo:
        raise ValueError(
            f"cols.shape[2]={length} must equal the number of windows {ho}*{wo}={ho * wo} "
            f"for output_size={hw}, kernel_size={kernel}, padding, stride and dilation given"
        )
    c = ck // taps
    six = cols3.reshape(n, c, kernel[0], kernel[1], ho, wo).transpose(0, 1, 4, 5, 2, 3)
    padded = (hw[0] + geom.pads[0] + geom.pads[1], hw[1] + geom.pads[2] + geom.pads[3])
    out = crop_nchw(add_windows(six, padded, geom.stride, geom.dilation), geom.pads)
    out = np.ascontiguousarray(out)
    return out[0] if unbatched else out


def conv_matrix(weight: np.ndarray, input_size: IntPair, stride: IntPair = 1,
                padding: Union[IntPair, str] = 0, dilation: IntPair = 1,
                groups: int = 1) -> np.ndarray:
    """The convolution as a dense matrix ``C`` of shape ``(Cout*Ho*Wo, Cin*H*W)``.

    For one image ``x (Cin, H, W)``: ``conv2d(x[None], weight, ...)[0].ravel() == C @ x.ravel()``,
    and ``C.T @ y.ravel()`` is ``conv_transpose2d(y[None], weight, ...)`` (the adjoint).
    ``input_size`` is ``(H, W)``, one int, or ``(Cin, H, W)``. Entry by entry::

        C[(o*Ho + i)*Wo + j, (c*H + i*sh + a*dh - ph)*W + j*sw + b*dw - pw] = weight[o, c - g*Cg, a, b]

    for ``o`` in group ``g`` (``Cg = Cin / groups`` channels each); taps in the padding vanish.

    >>> conv_matrix(np.array([[[[1.0, 2.0]]]]), (1, 3))
    array([[1., 2., 0.],
           [0., 1., 2.]])

    See: chapter Transposed convolution.
    """
    weight = as_array(weight, "weight", 4, "(Cout, Cin/groups, kh, kw)")
    cout, cg, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"weight must have no empty axis, got shape {weight.shape}")
    g = positive_int(groups, "groups")
    check_groups(g, cg * g, cout)
    cin = cg * g
    if isinstance(input_size, (tuple, list)) and len(input_size) == 3:
        c_given, h, w = positive_pair(input_size, "input_size", 3)
        if c_given != cin:
            raise ValueError(
                f"input_size has {c_given} channels but weight expects {cin} "
                f"(weight.shape[1] * groups = {cg} * {g})"
            )
    else:
        h, w = positive_pair(input_size, "input_size")
    geom = conv_geometry((h, w), (kh, kw), stride, padding, dilation, what="input")
    ho, wo = geom.out_hw
    (sh, sw), (dh, dw) = geom.stride, geom.dilation
    if cout * ho * wo * cin * h * w > MAX_MATRIX_ENTRIES:
        raise ValueError(
            f"conv_matrix would have {cout * ho * wo} x {cin * h * w} entries; it is dense and "
            "meant for small examples (use a smaller input_size or fewer channels)"
        )
    # One index grid over (o, i, j, c', a, b): every (output pixel, kernel tap) pair.
    o, i, j, c_, a, b = np.ix_(range(cout), range(ho), range(wo), range(cg), range(kh), range(kw))
    y = i * sh + a * dh - geom.pads[0]
    x = j * sw + b * dw - geom.pads[2]
    c = (o // (cout // g)) * cg + c_
    row = (o * ho + i) * wo + j
    col = (c * h + y) * w + x
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    row, col, inside, vals = np.broadcast_arrays(row, col, inside, weight[:, None, None])
    out = np.zeros((cout * ho * wo, cin * h * w), dtype=weight.dtype)
    out[row[inside], col[inside]] = vals[inside]
    return out
