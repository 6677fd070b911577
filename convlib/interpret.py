"""Seeing inside a CNN: feature maps, occlusion sensitivity, saliency, deconvnet projections
and activation maximisation, for a plain ``nn.Sequential`` of conv / BN / ReLU / pooling layers.

The back-projections run on convlib's numpy core, so the three classic methods are visibly one
loop over the layers with one rule changed — what happens at a ReLU on the way back:

- ``"gradient"``  (Simonyan et al. 2014): pass the signal where the *forward* input was > 0;
- ``"deconvnet"`` (Zeiler & Fergus 2014): pass the signal where the *signal itself* is > 0;
- ``"guided"``    (Springenberg et al. 2015): both conditions.

Max-pooling goes back through its switches (the argmax ``indices`` of ``max_pool2d``): the
deconvnet unpools (``max_unpool2d``, each value written back at its switch, as Zeiler & Fergus),
the two gradient rules route the gradient there (``max_pool2d_backward``, which adds up where
overlapping windows share a maximum; for non-overlapping pools the two are the same),
convolution through its transpose (``conv_transpose2d`` with the same filters), BatchNorm in
eval mode through its per-channel scale. See: chapter "Seeing inside a CNN".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

import convlib.functional as F
from convlib._validate import as_array, nonnegative_int, one_of, positive_int

__all__ = [
    "feature_maps",
    "project_back",
    "occlusion_sensitivity",
    "saliency",
    "activation_maximization",
]

_RULES = ("gradient", "deconvnet", "guided")


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    return list(model.named_children())


def _layer_index(layers: list[tuple[str, nn.Module]], layer: str) -> int:
    names = [n for n, _ in layers]
    if layer not in names:
        raise ValueError(f"layer must be one of {names}, got {layer!r}")
    return names.index(layer)


def _bn_affine(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode BatchNorm as ``y = scale * x + shift`` per channel."""
    var = bn.running_var.detach().numpy().astype(np.float64)
    scale = bn.weight.detach().numpy() / np.sqrt(var + bn.eps)
    shift = bn.bias.detach().numpy() - bn.running_mean.detach().numpy() * scale
    return scale, shift


def _forward_numpy(layers, x: np.ndarray, stop: int) -> list[dict]:
    """Run layers[0..stop] with convlib's numpy ops, keeping what the way back needs."""
    tape = []
    for name, mod in layers[: stop + 1]:
        record = {"name": name, "module": mod, "input": x}
        if isinstance(mod, nn.Conv2d):
            w = mod.weight.detach().numpy().astype(x.dtype)
            b = None if mod.bias is None else mod.bias.detach().numpy().astype(x.dtype)
            x = F.conv2d(x, w, b, stride=mod.stride, padding=mod.padding,
                         dilation=mod.dilation, groups=mod.groups)
        elif isinstance(mod, nn.BatchNorm2d):
            scale, shift = _bn_affine(mod)
            record["scale"] = scale.astype(x.dtype)
            x = x * record["scale"][:, None, None] + shift.astype(x.dtype)[:, None, None]
        elif isinstance(mod, nn.ReLU):
            x = np.maximum(x, 0)
        elif isinstance(mod, nn.MaxPool2d):
            x, record["switches"] = F.max_pool2d(
                x, mod.kernel_size, mod.stride, mod.padding, mod.dilation, mod.ceil_mode,
                return_indices=True)
        else:
            raise TypeError(f"layer {name!r}: project_back handles Conv2d, BatchNorm2d, ReLU and "
                            f"MaxPool2d before the chosen layer, got {type(mod).__name__}")
        tape.append(record)
    return tape + [{"output": x}]


def _conv_back(r: np.ndarray, mod: nn.Conv2d, in_shape: tuple[int, ...]) -> np.ndarray:
    w = mod.weight.detach().numpy().astype(r.dtype)
    grad_input, _, _ = F.conv2d_backward(r, np.zeros(in_shape, r.dtype), w, stride=mod.stride,
                                         padding=mod.padding, dilation=mod.dilation,
                                         groups=mod.groups)
    return grad_input  # = conv_transpose2d(r, w) cropped to the input's size


