"""What a network costs: parameters, multiply-adds, activation memory, CPU latency.

Convention (torchvision's): multiply-adds (MACs) of convolution and linear layers only —
a ``Conv2d`` costs ``k_h·k_w·(C_in/groups)·C_out·H_out·W_out``, a ``Linear``
``in_features·out_features`` per sample; BatchNorm, activations, pooling, additions and
concatenations count as zero. Parameters exclude BatchNorm's running statistics (buffers).
Pass ``input_shape`` with batch 1 — ``(1, 3, 224, 224)`` — to get per-image figures.

Counting runs one forward pass with hooks. A model built on the meta device
(``with torch.device("meta"): m = resnet50()``) is counted without computing anything.

See: chapter What networks cost.
"""

from __future__ import annotations

import html
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import torch
from torch import nn

from convlib._validate import nonnegative_int, positive_int
from convlib.arithmetic import padding_for
from convlib.blocks.deform import DeformConv2d
from convlib.receptive_field import Layer, receptive_field

__all__ = ["count_params", "count_macs", "profile", "measure_latency", "LayerCost", "Profile",
           "Latency"]

RF = Optional[Union[int, tuple[int, int]]]


def _check_module(module: object) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch nn.Module, got {type(module).__name__}")
    return module


def _check_shape(input_shape: object) -> tuple[int, ...]:
    if not isinstance(input_shape, (tuple, list, torch.Size)) or not input_shape:
        raise TypeError(f"input_shape must be a tuple of ints such as (1, 3, 224, 224), "
                        f"got {input_shape!r}")
    return tuple(positive_int(v, "input_shape entries") for v in input_shape)


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (not buffers: BatchNorm running statistics are excluded).

    A parameter shared by two layers counts once. No forward pass needed.

    See: chapter What networks cost.
    """
    params = _check_module(module).parameters()
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """Multiply-adds of one call of ``module`` (torchvision's convention)."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        k = int(torch.tensor(module.kernel_size).prod())
        return inputs[0].numel() * (module.out_channels // module.groups) * k
    if isinstance(module, nn.modules.conv._ConvNd):
        k = int(torch.tensor(module.kernel_size).prod())
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, DeformConv2d):  # the conv part; bilinear sampling is not counted
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _nbytes(output: object) -> int:
    if isinstance(output, torch.Tensor):
        return output.numel() * output.element_size()
    if isinstance(output, (tuple, list)):
        return sum(_nbytes(o) for o in output)
    return 0


def _rf_layer(module: nn.Module, name: str, axis: int) -> Optional[Layer]:
    """A receptive-field ``Layer`` for conv / pooling, None for shape-preserving layers."""
    pick = (lambda v: v if isinstance(v, int) else v[axis])
    if isinstance(module, nn.Conv2d):
        k, s, d = module.kernel_size[axis], module.stride[axis], module.dilation[axis]
        p = module.padding
        p = padding_for(p, k, s, d)[0] if isinstance(p, str) else p[axis]
        return Layer(k, s, p, d, name=name)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        return Layer(pick(module.kernel_size), pick(stride), pick(module.padding),
                     pick(getattr(module, "dilation", 1)), name=name, pool=True)
    raise LookupError


_SHAPE_PRESERVING = (nn.ReLU, nn.ReLU6, nn.Identity, nn.BatchNorm2d, nn.Dropout, nn.Sigmoid,
                     nn.Hardswish, nn.SiLU, nn.GELU, nn.Tanh, nn.LeakyReLU, nn.ChannelShuffle)


@dataclass(frozen=True)
class LayerCost:
    """One row of :func:`profile`: one call of a layer."""

    name: str                       # dotted module name, e.g. "layer1.0.conv1"
    type: str                       # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]
    params: int                     # parameters the layer owns (on its first call only)
    macs: int                       # multiply-adds of this call
    activation_bytes: int           # bytes of the output tensor(s)
    receptive_field: RF = None      # input pixels seen so far (int, or (h, w) if unequal)


def _human(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:g} {unit}".strip()


class Profile(list):
    """A list of :class:`LayerCost` rows that prints (``str``) and renders in a notebook
    (``_repr_html_``) as a table, with a total line."""

    HEADER = ("name", "type", "output shape", "params", "MACs", "activation", "RF")

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self)

    @property
    def total_activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self)

    def _cells(self) -> list[tuple[str, ...]]:
        rows = [(r.name, r.type, "×".join(map(str, r.output_shape)), f"{r.params:,}",
                 f"{r.macs:,}", _human(r.activation_bytes, "B"),
                 "" if r.receptive_field is None else str(r.receptive_field)) for r in self]
        rows.append(("total", "", "", f"{self.total_params:,}", f"{self.total_macs:,}",
                     _human(self.total_activation_bytes, "B"), ""))
        return rows

    def __str__(self) -> str:
        cells = [self.HEADER] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.HEADER))]
        right = {3, 4, 5, 6}
        lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                           for i, (c, w) in enumerate(zip(row, widths))).rstrip()
                 for row in cells]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(len(lines) - 1, "-" * len(lines[0]))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self.HEADER)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self._cells())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode (no BatchNorm statistics updated, no dropout) and restore the flags after."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _example_input(module: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    ref = next(iter(module.parameters()), None)
    if ref is None:
        ref = next(iter(module.buffers()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    return torch.zeros(shape, device=device, dtype=dtype)


def profile(module: nn.Module, input_shape: Sequence[int]) -> Profile:
    """One row per layer call, in execution order, from one forward pass with hooks.

    Rows are the leaf modules (and any module owning parameters directly, such as
    :class:`~convlib.blocks.DeformConv2d`). Each row: name, type, output shape, parameters,
    multiply-adds, activation memory (bytes of the layer's output) and the receptive field
    size so far (Araujo et al.) while the network is still a plain chain of convs and poolings
    inside nested ``nn.Sequential``s (``None`` from the first branching block, global
    pooling, flatten or linear layer on). The module's weights, buffers and train/eval
    flags are left as found.
    ``sum(rows.params) == count_params`` when every layer is used once.

    See: chapter What networks cost.
    """
    module = _check_module(module)
    shape = _check_shape(input_shape)
    names = {m: n for n, m in module.named_modules()}
    parents = {}
    for n, m in module.named_modules():
        for child in m.children():
            parents.setdefault(child, m)
    rows = Profile()
    seen: set[nn.Module] = set()
    chain: list[list[Layer]] = [[], []]  # receptive-field layers so far, per axis
    state = {"plain": True}

    def plain_path(m: nn.Module) -> bool:
        while m in parents:
            m = parents[m]
            if not isinstance(m, nn.Sequential):
                return False
        return True

    def hook(m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        params = 0 if m in seen else sum(p.numel() for p in m.parameters(recurse=False))
        seen.add(m)
        rf: RF = None
        if state["plain"]:
            if not plain_path(m):                 # inside a block with branches
                state["plain"] = False
            elif not isinstance(m, _SHAPE_PRESERVING):
                try:
                    for axis in (0, 1):
                        chain[axis].append(_rf_layer(m, names[m], axis))
                except LookupError:               # global pooling, flatten, linear, ...
                    state["plain"] = False
        if state["plain"] and chain[0]:
            h, w = (receptive_field(c)[-1].size for c in chain)
            rf = h if h == w else (h, w)
        out_shape = tuple(output.shape) if isinstance(output, torch.Tensor) else ()
        rows.append(LayerCost(names[m] or type(m).__name__, type(m).__name__, out_shape, params,
                              _macs(m, inputs, output), _nbytes(output), rf))

    def is_row(m: nn.Module) -> bool:  # a leaf, or a module owning parameters directly
        return (next(m.children(), None) is None
                or next(m.parameters(recurse=False), None) is not None)

    handles = [m.register_forward_hook(hook) for m in module.modules() if is_row(m)]
    try:
        with _evaluating(module), torch.inference_mode():
            module(_example_input(module, shape))
    finally:
        for h in handles:
            h.remove()
    return rows


def count_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass on an input of ``input_shape`` (N, C, H, W).

    Conv: ``k_h·k_w·(C_in/groups)·C_out·H_out·W_out`` per image; linear: ``in·out``; every
    other layer 0 (torchvision's convention). Use batch 1 for per-image figures.

    See: chapter What networks cost.
    """
    return profile(module, input_shape).total_macs


@dataclass(frozen=True)
class Latency:
    """CPU wall time of one forward pass, in milliseconds, over ``repeat`` runs."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    min_ms: float
    max_ms: float
    repeat: int
    threads: int

    def __str__(self) -> str:
        return (f"{self.median_ms:.2f} ms median (IQR {self.q1_ms:.2f}–{self.q3_ms:.2f}, "
                f"{self.repeat} runs, {self.threads} threads)")


def measure_latency(module: nn.Module, input_shape: Sequence[int], warmup: int = 3,
                    repeat: int = 10, seed: int = 0) -> Latency:
    """Time ``module(x)`` on the CPU for ``x ~ N(0, 1)`` of ``input_shape``: ``warmup``
    untimed runs, then ``repeat`` timed ones under ``torch.inference_mode`` in eval mode.
    Returns the median and the spread (quartiles, min, max) in ms. Timings depend on the
    machine and its load: compare networks measured in the same session.

    See: chapter What networks cost.
    """
    module = _check_module(module)
    shape = _check_shape(input_shape)
    warmup = nonnegative_int(warmup, "warmup")
    repeat = positive_int(repeat, "repeat")
    ref = next(iter(module.parameters()), None)
    if ref is not None and ref.device.type != "cpu":
        raise ValueError(f"measure_latency times the CPU: module is on {ref.device}")
    dtype = ref.dtype if ref is not None else torch.float32
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    times = []
    with _evaluating(module), torch.inference_mode():
        for i in range(warmup + repeat):
            start = time.perf_counter()
            module(x)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return Latency(statistics.median(times), q[0], q[2], min(times), max(times), repeat,
                   torch.get_num_threads())
