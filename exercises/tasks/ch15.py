"""Exercises for chapter 15, "A CNN from scratch": the network's backward pass, layer by layer,
then one training step with SGD and momentum.

References are ``convlib.nn`` (tested against PyTorch's autograd and ``torch.optim.SGD``);
the backward tasks are also checked by central differences. See ``exercises/checking.py``.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

import convlib.functional as F
from convlib import nn
from exercises._run import CallOutcome
from exercises.checking import Case, Chapter, Task
from exercises.gradcheck import numeric_gradient
from exercises.mistakes import Mistake
from exercises.rules import library, uses

__all__ = ["chapter", "q1", "q2", "q3", "q4", "q5", "q6", "MODEL", "PARAM_NAMES", "Arrays"]

chapter = Chapter("ch15", "A CNN from scratch", notebook="ch15_cnn_from_scratch")

#: The small network of the exercise: 1x8x8 images, 2 and 3 channels, 3x3 kernels, 4 classes.
MODEL = nn.SmallCNN(in_channels=1, size=8, channels=(2, 3), kernel_sizes=(3, 3), num_classes=4)
PARAM_NAMES = tuple(MODEL.shapes())


class Arrays(dict):
    """A dict of named arrays that prints as its names and shapes (cases stay readable)."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: <{np.shape(v)}>" for k, v in self.items()) + "}"

    def __deepcopy__(self, memo) -> "Arrays":
        return Arrays(copy.deepcopy(dict(self), memo))

    def __reduce_ex__(self, protocol):
        """Pickled (sent to the grader's sandbox) as a plain dict: the learner's process
        needs no class of the checker's to read its arguments."""
        return dict, (dict(self),)


def _ints(rng, *shape, low=-3, high=3):
    return rng.integers(low, high + 1, size=shape).astype(np.float64)


def _scaled_error(numeric, yours) -> float:
    """``max |numeric - yours| / (max |numeric| + max |yours|)``: relative to the gradient's
    size, so entries that are (nearly) zero, as behind a dead ReLU, do not blow it up."""
    numeric, yours = np.asarray(numeric, dtype=np.float64), np.asarray(yours, dtype=np.float64)
    if numeric.shape != yours.shape:
        return float("inf")
    scale = np.abs(numeric).max(initial=0) + np.abs(yours).max(initial=0)
    return float(np.abs(numeric - yours).max(initial=0) / max(scale, 1e-6))


class _LossCheck:
    """Central differences of a scalar ``loss(**arguments)`` against the learner's gradients:
    ``wrt`` maps output names to the argument differentiated (:func:`_scaled_error`)."""

    def __init__(self, loss, wrt, threshold=1e-6, h=1e-6):
        self.loss, self.wrt, self.threshold, self.h = loss, wrt, threshold, h

    def errors(self, arguments: dict, outputs: dict) -> dict:
        result = {}
        for out_name, arg_name in self.wrt.items():
            def f(value, arg_name=arg_name):
                return self.loss(**{**arguments, arg_name: value})
            result[out_name] = _scaled_error(numeric_gradient(f, arguments[arg_name], self.h),
                                            outputs[out_name])
        return result


# ---- q1: ReLU backward ---------------------------------------------------------------------
def _ref_relu(grad_output, x):
    return nn.relu_backward(grad_output, x)


def _cases_relu(rng):
    x0 = np.array([[-2.0, 0.0, 3.0], [1.0, -1.0, 0.5]])
    return [
        Case("a 2x3 array, one exact zero", (np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), x0)),
        Case("a feature map (N, C, H, W)", (_ints(rng, 2, 3, 4, 4), _ints(rng, 2, 3, 4, 4))),
        Case("float32 stays float32", (rng.standard_normal((2, 5)).astype(np.float32),
                                       rng.standard_normal((2, 5)).astype(np.float32))),
    ]


