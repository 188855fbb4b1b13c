"""The 2D image backbones: torchvision-compatible layout, headless mode, and loading saved weights."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.backbones.layers import StridedDepthwiseConv2d
from amma_edge.models.backbones.mobilenet_v2 import make_divisible, mobilenet_v2
from amma_edge.models.backbones.pretrained import load_pretrained
from amma_edge.models.backbones.resnet import resnet18, resnet34
from amma_edge.models.backbones.shufflenet_v2 import shufflenet_v2_x0_5, shufflenet_v2_x1_0

# Builder, the classifier's top-level module name, headless output channels.
BACKBONES = {
    "resnet18": (resnet18, "fc", 512),
    "mobilenet_v2": (mobilenet_v2, "classifier", 1280),
    "shufflenet_v2_x0_5": (shufflenet_v2_x0_5, "fc", 1024),
    "shufflenet_v2_x1_0": (shufflenet_v2_x1_0, "fc", 1024),
}
NAMES = list(BACKBONES)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def image(n: int = 1, size: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, size, size)


# Published parameter counts of torchvision's 1000-class models (its weights' "num_params" metadata).
@pytest.mark.parametrize(
    "build, published",
    [
        (resnet18, 11_689_512),
        (resnet34, 21_797_672),
        (mobilenet_v2, 3_504_872),
        (shufflenet_v2_x1_0, 2_278_604),
        (shufflenet_v2_x0_5, 1_366_792),
    ],
)
def test_parameter_count_matches_torchvision(build, published):
    assert count(build()) == published


@pytest.mark.parametrize("name", NAMES)
def test_headless_model_is_the_full_model_minus_its_classifier(name):
    build, head, _ = BACKBONES[name]
    full = build()
    headless = build(include_classifier=False)
    assert not hasattr(headless, head)
    assert count(headless) == count(full) - count(getattr(full, head))
    assert not any(key.startswith(head + ".") for key in headless.state_dict())
    assert set(headless.state_dict()) < set(full.state_dict())


def test_resnet_headless_has_no_pooling_either():
    assert not hasattr(resnet18(include_classifier=False), "avgpool")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("num_classes", [1, 7])
def test_classifier_returns_logits(name, num_classes):
    build, _, _ = BACKBONES[name]
    model = build(num_classes=num_classes).eval()
    with torch.no_grad():
        assert model(image(2)).shape == (2, num_classes)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("height, width", [(64, 64), (96, 64)])
def test_headless_returns_stride_32_features(name, height, width):
    build, _, channels = BACKBONES[name]
    model = build(include_classifier=False).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, height, width))
    assert out.shape == (2, channels, height // 32, width // 32)


@pytest.mark.parametrize("name", NAMES)
def test_headless_features_feed_the_full_models_classifier(name, tmp_path):
    """Loading a full checkpoint into a headless model keeps exactly the trunk the classifier sat on."""
    build, head, _ = BACKBONES[name]
    full = build(num_classes=5).eval()
    path = tmp_path / "full.pth"
    torch.save(full.state_dict(), path)
    headless = build(include_classifier=False).eval()
    load_pretrained(headless, path)
    x = image(2)
    with torch.no_grad():
        pooled = headless(x).mean((2, 3))
        linear = getattr(full, head) if head == "fc" else full.classifier[1]
        torch.testing.assert_close(linear(pooled), full(x))


def test_module_names_follow_torchvision():
    """Spot checks on keys a torchvision checkpoint has; a renamed module would make it fail to load."""
    resnet = resnet18().state_dict()
    for key in ["conv1.weight", "bn1.running_var", "layer1.0.conv2.weight", "layer2.0.downsample.0.weight",
                "layer4.1.bn2.num_batches_tracked", "fc.bias"]:
        assert key in resnet
    assert "layer1.0.downsample.0.weight" not in resnet

    mobile = mobilenet_v2()
    keys = mobile.state_dict()
    for key in ["features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight",
                "features.1.conv.1.weight", "features.2.conv.0.0.weight", "features.2.conv.3.bias",
                "features.17.conv.2.weight", "features.18.0.weight", "features.18.1.bias", "classifier.1.weight"]:
        assert key in keys
    assert len(mobile.features) == 19
    assert [type(m).__name__ for m in mobile.features[0]] == ["Conv2d", "BatchNorm2d", "ReLU6"]
    assert all(hasattr(block, "conv") for block in mobile.features[1:18])
    assert isinstance(mobile.classifier[0], nn.Dropout) and isinstance(mobile.classifier[1], nn.Linear)
    assert mobile.last_channel == 1280 == mobile.features[18][0].out_channels

    shuffle = shufflenet_v2_x1_0().state_dict()
    for key in ["conv1.0.weight", "conv1.1.running_mean", "stage2.0.branch1.0.weight", "stage2.0.branch1.2.weight",
                "stage2.1.branch2.6.bias",
                "stage3.7.branch2.5.weight", "stage4.3.branch2.0.weight", "conv5.0.weight", "fc.weight"]:
        assert key in shuffle
    assert not any(key.startswith("stage2.1.branch1.") for key in shuffle)


@pytest.mark.parametrize(
    "build, channels",
    [(shufflenet_v2_x0_5, [24, 48, 96, 192, 1024]), (shufflenet_v2_x1_0, [24, 116, 232, 464, 1024])],
)
def test_shufflenet_reports_stage_widths(build, channels):
    model = build(include_classifier=False)
    assert model._stage_out_channels == channels
    x = model.maxpool(model.conv1(image()))
    for stage, width in zip([model.stage2, model.stage3, model.stage4], channels[1:4]):
        x = stage(x)
        assert x.shape[1] == width


@pytest.mark.parametrize("width_mult", [0.35, 0.5, 0.75, 1.0, 1.4])
def test_mobilenet_width_multiplier(width_mult):
    model = mobilenet_v2(width_mult=width_mult, include_classifier=False).eval()
    # Narrow models keep the full-width last layer; wide ones widen it, as in the MobileNetV2 paper.
    assert model.last_channel == make_divisible(1280 * max(1.0, width_mult))
    assert model.features[0][0].out_channels == make_divisible(32 * width_mult)
    with torch.no_grad():
        assert model(image()).shape == (1, model.last_channel, 2, 2)
    if width_mult < 1.0:
        assert count(model) < count(mobilenet_v2(include_classifier=False))


def test_make_divisible_never_rounds_down_more_than_ten_percent():
    for value in range(1, 400):
        rounded = make_divisible(value)
        assert rounded % 8 == 0 and rounded >= 8
        assert rounded >= 0.9 * value
        assert abs(rounded - value) <= 8


@pytest.mark.parametrize("bad", [0, -0.5])
def test_mobilenet_rejects_non_positive_width(bad):
    with pytest.raises(AmmaEdgeError, match="width_mult"):
        mobilenet_v2(width_mult=bad)


@pytest.mark.parametrize("name", NAMES)
def test_zero_classes_is_a_user_error(name):
    build, _, _ = BACKBONES[name]
    with pytest.raises(AmmaEdgeError, match="include_classifier=False"):
        build(num_classes=0)


@pytest.mark.parametrize("build", [resnet18, mobilenet_v2])
def test_convolutions_start_he_normal_fan_out(build):
    model = build()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    biggest = max(convs, key=lambda m: m.weight.numel())
    fan_out = biggest.out_channels * math.prod(biggest.kernel_size) // biggest.groups
    assert biggest.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.05)
    assert abs(biggest.weight.mean().item()) < 0.1 * math.sqrt(2.0 / fan_out)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_mobilenet_classifier_starts_near_zero():
    linear = mobilenet_v2().classifier[1]
    assert linear.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(linear.bias == 0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("include_classifier", [True, False])
def test_every_parameter_gets_a_gradient(name, include_classifier):
    build, _, _ = BACKBONES[name]
    model = build(num_classes=3, include_classifier=include_classifier).train()
    out = model(image(2))
    out.square().mean().backward()
    for key, p in model.named_parameters():
        assert p.grad is not None, key
        assert torch.isfinite(p.grad).all(), key
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("wrap", ["raw", "state_dict", "model"])
def test_saved_weights_reload_into_a_fresh_model(name, wrap, tmp_path):
    build, _, _ = BACKBONES[name]
    source = build(num_classes=4)
    with torch.no_grad():  # make running statistics non-trivial so a skipped buffer would show
        source.train()(image(2))
    source.eval()
    state = source.state_dict()
    path = tmp_path / "weights.pth"
    torch.save(state if wrap == "raw" else {wrap: state, "epoch": 3}, path)

    torch.manual_seed(1)
    target = build(num_classes=4).eval()
    x = image(2)
    with torch.no_grad():
        assert not torch.allclose(target(x), source(x))
        load_pretrained(target, path)
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)
    for key, value in target.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("prefix", ["backbone", "backbone."])
def test_prefix_selects_a_backbone_out_of_a_larger_checkpoint(prefix, tmp_path):
    source = shufflenet_v2_x0_5(include_classifier=False).eval()
    other = nn.Linear(3, 2)
    checkpoint = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    checkpoint.update({f"head.{k}": v for k, v in other.state_dict().items()})
    path = tmp_path / "detector.pth"
    torch.save({"model": checkpoint, "optimizer": {"lr": 0.1}}, path)

    torch.manual_seed(1)
    target = shufflenet_v2_x0_5(include_classifier=False).eval()
    load_pretrained(target, path, prefix=prefix)
    x = image()
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_unknown_prefix_lists_the_groups_that_exist(tmp_path):
    path = tmp_path / "detector.pth"
    torch.save({f"backbone.{k}": v for k, v in resnet18().state_dict().items()}, path)
    with pytest.raises(AmmaEdgeError) as info:
        load_pretrained(resnet18(), path, prefix="encoder")
    assert "encoder." in str(info.value) and "backbone" in str(info.value)


def test_nested_checkpoint_without_prefix_suggests_one(tmp_path):
    """A DataParallel checkpoint ('module.conv1.weight', ...) is the classic case."""
    path = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in resnet18().state_dict().items()}, path)
    model = resnet18()
    with pytest.raises(AmmaEdgeError, match=r"prefix='module\.'"):
        load_pretrained(model, path)
    load_pretrained(model, path, prefix="module.")


@pytest.mark.parametrize("name", NAMES)
def test_headless_model_ignores_classifier_keys(name, tmp_path):
    build, head, _ = BACKBONES[name]
    path = tmp_path / "imagenet.pth"
    full = build()
    torch.save(full.state_dict(), path)
    headless = build(include_classifier=False)
    load_pretrained(headless, path)
    for key, value in headless.state_dict().items():
        assert torch.equal(value, full.state_dict()[key]), key

    # A model that has the classifier still insists on it.
    truncated = {k: v for k, v in full.state_dict().items() if not k.startswith(head + ".")}
    torch.save(truncated, path)
    with pytest.raises(AmmaEdgeError, match="missing"):
        load_pretrained(build(), path)


def test_wrong_architecture_names_file_keys_and_expected_kind(tmp_path):
    path = tmp_path / "mobilenet.pth"
    torch.save(mobilenet_v2().state_dict(), path)
    model = resnet18()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(AmmaEdgeError) as info:
        load_pretrained(model, path)
    message = str(info.value)
    assert str(path) in message
    assert "missing" in message and "conv1.weight" in message
    assert "unexpected" in message and "features.0.0.weight" in message
    assert "a torchvision resnet18 state dict" in message
    assert len(message) < 2000  # a few examples, not hundreds of keys
    # A failed load leaves the model untouched.
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_wrong_width_reports_shapes(tmp_path):
    path = tmp_path / "x0_5.pth"
    torch.save(shufflenet_v2_x0_5().state_dict(), path)
    with pytest.raises(AmmaEdgeError) as info:
        load_pretrained(shufflenet_v2_x1_0(), path)
    message = str(info.value)
    assert "wrong shape" in message and "shufflenet_v2_x1_0" in message


def test_wrong_number_of_classes_suggests_the_fix(tmp_path):
    path = tmp_path / "imagenet.pth"
    torch.save(resnet18().state_dict(), path)
    with pytest.raises(AmmaEdgeError) as info:
        load_pretrained(resnet18(num_classes=24), path)
    message = str(info.value)
    assert "fc.weight" in message and "num_classes" in message and "include_classifier=False" in message
    load_pretrained(resnet18(include_classifier=False), path)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ([torch.zeros(2)], "list"),
        ({"conv1.weight": torch.zeros(1), "epoch": 3}, "'epoch'"),
        (torch.zeros(3), "Tensor"),
    ],
)
def test_files_that_are_not_state_dicts(content, fragment, tmp_path):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(AmmaEdgeError) as info:
        load_pretrained(resnet18(), path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_garbage_file_is_a_user_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights")
    with pytest.raises(AmmaEdgeError) as info:
        load_pretrained(mobilenet_v2(), path)
    assert str(path) in str(info.value) and "state_dict()" in str(info.value)


def test_pickled_whole_model_is_refused_safely(tmp_path):
    """weights_only loading refuses arbitrary pickles; the user is told to save a state dict instead."""
    path = tmp_path / "model.pth"
    torch.save(resnet18(num_classes=2), path)
    with pytest.raises(AmmaEdgeError, match=r"state_dict\(\)"):
        load_pretrained(resnet18(num_classes=2), path)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "resnet18.pth"
    with pytest.raises(AmmaEdgeError, match="does not exist") as info:
        load_pretrained(resnet18(), path)
    assert str(path) in str(info.value)
    with pytest.raises(AmmaEdgeError, match="not a file"):
        load_pretrained(resnet18(), tmp_path)


def test_checkpoint_from_before_num_batches_tracked_still_loads(tmp_path):
    """Old torchvision files lack num_batches_tracked and carry no version metadata; batch norm copes."""
    source = resnet18().eval()
    legacy = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "legacy.pth"
    torch.save(legacy, path)
    target = resnet18().eval()
    load_pretrained(target, path)
    x = image()
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


@pytest.mark.parametrize("prefix", ["", "backbone."])
def test_current_checkpoint_missing_a_counter_is_refused(prefix, tmp_path):
    """A file saved with today's batch norm must be complete; its metadata survives prefix stripping."""
    wrapper = nn.Module()
    wrapper.backbone = shufflenet_v2_x0_5(include_classifier=False)
    state = (wrapper if prefix else wrapper.backbone).state_dict()
    del state[f"{prefix}stage3.2.branch2.1.num_batches_tracked"]
    path = tmp_path / "current.pth"
    torch.save(state, path)
    with pytest.raises(AmmaEdgeError, match=r"1 missing keys, e\.g\. stage3\.2\.branch2\.1\.num_batches_tracked"):
        load_pretrained(shufflenet_v2_x0_5(include_classifier=False), path, prefix=prefix)


