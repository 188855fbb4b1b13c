"""The build options a user can get wrong, checked without TensorRT."""
from pathlib import Path

import pytest

from amma_edge.build.options import (
    BuildConfig,
    ParserProblem,
    check_source,
    default_precision,
    folder_precision,
    format_parser_errors,
    parse_dynamic_batch,
    profile_shapes,
)
from amma_edge.errors import AmmaEdgeError


def test_defaults_build_fp16_for_the_gpu_with_static_shapes():
    config = BuildConfig()
    assert (config.precision, config.dla_core, config.dynamic_batch, config.via) == ("fp16", None, None, "trt")
    assert config.workspace_bytes == 2 * (1 << 30)


@pytest.mark.parametrize("kwargs, words", [
    ({"precision": "fp8"}, "unknown precision"),
    ({"via": "onnxruntime"}, "--via"),
    ({"workspace_gib": 0}, "--workspace"),
    ({"workspace_gib": float("nan")}, "--workspace"),
    ({"dla_core": -1}, "--dla"),
    ({"dla_core": 0, "precision": "fp32"}, "DLA runs fp16 and int8 only"),
    ({"dynamic_batch": (4, 2, 8)}, "MIN <= OPT <= MAX"),
    ({"dynamic_batch": (0, 1, 2)}, "1 <= MIN"),
    ({"dynamic_batch": (1, 2)}, "three batch sizes"),
    ({"strongly_typed": True, "precision": "fp16"}, "--strongly-typed"),
    ({"via": "torch-tensorrt", "precision": "int8"}, "--via trt"),
    ({"checkpoint": Path("best.pt")}, "--checkpoint is read by --via torch-tensorrt"),
])
def test_invalid_configurations_are_refused_with_the_flag_to_change(kwargs, words):
    with pytest.raises(AmmaEdgeError, match=words.replace("(", r"\(")):
        BuildConfig(**kwargs)


def test_strong_typing_is_automatic_for_qdq_graphs_only():
    assert BuildConfig(precision="int8").strongly_typed_for("int8") is True
    assert BuildConfig(precision="fp16").strongly_typed_for("fp32") is False
    assert BuildConfig(precision="int8", strongly_typed=False).strongly_typed_for("int8") is False
    assert BuildConfig(precision="fp32", strongly_typed=True).strongly_typed_for("fp32") is True


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        BuildConfig().precision = "int8"  # type: ignore[misc]


@pytest.mark.parametrize("text, expected", [("1,4,8", (1, 4, 8)), (" 2, 2 ,2", (2, 2, 2)), (None, None)])
def test_dynamic_batch_parses_min_opt_max(text, expected):
    assert parse_dynamic_batch(text) == expected


@pytest.mark.parametrize("text", ["1,4", "a,b,c", "8,4,1", "1,2,3,4", ""])
def test_bad_dynamic_batch_says_the_expected_form(text):
    with pytest.raises(AmmaEdgeError, match="--dynamic-batch"):
        parse_dynamic_batch(text)


def test_int8_needs_a_calibrated_folder_and_says_how_to_make_one():
    with pytest.raises(AmmaEdgeError, match=r"amma-edge calibrate --model runs/m` first .*runs/m-int8"):
        check_source("fp32", BuildConfig(precision="int8"), Path("runs/m"))


def test_a_calibrated_folder_builds_int8_only_and_points_to_the_fp32_export():
    with pytest.raises(AmmaEdgeError, match=r"--precision int8.*fp32 export folder \(runs/m\)"):
        check_source("int8", BuildConfig(precision="fp16"), Path("runs/m-int8"))
    check_source("int8", BuildConfig(precision="int8"), Path("runs/m-int8"))
    check_source("fp32", BuildConfig(precision="fp32"), Path("runs/m"))


def test_folder_precision_and_the_default_precision():
    assert folder_precision({"encoder": "int8", "head": "int8"}, Path("m")) == "int8"
    with pytest.raises(AmmaEdgeError, match="mix precisions"):
        folder_precision({"encoder": "int8", "head": "fp32"}, Path("m"))
    assert default_precision("int8") == "int8" and default_precision("fp32") == "fp16"


DECLARED = {"clip": (1, 4, 3, 32, 64)}


def test_static_networks_need_no_profile_and_dynamic_axes_are_pinned_to_the_metadata():
    assert profile_shapes(DECLARED, DECLARED, None, "encoder") == {}
    pinned = profile_shapes({"clip": (-1, 4, 3, -1, 64)}, DECLARED, None, "encoder")
    assert pinned == {"clip": ((1, 4, 3, 32, 64),) * 3}


def test_a_batch_profile_spans_min_opt_max_and_must_include_the_declared_batch():
    shapes = profile_shapes({"clip": (-1, 4, 3, 32, 64)}, DECLARED, (1, 4, 8), "encoder")
    assert shapes == {"clip": ((1, 4, 3, 32, 64), (4, 4, 3, 32, 64), (8, 4, 3, 32, 64))}
    with pytest.raises(AmmaEdgeError, match="leaves out batch 1"):
        profile_shapes({"clip": (-1, 4, 3, 32, 64)}, DECLARED, (2, 4, 8), "encoder")


def test_a_batch_profile_on_a_static_export_is_refused():
    with pytest.raises(AmmaEdgeError, match="static batch 1.*build without --dynamic-batch"):
        profile_shapes(DECLARED, DECLARED, (1, 2, 4), "encoder")


def test_an_input_the_metadata_does_not_know_is_reported():
    with pytest.raises(AmmaEdgeError, match="'frames'"):
        profile_shapes({"frames": (1, 4, 3, 32, 64)}, DECLARED, None, "encoder")


def test_parser_errors_name_every_refused_node_on_one_line():
    problems = [ParserProblem(12, "Conv_12", "Conv", "UNSUPPORTED_NODE", "no kernel\nfor this"),
                ParserProblem(-1, code="INVALID_GRAPH", description="bad graph")]
    text = format_parser_errors(Path("m/head.onnx"), problems)
    assert "\n" not in text
    assert "node 12 Conv_12 (Conv): UNSUPPORTED_NODE: no kernel for this" in text
    assert "graph: INVALID_GRAPH: bad graph" in text and "2 node(s) of m/head.onnx" in text
