"""convlib.receptive_field against a brute-force probe in PyTorch.

The oracle never uses the formulas under test. It builds the same stack in torch with
positive weights and feeds it one-hot inputs: with a zero background, every activation that
depends on the lit pixel is strictly positive (positive weights, ReLU, max and average of
non-negative numbers, zero padding) and every other one is exactly zero. So output feature
``j`` "sees" input pixel ``t`` iff it is non-zero when only ``t`` is lit — max pooling
included, where a gradient would only reach the arg-max. A second oracle, the non-zero
support of an autograd gradient, covers the 2-D case for stacks without max pooling.

Per axis the stacks use (k, 1) kernels, so one axis carries all the geometry and a batch
of n one-hot columns probes every input pixel in one forward pass.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

from convlib.receptive_field import Layer, ReceptiveField, input_region, of_model, receptive_field

pytestmark = pytest.mark.receptive_field


# ------------------------------------------------------------------------ the probe

def positive_(net: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g, dtype=torch.float64))
                if m.bias is not None:
                    m.bias.zero_()
    return net.double().eval()


def torch_stack_rows(spec: list[tuple], channels: int = 2) -> nn.Sequential:
    """Build a torch stack acting on rows only. spec items:
    ("conv", k, s, p, d) / ("max", k, s, p, d, ceil) / ("avg", k, s, p, ceil, count_pad)
    / ("relu",) / ("bn",)."""
    mods, c = [], 1
    for item in spec:
        kind = item[0]
        if kind == "conv":
            _, k, s, p, d = item
            mods.append(nn.Conv2d(c, channels, (k, 1), (s, 1), (p, 0), (d, 1)))
            c = channels
        elif kind == "max":
            _, k, s, p, d, ceil = item
            mods.append(nn.MaxPool2d((k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=ceil))
        elif kind == "avg":
            _, k, s, p, ceil, count_pad = item
            mods.append(nn.AvgPool2d((k, 1), (s, 1), (p, 0), ceil_mode=ceil,
                                     count_include_pad=count_pad))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "bn":
            mods.append(nn.BatchNorm2d(c))
    return nn.Sequential(*mods)


def probe_rows(net: nn.Module, n: int) -> np.ndarray:
    """dep[t, j] = output row j changes when only input row t is lit (brute force)."""
    x = torch.eye(n, dtype=torch.float64).reshape(n, 1, n, 1)
    with torch.no_grad():
        y = net(x)
    return (y.abs().sum(dim=(1, 3)) > 0).numpy()


def layers_of(spec: list[tuple]) -> list[Layer]:
    """The same stack as convlib Layers (written from the spec, not from the torch net)."""
    out = []
    for item in spec:
        if item[0] == "conv":
            out.append(Layer(*item[1:5]))
        elif item[0] == "max":
            out.append(Layer(*item[1:5], ceil_mode=item[5], pool=True))
        elif item[0] == "avg":
            out.append(Layer(item[1], item[2], item[3], ceil_mode=item[4], pool=True))
    return out


def check_against_probe(spec: list[tuple], n: int, seed: int = 0) -> ReceptiveField:
    """Every output feature: its observed support lies in the predicted region; features
    whose region lies inside the input see exactly its first and last pixel (extent r,
    centre c + j*S). Returns the last record."""
    net = positive_(torch_stack_rows(spec), seed)
    dep = probe_rows(net, n)
    records = receptive_field(layers_of(spec), input_size=n)
    last = records[-1]
    assert dep.shape[1] == last.output_size, "output size differs from torch"
    interior = 0
    for j in range(dep.shape[1]):
        first, end = input_region(records, j)
        seen = np.flatnonzero(dep[:, j])
        if seen.size:
            assert first <= seen.min() and seen.max() <= end, (spec, j, first, end, seen)
        if first >= 0 and end <= n - 1:
            interior += 1
            assert (seen.min(), seen.max()) == (first, end), (spec, j)
            assert seen.max() - seen.min() + 1 == last.size
            assert (seen.min() + seen.max()) / 2 == last.center + j * last.stride
    assert interior >= 1, f"probe input {n} too small for {spec}"
    return last


def random_spec(rng: random.Random) -> list[tuple]:
    spec, strided = [], 0
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["conv", "conv", "conv", "max", "avg"])
        k = rng.randint(1, 5)
        s = rng.choice([1, 1, 2, 3]) if strided < 3 else 1
        strided += s > 1
        if kind == "conv":
            d = rng.choice([1, 1, 2, 3])
            spec.append(("conv", k, s, rng.randint(0, d * (k - 1)), d))
        elif kind == "max":
            spec.append(("max", k, s, rng.randint(0, k // 2), rng.choice([1, 1, 2]),
                         rng.random() < 0.5))
        else:
            spec.append(("avg", k, s, rng.randint(0, k // 2), rng.random() < 0.5,
                         rng.random() < 0.5))
        if rng.random() < 0.4:
            spec.append(rng.choice([("relu",), ("bn",)]))
    return spec


# ------------------------------------------------------------------ brute-force tests

def test_random_stacks_match_brute_force_probe():
    rng = random.Random(2019)
    kinds = set()
    for case in range(80):
        spec = random_spec(rng)
        rf = receptive_field(layers_of(spec))[-1]
        n = rf.size + rf.padding + 3 * rf.stride + rng.randint(0, rf.stride)
        check_against_probe(spec, n, seed=case)
        kinds |= {item[0] for item in spec}
        kinds |= {"dilation"} if any(it[0] in ("conv", "max") and it[4] > 1 for it in spec) else set()
    assert {"conv", "max", "avg", "relu", "bn", "dilation"} <= kinds


def test_hand_example_matches_probe():
    # Two 3x3 convs (padding 1) then a 2x2 pool: r = 3, 5, 6; S = 1, 1, 2; P = 1, 2, 2.
    spec = [("conv", 3, 1, 1, 1), ("relu",), ("conv", 3, 1, 1, 1), ("max", 2, 2, 0, 1, False)]
    records = receptive_field(layers_of(spec), input_size=12)
    assert [(r.size, r.stride, r.padding) for r in records] == [(3, 1, 1), (5, 1, 2), (6, 2, 2)]
    assert records[-1].center == -2 + 2.5
    last = check_against_probe(spec, 12)
    assert input_region(records, 0) == (-2, 3)  # feature 0 reaches 2 pixels into the padding
    assert last.output_size == 6


def test_dilated_stack_wavenet_style():
    # Dilations 1, 2, 4, 8 with kernel 2: r = 2 + 2 + 4 + 8 - 3 = 16, holes-free.
    spec = [("conv", 2, 1, 0, d) for d in (1, 2, 4, 8)]
    last = check_against_probe(spec, 40)
    assert (last.size, last.stride, last.padding) == (16, 1, 0)


def test_region_outside_input_is_padding():
    # Feature 0 of a padded stack starts at -P: the probe sees only its in-image part.
    spec = [("conv", 5, 2, 2, 1), ("conv", 3, 2, 1, 1)]
    records = receptive_field(layers_of(spec), input_size=20)
    first, last = input_region(records, 0)
    assert first == -records[-1].padding < 0
    dep = probe_rows(positive_(torch_stack_rows(spec), 0), 20)
    seen = np.flatnonzero(dep[:, 0])
    assert seen.min() == 0 and seen.max() == last
    check_against_probe(spec, 20)


# ------------------------------------------------------- published numbers (Distill)

ALEXNET = [("conv", 11, 4, 2, 1), ("relu",), ("max", 3, 2, 0, 1, False),
           ("conv", 5, 1, 2, 1), ("relu",), ("max", 3, 2, 0, 1, False),
           ("conv", 3, 1, 1, 1), ("relu",), ("conv", 3, 1, 1, 1), ("relu",),
           ("conv", 3, 1, 1, 1), ("relu",), ("max", 3, 2, 0, 1, False)]


def vgg16_spec():
    spec = []
    for convs in (2, 2, 3, 3, 3):
        spec += [("conv", 3, 1, 1, 1), ("relu",)] * convs
        spec.append(("max", 2, 2, 0, 1, False))
    return spec


def test_alexnet_matches_distill_and_probe():
    # Araujo et al.'s table: AlexNet's last feature map sees 195 pixels, effective stride 32.
    last = check_against_probe(ALEXNET, 195 + 66 + 3 * 32)
    assert (last.size, last.stride) == (195, 32)
    assert last.padding == 66  # torchvision's padding 2 in conv1 (TF-slim's VALID gives 64)


def test_vgg16_matches_distill_and_probe():
    spec = vgg16_spec()
    last = check_against_probe(spec, 212 + 90 + 3 * 32)
    assert (last.size, last.stride, last.padding) == (212, 32, 90)   # after pool5 (Distill)
    conv5_3 = receptive_field(layers_of(spec))[-2]
    assert (conv5_3.size, conv5_3.stride) == (196, 16)
    check_against_probe(spec[:-1], 196 + 90 + 3 * 16)


def test_resnet50_v1_main_path_matches_distill():
    # Distill's 483 for ResNet-50 v1 (TF-slim layout: stride 2 in the 3x3 conv of the last
    # unit of blocks 1-3). Checked here on the main path, a plain chain of convolutions.
    spec = [("conv", 7, 2, 3, 1), ("max", 3, 2, 1, 1, False)]
    for units, stride in ((3, 2), (4, 2), (6, 2), (3, 1)):
        for u in range(units):
            s = stride if u == units - 1 else 1
            spec += [("conv", 1, 1, 0, 1), ("conv", 3, s, 1, 1), ("conv", 1, 1, 0, 1)]
    last = receptive_field(layers_of(spec))[-1]
    assert (last.size, last.stride) == (483, 32)
    check_against_probe(spec, 483 + last.padding + 2 * 32)


# ---------------------------------------------------------------------------- of_model

def alexnet_2d(c=2):
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, c, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2)),
        nn.Sequential(nn.Conv2d(c, c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2)),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )


def test_of_model_alexnet_names_sizes_and_shapes():
    net = alexnet_2d()
    records = of_model(net, 224)
    assert [r.name for r in records] == ["0.0", "0.2", "1.0", "1.2", "2", "4", "6", "8"]
    per_axis = receptive_field(layers_of(ALEXNET), input_size=224)
    assert [(r.size, r.stride, r.padding, r.center) for r in records] == \
        [(r.size, r.stride, r.padding, r.center) for r in per_axis]
    # output sizes against the shapes torch produces, layer by layer
    x, sizes = torch.zeros(1, 1, 224, 224), []
    with torch.no_grad():
        for m in (m for m in net.modules() if not isinstance(m, nn.Sequential)):
            x = m(x)
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
                sizes.append(x.shape[2])
    assert [r.output_size for r in records] == sizes
    assert records[-1].size == 195 and records[-1].output_size == 6


def test_of_model_2d_rectangular_against_gradient_support():
    """Second oracle: autograd support of one interior output feature, both axes."""
    torch.manual_seed(0)
    net = positive_(nn.Sequential(
        nn.Conv2d(1, 2, (3, 5), stride=(1, 2), padding=(1, 2)), nn.BatchNorm2d(2), nn.ReLU(),
        nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 0)), nn.Dropout(0.5),
        nn.Sequential(nn.Conv2d(2, 2, (3, 2), stride=(2, 1), dilation=(2, 3), padding=(0, 1)),
                      nn.Identity()),
        nn.Conv2d(2, 1, 3, padding="same"),
    ), seed=1)
    H, W = 41, 37
    rows, cols = of_model(net, (H, W), axis=0), of_model(net, (H, W), axis=1)
    x = torch.ones(1, 1, H, W, dtype=torch.float64, requires_grad=True)
    y = net(x)
    assert y.shape[2:] == (rows[-1].output_size, cols[-1].output_size)
    tested = 0
    for jh in range(y.shape[2]):
        for jw in range(y.shape[3]):
            (r0, r1), (c0, c1) = input_region(rows, jh), input_region(cols, jw)
            if r0 < 0 or c0 < 0 or r1 >= H or c1 >= W:
                continue
            (g,) = torch.autograd.grad(y[0, 0, jh, jw], x, retain_graph=True)
            support = g[0, 0].numpy() != 0
            seen_r, seen_c = np.flatnonzero(support.any(1)), np.flatnonzero(support.any(0))
            assert (seen_r.min(), seen_r.max()) == (r0, r1)
            assert (seen_c.min(), seen_c.max()) == (c0, c1)
            tested += 1
            if tested == 6:
                return
    pytest.fail(f"only {tested} interior features")


def test_of_model_single_layer_and_pool_defaults():
    single = of_model(nn.Conv2d(1, 1, 3, 2), 9)
    assert [(r.name, r.size, r.stride, r.output_size) for r in single] == [("Conv2d", 3, 2, 4)]
    rec = of_model(nn.Sequential(nn.MaxPool2d((2, 4), ceil_mode=True)), (5, 9), axis=1)[0]
    assert (rec.size, rec.stride, rec.output_size) == (4, 4, 3)


# --------------------------------------------------------------------------- bad input

def test_bad_layers():
    with pytest.raises(ValueError, match="^kernel must be >= 1"):
        Layer(0)
    with pytest.raises(TypeError, match="^kernel must be an int"):
        Layer(3.0)
    with pytest.raises(ValueError, match="^stride must be >= 1"):
        receptive_field([(3, 0, 1)])
    with pytest.raises(ValueError, match="^padding must be >= 0"):
        receptive_field([Layer(3, 1, -1)])
    with pytest.raises(TypeError, match="^padding must be an int"):
        Layer(3, 1, "same")
    with pytest.raises(ValueError, match="^dilation must be >= 1"):
        receptive_field([(3, 1, 1, 0)])
    with pytest.raises(TypeError, match=r"layers\[1\] must be a Layer or a tuple"):
        receptive_field([(3, 1, 1), (3, 1)])
    with pytest.raises(TypeError, match=r"layers\[0\] must hold ints"):
        receptive_field([(3, 1, 1.5)])
    with pytest.raises(ValueError, match="layers must not be empty"):
        receptive_field([])
    with pytest.raises(TypeError, match="layers must be a list"):
        receptive_field(Layer(3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        receptive_field([(5, 1, 0)], input_size=3)


def test_bad_region_queries_and_inputs_untouched():
    layers = [(3, 1, 1), [3, 2, 1]]
    copy = [tuple(x) for x in layers]
    records = receptive_field(layers, input_size=8)
    assert [tuple(x) for x in layers] == copy
    assert records[-1].region(3) == input_region(records, 3) == (4, 8)
    with pytest.raises(ValueError, match="^index must be >= 0"):
        input_region(records, -1)
    with pytest.raises(ValueError, match="^index must be < the layer's output size 4"):
        input_region(records, 4)
    with pytest.raises(ValueError, match="must not be empty"):
        input_region([], 0)


def test_of_model_bad_input():
    with pytest.raises(TypeError, match="module must be a torch nn.Module"):
        of_model([nn.Conv2d(1, 1, 3)], 8)
    with pytest.raises(TypeError, match=r"layer '1' \(Flatten\)"):
        of_model(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()), 8)
    with pytest.raises(TypeError, match="Linear"):
        of_model(nn.Linear(3, 3), 8)
    with pytest.raises(ValueError, match="axis must be 0"):
        of_model(nn.Conv2d(1, 1, 3), 8, axis=2)
    with pytest.raises(ValueError, match="input_size must be >= 1"):
        of_model(nn.Conv2d(1, 1, 3), 0)
    with pytest.raises(ValueError, match="no Conv2d"):
        of_model(nn.Sequential(nn.ReLU()), 8)
    with pytest.raises(ValueError, match="larger than the padded input"):
        of_model(nn.Conv2d(1, 1, 5), 3)


def test_receptive_field_module_does_not_import_torch():
    code = ("import sys\nfrom convlib.receptive_field import receptive_field, input_region\n"
            "input_region(receptive_field([(3, 2, 1), (3, 1, 1, 2)]), 2)\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples_run():
    import doctest

    import convlib.receptive_field

    result = doctest.testmod(convlib.receptive_field)
    assert result.attempted >= 4 and result.failed == 0
