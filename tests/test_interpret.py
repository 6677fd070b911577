"""convlib.interpret against torch autograd (with the ReLU rule swapped) and brute force."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from convlib.data import sample_image, shapes_dataset
from convlib.interpret import (
    activation_maximization,
    feature_maps,
    occlusion_sensitivity,
    project_back,
    saliency,
)
from convlib.pretrained import shapes_cnn
from oracle import assert_close

pytestmark = pytest.mark.blocks


class _RuleReLU(torch.autograd.Function):
    """ReLU forward; on the way back, the rule under test (an independent torch oracle)."""

    @staticmethod
    def forward(ctx, x, rule):
        ctx.save_for_backward(x)
        ctx.rule = rule
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.rule == "gradient":
            return g * (x > 0), None
        if ctx.rule == "deconvnet":
            return g.clamp(min=0), None
        return g.clamp(min=0) * (x > 0), None


class _ReLUWithRule(nn.Module):
    def __init__(self, rule):
        super().__init__()
        self.rule = rule

    def forward(self, x):
        return _RuleReLU.apply(x, self.rule)


def _torch_projection(model, image, layer, channel, rule, keep):
    names = [n for n, _ in model.named_children()]
    mods = [(_ReLUWithRule(rule) if isinstance(m, nn.ReLU) else m)
            for _, m in list(model.named_children())[: names.index(layer) + 1]]
    sub = copy.deepcopy(nn.Sequential(*mods)).double().eval()
    x = torch.tensor(image[None], dtype=torch.float64, requires_grad=True)
    fmap = sub(x)[0, channel]
    if keep == "max":
        value = fmap.flatten()[fmap.detach().flatten().argmax()]
        (value * value.detach()).backward()
    else:
        (fmap * fmap.detach()).sum().backward()
    return x.grad[0].numpy()


@pytest.fixture(scope="module")
def model():
    return shapes_cnn()


@pytest.fixture(scope="module")
def image():
    x, _ = shapes_dataset(4, seed=99)
    return x[2]


@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
@pytest.mark.parametrize("layer,channel,keep", [("relu1", 3, "max"), ("pool2", 7, "all"),
                                                ("relu3", 11, "max"), ("conv3", 5, "all")])
def test_projection_equals_autograd_with_the_relu_rule(model, image, rule, layer, channel, keep):
    ours = project_back(model, image, layer, channel, rule=rule, keep=keep)
    expected = _torch_projection(model, image, layer, channel, rule, keep)
    assert np.abs(expected).max() > 0
    assert_close(ours, expected, dtype=np.float64, what=f"{rule} projection", rtol=1e-8)


def test_deconvnet_of_one_conv_unit_is_its_filter():
    # one conv layer, one unit kept: the projection is that unit's filter, placed where it reads
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, padding=0)
    model = nn.Sequential()
    model.add_module("conv", conv)
    img = np.zeros((1, 6, 6))
    img[0, 2, 3] = 1.0  # the strongest response sits where the filter's largest weight reads it
    with torch.no_grad():
        conv.bias.zero_()
        conv.weight.abs_()
    out = project_back(model, img, "conv", 1, rule="deconvnet", keep="max")
    resp = nn.functional.conv2d(torch.tensor(img[None]), conv.weight.double())[0, 1].detach().numpy()
    i, j = np.unravel_index(resp.argmax(), resp.shape)
    expected = np.zeros((1, 6, 6))
    expected[0, i:i + 3, j:j + 3] = conv.weight[1, 0].detach().numpy() * resp[i, j]
    assert_close(out, expected, dtype=np.float64)


def test_feature_maps_equal_the_truncated_model(model, image):
    maps = feature_maps(model, image)
    assert list(maps) == [n for n, _ in model.named_children()]
    with torch.inference_mode():
        expected = model[:7](torch.from_numpy(image[None]))[0].numpy()
    assert_close(maps["relu2"], expected, dtype=np.float32)


def test_occlusion_equals_brute_force(model, image):
    heat = occlusion_sensitivity(model, image, target=3, patch=10, stride=6, fill=0.5)
    with torch.inference_mode():
        p = lambda im: torch.softmax(model(torch.from_numpy(im[None])), 1)[0, 3].item()
        base = p(image)
        ho = (32 - 10) // 6 + 1
        expected = np.zeros((ho, ho))
        for i in range(ho):
            for j in range(ho):
                im = image.copy()
                im[:, i * 6:i * 6 + 10, j * 6:j * 6 + 10] = 0.5
                expected[i, j] = base - p(im)
    assert heat.shape == (ho, ho)
    assert_close(heat, expected, dtype=np.float32, rtol=1e-4)


def test_occluding_the_shape_hurts_more_than_occluding_background(model):
    x, y = shapes_dataset(1, seed=5)
    img = x[0]
    heat = occlusion_sensitivity(model, img, int(y[0]), patch=8, stride=4)
    # the object is where the image differs most from its background colour (corner pixel)
    diff = np.abs(img - img[:, :1, :1]).sum(0)
    obj = np.unravel_index(diff.argmax(), diff.shape)
    on = heat[min(obj[0] // 4, heat.shape[0] - 1), min(obj[1] // 4, heat.shape[1] - 1)]
    assert on > np.median(heat)


def test_saliency_equals_finite_differences():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    img = sample_image("shapes", 6)
    sal = saliency(model, img, 1)
    m64 = copy.deepcopy(model).double()
    eps = 1e-6
    for (i, j) in [(0, 0), (2, 3), (5, 5)]:
        up, down = img.astype(np.float64), img.astype(np.float64)
        up = up.copy(); up[0, i, j] += eps
        down = down.copy(); down[0, i, j] -= eps
        fd = (m64(torch.tensor(up[None]))[0, 1] - m64(torch.tensor(down[None]))[0, 1]).item() / (2 * eps)
        assert abs(abs(fd) - sal[i, j]) < 1e-4 * max(1, abs(fd))


def test_activation_maximization_excites_the_channel(model):
    img = activation_maximization(model, "relu2", 4, steps=48)
    sub = model[:7]
    with torch.inference_mode():
        grey = sub(torch.full((1, 3, 32, 32), 0.5))[0, 4].mean().item()
        found = sub(torch.from_numpy(img[None]))[0, 4].mean().item()
    assert img.shape == (3, 32, 32) and 0 <= img.min() and img.max() <= 1
    assert found > grey + 0.5


def test_bad_input(model, image):
    with pytest.raises(ValueError, match="layer must be one of"):
        project_back(model, image, "conv9", 0)
    with pytest.raises(ValueError, match="channel must be < 16"):
        project_back(model, image, "conv1", 16)
    with pytest.raises(ValueError, match="rule must be one of"):
        project_back(model, image, "conv1", 0, rule="magic")
    with pytest.raises(TypeError, match="nn.Sequential"):
        project_back(nn.Conv2d(3, 3, 3), image, "conv1", 0)
    with pytest.raises(ValueError, match="patch"):
        occlusion_sensitivity(model, image, 0, patch=40)
    before = image.copy()
    project_back(model, image, "relu2", 1)
    occlusion_sensitivity(model, image, 0)
    assert np.array_equal(image, before)


def test_deconvnet_unpools_through_overlapping_pools_like_torchs_max_unpool2d():
    """Zeiler's switches: with overlapping pooling windows the deconvnet unpools (each value
    written once at its switch), which differs from the gradient (overlaps add up). The oracle
    runs the same deconvnet in torch with F.max_unpool2d."""
    torch.manual_seed(1)
    c1, c2 = nn.Conv2d(1, 2, 3, padding=1).double(), nn.Conv2d(2, 3, 3).double()
    pool = nn.MaxPool2d(3, 2, padding=1)
    model = nn.Sequential()
    for name, mod in [("c1", c1), ("r1", nn.ReLU()), ("pool", pool), ("c2", c2), ("r2", nn.ReLU())]:
        model.add_module(name, mod)
    img = np.random.default_rng(4).standard_normal((1, 11, 11))
    ours = project_back(model, img, "r2", 2, rule="deconvnet", keep="all")
    with torch.no_grad():
        x = torch.tensor(img[None])
        a1 = torch.relu(c1(x))
        p, idx = nn.functional.max_pool2d(a1, 3, 2, 1, return_indices=True)
        a2 = torch.relu(c2(p))
        r = torch.zeros_like(a2)
        r[0, 2] = a2[0, 2]
        r = torch.nn.grad.conv2d_input(p.shape, c2.weight, torch.relu(r))
        r = nn.functional.max_unpool2d(r, idx, 3, 2, 1, output_size=a1.shape[2:])
        r = torch.nn.grad.conv2d_input(x.shape, c1.weight, torch.relu(r), padding=1)
    assert np.abs(r.numpy()).max() > 0
    # the case discriminates: some windows share their maximum (summing would differ)
    assert len(np.unique(idx.numpy()[0, 0])) < idx[0, 0].numel()
    assert_close(ours, r[0], dtype=np.float64, rtol=1e-8)
