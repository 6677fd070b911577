"""Deformable convolution in PyTorch, with ``torchvision.ops.deform_conv2d``'s semantics.

torchvision is not a dependency, so this is the oracle for ``convlib.functional.deform_conv2d``
(autograd through it gives every gradient), and it can back a torch ``nn.Module``.
The bilinear sampling is PyTorch's own ``F.grid_sample`` (``align_corners=False``,
``padding_mode="zeros"``): pixel coordinate ``p`` maps to the normalized ``(2 p + 1) / size - 1``,
and a corner pixel outside the image reads 0 — the same rule as torchvision's kernel (a sample
with ``y <= -1``, ``y >= H``, ``x <= -1`` or ``x >= W`` is 0). The per-tap samples are then laid
out as ``kh x kw`` blocks and ``F.conv2d`` with stride ``(kh, kw)`` does the weighted sum.
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F

__all__ = ["deform_conv2d_torch"]

Pair = Union[int, tuple[int, int]]


def _pair(v: Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


def deform_conv2d_torch(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``torchvision.ops.deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask)``.

    input (N, C_in, H, W); offset (N, 2*G*kh*kw, H_out, W_out), (dy, dx) interleaved per tap
    t = i*kw + j; weight (C_out, C_in/groups, kh, kw); mask (N, G*kh*kw, H_out, W_out) or None.
    Differentiable in every tensor argument. No argument checking beyond what torch does.
    """
    n, c_in, h, w = input.shape
    c_out, c_in_g, kh, kw = weight.shape
    taps = kh * kw
    g = offset.shape[1] // (2 * taps)
    ho, wo = offset.shape[-2:]
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    dev, dt = input.device, input.dtype

    tap = torch.arange(taps, device=dev)
    i, j = tap // kw, tap % kw
    rows = torch.arange(ho, device=dev) * sh - ph
    cols = torch.arange(wo, device=dev) * sw - pw
    base_y = (rows[None, :, None] + (i * dh)[:, None, None]).to(dt)      # (K, Ho, 1)
    base_x = (cols[None, None, :] + (j * dw)[:, None, None]).to(dt)      # (K, 1, Wo)
    off = offset.reshape(n, g, taps, 2, ho, wo)
    y = base_y + off[:, :, :, 0]                                         # (N, G, K, Ho, Wo)
    x = base_x + off[:, :, :, 1]

    grid = torch.stack([(2 * x + 1) / w - 1, (2 * y + 1) / h - 1], dim=-1)
    grid = grid.reshape(n * g, taps * ho, wo, 2)
    sampled = F.grid_sample(input.reshape(n * g, c_in // g, h, w), grid, mode="bilinear",
                            padding_mode="zeros", align_corners=False)
    sampled = sampled.reshape(n, g, c_in // g, taps, ho, wo)
    if mask is not None:
        sampled = sampled * mask.reshape(n, g, 1, taps, ho, wo)

    # sample (c, tap (i, j), p, q) goes to pixel (p * kh + i, q * kw + j) of a blown-up image
    blocks = sampled.reshape(n, c_in, kh, kw, ho, wo).permute(0, 1, 4, 2, 5, 3)
    blocks = blocks.reshape(n, c_in, ho * kh, wo * kw)
    return F.conv2d(blocks, weight, bias, stride=(kh, kw), groups=c_in // c_in_g)
