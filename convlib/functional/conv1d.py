"""1-D convolution and transposed convolution, forward and backward: the 2-D ops on height-1 images.

``x (N, C, L)`` is read as ``(N, C, 1, L)`` and the weight ``(Cout, Cin/groups, k)`` as
``(Cout, Cin/groups, 1, k)``; stride, padding, dilation and output_padding act along the width
only. So every 1-D op here is one call of its 2-D twin in :mod:`convlib.functional.conv`.

See: chapter Convolution: from a sliding window to a matrix product; chapter Transposed convolution.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from convlib._validate import as_array, nonnegative_pair, positive_pair, torch_sequence
from convlib.functional._batch import accepts_unbatched
from convlib.functional.conv import (
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
)

__all__ = ["conv1d", "conv1d_backward", "conv_transpose1d", "conv_transpose1d_backward"]

IntOrOne = Union[int, Sequence[int]]


def _as_2d(op: str, x, weight, grad_output=None, stride=1, padding=0, dilation=1,
           output_padding=0, weight_layout="(Cout, Cin/groups, k)"):
    """Validate the 1-D arguments; return them as the height-1 arguments of the 2-D op."""
    x = as_array(x, "x", 3)
    weight = as_array(weight, "weight", 3, weight_layout)
    (s,) = positive_pair(torch_sequence(stride, "stride", op, 1), "stride", 1)
    (d,) = positive_pair(torch_sequence(dilation, "dilation", op, 1), "dilation", 1)
    (op_,) = nonnegative_pair(torch_sequence(output_padding, "output_padding", op, 1),
                              "output_padding", 1)
    if isinstance(padding, str):
        p = padding
    else:
        p = (0, nonnegative_pair(torch_sequence(padding, "padding", op, 1), "padding", 1)[0])
    arrays = [x[:, :, None, :], weight[:, :, None, :]]
    if grad_output is not None:
        arrays.append(as_array(grad_output, "grad_output", 3)[:, :, None, :])
    return arrays, dict(stride=(1, s), padding=p, dilation=(1, d)), (0, op_)


@accepts_unbatched(3)
def conv1d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
           stride: IntOrOne = 1, padding: Union[IntOrOne, str] = 0, dilation: IntOrOne = 1,
           groups: int = 1) -> np.ndarray:
    """1-D convolution, as ``torch.nn.functional.conv1d``: :func:`conv2d` on a height-1 image.

    ``x: (N, Cin, L)`` (or unbatched ``(Cin, L)``), ``weight: (Cout, Cin/groups, k)`` ->
    ``(N, Cout, Lo)`` with ``Lo = floor((L + 2*p - d*(k-1) - 1) / s) + 1``::

        y[n, o, i] = bias[o] + sum_{c,a} weight[o, c, a] * xp[n, g*Cg + c, i*s + a*d]

    ``stride``, ``padding``, ``dilation``: an int or a 1-tuple; ``padding`` also "valid"/"same".

    >>> conv1d(np.array([[[1.0, 2.0, 3.0, 4.0]]]), np.array([[[1.0, -1.0]]]))
    array([[[-1., -1., -1.]]])

    See: chapter Convolution: from a sliding window to a matrix product.
    """
    (x4, w4), kw, _ = _as_2d("conv1d", x, weight, stride=stride, padding=padding,
                             dilation=dilation)
    return conv2d(x4, w4, bias, groups=groups, **kw)[:, :, 0]


@accepts_unbatched(3, arrays=("x", "grad_output"), results=(0,))
def conv1d_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: IntOrOne = 1, padding: Union[IntOrOne, str] = 0,
                    dilation: IntOrOne = 1,
                    groups: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv1d`: ``(grad_input, grad_weight, grad_bias)``.

    ``grad_output: (N, Cout, Lo)`` -> ``grad_input (N, Cin, L)``, ``grad_weight (Cout,
    Cin/groups, k)``, ``grad_bias (Cout,)``; :func:`conv2d_backward` on height-1 images::

        grad_weight[o, c, a] = sum_{n,i} grad_output[n, o, i] * xp[n, g*Cg + c, i*s + a*d]
        grad_input = conv_transpose1d(grad_output, weight)  (cropped/padded back to L)

    See: chapter Convolution: from a sliding window to a matrix product.
    """
    (x4, w4, g4), kw, _ = _as_2d("conv1d", x, weight, grad_output, stride=stride,
                                 padding=padding, dilation=dilation)
    gx, gw, gb = conv2d_backward(g4, x4, w4, groups=groups, **kw)
    return gx[:, :, 0], gw[:, :, 0], gb


@accepts_unbatched(3)
def conv_transpose1d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
                     stride: IntOrOne = 1, padding: IntOrOne = 0, output_padding: IntOrOne = 0,
                     groups: int = 1, dilation: IntOrOne = 1) -> np.ndarray:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    ``x: (N, Cin, L)`` (or ``(Cin, L)``), ``weight: (Cin, Cout/groups, k)`` -> ``(N, Cout, Lo)``
    with ``Lo = (L - 1)*s - 2*p + d*(k - 1) + output_padding + 1``: the adjoint of
    :func:`conv1d`, each input sample scattering ``x[n, c, i] * weight[c, o, a]`` onto output
    ``i*s + a*d - p``. :func:`conv_transpose2d` on a height-1 image.

    >>> conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 2)))
    array([[[1., 2., 2., 1.]]])

    See: chapter Transposed convolution.
    """
    (x4, w4), kw, op = _as_2d("conv_transpose1d", x, weight, stride=stride, padding=padding,
                              dilation=dilation, output_padding=output_padding,
                              weight_layout="(Cin, Cout/groups, k)")
    return conv_transpose2d(x4, w4, bias, output_padding=op, groups=groups, **kw)[:, :, 0]


@accepts_unbatched(3, arrays=("x", "grad_output"), results=(0,))
def conv_transpose1d_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                              stride: IntOrOne = 1, padding: IntOrOne = 0,
                              output_padding: IntOrOne = 0, groups: int = 1,
                              dilation: IntOrOne = 1
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv_transpose1d`: ``(grad_input, grad_weight, grad_bias)``.

    ``grad_input = conv1d(grad_output, weight, stride, padding, dilation, groups)`` (the
    adjoint of the adjoint); ``grad_weight[c, o, a] = sum_{n,i} x[n, c, i] *
    grad_output_padded[n, g*Cg + o, i*s + a*d]``; ``grad_bias`` sums over N and L.

    See: chapter Transposed convolution.
    """
    (x4, w4, g4), kw, op = _as_2d("conv_transpose1d", x, weight, grad_output, stride=stride,
                                  padding=padding, dilation=dilation,
                                  output_padding=output_padding,
                                  weight_layout="(Cin, Cout/groups, k)")
    gx, gw, gb = conv_transpose2d_backward(g4, x4, w4, output_padding=op, groups=groups, **kw)
    return gx[:, :, 0], gw[:, :, 0], gb
