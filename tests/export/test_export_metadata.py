"""The metadata contract: round trips, and readers that need neither onnx nor TensorRT."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from export_fixtures import CLASSES, tiny_amma_config
from onnx import TensorProto, helper

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.graphs import graph_spec
from amma_edge.export.metadata import (
    METADATA_KEY,
    ModelMetadata,
    read_metadata,
    read_metadata_ort,
    write_metadata,
)
from amma_edge.models import get_config


def make_meta(graph: str = "head", config=None, **changes) -> ModelMetadata:
    config = config or tiny_amma_config()
    spec = graph_spec(config, graph)
    meta = ModelMetadata(graph=graph, model_config=config, class_names=CLASSES, inputs=spec.inputs,
                         outputs=spec.outputs, output_layout=spec.output_layout, opset=17, precision="fp32",
                         checkpoint_sha256="ab" * 32, amma_edge_version="0.1.0")
    return meta.replace(**changes) if changes else meta


def identity_model(with_meta: ModelMetadata | None = None) -> onnx.ModelProto:
    """A one-node ONNX graph: enough to carry metadata without exporting a network."""
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3, 8, 4, 8])
    y = helper.make_tensor_value_info("center", TensorProto.FLOAT, [1, 3, 8, 4, 8])
    graph = helper.make_graph([helper.make_node("Identity", ["features"], ["center"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    extra = model.metadata_props.add()
    extra.key, extra.value = "other_tool", "kept"
    if with_meta is not None:
        write_metadata(model, with_meta)
    return model


def test_json_round_trip_keeps_everything_and_the_output_order():
    meta = make_meta("head")
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert list(again.outputs) == ["center", "trajectory", "box"]
    astar = get_config("astar-x3dm", num_classes=3)
    meta = make_meta("astar", config=astar)
    again = ModelMetadata.from_json(meta.to_json())
    assert again.model_config == astar and again.model_config.anchors == astar.anchors
    assert list(again.outputs) == ["box", "objectness", "classes", "embedding"]


def test_the_json_has_the_contract_keys():
    data = json.loads(make_meta("encoder").to_json())
    assert set(data) == {"format", "graph", "model_config", "class_names", "inputs", "outputs", "output_layout",
                         "opset", "precision", "checkpoint_sha256", "amma_edge_version"}
    assert data["format"] == 1 and data["graph"] == "encoder"
    assert data["inputs"] == {"clip": [1, 4, 3, 32, 64]} and data["outputs"] == {"feature": [1, 8, 4, 8]}


def test_unknown_keys_are_ignored_but_a_newer_format_is_refused():
    data = json.loads(make_meta().to_json())
    data["engine"] = {"tensorrt_version": "10.3"}
    assert ModelMetadata.from_dict(data) == make_meta()
    data["format"] = 2
    with pytest.raises(AmmaEdgeError, match="newer than this amma-edge reads"):
        ModelMetadata.from_dict(data, "x.onnx")


@pytest.mark.parametrize("change, message", [
    ({"class_names": ["a"]}, "1 class names for 3 classes"),
    ({"graph": "decoder"}, "unknown graph 'decoder'"),
    ({"precision": "int4"}, "unknown precision"),
])
def test_inconsistent_metadata_is_refused(change, message):
    data = {**json.loads(make_meta().to_json()), **change}
    with pytest.raises(AmmaEdgeError, match=message):
        ModelMetadata.from_dict(data, "x.onnx")


def test_missing_keys_and_bad_json_are_clear_errors():
    data = json.loads(make_meta().to_json())
    del data["checkpoint_sha256"]
    with pytest.raises(AmmaEdgeError, match="missing key 'checkpoint_sha256'.*export the model again"):
        ModelMetadata.from_dict(data, "x.onnx")
    with pytest.raises(AmmaEdgeError, match="not valid JSON"):
        ModelMetadata.from_json("{not json", "x.onnx")


def test_written_metadata_reads_back_from_file_bytes_proto_and_onnxruntime(tmp_path):
    meta = make_meta()
    model = identity_model(meta)
    path = tmp_path / "head.onnx"
    onnx.save(model, str(path))
    assert read_metadata(path) == meta
    assert read_metadata(path.read_bytes()) == meta
    assert read_metadata(onnx.load(str(path))) == meta
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert read_metadata_ort(session) == meta
    # other tools' entries survive, and writing twice keeps one amma-edge entry
    write_metadata(model, meta.replace(opset=18))
    keys = [p.key for p in model.metadata_props]
    assert keys.count(METADATA_KEY) == 1 and "other_tool" in keys
    assert read_metadata(model.SerializeToString()).opset == 18


def test_the_protobuf_scan_agrees_with_onnx_on_a_large_graph(tmp_path):
    """Metadata after a big initializer: the scan must skip the graph by its length, not misparse it."""
    weights = helper.make_tensor("w", TensorProto.FLOAT, [256, 256], np.random.rand(256 * 256).astype(np.float32))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    write_metadata(model, make_meta())
    path = tmp_path / "big.onnx"
    onnx.save(model, str(path))
    expected = next(p.value for p in onnx.load(str(path)).metadata_props if p.key == METADATA_KEY)
    assert read_metadata(path).to_json() == ModelMetadata.from_json(expected).to_json()


def test_an_onnx_file_without_metadata_says_it_was_not_exported_by_amma_edge(tmp_path):
    path = tmp_path / "foreign.onnx"
    onnx.save(identity_model(), str(path))
    with pytest.raises(AmmaEdgeError, match=r"foreign.onnx carries no amma-edge metadata.*amma-edge export"):
        read_metadata(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(AmmaEdgeError, match="not exported by amma-edge"):
        read_metadata_ort(session, str(path))
    with pytest.raises(AmmaEdgeError, match="not exported by amma-edge"):
        read_metadata(identity_model())


def test_missing_empty_and_non_onnx_files_are_clear_errors(tmp_path):
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        read_metadata(tmp_path / "nope.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(AmmaEdgeError, match="empty, not an ONNX model"):
        read_metadata(tmp_path / "empty.onnx")
    (tmp_path / "text.onnx").write_bytes(b"\xff" * 64)
    with pytest.raises(AmmaEdgeError, match="not an ONNX model|no amma-edge metadata"):
        read_metadata(tmp_path / "text.onnx")
