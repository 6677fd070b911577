"""The chapter-15 exercise (exercises/tasks/ch15.py): right answers pass, each typical mistake
gets its own diagnosis. The learner functions are written here, independently of the
references (plain numpy and convlib.functional); each wrong one makes exactly one mistake."""

from __future__ import annotations

import numpy as np
import pytest

import convlib.functional as F
from exercises.tasks.ch15 import MODEL, PARAM_NAMES, q1, q2, q3, q4, q5, q6

pytestmark = pytest.mark.exercises


def relu_backward(grad_output, x, *, mode="ok"):
    mask = {"ge": x >= 0, "grad": grad_output > 0}.get(mode, x > 0)
    return np.where(mask, grad_output, 0).astype(grad_output.dtype)


def linear_backward(grad_output, x, weight, *, mode="ok"):
    n = len(x) if mode == "mean" else 1
    gw = grad_output.T @ x
    return grad_output @ weight, (gw.T if mode == "transposed" else gw) / n, grad_output.sum(0) / n


def softmax_cross_entropy(logits, labels, *, mode="ok"):
    n = len(logits)
    s = logits - logits.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), labels].mean()
    g = np.exp(log_p)
    if mode != "no_onehot":
        g[np.arange(n), labels] -= 1
    if mode == "sign":
        g = -g
    return float(loss * (n if mode == "loss_sum" else 1)), g / (1 if mode == "no_mean" else n)


def cnn_backward(grad_logits, cache, params, *, mode="ok"):
    g, gw3, gb3 = linear_backward(grad_logits, cache["f"], params["fc.weight"])
    g = g.reshape(cache["p2"].shape)
    pool = ((lambda g, i, r: F.avg_pool2d_backward(g, r.shape, 2)) if mode == "avg" else
            (lambda g, i, r: F.max_pool2d_backward(g, i, r.shape)))
    relu = (lambda g, a: g) if mode == "no_relu" else relu_backward
    g = relu(pool(g, cache["i2"], cache["r2"]), cache["a2"])
    g, gw2, gb2 = F.conv2d_backward(g, cache["p1"], params["conv2.weight"], padding=1)
    g = relu(pool(g, cache["i1"], cache["r1"]), cache["a1"])
    _, gw1, gb1 = F.conv2d_backward(g, cache["x"], params["conv1.weight"], padding=1)
    return gw1, gb1, gw2, gb2, gw3, gb3


def sgd_momentum_step(param, grad, buffer, lr, momentum, weight_decay=0.0, *, mode="ok"):
    d = grad + (0 if mode == "decay_after" else weight_decay) * param
    scale = {"lr_inside": lr, "dampened": 1 - momentum}.get(mode, 1.0)
    new_buffer = d * scale if buffer is None else momentum * buffer + d * scale
    if mode == "lr_inside":
        return param - new_buffer, new_buffer
    step = d if mode == "no_momentum" else new_buffer
    if mode == "decay_after":
        step = step + weight_decay * param
    return param - lr * step, new_buffer


def train_step(params, buffers, x, labels, lr, momentum, *, mode="ok"):
    logits, cache = MODEL.forward(params, x)
    loss, grad_logits = softmax_cross_entropy(logits, labels)
    grads = dict(zip(PARAM_NAMES, cnn_backward(grad_logits, cache, params)))
    new_p, new_b = {}, {}
    for k in PARAM_NAMES:
        new_p[k], new_b[k] = sgd_momentum_step(params[k], grads[k], buffers.get(k), lr, momentum)
        if mode == "uphill":
            new_p[k] = params[k] + lr * new_b[k]
        if mode == "in_place":
            params[k] -= lr * new_b[k]
            new_p[k] = params[k]
    if mode == "two_results":
        return loss, new_p
    return loss, new_p, new_b


def _with(fn, mode):
    def wrapped(*args, **kwargs):
        return fn(*args, **kwargs, mode=mode)
    wrapped.__name__ = fn.__name__
    return wrapped


