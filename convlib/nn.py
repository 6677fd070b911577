"""The pieces a small CNN needs besides convolution and pooling, in numpy, forward and backward.

ReLU, a fully connected (linear) layer, softmax cross-entropy, flattening, PyTorch's default
initialisation and its SGD-with-momentum step, and :class:`SmallCNN`: a LeNet-style network
(conv → ReLU → max-pool → conv → ReLU → max-pool → flatten → linear) whose forward pass
keeps what its backward pass needs, and whose backward pass is the chain of the backward
functions of ``convlib.functional``. Semantics equal ``torch.nn.functional`` and
``torch.optim.SGD``; inputs are never modified (every step returns new arrays). Numpy only.
See: chapter "A CNN from scratch".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

import convlib.functional as F
from convlib._validate import as_array, nonnegative_int, positive_int

__all__ = [
    "relu", "relu_backward",
    "linear", "linear_backward",
    "flatten", "flatten_backward",
    "log_softmax", "softmax", "softmax_cross_entropy", "softmax_cross_entropy_backward",
    "default_init_bound", "default_init",
    "sgd_step",
    "SmallCNN", "standardize", "minibatches", "accuracy", "History", "train",
]


# --- ReLU -------------------------------------------------------------------------------------

def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit, as ``torch.nn.functional.relu``: ``y = max(x, 0)``, a new array."""
    x = as_array(x, "x")
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`relu`: ``grad_input = grad_output * (x > 0)``.

    At ``x = 0`` the gradient is 0, as in PyTorch (which tests the output ``y > 0``).
    """
    g = as_array(grad_output, "grad_output")
    x = as_array(x, "x")
    if g.shape != x.shape:
        raise ValueError(f"grad_output must have the shape of x {x.shape}, got {g.shape}")
    return np.where(x > 0, g, 0).astype(g.dtype, copy=False)


# --- linear (fully connected) -----------------------------------------------------------------

def _check_linear(x, weight):
    x = as_array(x, "x", 2, "(N, in_features)")
    weight = as_array(weight, "weight", 2, "(out_features, in_features)")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but weight expects {weight.shape[1]} "
                         f"(weight.shape[1])")
    dt = np.result_type(x, weight, np.float32)
    return x.astype(dt, copy=False), weight.astype(dt, copy=False)


def linear(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None) -> np.ndarray:
    """Fully connected layer, as ``torch.nn.functional.linear``: ``y = x @ weight.T + bias``.

    ``x: (N, in_features)``, ``weight: (out_features, in_features)``, ``bias: (out_features,)``
    -> ``(N, out_features)``.

    >>> linear(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0], [0.0, 3.0]]), np.array([0.5, 0.0]))
    array([[3.5, 6. ]])
    """
    x, weight = _check_linear(x, weight)
    y = x @ weight.T
    if bias is not None:
        bias = as_array(bias, "bias", 1, "(out_features,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
        y = y + bias.astype(y.dtype, copy=False)
    return y


def linear_backward(grad_output: np.ndarray, x: np.ndarray,
                    weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`linear`: ``(grad_input, grad_weight, grad_bias)``::

        grad_input  = grad_output @ weight          (N, in_features)
        grad_weight = grad_output.T @ x             (out_features, in_features)
        grad_bias   = grad_output.sum(axis=0)       (out_features,)

    Each has the shape of what it differentiates.
    """
    x, weight = _check_linear(x, weight)
    g = as_array(grad_output, "grad_output", 2, "(N, out_features)")
    if g.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(f"grad_output must have the output's shape {(x.shape[0], weight.shape[0])}, "
                         f"got {g.shape}")
    g = g.astype(x.dtype, copy=False)
    return g @ weight, g.T @ x, g.sum(axis=0)


# --- flatten ----------------------------------------------------------------------------------

def flatten(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W) -> (N, C*H*W)`` in C order, as ``torch.flatten(x, 1)``."""
    x = as_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have a batch axis and at least one more, got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


def flatten_backward(grad_output: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Gradient of :func:`flatten`: ``grad_output`` reshaped back to ``input_shape``."""
    g = as_array(grad_output, "grad_output", 2, "(N, features)")
    shape = tuple(int(s) for s in input_shape)
    if math.prod(shape) != g.size or shape[0] != g.shape[0]:
        raise ValueError(f"input_shape {shape} does not match grad_output of shape {g.shape}")
    return g.reshape(shape)


# --- softmax cross-entropy --------------------------------------------------------------------