q1 = chapter.task(
    "q1", "ReLU backward", function="relu_backward",
    forbid=library("relu_backward", what="the ReLU backward"),
    reference=_ref_relu, cases=_cases_relu,
    mistakes=[
        Mistake("mask from the gradient", (
            "you kept grad_output where grad_output > 0. The mask comes from the forward input: "
            "ReLU let x through where x > 0, so only there does the gradient pass."),
            lambda ref, a: np.where(a["grad_output"] > 0, a["grad_output"], 0).astype(a["grad_output"].dtype)),
        Mistake("gradient passed at x = 0", (
            "at x = 0 the gradient must be 0 (PyTorch's convention: the mask is x > 0, not x >= 0)."),
            lambda ref, a: None if not np.any(a["x"] == 0) else
            np.where(a["x"] >= 0, a["grad_output"], 0).astype(a["grad_output"].dtype)),
        Mistake("ReLU of the gradient", (
            "you returned relu(grad_output) (or grad_output * relu(x)). The backward pass multiplies "
            "grad_output by the derivative of ReLU, which is 1 where x > 0 and 0 elsewhere."),
            lambda ref, a: (a["grad_output"] * np.maximum(a["x"], 0)).astype(a["grad_output"].dtype)),
    ],
    hints=[
        "ReLU is y = max(x, 0). Its derivative is 1 where x > 0 and 0 elsewhere, so each "
        "element of grad_output either passes unchanged or becomes 0.",
        "return np.where(x > 0, grad_output, 0).astype(grad_output.dtype) "
        "(or grad_output * (x > 0)).",
    ])


# ---- q2: linear backward -------------------------------------------------------------------
def _ref_linear(grad_output, x, weight):
    return nn.linear_backward(grad_output, x, weight)


def _cases_linear(rng):
    return [
        Case("one sample, 3 features in, 2 out",
             (_ints(rng, 1, 2), _ints(rng, 1, 3), _ints(rng, 2, 3))),
        Case("a batch of 4: grad_weight and grad_bias sum over the batch",
             (_ints(rng, 4, 2), _ints(rng, 4, 3), _ints(rng, 2, 3))),
        Case("5 samples, 12 features in, 4 out (the exercise network's layer)",
             (rng.standard_normal((5, 4)), rng.standard_normal((5, 12)), rng.standard_normal((4, 12)))),
    ]


def _linear_forward(grad_output, x, weight):
    return float(np.sum(nn.linear(x, weight) * grad_output))


def _linear_wrong(which):
    def wrong(ref, a):
        g, x, w = a["grad_output"], a["x"], a["weight"]
        gx, gw, gb = ref(**a)
        if which == "mean":
            return None if len(x) < 2 else (gx, gw / len(x), gb / len(x))
        if which == "bias_mean":
            return None if len(x) < 2 else (gx, gw, g.mean(axis=0))
        if which == "no_transpose_w":
            return None if w.shape[0] != w.shape[1] else (g @ w.T, gw, gb)
        return (gx, gw.T, gb) if which == "transposed" else None
    return wrong


q2 = chapter.task(
    "q2", "linear layer backward", function="linear_backward",
    forbid=library("linear_backward", what="the linear layer's backward"),
    reference=_ref_linear, cases=_cases_linear, output_names=("grad_input", "grad_weight", "grad_bias"),
    gradient=_LossCheck(_linear_forward, {"grad_input": "x", "grad_weight": "weight"}),
    mistakes=[
        Mistake("gradients averaged over the batch", (
            "grad_weight and grad_bias must SUM over the samples: y[n] = W x[n] + b uses the same W and "
            "b for every n. (The 1/N of a mean loss is already inside grad_output.)"), _linear_wrong("mean")),
        Mistake("bias gradient averaged", (
            "grad_bias is grad_output.sum(axis=0), not the mean."), _linear_wrong("bias_mean")),
        Mistake("grad_weight transposed", (
            "grad_weight must have the shape of weight, (out_features, in_features): "
            "grad_output.T @ x, not x.T @ grad_output."), _linear_wrong("transposed")),
    ],
    hints=[
        "y = x @ W.T + b with x (N, in), W (out, in), y (N, out). Each result has the shape of "
        "what it differentiates: grad_input like x, grad_weight like W, grad_bias like b.",
        "grad_input = grad_output @ W; grad_weight = grad_output.T @ x; "
        "grad_bias = grad_output.sum(axis=0). Return the three as a tuple.",
    ])


# ---- q3: softmax cross-entropy, loss and gradient -------------------------------------------
def _ref_ce(logits, labels):
    return (nn.softmax_cross_entropy(logits, labels),
            nn.softmax_cross_entropy_backward(logits, labels))