@pytest.mark.parametrize("task, fn", [(q1, relu_backward), (q2, linear_backward),
                                      (q3, softmax_cross_entropy), (q4, cnn_backward),
                                      (q5, sgd_momentum_step), (q6, train_step)],
                         ids=["q1", "q2", "q3", "q4", "q5", "q6"])
def test_right_answers_pass(task, fn):
    result = task.run(fn)
    assert result.status == "passed", result.message


@pytest.mark.parametrize("task, fn, mode, diagnosis", [
    (q1, relu_backward, "ge", "gradient passed at x = 0"),
    (q1, relu_backward, "grad", "mask from the gradient"),
    (q2, linear_backward, "mean", "gradients averaged over the batch"),
    (q2, linear_backward, "transposed", None),
    (q3, softmax_cross_entropy, "no_mean", "no division by N"),
    (q3, softmax_cross_entropy, "loss_sum", "loss summed over the batch"),
    (q3, softmax_cross_entropy, "sign", "sign flipped"),
    (q3, softmax_cross_entropy, "no_onehot", "one-hot not subtracted"),
    (q4, cnn_backward, "no_relu", "ReLU skipped"),
    (q4, cnn_backward, "avg", "pooling backward spread over the window"),
    (q5, sgd_momentum_step, "lr_inside", "learning rate inside the buffer"),
    (q5, sgd_momentum_step, "dampened", "gradient scaled by (1 - momentum)"),
    (q5, sgd_momentum_step, "no_momentum", "the step ignores the buffer"),
    (q5, sgd_momentum_step, "decay_after", "weight decay added after the momentum"),
    (q6, train_step, "uphill", "step uphill"),
])
def test_each_mistake_is_diagnosed(task, fn, mode, diagnosis):
    result = task.run(_with(fn, mode))
    assert result.status == "failed", result.message
    if diagnosis is None:  # a wrong shape: the message says which result and which shapes
        assert "wrong shape" in result.message, result.message
    else:
        assert result.diagnosis is not None and result.diagnosis.startswith(diagnosis), result.message


def test_gradient_check_reports_central_differences_on_a_wrong_backward():
    result = q4.run(_with(cnn_backward, "no_relu"))
    assert "Gradient check (central differences" in result.message
    assert "fc.weight relative error" in result.message


def test_train_step_with_the_wrong_structure_or_in_place_is_caught():
    result = q6.run(_with(train_step, "two_results"))
    assert result.status == "failed" and "(loss, new_params, new_buffers)" in result.message
    result = q6.run(_with(train_step, "in_place"))
    assert result.status == "failed" and "changed params[" in result.message, result.message


LIBRARY_ANSWERS = {
    "relu_backward": (
        "def relu_backward(grad_output, x):\n"
        "    return nn.relu_backward(grad_output, x)"),
    "linear_backward": (
        "from convlib.nn import linear_backward as lb\n"
        "def linear_backward(grad_output, x, weight):\n"
        "    return lb(grad_output, x, weight)"),
    "softmax_cross_entropy": (
        "def softmax_cross_entropy(logits, labels):\n"
        "    return (nn.softmax_cross_entropy(logits, labels),\n"
        "            nn.softmax_cross_entropy_backward(logits, labels))"),
    "cnn_backward": (
        "def cnn_backward(grad_logits, cache, params):\n"
        "    grads = MODEL.backward(params, cache, grad_logits)\n"
        "    return tuple(grads[k] for k in PARAM_NAMES)"),
    "sgd_momentum_step": (
        "def sgd_momentum_step(param, grad, buffer, lr, momentum,\n"
        "                      weight_decay=0.0):\n"
        "    b = None if buffer is None else {'p': buffer}\n"
        "    p, b = nn.sgd_step({'p': param}, {'p': grad}, b, lr,\n"
        "                       momentum, weight_decay=weight_decay)\n"
        "    return p['p'], b['p']"),
    "train_step": (
        "def train_step(params, buffers, x, labels, lr, momentum):\n"
        "    loss, grads = MODEL.loss_and_grads(params, x, labels)\n"
        "    bufs = buffers or None\n"
        "    step = nn.sgd_step(params, grads, bufs, lr, momentum)\n"
        "    return (loss, *step)"),
}


