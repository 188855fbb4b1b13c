"""A*: the preset, its output layout, training signal to every weight, input checks, size, exportability."""
import dataclasses
import io
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.models import build, config_from_dict, config_to_dict, create, get_config
from amma_edge.models.astar import ASTPP, AStar
from amma_edge.models.backbones.x3d import x3d_m
from amma_edge.models.config import AStarConfig

SMALL = AStarConfig(
    name="astar-tiny", width=0.25, num_classes=3, clip_len=8, input_size=(64, 64), head_channels=32, embedding_dim=16
)
OUTPUTS = ["box", "objectness", "classes", "embedding"]


def test_preset_builds_through_the_registry():
    model = create("astar-x3dm")
    assert isinstance(model, AStar)
    assert model.config == get_config("astar-x3dm")
    assert model.backbone.arch == "x3d_m" and model.backbone.stage_channels == (24, 48, 96, 192)
    torch.testing.assert_close(model.anchors, torch.tensor(model.config.anchors))
    assert model.anchors.shape == (5, 2)


def test_preset_output_layout_at_16x224():
    model = create("astar-x3dm").eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 16, 3, 224, 224))
    assert list(out) == OUTPUTS
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "box": (1, 5, 4, 7, 7),
        "objectness": (1, 5, 7, 7),
        "classes": (1, 5, 24, 7, 7),
        "embedding": (1, 5, 128, 7, 7),
    }


def test_preset_size_and_cost():
    """3.87 M parameters and 6.33 G multiply-adds per key frame at 16 × 224² (measured; guards regressions)."""
    model = create("astar-x3dm").eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 16, 3, 224, 224))
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(3.87e6, rel=0.01)
    assert counter.get_total_flops() / 2 == pytest.approx(6.33e9, rel=0.02)


def test_backbone_takes_x3d_m_kinetics_weights():
    headless = {k: v for k, v in x3d_m().state_dict().items() if not k.startswith("blocks.5.")}
    create("astar-x3dm").backbone.load_state_dict(headless, strict=True)


def test_outputs_follow_the_configuration():
    config = dataclasses.replace(SMALL, anchors=((1, 1), (2, 3)), input_size=(96, 64))
    with torch.no_grad():
        out = build(config).eval()(torch.randn(2, 8, 3, 96, 64))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "box": (2, 2, 4, 3, 2),
        "objectness": (2, 2, 3, 2),
        "classes": (2, 2, 3, 3, 2),
        "embedding": (2, 2, 16, 3, 2),
    }


def test_small_model_trains_every_parameter():
    model = build(SMALL).train()
    out = model(torch.randn(2, 8, 3, 64, 64))
    assert out["box"].shape == (2, 5, 4, 2, 2)
    sum((v**2).mean() for v in out.values()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "shape, problem",
    [
        ((1, 7, 3, 64, 64), "7 frames instead of T=8"),
        ((1, 3, 8, 64, 64), "3 frames instead of T=8"),  # X3D's channels-first layout handed to A*
        ((1, 8, 1, 64, 64), "1 channels instead of 3"),
        ((1, 8, 3, 64, 48), "not a multiple of 32"),
        ((8, 3, 64, 64), "4 dimensions instead of 5"),
    ],
)
def test_wrong_input_names_the_expected_shape(shape, problem):
    with pytest.raises(InputShapeError) as info:
        build(SMALL)(torch.zeros(shape))
    assert "(B, 8, 3, 64, 64)" in str(info.value)
    assert problem in str(info.value)


def test_astpp_keeps_the_shape_and_uses_the_configured_rates():
    astpp = ASTPP(16, (1, 3, 6, 9)).eval()
    x = torch.randn(1, 16, 8, 7, 7)
    with torch.no_grad():
        assert astpp(x).shape == x.shape
    assert [level[0].dilation for level in astpp.levels] == [(1, 1, 1), (3, 3, 3), (6, 6, 6), (9, 9, 9)]
    assert all(level[0].out_channels == 4 for level in astpp.levels)


def test_anchors_survive_a_json_round_trip():
    config = get_config("astar-x3dm")
    again = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
    assert again == config and hash(again) == hash(config)
    assert again.num_anchors == 5


@pytest.mark.parametrize("anchors", [(), ((1.0, -2.0),), ((1.0, 2.0, 3.0),), "wide"])
def test_bad_anchors_are_refused(anchors):
    with pytest.raises(AmmaEdgeError, match="anchors"):
        get_config("astar-x3dm", anchors=anchors)


def test_zero_dilation_rate_is_refused():
    with pytest.raises(AmmaEdgeError, match="astpp_rates"):
        get_config("astar-x3dm", astpp_rates=(1, 0))


@pytest.mark.slow
def test_graph_has_no_data_dependent_control_flow():
    model = build(SMALL).eval()
    clips = torch.randn(1, 8, 3, 64, 64)
    exported = torch.export.export(model, (clips,))
    with torch.no_grad():
        expected = model(clips)
        got = exported.module()(clips)
    for name in OUTPUTS:
        torch.testing.assert_close(got[name], expected[name])


def test_exports_to_onnx_with_a_dynamic_batch():
    onnx = pytest.importorskip("onnx")
    buffer = io.BytesIO()
    torch.onnx.export(
        build(SMALL).eval(),
        (torch.randn(1, 8, 3, 64, 64),),
        buffer,
        dynamo=False,
        opset_version=17,
        input_names=["clips"],
        output_names=OUTPUTS,
        dynamic_axes={"clips": {0: "batch"}},
    )
    graph = onnx.load_from_string(buffer.getvalue()).graph
    assert [o.name for o in graph.output] == OUTPUTS
    batch = {o.name: o.type.tensor_type.shape.dim[0] for o in graph.output}
    assert all(not dim.HasField("dim_value") for dim in batch.values())