def _cases_ce(rng):
    return [
        Case("one sample, three classes", (np.array([[1.0, 2.0, 0.5]]), np.array([1]))),
        Case("a batch of 4, five classes", (rng.standard_normal((4, 5)), rng.integers(0, 5, 4))),
        Case("large logits (up to 1000): exp must not overflow",
             (np.array([[1000.0, 0.0, -1000.0], [2.0, 999.0, 3.0]]), np.array([0, 2]))),
    ]


def _ce_wrong(which):
    def wrong(ref, a):
        z, y = a["logits"], a["labels"]
        loss = nn.softmax_cross_entropy(z, y)
        p = nn.softmax(z)
        onehot = np.eye(z.shape[1])[y]
        if which == "no_mean":
            return None if len(z) < 2 else (loss, p - onehot)
        if which == "sign":
            return loss, (onehot - p) / len(z)
        if which == "softmax_only":
            return loss, p / len(z)
        if which == "loss_sum":
            return None if len(z) < 2 else (loss * len(z), (p - onehot) / len(z))
        return None
    return wrong


q3 = chapter.task(
    "q3", "softmax cross-entropy: the loss and its gradient", function="softmax_cross_entropy",
    forbid=library("softmax_cross_entropy", "softmax_cross_entropy_backward",
                   what="the loss and its gradient"),
    reference=_ref_ce, cases=_cases_ce, output_names=("loss", "grad_logits"),
    gradient=_LossCheck(lambda logits, labels: nn.softmax_cross_entropy(logits, labels),
                        {"grad_logits": "logits"}),
    mistakes=[
        Mistake("no division by N", (
            "the loss is the MEAN over the batch, so its gradient is (softmax - onehot) / N."),
            _ce_wrong("no_mean")),
        Mistake("loss summed over the batch", (
            "the loss is the MEAN of -log softmax(logits[n])[labels[n]] over the N samples "
            "(PyTorch's reduction='mean'), not the sum."), _ce_wrong("loss_sum")),
        Mistake("sign flipped", "the gradient is softmax(logits) - onehot(labels), not the reverse: "
                "raising the right class's logit must LOWER the loss.", _ce_wrong("sign")),
        Mistake("one-hot not subtracted", (
            "you returned softmax / N. Subtract 1 at each sample's true class: "
            "grad[n, labels[n]] -= 1 (before dividing by N)."), _ce_wrong("softmax_only")),
    ],
    hints=[
        "Stable log-softmax: s = z - z.max(axis=1, keepdims=True); "
        "log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True)). The loss is "
        "-log_p[np.arange(N), labels].mean(). For one sample, dL/dz_k = softmax(z)_k - [k == label].",
        "p = np.exp(log_p); grad = p.copy(); grad[np.arange(N), labels] -= 1; return "
        "(float(loss), grad / N).",
    ])


# ---- q4: the whole network's backward pass -------------------------------------------------
def _ref_cnn_backward(grad_logits, cache, params):
    grads = MODEL.backward(params, cache, grad_logits)
    return tuple(grads[k] for k in PARAM_NAMES)


def _forward_case(rng, label, n):
    params = Arrays(MODEL.init(rng, dtype=np.float64))
    x = rng.standard_normal((n, 1, 8, 8))
    labels = rng.integers(0, 4, n)
    logits, cache = MODEL.forward(params, x)
    grad_logits = nn.softmax_cross_entropy_backward(logits, labels)
    return Case(label, (grad_logits, Arrays(cache), params))


def _cases_cnn(rng):
    return [_forward_case(rng, "one image", 1), _forward_case(rng, "a batch of 3 images", 3)]


def _cnn_loss(grad_logits, cache, params):
    """sum(logits * grad_logits): its gradient in the params is what cnn_backward returns."""
    return float(np.sum(MODEL.forward(params, cache["x"])[0] * grad_logits))


class _ParamCheck(_LossCheck):
    """Central differences in every parameter of the dict ``params``."""

    def errors(self, arguments: dict, outputs: dict) -> dict:
        result = {}
        for name in PARAM_NAMES:
            def f(value, name=name):
                return self.loss(**{**arguments, "params": {**arguments["params"], name: value}})
            result[name] = _scaled_error(numeric_gradient(f, arguments["params"][name], self.h),
                                        outputs[name])
        return result