def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` over the last axis, computed stably with the log-sum-exp trick::

        log_softmax(z)_k = z_k - m - log sum_j exp(z_j - m),   m = max_j z_j

    Every exponent is at most 0, so nothing overflows.
    """
    z = as_array(logits, "logits")
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """``softmax(z)_k = exp(z_k) / sum_j exp(z_j)`` over the last axis (never overflows)."""
    return np.exp(log_softmax(logits))


def _check_ce(logits, labels):
    z = as_array(logits, "logits", 2, "(N, classes)")
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be an integer numpy array, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape ({z.shape[0]},) (one per row of logits), "
                         f"got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in [0, {z.shape[1]}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return z


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of the softmax of ``logits`` against integer ``labels``, as
    ``torch.nn.functional.cross_entropy`` (reduction "mean")::

        L = -(1/N) sum_n log_softmax(logits[n])[labels[n]]

    ``logits: (N, classes)``, ``labels: (N,)`` int. Stable for any logits (log-sum-exp).
    """
    z = _check_ce(logits, labels)
    logp = log_softmax(z)
    return float(-logp[np.arange(z.shape[0]), labels].mean())


def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Gradient of :func:`softmax_cross_entropy` with respect to the logits::

        dL/dlogits = (softmax(logits) - onehot(labels)) / N

    ``logits: (N, classes)``, ``labels: (N,)`` int; the result has the shape of ``logits``.
    """
    z = _check_ce(logits, labels)
    grad = softmax(z)
    grad[np.arange(z.shape[0]), labels] -= 1.0
    return grad / z.shape[0]


# --- initialisation ---------------------------------------------------------------------------

def default_init_bound(shape: tuple[int, ...]) -> float:
    """The bound ``1 / sqrt(fan_in)`` of PyTorch's default ``Conv2d`` / ``Linear`` init.

    ``kaiming_uniform_(a=sqrt(5))`` draws from ``U(-b, b)`` with
    ``b = gain * sqrt(3 / fan_in)`` and ``gain = sqrt(2 / (1 + a^2)) = sqrt(1/3)``, so
    ``b = 1 / sqrt(fan_in)``; the bias uses the same bound. ``fan_in = shape[1] * prod(shape[2:])``.
    """
    shape = tuple(positive_int(s, "shape") for s in shape)
    if len(shape) < 2:
        raise ValueError(f"shape must be (out, in, ...) with at least 2 axes, got {shape}")
    return 1.0 / math.sqrt(shape[1] * math.prod(shape[2:]))


def default_init(shape: tuple[int, ...], rng: np.random.Generator,
                 dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """``(weight, bias)`` drawn as ``torch.nn.Conv2d`` / ``torch.nn.Linear`` draw them:
    both uniform in ``[-b, b)`` with ``b = 1/sqrt(fan_in)`` (:func:`default_init_bound`),
    from the numpy ``rng`` (same distribution as PyTorch, not the same numbers).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    b = default_init_bound(shape)
    weight = rng.uniform(-b, b, size=shape).astype(dtype)
    bias = rng.uniform(-b, b, size=shape[0]).astype(dtype)
    return weight, bias


# --- SGD with momentum ------------------------------------------------------------------------

def sgd_step(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
             buffers: Optional[Mapping[str, np.ndarray]], lr: float, momentum: float = 0.0,
             dampening: float = 0.0, weight_decay: float = 0.0,
             nesterov: bool = False) -> tuple[dict, dict]:
    """One step of ``torch.optim.SGD``; returns new ``(params, buffers)`` (inputs untouched).

    For each parameter ``p`` with gradient ``g`` (PyTorch's update, Sutskever et al. 2013)::

        d = g + weight_decay * p
        b = d                                   on the first step (no buffer yet)
        b = momentum * b + (1 - dampening) * d  afterwards
        d = d + momentum * b  if nesterov  else  b
        p = p - lr * d

    With ``momentum = 0`` there are no buffers (``{}``). Pass ``buffers=None`` (or ``{}``) on
    the first step.
    """
    for name, value in (("lr", lr), ("momentum", momentum), ("dampening", dampening),
                        ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov needs momentum > 0 and dampening = 0")
    if set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params {sorted(params)}, got {sorted(grads)}")
    buffers = {} if buffers is None else buffers
    new_params, new_buffers = {}, {}
    for name, p in params.items():
        p = as_array(p, f"params[{name!r}]")
        g = as_array(grads[name], f"grads[{name!r}]")
        if g.shape != p.shape:
            raise ValueError(f"grads[{name!r}] must have shape {p.shape}, got {g.shape}")
        d = g + weight_decay * p if weight_decay else g
        if momentum:
            if name in buffers:
                b = momentum * buffers[name] + (1 - dampening) * d
            else:
                b = np.array(d, copy=True)
            new_buffers[name] = b
            d = d + momentum * b if nesterov else b
        new_params[name] = (p - lr * d).astype(p.dtype, copy=False)
    return new_params, new_buffers


# --- the network ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmallCNN:
    """A LeNet-style CNN for ``(N, in_channels, size, size)`` images::

        conv1 (k1 x k1, padding k1 // 2) → ReLU → max-pool 2
        → conv2 (k2 x k2, padding k2 // 2) → ReLU → max-pool 2 → flatten → linear

    Parameters live in a plain dict (``conv1.weight``, ``conv1.bias``, ..., ``fc.bias``) made
    by :meth:`init`; :meth:`forward` returns the logits and a cache; :meth:`backward` turns
    ``dL/dlogits`` into one gradient per parameter by chaining ``linear_backward``,
    ``flatten_backward``, ``max_pool2d_backward``, ``relu_backward`` and ``conv2d_backward``.
    The same network in PyTorch: ``Conv2d(c, c1, k1, padding=k1//2), ReLU(), MaxPool2d(2),
    Conv2d(c1, c2, k2, padding=k2//2), ReLU(), MaxPool2d(2), Flatten(), Linear(.., classes)``.
    """

    in_channels: int = 3
    size: int = 32
    channels: tuple[int, int] = (8, 16)
    kernel_sizes: tuple[int, int] = (5, 3)
    num_classes: int = 10

    def __post_init__(self):
        positive_int(self.in_channels, "in_channels")
        positive_int(self.num_classes, "num_classes")
        if positive_int(self.size, "size") % 4:
            raise ValueError(f"size must be a multiple of 4 (two 2x2 poolings), got {self.size}")
        for name in ("channels", "kernel_sizes"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or len(value) != 2:
                raise TypeError(f"{name} must be a tuple of 2 ints, got {value!r}")
            for v in value:
                positive_int(v, name)
        for k in self.kernel_sizes:
            if k % 2 == 0:
                raise ValueError(f"kernel_sizes must be odd (padding k // 2 keeps the size), "
                                 f"got {self.kernel_sizes}")

    @property
    def features(self) -> int:
        """The number of inputs of the linear layer, ``channels[1] * (size // 4) ** 2``."""
        return self.channels[1] * (self.size // 4) ** 2

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every parameter, in PyTorch's layout (OIHW, (out, in))."""
        (c1, c2), (k1, k2) = self.channels, self.kernel_sizes
        return {"conv1.weight": (c1, self.in_channels, k1, k1), "conv1.bias": (c1,),
                "conv2.weight": (c2, c1, k2, k2), "conv2.bias": (c2,),
                "fc.weight": (self.num_classes, self.features), "fc.bias": (self.num_classes,)}

    def init(self, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
        """Fresh parameters, PyTorch's default initialisation (:func:`default_init`)."""
        params = {}
        shapes = self.shapes()
        for layer in ("conv1", "conv2", "fc"):
            w, b = default_init(shapes[f"{layer}.weight"], rng, dtype)
            params[f"{layer}.weight"], params[f"{layer}.bias"] = w, b
        return params

    def _check(self, params: Mapping[str, np.ndarray]) -> None:
        for name, shape in self.shapes().items():
            if name not in params:
                raise ValueError(f"params is missing {name!r}")
            if tuple(np.shape(params[name])) != shape:
                raise ValueError(f"params[{name!r}] must have shape {shape}, "
                                 f"got {tuple(np.shape(params[name]))}")

    def forward(self, params: Mapping[str, np.ndarray],
                x: np.ndarray) -> tuple[np.ndarray, dict]:
        """Logits ``(N, num_classes)`` and the cache of every layer's input."""
        self._check(params)
        x = as_array(x, "x", 4)
        if x.shape[1:] != (self.in_channels, self.size, self.size):
            raise ValueError(f"x must be (N, {self.in_channels}, {self.size}, {self.size}), "
                             f"got {x.shape}")
        k1, k2 = self.kernel_sizes
        c = {"x": x}
        c["a1"] = F.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=k1 // 2)
        c["r1"] = relu(c["a1"])
        c["p1"], c["i1"] = F.max_pool2d(c["r1"], 2, return_indices=True)
        c["a2"] = F.conv2d(c["p1"], params["conv2.weight"], params["conv2.bias"], padding=k2 // 2)
        c["r2"] = relu(c["a2"])
        c["p2"], c["i2"] = F.max_pool2d(c["r2"], 2, return_indices=True)
        c["f"] = flatten(c["p2"])
        logits = linear(c["f"], params["fc.weight"], params["fc.bias"])
        return logits, c

    def backward(self, params: Mapping[str, np.ndarray],
                 cache: Mapping[str, np.ndarray],
                 grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        """One gradient per parameter: the backward functions, last layer first."""
        k1, k2 = self.kernel_sizes
        c, p, grads = cache, params, {}
        g, grads["fc.weight"], grads["fc.bias"] = linear_backward(
            grad_logits, c["f"], p["fc.weight"])
        g = flatten_backward(g, c["p2"].shape)
        g = F.max_pool2d_backward(g, c["i2"], c["r2"].shape)
        g = relu_backward(g, c["a2"])
        g, grads["conv2.weight"], grads["conv2.bias"] = F.conv2d_backward(
            g, c["p1"], p["conv2.weight"], padding=k2 // 2)
        g = F.max_pool2d_backward(g, c["i1"], c["r1"].shape)
        g = relu_backward(g, c["a1"])
        _, grads["conv1.weight"], grads["conv1.bias"] = F.conv2d_backward(
            g, c["x"], p["conv1.weight"], padding=k1 // 2)
        return grads

    def loss_and_grads(self, params: Mapping[str, np.ndarray], x: np.ndarray,
                       labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean softmax cross-entropy of a batch and its gradient for every parameter."""
        logits, cache = self.forward(params, x)
        loss = softmax_cross_entropy(logits, labels)
        return loss, self.backward(params, cache, softmax_cross_entropy_backward(logits, labels))

    def predict(self, params: Mapping[str, np.ndarray], x: np.ndarray,
                batch_size: int = 500) -> np.ndarray:
        """Predicted class of every image (in batches of ``batch_size``)."""
        batch_size = positive_int(batch_size, "batch_size")
        return np.concatenate([self.forward(params, x[i:i + batch_size])[0].argmax(axis=1)
                               for i in range(0, len(x), batch_size)])


def standardize(images: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Each image to mean 0 and standard deviation 1 over all its pixels and channels::

        x'[n] = (x[n] - mean(x[n])) / max(std(x[n]), eps)

    (TensorFlow's ``per_image_standardization``). The shapes set draws every image in its own
    two random colours; standardising leaves the shape and removes most of the colour.
    """
    x = as_array(images, "images", 4)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = np.maximum(x.std(axis=(1, 2, 3), keepdims=True), eps)
    return ((x - mean) / std).astype(x.dtype, copy=False)


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch: a random permutation of ``range(n)`` cut into batches (the last may be short)."""
    n, batch_size = positive_int(n, "n"), positive_int(batch_size, "batch_size")
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``predicted == labels``."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted {predicted.shape} and labels {labels.shape} differ in shape")
    nonnegative_int(len(labels), "len(labels)")
    return float(np.mean(predicted == labels)) if labels.size else float("nan")


@dataclass
class History:
    """What :func:`train` records: the loss of every step, per-epoch accuracies, and a copy of
    the first layer's filters after every epoch (index 0: before training)."""

    step_loss: list
    train_accuracy: list
    val_accuracy: list
    conv1_weights: list


def train(model: SmallCNN, params: Mapping[str, np.ndarray], x: np.ndarray, labels: np.ndarray,
          *, epochs: int, batch_size: int, lr: float, momentum: float = 0.9,
          weight_decay: float = 0.0, rng: np.random.Generator,
          x_val: Optional[np.ndarray] = None,
          labels_val: Optional[np.ndarray] = None) -> tuple[dict, History]:
    """Minibatch SGD with momentum (:func:`sgd_step`) for ``epochs`` passes over ``x``.

    Each epoch shuffles with ``rng`` (:func:`minibatches`). Returns the trained parameters
    (``params`` is not modified) and a :class:`History`; the accuracies are measured after
    each epoch (``val_accuracy`` stays empty without ``x_val``).
    """
    epochs = positive_int(epochs, "epochs")
    hist = History([], [], [], [params["conv1.weight"].copy()])
    params, buffers = dict(params), {}
    for _ in range(epochs):
        for idx in minibatches(len(x), batch_size, rng):
            loss, grads = model.loss_and_grads(params, x[idx], labels[idx])
            params, buffers = sgd_step(params, grads, buffers, lr, momentum,
                                       weight_decay=weight_decay)
            hist.step_loss.append(loss)
        hist.train_accuracy.append(accuracy(model.predict(params, x), labels))
        if x_val is not None:
            hist.val_accuracy.append(accuracy(model.predict(params, x_val), labels_val))
        hist.conv1_weights.append(params["conv1.weight"].copy())
    return params, hist
