"""Receptive fields measured with torch: the effective receptive field, and residual networks.

The *theoretical* receptive field (:mod:`convlib.receptive_field`) says which input pixels
*can* change an output. Luo, Li, Urtasun & Zemel ("Understanding the Effective Receptive
Field in Deep Convolutional Neural Networks", NeurIPS 2016) measured how *much* each one does:
set the gradient of one centre output to 1 (every channel), back-propagate to the input and
look at the gradient's size. The map is Gaussian-like, far narrower than the theoretical
field, and for a stack of ``n`` layers its width grows like ``sqrt(n)`` while the theoretical
one grows like ``n``.

- :func:`random_conv_stack` — ``n`` randomly initialised convolutions (a Luo et al. test bed)
- :func:`effective_rf` — mean squared input gradient of one output position, ``(H, W)``
- :func:`random_stack_erf` — the same, averaged over several random stacks and inputs
- :func:`erf_std` — the width of such a map (standard deviation along one axis)
- :func:`main_path_layers` — a ResNet's conv / pooling layers along its main path, as
  :class:`~convlib.receptive_field.Layer` records (the shortcut is never wider)

Imports torch. See: chapter Receptive field.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from convlib._validate import as_array, as_pair, nonnegative_int, one_of, positive_int
from convlib.arithmetic import padding_for
from convlib.receptive_field import Layer

__all__ = ["random_conv_stack", "effective_rf", "random_stack_erf", "erf_std", "main_path_layers"]


def random_conv_stack(depth: int, kernel_size: int = 3, channels: int = 8,
                      activation: Optional[str] = "relu", dilation: int = 1,
                      seed: int = 0) -> nn.Sequential:
    """``depth`` convolutions ``k×k``, stride 1, "same" zero padding, He-normal weights, no bias.

    ``(N, 1, H, W) -> (N, channels, H, W)``. ``activation``: "relu" after every conv, or
    ``None`` for a purely linear stack. Theoretical receptive field ``1 + depth*d*(k - 1)``.
    See: chapter Receptive field.
    """
    depth = positive_int(depth, "depth")
    k = positive_int(kernel_size, "kernel_size")
    channels = positive_int(channels, "channels")
    dilation = positive_int(dilation, "dilation")
    if activation is not None:
        one_of(activation, "activation", ("relu",))
    gen = torch.Generator().manual_seed(nonnegative_int(seed, "seed"))
    layers: list[nn.Module] = []
    for n in range(depth):
        conv = nn.Conv2d(1 if n == 0 else channels, channels, k, padding=dilation * (k - 1) // 2,
                         dilation=dilation, bias=False)
        fan_in = conv.weight[0].numel()
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
        layers.append(conv)
        if activation == "relu":
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def effective_rf(model: nn.Module, x, position: Optional[Sequence[int]] = None) -> np.ndarray:
    """Luo et al.'s effective receptive field: ``(H, W)``, the mean over the batch of
    ``sum_c (d y[n, :, i, j].sum() / d x[n, c])**2`` — the squared input gradient of output
    position ``(i, j)`` (all its channels), summed over input channels.

    model: maps ``x (N, C, H, W)`` to a feature map ``(N, C', H', W')``; position: ``(i, j)``
    of that map (default its centre ``((H'-1)//2, (W'-1)//2)``). The model's weights and
    train/eval flags are left as they are; ``x`` is not modified.
    See: chapter Receptive field.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    x = as_array(x, "x", ndim=4, layout="(N, C, H, W)")
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    y = model(xt)
    if y.ndim != 4:
        raise ValueError(f"model must return a feature map (N, C, H, W), got shape {tuple(y.shape)}")
    ho, wo = y.shape[2], y.shape[3]
    i, j = ((ho - 1) // 2, (wo - 1) // 2) if position is None else as_pair(position, "position")
    if not (0 <= i < ho and 0 <= j < wo):
        raise ValueError(f"position {(i, j)} is outside the {ho}x{wo} feature map")
    grad, = torch.autograd.grad(y[:, :, i, j].sum(), xt)
    return (grad.double() ** 2).sum(1).mean(0).numpy()


def random_stack_erf(depth: int, n_seeds: int = 8, size: Optional[int] = None,
                     activation: Optional[str] = "relu", kernel_size: int = 3,
                     channels: int = 8, batch: int = 2) -> np.ndarray:
    """:func:`effective_rf` of the centre of :func:`random_conv_stack`, averaged over
    ``n_seeds`` stacks (weights and standard-normal inputs from seeds ``0..n_seeds-1``).

    ``size`` (input ``H = W``) defaults to the theoretical receptive field plus 8, so that the
    centre output's field lies inside the input. Returns ``(size, size)``, summing to 1.
    See: chapter Receptive field.
    """
    depth = positive_int(depth, "depth")
    k = positive_int(kernel_size, "kernel_size")
    r = 1 + depth * (k - 1)
    size = r + 8 if size is None else positive_int(size, "size")
    maps = []
    for seed in range(positive_int(n_seeds, "n_seeds")):
        model = random_conv_stack(depth, k, channels, activation, seed=seed)
        x = np.random.default_rng(seed).standard_normal((positive_int(batch, "batch"), 1, size, size))
        maps.append(effective_rf(model, x))
    erf = np.mean(maps, 0)
    return erf / erf.sum()


def erf_std(erf_map, axis: int = 0) -> float:
    """Width of an effective-receptive-field map: the standard deviation, in pixels, of its
    normalised marginal along ``axis`` (0: rows, 1: columns).

    ``p(u) = m(u) / sum(m)`` with ``m`` the map summed over the other axis;
    ``std = sqrt(sum p u^2 - (sum p u)^2)``. A uniform field of ``r`` pixels has ``r/sqrt(12)``.
    See: chapter Receptive field.
    """
    m = as_array(erf_map, "erf_map", ndim=2, layout="(H, W)")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    if (m < 0).any() or not m.sum() > 0:
        raise ValueError("erf_map must be non-negative with a positive sum")
    p = m.sum(1 - axis).astype(np.float64)
    p = p / p.sum()
    u = np.arange(p.size)
    mean = (p * u).sum()
    return float(np.sqrt(max((p * u * u).sum() - mean * mean, 0.0)))


def main_path_layers(model: nn.Module, axis: int = 0) -> list[Layer]:
    """The ``Conv2d`` / ``MaxPool2d`` / ``AvgPool2d`` layers of ``model`` in definition order,
    skipping every module whose dotted name has a part called ``shortcut`` or
    ``downsample`` — a residual network's main path, as ``Layer`` records along ``axis``.

    For ResNets this is the path that sets the receptive field: a shortcut is a 1×1 conv
    (or the identity), so it sees less, and its centre is aligned with the main path's
    (Araujo et al.). Feed the result to :func:`convlib.receptive_field.receptive_field`.
    See: chapter Receptive field.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    pick = (lambda v: v if isinstance(v, int) else v[axis])
    layers = []
    for name, m in model.named_modules():
        if {"shortcut", "downsample"} & set(name.split(".")):
            continue
        if isinstance(m, nn.Conv2d):
            k, s, d = m.kernel_size[axis], m.stride[axis], m.dilation[axis]
            p = padding_for(m.padding, k, s, d)[0] if isinstance(m.padding, str) else m.padding[axis]
            layers.append(Layer(k, s, p, d, name=name))
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            stride = m.stride if m.stride is not None else m.kernel_size
            layers.append(Layer(pick(m.kernel_size), pick(stride), pick(m.padding),
                                pick(getattr(m, "dilation", 1)), name=name,
                                ceil_mode=bool(m.ceil_mode), pool=True))
    if not layers:
        raise ValueError("model holds no Conv2d / MaxPool2d / AvgPool2d layer")
    return layers