def test_calling_the_library_scores_zero(tmp_path):
    """One-liners around convlib.nn break each task's rules: 0 points,
    although their output (tuples of arrays, q6's dicts too, read back from
    the grader's sandbox) is right."""
    from graded import grade_answers

    tasks = grade_answers("ch15_cnn_from_scratch.ipynb", LIBRARY_ANSWERS,
                          tmp_path)
    forbidden = {"q1": "relu_backward", "q2": "linear_backward",
                 "q3": "softmax_cross_entropy", "q4": "backward",
                 "q5": "sgd_step", "q6": "loss_and_grads"}
    for name, used in forbidden.items():
        entry = tasks[name]
        assert entry["score"] == 0, entry
        assert entry["status"] == "failed", entry
        assert any(p.startswith(f"uses {used} ")
                   for p in entry["rules_broken"]), entry
        assert "output is right on every case" in entry["summary"], entry


def test_the_notebooks_model_is_the_checkers():
    """The setup cell builds MODEL itself (the grader's sandbox imports
    nothing of the checker's): it must be the network the references use."""
    import nbformat

    from exercises.notebooks import STUDENT_DIR

    nb = nbformat.read(STUDENT_DIR / "ch15_cnn_from_scratch.ipynb", 4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    ns: dict = {}
    own = [ln for ln in setup.splitlines() if "exercises" not in ln]
    exec("\n".join(own), ns)
    assert ns["MODEL"] == MODEL and ns["PARAM_NAMES"] == PARAM_NAMES


def test_train_step_in_place_is_caught_through_the_sandbox():
    """In the grader, train_step runs in another process: a change it makes
    to the params dict there still fails q6."""
    from exercises._check import RemoteFunction, _setup_source
    from exercises._sandbox import Sandbox

    in_place = (
        "def train_step(params, buffers, x, labels, lr, momentum):\n"
        "    loss, grads = MODEL.loss_and_grads(params, x, labels)\n"
        "    bufs = buffers or None\n"
        "    p, b = nn.sgd_step(params, grads, bufs, lr, momentum)\n"
        "    params['fc.bias'] = p['fc.bias']\n"
        "    return loss, p, b")
    sandbox = Sandbox()
    try:
        setup = _setup_source("ch15_cnn_from_scratch")
        assert sandbox.exec(setup, "<setup>", 60)[0] == "ok"
        assert sandbox.exec(in_place, "<cell>", 60)[0] == "ok"
        result = q6.run(RemoteFunction(sandbox, "train_step"))
    finally:
        sandbox.close()
    assert result.status == "failed", result.message
    assert "changed params['fc.bias'] in place" in result.message


def test_train_step_must_use_the_learners_own_functions():
    """q6's text says: use your softmax_cross_entropy, cnn_backward and
    sgd_momentum_step."""
    from exercises.rules import Program, answer_cells, rule_problems

    cells = [(i, f"def {name}(*args):\n    pass") for i, name in enumerate(
        ["softmax_cross_entropy", "cnn_backward", "sgd_momentum_step"])]
    cells.append((9, (
        "def train_step(params, buffers, x, labels, lr, momentum):\n"
        "    logits, cache = MODEL.forward(params, x)\n"
        "    loss, g = softmax_cross_entropy(logits, labels)\n"
        "    gs = cnn_backward(g, cache, params)\n"
        "    grads = dict(zip(PARAM_NAMES, gs))\n"
        "    new_b = {k: momentum * buffers.get(k, 0) + grads[k]\n"
        "             for k in grads}\n"
        "    new_p = {k: params[k] - lr * new_b[k] for k in grads}\n"
        "    return loss, new_p, new_b")))
    problems = rule_problems(Program(answer_cells(cells)), "train_step",
                             q6.forbid, q6.rules, q6.allow)
    assert len(problems) == 1, problems
    assert "does not call your sgd_momentum_step" in problems[0]