def _cnn_wrong(skip=None, pool_avg=False, conv_input=None):
    """The chain with one link broken."""
    def wrong(ref, a):
        g, c, p = a["grad_logits"], a["cache"], a["params"]
        grads = {}
        gf, grads["fc.weight"], grads["fc.bias"] = nn.linear_backward(g, c["f"], p["fc.weight"])
        g2 = gf.reshape(c["p2"].shape)
        if pool_avg:
            g2 = F.avg_pool2d_backward(g2, c["r2"].shape, 2)
        else:
            g2 = F.max_pool2d_backward(g2, c["i2"], c["r2"].shape)
        if skip != "relu":
            g2 = nn.relu_backward(g2, c["a2"])
        inp = c[conv_input] if conv_input else c["p1"]
        g1, grads["conv2.weight"], grads["conv2.bias"] = F.conv2d_backward(
            g2, inp, p["conv2.weight"], padding=1)
        g1 = (F.avg_pool2d_backward(g1, c["r1"].shape, 2) if pool_avg
              else F.max_pool2d_backward(g1, c["i1"], c["r1"].shape))
        if skip != "relu":
            g1 = nn.relu_backward(g1, c["a1"])
        _, grads["conv1.weight"], grads["conv1.bias"] = F.conv2d_backward(
            g1, c["x"], p["conv1.weight"], padding=1)
        return tuple(grads[k] for k in PARAM_NAMES)
    return wrong


q4 = chapter.task(
    "q4", "the network's backward pass", function="cnn_backward",
    forbid=library("backward", "loss_and_grads", "train", what="the network's backward pass"),
    rules=[uses(f, "the task says: use your functions from questions 1 and 2")
           for f in ("relu_backward", "linear_backward")],
    reference=_ref_cnn_backward, cases=_cases_cnn, output_names=PARAM_NAMES,
    gradient=_ParamCheck(_cnn_loss, {}),
    mistakes=[
        Mistake("ReLU skipped", (
            "the gradient went through the ReLUs unchanged. After each max-pool backward, apply "
            "relu_backward(g, cache['a1' or 'a2']): the ReLU input decides where gradient passes."),
            _cnn_wrong(skip="relu")),
        Mistake("pooling backward spread over the window", (
            "you divided each gradient over the 2x2 window (average pooling). Max pooling sends "
            "it only to the maximum: F.max_pool2d_backward(g, cache['i2'], cache['r2'].shape)."),
            _cnn_wrong(pool_avg=True)),
    ],
    hints=[
        "Go from the top down, each backward function fed the gradient of the layer above and "
        "the INPUT its forward saw: linear_backward(grad_logits, cache['f'], W3) -> reshape to "
        "cache['p2'].shape -> F.max_pool2d_backward(g, cache['i2'], cache['r2'].shape) -> "
        "relu_backward(g, cache['a2']) -> F.conv2d_backward(g, cache['p1'], W2, padding=1) -> "
        "the same three again for layer 1 with cache['i1'], cache['r1'], cache['a1'], cache['x'].",
        "conv2d_backward returns (grad_input, grad_weight, grad_bias); keep grad_weight and "
        "grad_bias, pass grad_input on. The first convolution's grad_input is not needed. Return "
        "the six gradients in the order conv1.weight, conv1.bias, conv2.weight, conv2.bias, "
        "fc.weight, fc.bias.",
    ], timeout=10)


# ---- q5: one SGD step with momentum, for one parameter -------------------------------------
def _ref_sgd(param, grad, buffer, lr, momentum, weight_decay=0.0):
    bufs = None if buffer is None else {"p": buffer}
    p, b = nn.sgd_step({"p": param}, {"p": grad}, bufs, lr, momentum, weight_decay=weight_decay)
    return p["p"], b["p"]


def _cases_sgd(rng):
    return [
        Case("the first step: there is no buffer yet", (_ints(rng, 2, 3), _ints(rng, 2, 3), None, 0.1, 0.9)),
        Case("a later step: the buffer remembers earlier gradients",
             (_ints(rng, 2, 3), _ints(rng, 2, 3), _ints(rng, 2, 3), 0.1, 0.9)),
        Case("momentum 0.5, a 4-D weight", (rng.standard_normal((2, 1, 3, 3)), rng.standard_normal((2, 1, 3, 3)),
                                           rng.standard_normal((2, 1, 3, 3)), 0.05, 0.5)),
        Case("weight decay 0.01: added to the gradient before the momentum",
             (_ints(rng, 4), _ints(rng, 4), _ints(rng, 4), 0.1, 0.9), {"weight_decay": 0.01}),
    ]