# ------------------------------------------------------------ strided depthwise convolutions under --amp


@pytest.mark.parametrize("build", [shufflenet_v2_x0_5, mobilenet_v2])
def test_strided_depthwise_convolutions_are_float32_islands_under_cpu_bfloat16(build):
    """Under CPU bfloat16 autocast the stride-2 depthwise convolutions compute in float32 (their bfloat16
    backward is the slow one); every other convolution still runs in bfloat16."""
    model = build(include_classifier=False).eval()
    dtypes: dict[str, torch.dtype] = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, n=name: dtypes.__setitem__(n, out.dtype))
             for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(image(size=64))
    for h in hooks:
        h.remove()
    strided = {name for name, m in model.named_modules()
               if isinstance(m, StridedDepthwiseConv2d)}
    expected = {name for name, m in model.named_modules()
                if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1 and m.stride != (1, 1)}
    assert strided == expected and len(strided) >= 3
    assert {dtypes[n] for n in strided} == {torch.float32}
    assert {dtypes[n] for n in dtypes.keys() - strided} == {torch.bfloat16}


def test_strided_depthwise_matches_a_plain_convolution_and_its_gradients():
    torch.manual_seed(0)
    layer = StridedDepthwiseConv2d(6, 3, stride=2, padding=1)
    plain = nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6, bias=False)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 6, 15, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    ref = plain(x)
    assert out.shape == ref.shape == (2, 6, 8, 8)
    torch.testing.assert_close(out, ref)
    grad_out = torch.randn_like(ref)
    (gx,) = torch.autograd.grad(out, x, grad_out)
    (gref,) = torch.autograd.grad(ref, x, grad_out)
    torch.testing.assert_close(gx, gref)
    # Outside CPU bfloat16 autocast nothing changes: a float64 input stays float64.
    assert layer.double()(x.double()).dtype == torch.float64


def test_strided_depthwise_refuses_stride_one():
    with pytest.raises(ValueError, match="strides of 2 or more"):
        StridedDepthwiseConv2d(4, 3, stride=1, padding=1)
