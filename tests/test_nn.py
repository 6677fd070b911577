"""convlib.nn against PyTorch (forward, autograd, torch.optim.SGD, default init) and central
differences; bad input; inputs never modified."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convlib.nn as nn
from oracle import assert_close

pytestmark = pytest.mark.nn

DTYPES = [np.float32, np.float64]


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def test_doctests():
    assert doctest.testmod(nn, raise_on_error=True).failed == 0


# --- ReLU ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(4))
def test_relu_forward_backward_match_torch(dtype, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 5))))
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:: 3] = 0.0  # exact zeros: the gradient there is 0 in both
    g = rng.standard_normal(shape).astype(dtype)
    xt = _t(x, True)
    yt = TF.relu(xt)
    yt.backward(_t(g))
    y = nn.relu(x)
    assert y.dtype == dtype
    assert_close(y, yt, what="relu")
    gi = nn.relu_backward(g, x)
    assert gi.dtype == dtype
    assert_close(gi, xt.grad, what="relu grad")


# --- linear -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(6))
def test_linear_forward_backward_match_torch(dtype, seed):
    rng = np.random.default_rng(seed)
    n, fin, fout = (int(v) for v in rng.integers(1, 9, size=3))
    x = rng.standard_normal((n, fin)).astype(dtype)
    w = rng.standard_normal((fout, fin)).astype(dtype)
    b = rng.standard_normal(fout).astype(dtype) if seed % 2 else None
    g = rng.standard_normal((n, fout)).astype(dtype)
    xt, wt = _t(x, True), _t(w, True)
    bt = None if b is None else _t(b, True)
    yt = TF.linear(xt, wt, bt)
    yt.backward(_t(g))
    y = nn.linear(x, w, b)
    assert y.dtype == dtype
    assert_close(y, yt, what="linear")
    gx, gw, gb = nn.linear_backward(g, x, w)
    assert_close(gx, xt.grad, what="grad_input")
    assert_close(gw, wt.grad, what="grad_weight")
    if b is not None:
        assert_close(gb, bt.grad, what="grad_bias")


# --- softmax cross-entropy ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("seed", range(3))
def test_cross_entropy_matches_torch(dtype, scale, seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 9)), int(rng.integers(2, 12))
    z = (rng.standard_normal((n, k)) * scale).astype(dtype)
    labels = rng.integers(0, k, n)
    zt = _t(z, True)
    lt = TF.cross_entropy(zt, torch.tensor(labels))
    lt.backward()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow at 1e4
        loss = nn.softmax_cross_entropy(z, labels)
        grad = nn.softmax_cross_entropy_backward(z, labels)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert abs(loss - lt.item()) <= rtol * max(1.0, abs(lt.item()))
    assert grad.dtype == dtype
    assert_close(grad, zt.grad, what="dL/dlogits")
    assert_close(nn.log_softmax(z), TF.log_softmax(_t(z), dim=-1), what="log_softmax")
    assert_close(nn.softmax(z), TF.softmax(_t(z), dim=-1), what="softmax")


def test_cross_entropy_gradient_by_central_differences():
    rng = np.random.default_rng(0)
    z, labels = rng.standard_normal((4, 5)), np.array([0, 4, 2, 2])
    h, numeric = 1e-6, np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (nn.softmax_cross_entropy(up, labels)
                        - nn.softmax_cross_entropy(down, labels)) / (2 * h)
    assert_close(nn.softmax_cross_entropy_backward(z, labels), numeric, rtol=1e-8)


# --- flatten ------------------------------------------------------------------------------------

def test_flatten_matches_torch_and_round_trips():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    assert_close(nn.flatten(x), torch.flatten(_t(x), 1))
    g = np.arange(120.0).reshape(2, 60)
    assert_close(nn.flatten_backward(g, x.shape), _t(g).reshape(2, 3, 4, 5))


# --- initialisation -----------------------------------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda: torch.nn.Conv2d(3, 8, 5), (8, 3, 5, 5)),
    (lambda: torch.nn.Conv2d(8, 16, 3), (16, 8, 3, 3)),
    (lambda: torch.nn.Conv2d(2, 4, (3, 1)), (4, 2, 3, 1)),
    (lambda: torch.nn.Linear(1024, 10), (10, 1024)),
    (lambda: torch.nn.Linear(7, 3), (3, 7)),
])
def test_default_init_bound_is_torchs(make, shape):
    """PyTorch draws weight then bias as uniform_(-b, b) from its generator: replaying the same
    stream as uniform_(-1, 1) gives weight / b and bias / b exactly when b is right."""
    torch.manual_seed(3)
    layer = make()
    torch.manual_seed(3)
    unit_w = torch.empty(shape, dtype=torch.float32).uniform_(-1, 1)
    unit_b = torch.empty(shape[0], dtype=torch.float32).uniform_(-1, 1)
    b = nn.default_init_bound(shape)
    assert_close(layer.weight.detach().numpy() / b, unit_w, what="weight / bound")
    assert_close(layer.bias.detach().numpy() / b, unit_b, what="bias / bound")


def test_default_init_draws_uniform_in_the_bound():
    shape = (64, 32, 3, 3)
    w, b = nn.default_init(shape, np.random.default_rng(0))
    bound = 1 / np.sqrt(32 * 9)
    assert w.shape == shape and b.shape == (64,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound  # std of U(-b, b) is b / sqrt(3)
    w2, _ = nn.default_init(shape, np.random.default_rng(0))
    np.testing.assert_array_equal(w, w2)


# --- SGD ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov", [
    (0.0, 0.0, 0.0, False),
    (0.9, 0.0, 0.0, False),
    (0.9, 0.0, 1e-2, False),
    (0.5, 0.3, 0.0, False),
    (0.9, 0.0, 5e-3, True),
])
def test_sgd_step_matches_torch_optim_sgd(momentum, dampening, weight_decay, nesterov):
    rng = np.random.default_rng(0)
    params = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    grads_seq = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(5)]
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch.optim.SGD(tparams.values(), lr=0.1, momentum=momentum, dampening=dampening,
                          weight_decay=weight_decay, nesterov=nesterov)
    buffers = None
    for grads in grads_seq:
        for k, t in tparams.items():
            t.grad = torch.tensor(grads[k])
        opt.step()
        before = {k: v.copy() for k, v in params.items()}
        params, buffers = nn.sgd_step(params, grads, buffers, 0.1, momentum, dampening,
                                      weight_decay, nesterov)
        for k in params:
            assert_close(params[k], tparams[k], what=f"param {k}")
        if momentum:
            for k in params:
                assert_close(buffers[k], opt.state[tparams[k]]["momentum_buffer"], what=f"buffer {k}")
        else:
            assert buffers == {}
        assert all(np.array_equal(before[k], v) or v is not before[k] for k, v in params.items())


def test_sgd_step_leaves_its_inputs_alone():
    p = {"w": np.ones(3)}
    g = {"w": np.full(3, 2.0)}
    buf = {"w": np.full(3, 5.0)}
    new_p, new_buf = nn.sgd_step(p, g, buf, 0.1, 0.9)
    assert np.array_equal(p["w"], np.ones(3)) and np.array_equal(buf["w"], np.full(3, 5.0))
    assert np.array_equal(g["w"], np.full(3, 2.0))
    assert_close(new_buf["w"], np.full(3, 0.9 * 5 + 2))
    assert_close(new_p["w"], np.ones(3) - 0.1 * (0.9 * 5 + 2))
    # first step: the buffer is a copy of the gradient, not the gradient itself
    _, first = nn.sgd_step(p, g, None, 0.1, 0.9)
    assert first["w"] is not g["w"]


# --- the network --------------------------------------------------------------------------------

def _torch_net(model: nn.SmallCNN, params: dict):
    (c1, c2), (k1, k2) = model.channels, model.kernel_sizes
    net = torch.nn.Sequential(
        torch.nn.Conv2d(model.in_channels, c1, k1, padding=k1 // 2), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, k2, padding=k2 // 2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(model.features, model.num_classes)).double()
    with torch.no_grad():
        for (name, _), layer in zip([("conv1", 0), ("conv2", 3), ("fc", 7)], (0, 3, 7)):
            net[layer].weight.copy_(torch.tensor(params[f"{name}.weight"]))
            net[layer].bias.copy_(torch.tensor(params[f"{name}.bias"]))
    return net


NETWORKS = [
    nn.SmallCNN(),
    nn.SmallCNN(in_channels=1, size=8, channels=(2, 3), kernel_sizes=(3, 3), num_classes=4),
    nn.SmallCNN(in_channels=2, size=12, channels=(4, 5), kernel_sizes=(5, 1), num_classes=3),
    nn.SmallCNN(size=16, channels=(6, 4), kernel_sizes=(3, 5)),
]


@pytest.mark.parametrize("model", NETWORKS, ids=lambda m: f"{m.size}px-{m.channels}-{m.kernel_sizes}")
def test_small_cnn_loss_and_gradients_match_torch(model):
    rng = np.random.default_rng(model.size)
    params = model.init(rng, dtype=np.float64)
    x = rng.standard_normal((5, model.in_channels, model.size, model.size))
    labels = rng.integers(0, model.num_classes, 5)
    kept = {k: v.copy() for k, v in params.items()}, x.copy()
    loss, grads = model.loss_and_grads(params, x, labels)
    net = _torch_net(model, params)
    logits_t = net(torch.tensor(x))
    loss_t = TF.cross_entropy(logits_t, torch.tensor(labels))
    loss_t.backward()
    assert abs(loss - loss_t.item()) <= 1e-10 * max(1.0, loss_t.item())
    assert_close(model.forward(params, x)[0], logits_t, what="logits")
    for name, layer in [("conv1", 0), ("conv2", 3), ("fc", 7)]:
        assert_close(grads[f"{name}.weight"], net[layer].weight.grad, what=f"{name}.weight grad")
        assert_close(grads[f"{name}.bias"], net[layer].bias.grad, what=f"{name}.bias grad")
    assert all(np.array_equal(kept[0][k], params[k]) for k in params)
    assert np.array_equal(kept[1], x)


def test_small_cnn_gradients_by_central_differences():
    model = nn.SmallCNN(in_channels=1, size=8, channels=(2, 3), kernel_sizes=(3, 3), num_classes=4)
    rng = np.random.default_rng(1)
    params = model.init(rng, dtype=np.float64)
    x = rng.standard_normal((3, 1, 8, 8))
    labels = np.array([0, 3, 1])
    _, grads = model.loss_and_grads(params, x, labels)
    h = 1e-6
    for name, p in params.items():
        picks = rng.choice(p.size, size=min(p.size, 8), replace=False)
        for flat in picks:
            idx = np.unravel_index(flat, p.shape)
            up, down = dict(params), dict(params)
            up[name], down[name] = p.copy(), p.copy()
            up[name][idx] += h
            down[name][idx] -= h
            numeric = (model.loss_and_grads(up, x, labels)[0]
                       - model.loss_and_grads(down, x, labels)[0]) / (2 * h)
            assert abs(numeric - grads[name][idx]) <= 1e-6 * max(1.0, abs(numeric)), (name, idx)


def test_train_does_not_modify_params_and_records_history():
    model = nn.SmallCNN(in_channels=1, size=8, channels=(2, 3), kernel_sizes=(3, 3), num_classes=2)
    rng = np.random.default_rng(0)
    params = model.init(rng)
    kept = {k: v.copy() for k, v in params.items()}
    x = rng.standard_normal((20, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64)
    new, hist = nn.train(model, params, x, y, epochs=2, batch_size=8, lr=0.05, rng=rng,
                         x_val=x, labels_val=y)
    assert all(np.array_equal(kept[k], params[k]) for k in params)
    assert len(hist.step_loss) == 6 and len(hist.train_accuracy) == len(hist.val_accuracy) == 2
    assert len(hist.conv1_weights) == 3 and np.array_equal(hist.conv1_weights[0], params["conv1.weight"])
    assert not np.array_equal(new["conv1.weight"], params["conv1.weight"])
    assert new["fc.weight"].dtype == np.float32


def test_minibatches_cover_every_index_once():
    batches = nn.minibatches(10, 4, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, words", [
    (lambda: nn.linear(np.ones((2, 3)), np.ones((4, 5))), ValueError, "weight expects 5"),
    (lambda: nn.linear(np.ones(3), np.ones((4, 3))), ValueError, "x must be a 2-D"),
    (lambda: nn.linear(np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), ValueError, "bias"),
    (lambda: nn.relu_backward(np.ones(3), np.ones(4)), ValueError, "grad_output"),
    (lambda: nn.softmax_cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0])), TypeError, "labels"),
    (lambda: nn.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 3])), ValueError, "labels must lie"),
    (lambda: nn.softmax_cross_entropy(np.ones((2, 3)), np.array([0])), ValueError, "labels must have shape"),
    (lambda: nn.sgd_step({"w": np.ones(2)}, {"w": np.ones(2)}, None, -0.1), ValueError, "lr"),
    (lambda: nn.sgd_step({"w": np.ones(2)}, {"v": np.ones(2)}, None, 0.1), ValueError, "grads"),
    (lambda: nn.sgd_step({"w": np.ones(2)}, {"w": np.ones(3)}, None, 0.1), ValueError, "grads['w']"),
    (lambda: nn.sgd_step({"w": np.ones(2)}, {"w": np.ones(2)}, None, 0.1, nesterov=True),
     ValueError, "nesterov"),
    (lambda: nn.default_init((3, 2), 0), TypeError, "rng"),
    (lambda: nn.default_init_bound((3,)), ValueError, "shape"),
    (lambda: nn.SmallCNN(size=30), ValueError, "multiple of 4"),
    (lambda: nn.SmallCNN(kernel_sizes=(4, 3)), ValueError, "odd"),
    (lambda: nn.SmallCNN(channels=(8,)), TypeError, "channels"),
    (lambda: nn.SmallCNN().forward(nn.SmallCNN().init(np.random.default_rng(0)),
                                   np.ones((1, 1, 32, 32))), ValueError, "x must be"),
    (lambda: nn.SmallCNN().forward({}, np.ones((1, 3, 32, 32))), ValueError, "missing"),
    (lambda: nn.flatten_backward(np.ones((2, 6)), (2, 3, 3)), ValueError, "input_shape"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_standardize_gives_each_image_mean_0_std_1():
    x = np.random.default_rng(0).uniform(0, 1, (4, 3, 5, 5)).astype(np.float32)
    x[3] = 0.25  # a constant image stays finite (all zeros)
    kept = x.copy()
    z = nn.standardize(x)
    assert z.dtype == np.float32 and np.array_equal(x, kept)
    assert_close(z[:3].mean(axis=(1, 2, 3)), np.zeros(3), rtol=1e-5)
    assert_close(z[:3].std(axis=(1, 2, 3)), np.ones(3), rtol=1e-5)
    assert np.array_equal(z[3], np.zeros((3, 5, 5), np.float32))
