"""Depthwise, pointwise and depthwise-separable convolution in numpy.

A depthwise convolution filters each input channel on its own (``conv2d`` with
``groups = C``); a pointwise convolution is a 1x1 convolution, i.e. the same linear map over
channels applied at every pixel; a separable convolution is the first followed by the second
(MobileNet, Xception), with far fewer weights and multiply-adds than a full convolution.

``separable_conv2d`` follows TF-slim's ``separable_convolution2d`` (the reference in the
notes): weights in TensorFlow's layout, ``"SAME"`` / ``"VALID"`` padding by TensorFlow's rules,
``rate`` for dilation and NHWC by default. ``depthwise_conv2d`` / ``pointwise_conv2d`` follow
PyTorch's NCHW / OIHW conventions like the rest of convlib.

See: chapter Pointwise, depthwise and depthwise-separable convolution.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np

from convlib._validate import as_array, one_of, positive_pair
from convlib.functional._batch import accepts_unbatched
from convlib.functional._windows import pad_nchw
from convlib.functional.conv import conv2d

IntPair = Union[int, Sequence[int]]

__all__ = ["depthwise_conv2d", "pointwise_conv2d", "separable_conv2d"]


@accepts_unbatched(4)
def depthwise_conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
                     stride: IntPair = 1, padding: Union[IntPair, str] = 0,
                     dilation: IntPair = 1) -> np.ndarray:
    """Depthwise convolution: every input channel convolved with its own ``M`` filters.

    x: ``(N, C, H, W)`` (or unbatched ``(C, H, W)``); weight: ``(C*M, 1, kh, kw)`` (``M`` =
    depth multiplier); bias: ``(C*M,)``. Output ``(N, C*M, Ho, Wo)``, channel ``c*M + m`` being::

        y[n, c*M+m, i, j] = bias[c*M+m] + sum_{a,b} weight[c*M+m, 0, a, b] * xp[n, c, i*sh + a*dh, j*sw + b*dw]

    That is ``conv2d(x, weight, bias, stride, padding, dilation, groups=C)`` (same padding
    words and output size). 深度卷积.
    See: chapter Pointwise, depthwise and depthwise-separable convolution.
    """
    x = as_array(x, "x", ndim=4)
    weight = as_array(weight, "weight", ndim=4, layout="(C*depth_multiplier, 1, kh, kw)")
    c = x.shape[1]
    if c < 1:
        raise ValueError(f"x must have at least one channel, got shape {tuple(x.shape)}")
    if weight.shape[1] != 1 or weight.shape[0] < 1 or weight.shape[0] % c:
        raise ValueError(
            f"weight must have shape (C*depth_multiplier, 1, kh, kw) with C = {c} input "
            f"channels, got {tuple(weight.shape)}"
        )
    return conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=c)


@accepts_unbatched(4)
def pointwise_conv2d(x: np.ndarray, weight: np.ndarray,
                     bias: Optional[np.ndarray] = None) -> np.ndarray:
    """Pointwise (1x1) convolution: ``y[n, o, h, w] = bias[o] + sum_c weight[o, c] * x[n, c, h, w]``.

    x: ``(N, Cin, H, W)`` (or ``(Cin, H, W)``); weight: ``(Cout, Cin, 1, 1)`` or ``(Cout, Cin)``;
    bias: ``(Cout,)``.
    Returns ``(N, Cout, H, W)``: one matrix product ``weight @ x[n].reshape(Cin, H*W)``,
    equal to ``conv2d`` with a 1x1 kernel. 逐点卷积. See: chapter Pointwise, depthwise and
    depthwise-separable convolution.
    """
    x = as_array(x, "x", ndim=4)
    weight = as_array(weight, "weight")
    if weight.ndim == 4 and weight.shape[2:] == (1, 1):
        weight = weight[:, :, 0, 0]
    if weight.ndim != 2:
        raise ValueError(f"weight must have shape (Cout, Cin, 1, 1) or (Cout, Cin), "
                         f"got {tuple(weight.shape)}")
    n, c, h, w = x.shape
    if weight.shape[1] != c:
        raise ValueError(f"input has {c} channels but weight expects {weight.shape[1]}")
    dtype = np.result_type(x, weight, np.float32)
    y = np.matmul(weight.astype(dtype, copy=False), x.astype(dtype, copy=False).reshape(n, c, h * w))
    y = y.reshape(n, weight.shape[0], h, w)
    if bias is not None:
        bias = as_array(bias, "bias", ndim=1, layout="(Cout,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        y += bias.astype(dtype, copy=False)[:, None, None]
    return y


def _tf_pads(padding: str, hw, kernel, stride, rate) -> tuple[int, int, int, int]:
    """TensorFlow's padding ``(top, bottom, left, right)``; SAME puts the odd pixel after.

    SAME: output ``ceil(i / s)``, total ``max((ceil(i/s) - 1)*s + r*(k-1) + 1 - i, 0)``.
    VALID: no padding; the dilated kernel ``r*(k-1) + 1`` must fit in the input.
    """
    pads = []
    for i, k, s, r in zip(hw, kernel, stride, rate):
        span = r * (k - 1) + 1
        if padding == "VALID":
            if span > i:
                raise ValueError(
                    f"depthwise_weight's kernel {tuple(kernel)} dilated by rate={tuple(rate)} spans "
                    f"{span} pixels, larger than the input {tuple(hw)} with padding 'VALID'"
                )
            pads += [0, 0]
        else:
            total = max((-(-i // s) - 1) * s + span - i, 0)
            pads += [total // 2, total - total // 2]
    return tuple(pads)  # type: ignore[return-value]


def separable_conv2d(x: np.ndarray, depthwise_weight: np.ndarray,
                     pointwise_weight: Optional[np.ndarray] = None,
                     bias: Optional[np.ndarray] = None, stride: IntPair = 1,
                     padding: str = "SAME", rate: IntPair = 1, data_format: str = "NHWC",
                     activation_fn: Optional[Callable[[np.ndarray], np.ndarray]] = None
                     ) -> np.ndarray:
    """Depthwise-separable convolution with the semantics of TF-slim ``separable_convolution2d``.

    x: ``(N, H, W, C)`` (``data_format="NHWC"``, the default) or ``(N, C, H, W)`` ("NCHW").
    depthwise_weight: TensorFlow layout ``[kh, kw, C, M]`` (M = ``depth_multiplier``; kernel
    size and M are read from it). pointwise_weight: ``[1, 1, C*M, num_outputs]``, or ``None``
    for TF-slim's ``num_outputs=None``: depthwise only, ``C*M`` output channels.
    bias: ``(num_outputs,)`` (or ``(C*M,)``), added last; activation_fn (e.g. a ReLU) is
    applied after it — ``None`` by default, unlike TF-slim whose default is ReLU. Depthwise
    stage, TensorFlow's formula (``xp`` padded, channel order ``c*M + m``)::

        dw[b, i, j, c*M + m] = sum_{di,dj} xp[b, s*i + rate*di, s*j + rate*dj, c] * depthwise_weight[di, dj, c, m]

    then ``y = dw @ pointwise_weight[0, 0] + bias``. ``padding``: "SAME" (output
    ``ceil(H / s)``, total padding ``max((ceil(H/s) - 1)*s + rate*(k-1) + 1 - H, 0)``, the odd
    pixel at the bottom/right) or "VALID" (none). ``rate`` (dilation) > 1 needs stride 1, as
    in TensorFlow. Output in ``data_format``. 深度可分离卷积.
    See: chapter Pointwise, depthwise and depthwise-separable convolution.
    """
    fmt = one_of(data_format, "data_format", ("NHWC", "NCHW"))
    x = as_array(x, "x", ndim=4, layout="(N, H, W, C)" if fmt == "NHWC" else "(N, C, H, W)")
    dw = as_array(depthwise_weight, "depthwise_weight", ndim=4,
                  layout="[kh, kw, in_channels, depth_multiplier]")
    xc = x.transpose(0, 3, 1, 2) if fmt == "NHWC" else x  # a view, NCHW
    n, c, h, w = xc.shape
    kh, kw, c_w, m = dw.shape
    if min(dw.shape) < 1:
        raise ValueError(f"depthwise_weight must have no empty axis, got shape {dw.shape}")
    if c_w != c:
        raise ValueError(f"input has {c} channels but depthwise_weight expects {c_w} "
                         f"(depthwise_weight.shape[2])")
    pw = None
    if pointwise_weight is not None:
        pw = as_array(pointwise_weight, "pointwise_weight", ndim=4,
                      layout="[1, 1, in_channels * depth_multiplier, num_outputs]")
        if pw.shape[:3] != (1, 1, c * m) or pw.shape[3] < 1:
            raise ValueError(f"pointwise_weight must have shape [1, 1, {c * m}, num_outputs], "
                             f"got {list(pw.shape)}")
    one_of(padding, "padding", ("SAME", "VALID"))
    s = positive_pair(stride, "stride")
    r = positive_pair(rate, "rate")
    if max(r) > 1 and s != (1, 1):
        raise ValueError(f"rate={rate!r} > 1 needs stride 1 (TensorFlow's rule), got stride={stride!r}")
    if activation_fn is not None and not callable(activation_fn):
        raise TypeError(f"activation_fn must be callable or None, got {activation_fn!r}")
    channels = pw.shape[3] if pw is not None else c * m
    if bias is not None:
        bias = as_array(bias, "bias", ndim=1, layout="(num_outputs,)")
        if bias.shape[0] != channels:
            raise ValueError(f"bias must have shape ({channels},), got {tuple(bias.shape)}")

    pads = _tf_pads(padding, (h, w), (kh, kw), s, r)
    # [kh, kw, C, M] -> (C*M, 1, kh, kw): output channel c*M + m holds filter [:, :, c, m].
    weight = dw.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    y = depthwise_conv2d(pad_nchw(xc, pads), weight, stride=s, dilation=r)
    if pw is not None:
        y = pointwise_conv2d(y, pw[0, 0].T)
    if bias is not None:
        y += bias.astype(y.dtype, copy=False)[:, None, None]
    if fmt == "NHWC":
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1))
    if activation_fn is not None:
        y = activation_fn(y)
    return y