def _unpool(r: np.ndarray, switches: np.ndarray, mod: nn.MaxPool2d,
            in_shape: tuple[int, ...]) -> np.ndarray:
    """Zeiler & Fergus' unpooling: each value back at its switch, zeros elsewhere.

    max_unpool2d's ``kernel_size`` only sets its default output size; the dilated window span
    ``d*(k-1) + 1`` makes that size right for dilated pools too, and ``output_size`` then
    restores the exact input size (ceil mode, odd sizes).
    """
    k, d = (torch.nn.modules.utils._pair(v) for v in (mod.kernel_size, mod.dilation))
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    stride = torch.nn.modules.utils._pair(mod.stride if mod.stride is not None else mod.kernel_size)
    return F.max_unpool2d(r, switches, span, stride, torch.nn.modules.utils._pair(mod.padding),
                          output_size=tuple(in_shape[2:]))


def project_back(model: nn.Sequential, image: np.ndarray, layer: str, channel: int,
                 rule: str = "deconvnet", keep: str = "max") -> np.ndarray:
    """Project one feature map of ``layer`` back to pixel space.

    image: (C, H, W) or (1, C, H, W). ``keep="max"`` keeps only the strongest activation of
    ``channel`` (Zeiler & Fergus), ``keep="all"`` the whole map. Returns (C, H, W).
    """
    one_of(rule, "rule", _RULES)
    one_of(keep, "keep", ("max", "all"))
    x = as_array(image, "image")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"image must be (C, H, W) or (1, C, H, W), got shape {tuple(np.shape(image))}")
    layers = _layers(model)
    tape = _forward_numpy(layers, x.astype(np.float64), _layer_index(layers, layer))
    out = tape.pop()["output"]
    channel = nonnegative_int(channel, "channel")
    if channel >= out.shape[1]:
        raise ValueError(f"channel must be < {out.shape[1]} (channels of {layer!r}), got {channel}")
    r = np.zeros_like(out)
    fmap = out[0, channel]
    if keep == "max":
        i, j = np.unravel_index(int(fmap.argmax()), fmap.shape)
        r[0, channel, i, j] = fmap[i, j]
    else:
        r[0, channel] = fmap
    for rec in reversed(tape):
        mod, inp = rec["module"], rec["input"]
        if isinstance(mod, nn.Conv2d):
            r = _conv_back(r, mod, inp.shape)
        elif isinstance(mod, nn.BatchNorm2d):
            r = r * rec["scale"][:, None, None]
        elif isinstance(mod, nn.ReLU):
            if rule in ("gradient", "guided"):
                r = r * (inp > 0)
            if rule in ("deconvnet", "guided"):
                r = np.maximum(r, 0)
        elif isinstance(mod, nn.MaxPool2d) and rule == "deconvnet":
            r = _unpool(r, rec["switches"], mod, inp.shape)
        elif isinstance(mod, nn.MaxPool2d):
            r = F.max_pool2d_backward(r, rec["switches"], inp.shape)
    return r[0]


