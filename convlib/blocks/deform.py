"""Deformable convolution in torch (Dai et al. 2017, "Deformable Convolutional Networks";
the optional mask is Zhu et al. 2019's "Deformable ConvNets v2").

Semantics equal ``torchvision.ops.deform_conv2d``: the offsets for offset group ``g`` and
kernel tap ``k = i·kw + j`` are channels ``2(g·K + k)`` (dy) and ``2(g·K + k) + 1`` (dx);
a tap reads the input at ``(ho·s_h - p_h + i·d_h + dy, wo·s_w - p_w + j·d_w + dx)`` by
bilinear interpolation, where pixels outside the image read as zero.

See: chapter Deformable convolution.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from convlib._validate import IntPair, check_groups, nonnegative_pair, positive_int, \
    positive_pair

__all__ = ["deform_conv2d", "DeformConv2d"]


def _bilinear(x: torch.Tensor, py: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Sample ``x: (N, G, C, H, W)`` at real positions ``py, px: (N, G, Ho, Wo)``.

    Returns ``(N, G, C, Ho, Wo)``.

    Sum over the four neighbouring pixels, weight ``(1-|py-y|)(1-|px-x|)``; neighbours
    outside the image contribute zero.
    """
    n, g, c, h, w = x.shape
    flat = x.reshape(n, g, c, h * w)
    y0, x0 = torch.floor(py), torch.floor(px)
    ly, lx = py - y0, px - x0
    out = 0
    for dy, dx, weight in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx),
                           (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy <= h - 1) & (xx >= 0) & (xx <= w - 1)
        index = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).long()
        index = index.reshape(n, g, 1, -1).expand(n, g, c, index[0, 0].numel())
        values = torch.gather(flat, 3, index).reshape(n, g, c, *py.shape[2:])
        out = out + values * (weight * inside)[:, :, None]
    return out


def deform_conv2d(input: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor] = None, stride: IntPair = 1,
                  padding: IntPair = 0, dilation: IntPair = 1,
                  mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Deformable 2-D convolution, differentiable by autograd (torch twin of
    ``convlib.functional.deform_conv2d``; same arguments as ``torchvision.ops.deform_conv2d``).

    ``input: (N, C_in, H, W)``, ``weight: (C_out, C_in/groups, kh, kw)`` (``groups`` is read
    from the shapes), ``offset: (N, 2·G·kh·kw, Ho, Wo)`` for ``G`` offset groups,
    ``mask: (N, G·kh·kw, Ho, Wo)`` or None → ``(N, C_out, Ho, Wo)``::

        y[n, o, ho, wo] = b[o] + Σ_{c,i,j} w[o, c, i, j] · m · x̃[n, c, p_y + dy, p_x + dx]

    with ``x̃`` the bilinear, zero-outside interpolation of the input. Zero offsets and no
    mask give ``torch.nn.functional.conv2d``. Loops over the ``kh·kw`` kernel taps only.

    See: chapter Deformable convolution.
    """
    for name, t in (("input", input), ("offset", offset), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must be a 4-D tensor, got shape {tuple(t.shape)}")
    sh, sw = positive_pair(stride, "stride")
    ph, pw = nonnegative_pair(padding, "padding")
    dh, dw = positive_pair(dilation, "dilation")
    n, c_in, h, w = input.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c_in % c_per_group:
        raise ValueError(f"input has {c_in} channels but weight expects a multiple of "
                         f"{c_per_group}")
    groups = check_groups(c_in // c_per_group, c_in, c_out)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps = kh * kw
    if offset.shape[0] != n or offset.shape[2:] != (ho, wo) or offset.shape[1] % (2 * taps):
        raise ValueError(f"offset must have shape (N={n}, 2·G·{taps}, {ho}, {wo}), "
                         f"got {tuple(offset.shape)}")
    g_off = offset.shape[1] // (2 * taps)
    if c_in % g_off:
        raise ValueError(f"offset groups ({g_off}) must divide the input channels ({c_in})")
    if mask is not None and tuple(mask.shape) != (n, g_off * taps, ho, wo):
        raise ValueError(f"mask must have shape {(n, g_off * taps, ho, wo)}, "
                         f"got {tuple(mask.shape)}")

    x = input.reshape(n, g_off, c_in // g_off, h, w)
    off = offset.reshape(n, g_off, taps, 2, ho, wo)
    base_y = (torch.arange(ho, device=input.device, dtype=input.dtype) * sh - ph)[:, None]
    base_x = (torch.arange(wo, device=input.device, dtype=input.dtype) * sw - pw)[None, :]
    columns = []
    for k in range(taps):
        i, j = divmod(k, kw)
        sample = _bilinear(x, base_y + i * dh + off[:, :, k, 0], base_x + j * dw + off[:, :, k, 1])
        if mask is not None:
            sample = sample * mask.reshape(n, g_off, taps, ho, wo)[:, :, None, k]
        columns.append(sample.reshape(n, c_in, ho * wo))
    # columns (N, C_in, K, L) → (N, groups, C_in/groups · K, L);
    # weight → (groups, C_out/groups, C_in/groups · K)
    cols = torch.stack(columns, 2).reshape(n, groups, c_per_group * taps, ho * wo)
    w_g = weight.reshape(groups, c_out // groups, c_per_group * taps)
    out = torch.einsum("gok,ngkl->ngol", w_g, cols).reshape(n, c_out, ho, wo)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return out


class DeformConv2d(nn.Module):
    """A deformable conv layer whose offsets are predicted from its own input.

    ``offset_conv`` — an ordinary conv with the same kernel size, stride, padding and dilation
    (so a 3×3 conv for the default layer) producing ``2·offset_groups·kh·kw`` channels — is
    initialised to zero, so a fresh layer is exactly a plain conv and learns to deform.
    ``weight: (out_channels, in_channels/groups, kh, kw)``, ``bias: (out_channels,)``.
    ``x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo)`` with conv arithmetic.

    See: chapter Deformable convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3,
                 stride: IntPair = 1, padding: IntPair = 1, dilation: IntPair = 1,
                 groups: int = 1, offset_groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        groups = check_groups(groups, in_channels, out_channels)
        offset_groups = check_groups(offset_groups, in_channels, in_channels)
        self.kernel_size = positive_pair(kernel_size, "kernel_size")
        self.stride = positive_pair(stride, "stride")
        self.padding = nonnegative_pair(padding, "padding")
        self.dilation = positive_pair(dilation, "dilation")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        kh, kw = self.kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.offset_conv = nn.Conv2d(in_channels, 2 * offset_groups * kh * kw, self.kernel_size,
                                     self.stride, self.padding, self.dilation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights as ``nn.Conv2d`` initialises them; the offset predictor at zero."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.offset_conv(x)
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding,
                             self.dilation)