def _sgd_wrong(which):
    def wrong(ref, a):
        p, g, b, lr, m = a["param"], a["grad"], a["buffer"], a["lr"], a["momentum"]
        d = g + a["weight_decay"] * p
        if which == "lr_inside":
            nb = d * lr if b is None else m * b + lr * d
            return p - nb, nb
        if which == "dampened":
            nb = d * (1 - m) if b is None else m * b + (1 - m) * d
            return p - lr * nb, nb
        if which == "no_momentum":
            nb = d if b is None else m * b + d
            return p - lr * d, nb
        if which == "decay_after":
            if not a["weight_decay"]:
                return None
            nb = g if b is None else m * b + g
            return p - lr * (nb + a["weight_decay"] * p), nb
        return None
    return wrong


q5 = chapter.task(
    "q5", "SGD with momentum, PyTorch's update", function="sgd_momentum_step",
    forbid=library("sgd_step", "train", what="the SGD step"),
    reference=_ref_sgd, cases=_cases_sgd, output_names=("new_param", "new_buffer"),
    mistakes=[
        Mistake("learning rate inside the buffer", (
            "you accumulate lr * grad in the buffer (the form of Sutskever et al.). torch.optim.SGD "
            "keeps the learning rate OUT of the buffer: buffer = momentum * buffer + grad; "
            "param = param - lr * buffer."), _sgd_wrong("lr_inside")),
        Mistake("gradient scaled by (1 - momentum)", (
            "that is an exponential moving average (dampening = momentum). PyTorch's default "
            "dampening is 0: buffer = momentum * buffer + grad."), _sgd_wrong("dampened")),
        Mistake("the step ignores the buffer", (
            "you updated the buffer but stepped with the raw gradient. The step uses the buffer: "
            "param - lr * new_buffer."), _sgd_wrong("no_momentum")),
        Mistake("weight decay added after the momentum", (
            "weight decay joins the gradient FIRST: d = grad + weight_decay * param, then the "
            "buffer is built from d."), _sgd_wrong("decay_after")),
    ],
    hints=[
        "d = grad + weight_decay * param. On the first step (buffer is None) the new buffer is "
        "a copy of d; afterwards it is momentum * buffer + d. Then param - lr * new_buffer.",
        "Never write into param or buffer (no -=, no +=): build new arrays and return "
        "(new_param, new_buffer). Use d.copy() for the first buffer.",
    ])


# ---- q6: one training step -----------------------------------------------------------------
def _flatten_step(out):
    """(loss, params dict, buffers dict) -> (loss, p1, ..., p6, b1, ..., b6); anything else as is."""
    if (isinstance(out, tuple) and len(out) == 3 and isinstance(out[1], dict)
            and isinstance(out[2], dict) and set(out[1]) == set(PARAM_NAMES) == set(out[2])):
        return (out[0],) + tuple(out[1][k] for k in PARAM_NAMES) + tuple(out[2][k] for k in PARAM_NAMES)
    return out


def _ref_step(params, buffers, x, labels, lr, momentum):
    loss, grads = MODEL.loss_and_grads(params, x, labels)
    new_p, new_b = nn.sgd_step(params, grads, buffers or None, lr, momentum)
    return _flatten_step((loss, new_p, new_b))


def _cases_step(rng):
    params = Arrays(MODEL.init(rng, dtype=np.float64))
    x = rng.standard_normal((4, 1, 8, 8))
    labels = rng.integers(0, 4, 4)
    loss, grads = MODEL.loss_and_grads(params, x, labels)
    p1, b1 = nn.sgd_step(params, grads, None, 0.1, 0.9)
    x2 = rng.standard_normal((4, 1, 8, 8))
    labels2 = rng.integers(0, 4, 4)
    return [
        Case("the first step (no buffers yet)", (params, Arrays(), x, labels, 0.1, 0.9)),
        Case("the second step, with the buffers of the first", (Arrays(p1), Arrays(b1), x2, labels2, 0.1, 0.9)),
    ]


def _describe(out) -> str:
    if isinstance(out, tuple):
        return "a tuple of " + ", ".join(
            f"dict with keys {sorted(o)}" if isinstance(o, dict) else type(o).__name__ for o in out)
    return type(out).__name__