def feature_maps(model: nn.Sequential, image: np.ndarray,
                 layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Every (or the named) layer's output for one image (C, H, W): ``{name: (C', H', W')}``."""
    x = torch.from_numpy(np.ascontiguousarray(as_array(image, "image", 3), dtype=np.float32))[None]
    named = _layers(model)
    wanted = set(layers) if layers is not None else {n for n, _ in named}
    for name in wanted:
        _layer_index(named, name)
    maps = {}
    with torch.inference_mode():
        for name, mod in named:
            x = mod(x)
            if name in wanted:
                maps[name] = x[0].numpy().copy()
    return maps


def occlusion_sensitivity(model: nn.Module, image: np.ndarray, target: int, patch: int = 8,
                          stride: int = 4, fill: float | None = None) -> np.ndarray:
    """Zeiler & Fergus' occlusion map: the drop in P(target) when a grey patch covers each place.

    Returns ``(Ho, Wo)`` with ``Ho = (H - patch) // stride + 1``; entry (i, j) is
    ``p(image) - p(image with [i*stride : i*stride+patch, j*stride : ...] set to fill)``.
    ``fill`` defaults to the image mean. All occluded copies go through the model in batches.
    """
    x = np.asarray(as_array(image, "image", 3), dtype=np.float32)
    patch, stride = positive_int(patch, "patch"), positive_int(stride, "stride")
    c, h, w = x.shape
    if patch > min(h, w):
        raise ValueError(f"patch ({patch}) must fit in the image ({h}x{w})")
    ho, wo = (h - patch) // stride + 1, (w - patch) // stride + 1
    fill = float(x.mean()) if fill is None else float(fill)
    rows = (np.arange(h)[None, :] >= (np.arange(ho) * stride)[:, None]) & (
        np.arange(h)[None, :] < (np.arange(ho) * stride + patch)[:, None])
    cols = (np.arange(w)[None, :] >= (np.arange(wo) * stride)[:, None]) & (
        np.arange(w)[None, :] < (np.arange(wo) * stride + patch)[:, None])
    masks = (rows[:, None, :, None] & cols[None, :, None, :]).reshape(ho * wo, 1, h, w)
    occluded = np.where(masks, np.float32(fill), x[None])
    model.eval()
    with torch.inference_mode():
        base = torch.softmax(model(torch.from_numpy(x[None])), 1)[0, target].item()
        probs = torch.cat([torch.softmax(model(torch.from_numpy(chunk)), 1)[:, target]
                           for chunk in np.array_split(occluded, max(1, len(occluded) // 256))])
    return (base - probs.numpy()).reshape(ho, wo)


def saliency(model: nn.Module, image: np.ndarray, target: int) -> np.ndarray:
    """Simonyan et al.'s gradient saliency: ``max_c |d score_target / d x[c, i, j]|``, (H, W)."""
    x = torch.tensor(np.asarray(as_array(image, "image", 3), dtype=np.float32)[None], requires_grad=True)
    model.eval()
    model(x)[0, target].backward()
    return x.grad[0].abs().amax(0).numpy()


def activation_maximization(model: nn.Sequential, layer: str, channel: int | Sequence[int], size: int = 32,
                            steps: int = 96, lr: float = 0.05, decay: float = 1e-3,
                            jitter: int = 2, blur_every: int = 8, seed: int = 0) -> np.ndarray:
    """An input (3, size, size) in [0, 1] that strongly excites ``channel`` of ``layer``.

    Gradient ascent on the mean activation, with the regularisers that make the picture
    readable (Yosinski et al. 2015): L2 decay, random jitter, and a periodic small blur.
    ``channel`` may be a sequence of K channels: they are optimised together as one batch
    (each image only for its own channel) and the result is (K, 3, size, size).
    """
    named = _layers(model)
    stop = _layer_index(named, layer)
    sub = nn.Sequential(*[m for _, m in named[: stop + 1]]).eval()
    single = not isinstance(channel, (list, tuple, np.ndarray))
    chans = [nonnegative_int(c, "channel") for c in ([channel] if single else channel)]
    if not chans:
        raise ValueError("channel must name at least one channel")
    gen = torch.Generator().manual_seed(seed)
    x = (0.5 + 0.01 * torch.randn(len(chans), 3, size, size, generator=gen)).requires_grad_(True)
    pick = torch.arange(len(chans)), torch.tensor(chans)
    opt = torch.optim.Adam([x], lr=lr)
    blur = torch.tensor([1.0, 2.0, 1.0]) / 4
    kernel = (blur[:, None] * blur[None, :]).expand(3, 1, 3, 3)
    for step in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist()
        shifted = torch.roll(x, (dy, dx), (2, 3))
        act = sub(shifted)[pick]  # (K, h, w): image k's own channel
        loss = -act.mean(dim=(1, 2)).sum() + decay * (x - 0.5).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
            if blur_every and (step + 1) % blur_every == 0:
                x.copy_(nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"),
                                             kernel, groups=3))
    return x.detach()[0].numpy() if single else x.detach().numpy()
