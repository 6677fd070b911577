"""Receptive fields of a stack of convolutions and poolings.

The receptive field (感受野) of an output feature is the region of the input that can
influence it. For a chain of layers ``l = 1..L`` with kernel ``k_l``, stride ``s_l``, padding
``p_l`` (before, i.e. top / left) and dilation ``d_l`` (effective kernel
``k̂_l = d_l*(k_l - 1) + 1``), Araujo, Norris & Sim ("Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019) give, per axis:

- effective stride (the "jump" between neighbouring outputs, in input pixels)
  ``S_L = s_1 * s_2 * ... * s_L``
- receptive field size ``r_L = 1 + sum_l (k̂_l - 1) * S_{l-1}``  (``S_0 = 1``)
- effective padding ``P_L = sum_l p_l * S_{l-1}``
- output feature ``j`` sees input pixels ``j*S_L - P_L`` to ``j*S_L - P_L + r_L - 1``;
  the centre of the first one is ``c = -P_L + (r_L - 1) / 2`` (zero-indexed input pixels).

Computed layer by layer this is the recurrence of "A guide to receptive field arithmetic":
``r_out = r_in + (k̂ - 1)*S_in``, ``S_out = S_in*s``, ``P_out = P_in + p*S_in``.
The region may run outside the input (negative indices, or ``>= input size``): those
positions are padding. With dilation the region has holes; ``size`` is its full extent.

Everything is **per axis, on ints**. For an image, describe the height (or the width) axis;
:func:`of_model` takes ``axis=0`` (rows) or ``axis=1`` (columns). Only :func:`of_model`
imports torch, and only when called.

>>> [rf.size for rf in receptive_field([(3, 1, 1), (3, 1, 1), (2, 2, 0)])]
[3, 5, 6]

See: chapter Receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from convlib._validate import _is_int, as_pair, nonnegative_int, positive_int
from convlib.arithmetic import conv_output_size, padding_for, pool_output_size

__all__ = [
    "Layer",
    "ReceptiveField",
    "receptive_field",
    "input_region",
    "of_model",
]


@dataclass(frozen=True)
class Layer:
    """One layer along one axis: kernel, stride, padding before (top / left), dilation.

    A pooling layer is a ``Layer`` too (its window is the kernel). ``ceil_mode`` only
    changes how many outputs there are (for ``output_size``), never where they look.
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    name: str = ""
    ceil_mode: bool = False
    pool: bool = False

    def __post_init__(self) -> None:
        positive_int(self.kernel, "kernel")
        positive_int(self.stride, "stride")
        if isinstance(self.padding, str):
            raise TypeError(
                f"padding must be an int (the padding before, along this axis), got "
                f"{self.padding!r}; convert words with convlib.arithmetic.padding_for"
            )
        nonnegative_int(self.padding, "padding")
        positive_int(self.dilation, "dilation")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")

    @property
    def effective_kernel(self) -> int:
        """``d*(k - 1) + 1``: the span of the (dilated) kernel."""
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the outputs of ``layer``, in input pixels (one axis).

    ``size`` r, ``stride`` S (the jump), ``padding`` P, ``center`` = ``-P + (r - 1)/2``
    (centre of output feature 0); ``output_size`` is filled when the input size is known.
    """

    layer: Layer
    size: int
    stride: int
    padding: int
    center: float
    output_size: Optional[int] = None

    @property
    def name(self) -> str:
        return self.layer.name

    def region(self, index: int = 0) -> tuple[int, int]:
        """``(first, last)`` input pixel that output feature ``index`` sees (may be < 0)."""
        return input_region([self], index)


LayerLike = Union[Layer, Sequence[int]]


def _as_layer(spec: object, position: int) -> Layer:
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) in (3, 4):
        if not all(_is_int(v) for v in spec):
            raise TypeError(
                f"layers[{position}] must hold ints (kernel, stride, padding[, dilation]), "
                f"got {spec!r}"
            )
        return Layer(*spec, name=f"layer{position}")
    raise TypeError(
        f"layers[{position}] must be a Layer or a tuple (kernel, stride, padding[, dilation]), "
        f"got {spec!r}"
    )


def receptive_field(layers: Iterable[LayerLike],
                    input_size: Optional[int] = None) -> list[ReceptiveField]:
    """Cumulative receptive field after each layer (one axis), Araujo et al.'s recurrence.

    ``layers``: ``Layer`` records or tuples ``(kernel, stride, padding[, dilation])``.
    Returns one :class:`ReceptiveField` per layer, first to last:
    ``r_out = r_in + (d*(k-1))*S_in``, ``S_out = S_in*s``, ``P_out = P_in + p*S_in``,
    ``center = -P + (r - 1)/2``. With ``input_size`` each record also carries the layer's
    output size (and a layer whose window does not fit raises ``ValueError``).

    >>> rf = receptive_field([(11, 4, 2), (3, 2, 0), (5, 1, 2)])[-1]
    >>> rf.size, rf.stride, rf.padding, rf.center
    (51, 8, 18, 7.0)

    See: chapter Receptive field.
    """
    if isinstance(layers, (Layer, str)) or not isinstance(layers, Iterable):
        raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
    specs = [_as_layer(spec, n) for n, spec in enumerate(layers)]
    if not specs:
        raise ValueError("layers must not be empty")
    size = positive_int(input_size, "input_size") if input_size is not None else None
    r, jump, pad = 1, 1, 0
    records = []
    for layer in specs:
        r += (layer.effective_kernel - 1) * jump
        pad += layer.padding * jump
        jump *= layer.stride
        if size is not None:
            if layer.pool:
                size = pool_output_size(size, layer.kernel, layer.stride, layer.padding,
                                        layer.dilation, layer.ceil_mode)
            else:
                size = conv_output_size(size, layer.kernel, layer.stride, layer.padding,
                                        layer.dilation)
        records.append(ReceptiveField(layer, r, jump, pad, -pad + (r - 1) / 2, size))
    return records


def input_region(records_or_layers: Union[ReceptiveField, Sequence[ReceptiveField],
                                          Sequence[LayerLike]],
                 index: int = 0) -> tuple[int, int]:
    """``(first, last)`` input pixels seen by output feature ``index`` of the last layer.

    ``first = index*S - P``, ``last = first + r - 1`` (inclusive, zero-indexed). The range
    may run outside the input — ``first < 0`` or ``last >= input size`` — where the
    network reads padding. Accepts a record, a list of records (the last is used) or
    a list of layers.

    >>> input_region([(3, 1, 1), (3, 2, 1)], 0)
    (-2, 2)

    See: chapter Receptive field.
    """
    if isinstance(records_or_layers, ReceptiveField):
        last = records_or_layers
    else:
        items = list(records_or_layers)
        if not items:
            raise ValueError("records_or_layers must not be empty")
        if all(isinstance(x, ReceptiveField) for x in items):
            last = items[-1]
        else:
            last = receptive_field(items)[-1]
    index = nonnegative_int(index, "index")
    if last.output_size is not None and index >= last.output_size:
        raise ValueError(
            f"index must be < the layer's output size {last.output_size}, got {index}"
        )
    first = index * last.stride - last.padding
    return (first, first + last.size - 1)


_SHAPE_PRESERVING = (
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Identity",
    "BatchNorm2d", "InstanceNorm2d", "GroupNorm", "LocalResponseNorm", "Dropout",
    "Dropout2d", "AlphaDropout", "ChannelShuffle",
)


def of_model(module: object, input_size: Union[int, Sequence[int]],
             axis: int = 0) -> list[ReceptiveField]:
    """Receptive fields of the layers of a torch ``nn.Sequential``, along one axis.

    Walks ``module`` (nested ``nn.Sequential`` are flattened, names joined with dots) and
    returns one :class:`ReceptiveField` per ``Conv2d`` / ``MaxPool2d`` / ``AvgPool2d``, with
    output sizes for an input of ``input_size`` (an int, or ``(H, W)``). Element-wise and
    normalisation layers (ReLU, BatchNorm2d, Dropout, Identity, ...) are skipped; any other
    layer raises ``TypeError``. ``axis=0`` follows the rows (height), ``axis=1`` the columns.
    ``Conv2d(padding="same")`` is resolved as PyTorch does (the padding before is
    ``d*(k-1)//2``).

    See: chapter Receptive field.
    """
    import torch.nn as nn  # torch only here: the rest of the module is stdlib

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch nn.Module, got {type(module).__name__}")
    if not _is_int(axis) or axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    size = as_pair(input_size, "input_size")[axis]
    positive_int(size, "input_size")

    def walk(mod: nn.Module, prefix: str):
        for name, child in mod.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, nn.Sequential):
                yield from walk(child, full)
            else:
                yield full, child

    def along(value: object, name: str) -> int:
        return as_pair(value, name)[axis]

    keep = tuple(getattr(nn, n) for n in _SHAPE_PRESERVING if hasattr(nn, n))
    layers = []
    if isinstance(module, nn.Sequential):
        found = walk(module, "")
    else:  # a single layer
        found = [(type(module).__name__, module)]
    for name, child in found:
        if isinstance(child, nn.Conv2d):
            k, s, d = child.kernel_size[axis], child.stride[axis], child.dilation[axis]
            p = child.padding
            if isinstance(p, str):
                p = padding_for(p, k, s, d)[0]
            else:
                p = p[axis]
            layers.append(Layer(k, s, p, d, name=name))
        elif isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
            k = along(child.kernel_size, "kernel_size")
            s = along(child.stride if child.stride is not None else child.kernel_size, "stride")
            p = along(child.padding, "padding")
            d = along(getattr(child, "dilation", 1), "dilation")
            layers.append(Layer(k, s, p, d, name=name, ceil_mode=bool(child.ceil_mode),
                                pool=True))
        elif isinstance(child, keep):
            continue
        else:
            raise TypeError(
                f"of_model cannot follow layer {name!r} ({type(child).__name__}): it knows "
                "Conv2d, MaxPool2d, AvgPool2d, nested Sequential and shape-preserving layers"
            )
    if not layers:
        raise ValueError("module holds no Conv2d / MaxPool2d / AvgPool2d layer")
    return receptive_field(layers, input_size=size)