class _StepTask(Task):
    """q6 returns dicts; they are compared as one flat tuple (loss, params..., buffers...)."""

    def run(self, fn):
        if not callable(fn):
            return super().run(fn)
        remote = getattr(fn, "convbook_remote_call", None)  # the grader's sandbox

        if remote is None:
            @functools.wraps(fn)
            def flat(*args, **kwargs):
                before = _snapshot(args)
                return _checked_step(args, before, fn(*args, **kwargs))
            return super().run(flat)

        def flat_remote(args, kwargs, seconds):
            before = _snapshot(args)
            outcome = remote(args, kwargs, seconds)
            if outcome.timed_out or outcome.exception is not None:
                return outcome
            try:
                value = _checked_step(args, before, outcome.value)
            except (TypeError, ValueError) as exc:
                return CallOutcome(exception=exc, seconds=outcome.seconds)
            return CallOutcome(value=value, seconds=outcome.seconds)

        def flat(*args, **kwargs):  # not called: the checker uses the hook
            raise RuntimeError("called through convbook_remote_call only")
        flat.convbook_remote_call = flat_remote
        return super().run(flat)


def _snapshot(args) -> list:
    """Copies of the arrays in the dict arguments, to see in-place changes."""
    return [(i, {k: np.array(v) for k, v in a.items()}) for i, a in enumerate(args)
            if isinstance(a, dict)]


def _checked_step(args, before, out):
    """``out`` flattened; an error if the dict arguments changed or ``out`` has the wrong form."""
    for i, kept in before:
        for k, v in kept.items():
            if not np.array_equal(v, args[i].get(k)):
                which = ("params", "buffers")[i] if i < 2 else f"argument {i + 1}"
                raise ValueError(
                    f"train_step changed {which}[{k!r}] in place. Leave the old dicts "
                    "and arrays untouched: build new ones (p - lr * b, not p -= lr * b).")
    flat_out = _flatten_step(out)
    if flat_out is out and out is not None:
        raise TypeError(
            "train_step must return (loss, new_params, new_buffers): a number and two "
            f"dicts with the keys {list(PARAM_NAMES)}; got {_describe(out)}")
    return flat_out


def _step_wrong(which):
    def wrong(ref, a):
        params, buffers = a["params"], a["buffers"]
        loss, grads = MODEL.loss_and_grads(params, a["x"], a["labels"])
        if which == "plus":
            new_p = {k: params[k] + a["lr"] * grads[k] for k in PARAM_NAMES}
            return _flatten_step((loss, new_p, dict(grads) if not buffers else
                                  {k: a["momentum"] * buffers[k] + grads[k] for k in PARAM_NAMES}))
        if which == "no_momentum":
            if not buffers:
                return None
            new_b = {k: a["momentum"] * buffers[k] + grads[k] for k in PARAM_NAMES}
            return _flatten_step((loss, {k: params[k] - a["lr"] * grads[k] for k in PARAM_NAMES}, new_b))
        return None
    return wrong


q6 = _StepTask(
    "q6", "one training step", function="train_step", chapter=chapter,
    forbid=library("backward", "loss_and_grads", "sgd_step", "train",
                   what="the training step"),
    rules=[uses(f, "the task says: use your functions from questions 3 to 5")
           for f in ("softmax_cross_entropy", "cnn_backward", "sgd_momentum_step")],
    reference=_ref_step, cases=_cases_step,
    output_names=("loss",) + tuple(f"new_params[{k!r}]" for k in PARAM_NAMES)
    + tuple(f"new_buffers[{k!r}]" for k in PARAM_NAMES),
    mistakes=[
        Mistake("step uphill", "the update must SUBTRACT lr * (momentum buffer): the gradient points "
                "to where the loss grows.", _step_wrong("plus")),
        Mistake("momentum buffer ignored", (
            "the new parameters used the raw gradient; step with the new buffer instead (q5)."),
            _step_wrong("no_momentum")),
    ],
    hints=[
        "logits, cache = MODEL.forward(params, x); loss, grad_logits = "
        "softmax_cross_entropy(logits, labels) (yours, question 3); grads = "
        "dict(zip(PARAM_NAMES, cnn_backward(grad_logits, cache, params))); then your "
        "sgd_momentum_step for every parameter.",
        "buffers is empty on the first step: pass buffers.get(name) (None when missing) to "
        "sgd_momentum_step. Return (loss, new_params, new_buffers) with two dicts keyed by the "
        "parameter names (PARAM_NAMES).",
    ], timeout=10)
chapter.tasks["q6"] = q6
