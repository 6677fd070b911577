"""A small CNN trained on ``convlib.data.shapes_dataset`` — weights shipped in the package.

The book's chapter "Seeing inside a CNN" needs a network that has really learned something,
without downloading weights. ``shapes_cnn()`` builds it (and loads the committed weights);
``train_shapes_cnn()`` reproduces those weights from scratch on the CPU
(``python -m convlib.pretrained`` retrains and saves them; about a minute on 2 cores).

Architecture (input 3×32×32): conv k×k (16) → BN → ReLU → max-pool 2 → conv 3×3 (32) → BN →
ReLU → max-pool 2 → conv 3×3 (64) → BN → ReLU → global average pool → linear 10. ``first_kernel`` and
``first_stride`` change the first layer only: the ZFNet experiment (Zeiler & Fergus 2014)
compares a coarse first layer (large kernel, large stride) with a fine one.

Shipped weights (held-out accuracy on ``held_out_set()``, 2 000 images): ``shapes_cnn_k5s1.pt``,
the fine default (5×5, stride 1): 99.90 %; ``shapes_cnn_k9s3.pt``, the coarse first layer
(9×9, stride 3, no padding): 99.15 % (``python -m convlib.pretrained 9 3`` retrains it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convlib.data import SHAPE_CLASSES, shapes_dataset

__all__ = ["WEIGHTS_DIR", "TrainResult", "evaluate", "held_out_set", "shapes_cnn", "train_shapes_cnn", "weights_path"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
TRAIN_SEED, TEST_SEED = 0, 12345  # the held-out images come from another seed


def weights_path(first_kernel: int = 5, first_stride: int = 1) -> Path:
    return WEIGHTS_DIR / f"shapes_cnn_k{first_kernel}s{first_stride}.pt"


def shapes_cnn(pretrained: bool = True, first_kernel: int = 5, first_stride: int = 1) -> nn.Sequential:
    """The small shapes CNN; with ``pretrained`` the committed weights are loaded (eval mode)."""
    pad = first_kernel // 2 if first_stride == 1 else 0
    model = nn.Sequential()
    model.add_module("conv1", nn.Conv2d(3, 16, first_kernel, stride=first_stride, padding=pad))
    model.add_module("bn1", nn.BatchNorm2d(16))
    model.add_module("relu1", nn.ReLU())
    model.add_module("pool1", nn.MaxPool2d(2))
    model.add_module("conv2", nn.Conv2d(16, 32, 3, padding=1))
    model.add_module("bn2", nn.BatchNorm2d(32))
    model.add_module("relu2", nn.ReLU())
    model.add_module("pool2", nn.MaxPool2d(2))
    model.add_module("conv3", nn.Conv2d(32, 64, 3, padding=1))
    model.add_module("bn3", nn.BatchNorm2d(64))
    model.add_module("relu3", nn.ReLU())
    model.add_module("gap", nn.AdaptiveAvgPool2d(1))
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc", nn.Linear(64, len(SHAPE_CLASSES)))
    if pretrained:
        path = weights_path(first_kernel, first_stride)
        if not path.exists():
            raise FileNotFoundError(
                f"no committed weights for first_kernel={first_kernel}, first_stride={first_stride} "
                f"({path.name}); train them with convlib.pretrained.train_shapes_cnn"
            )
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval()
    return model


@dataclass
class TrainResult:
    model: nn.Sequential
    test_accuracy: float
    seconds: float
    history: list[float]  # training loss per epoch


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` (N, 3, H, W) that ``model`` labels correctly."""
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(images))
    return float((logits.argmax(1).numpy() == labels).mean())


def train_shapes_cnn(first_kernel: int = 5, first_stride: int = 1, n_train: int = 12000,
                     n_test: int = 2000, epochs: int = 8, seed: int = 0) -> TrainResult:
    """Train the shapes CNN from scratch with Adam; deterministic for a given seed and thread count."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    x, y = shapes_dataset(n_train, seed=TRAIN_SEED)
    xt, yt = shapes_dataset(n_test, seed=TEST_SEED)
    model = shapes_cnn(pretrained=False, first_kernel=first_kernel, first_stride=first_stride)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs * (n_train // 128))
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n_train, generator=gen)
        total = 0.0
        for i in range(n_train // 128):
            idx = order[i * 128:(i + 1) * 128]
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append(total / (n_train // 128))
    model.eval()
    return TrainResult(model, evaluate(model, xt, yt), time.perf_counter() - start, history)


def held_out_set(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """The held-out images the stated accuracy is measured on (seed never used for training)."""
    return shapes_dataset(n, seed=TEST_SEED)


if __name__ == "__main__":  # python -m convlib.pretrained [kernel stride]
    import sys

    k, s = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) == 3 else (5, 1)
    result = train_shapes_cnn(k, s)
    WEIGHTS_DIR.mkdir(exist_ok=True)
    torch.save(result.model.state_dict(), weights_path(k, s))
    print(f"first layer {k}x{k} stride {s}: held-out accuracy {result.test_accuracy:.3f} "
          f"in {result.seconds:.0f} s; losses {[round(h, 3) for h in result.history]}")
