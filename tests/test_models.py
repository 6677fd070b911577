"""convlib.models: the parameter counts are torchvision's published figures (a checksum of the
architecture); multiply-adds are checked against PyTorch's own FLOP counter and torchvision's
published GFLOPS; MobileNetV1 against its paper (Howard et al. 2017: 4.2 M, 569 M).

Models are built on the meta device (no memory, no init cost) except for the few real forwards.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import convlib.models as models
from convlib.cost import count_macs, count_params, profile

pytestmark = pytest.mark.blocks

# torchvision's model documentation: num_params and GFLOPS (= giga multiply-adds, 224×224)
TORCHVISION = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "mobilenet_v2": (3_504_872, 0.30),
    "googlenet": (6_624_904, 1.50),
    "densenet121": (7_978_856, 2.83),
    "shufflenet_v2_x1_0": (2_278_604, 0.14),
}


@pytest.fixture(scope="module")
def meta_models():
    with torch.device("meta"):
        return {name: getattr(models, name)() for name in models.__all__}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_parameter_count_equals_torchvision(meta_models, name):
    assert count_params(meta_models[name]) == TORCHVISION[name][0]


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_macs_round_to_torchvision_gflops_and_profile_renders(meta_models, name):
    rows = profile(meta_models[name], (1, 3, 224, 224))
    assert round(rows.total_macs / 1e9, 2) == TORCHVISION[name][1]
    assert rows.total_params == TORCHVISION[name][0]
    assert "total" in str(rows) and rows._repr_html_().count("<tr>") == len(rows) + 2


# Araujo et al. (Distill 2019), table of receptive fields: alexnet_v2 195, vgg_16 212,
# mobilenet_v1 315 (TF-slim's versions share torchvision's kernels and strides)
@pytest.mark.parametrize("name, size", [("alexnet", 195), ("vgg16", 212), ("mobilenet_v1", 315)])
def test_receptive_field_of_the_plain_chains(meta_models, name, size):
    rows = [r for r in profile(meta_models[name], (1, 3, 224, 224))
            if r.receptive_field is not None]
    assert rows[-1].receptive_field == size


@pytest.mark.parametrize("name", models.__all__)
def test_macs_equal_pytorch_flop_counter_and_output_shape(meta_models, name):
    model = meta_models[name].eval()
    with FlopCounterMode(display=False) as counter:
        y = model(torch.zeros(1, 3, 224, 224, device="meta"))
    assert y.shape == (1, 1000)
    # FlopCounterMode counts 2 FLOPs per multiply-add of convolutions and matrix products
    assert count_macs(model, (1, 3, 224, 224)) == counter.get_total_flops() // 2


def test_mobilenet_v1_matches_the_paper(meta_models):
    m = meta_models["mobilenet_v1"]
    assert abs(count_params(m) - 4.2e6) <= 0.05e6
    assert abs(count_macs(m, (1, 3, 224, 224)) - 569e6) <= 0.01 * 569e6
    depthwise = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d) and c.groups > 1]
    assert len(depthwise) == 13


# one real forward per block family (the meta forwards above check every model at 224×224)
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet", "densenet121",
                                  "shufflenet_v2_x1_0"])
def test_real_forward_on_a_small_image(name):
    torch.manual_seed(0)
    model = getattr(models, name)(num_classes=10).eval()
    with torch.inference_mode():
        y = model(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_num_classes_changes_only_the_head():
    with torch.device("meta"):
        small, full = models.resnet18(num_classes=10), models.resnet18()
    assert count_params(full) - count_params(small) == 990 * 512 + 990
    with pytest.raises(ValueError, match="num_classes"):
        models.vgg16(num_classes=0)


def test_models_are_sequential_with_readable_names(meta_models):
    names = [n for n, _ in meta_models["resnet50"].named_children()]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                     "avgpool", "flatten", "fc"]
    assert "features.denseblock3.denselayer24.conv2" in dict(
        meta_models["densenet121"].named_modules())
