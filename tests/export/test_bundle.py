"""load_bundle refuses folders whose graphs do not belong together, with errors that say what to do."""
from __future__ import annotations

import json
import shutil

import onnx
import pytest

from amma_edge.errors import AmmaEdgeError
from amma_edge.export import load_bundle, read_metadata, write_metadata


@pytest.fixture
def copy(exported, tmp_path):
    """A fresh copy of the shared export that a test may damage."""
    _, result = exported
    folder = tmp_path / "model"
    shutil.copytree(result.out, folder)
    return folder


def rewrite_metadata(path, **changes):
    model = onnx.load(str(path))
    write_metadata(model, read_metadata(model).replace(**changes))
    onnx.save(model, str(path))


def test_missing_folder_file_and_empty_folder(tmp_path, copy):
    with pytest.raises(AmmaEdgeError, match="does not exist: pass a folder written by `amma-edge export`"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(AmmaEdgeError, match="is a file, not a model folder"):
        load_bundle(copy / "encoder.onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AmmaEdgeError, match="holds no exported graphs: expected encoder.onnx \\+ head.onnx"):
        load_bundle(tmp_path / "empty")


def test_a_graph_listed_in_model_json_but_missing(copy):
    (copy / "fused.onnx").unlink()
    with pytest.raises(AmmaEdgeError, match=r"lists graphs whose files are missing: fused \(fused.onnx\)"):
        load_bundle(copy)


def test_an_encoder_without_its_head(copy):
    (copy / "head.onnx").unlink()
    (copy / "model.json").unlink()
    with pytest.raises(AmmaEdgeError, match="has encoder.onnx but no head.onnx"):
        load_bundle(copy)


def test_a_head_from_another_checkpoint(copy):
    rewrite_metadata(copy / "head.onnx", checkpoint_sha256="0" * 64)
    with pytest.raises(AmmaEdgeError, match="encoder.onnx and head.onnx .* do not belong together: they come from "
                                            "different checkpoints"):
        load_bundle(copy)


def test_a_head_with_another_configuration(copy):
    meta = read_metadata(copy / "head.onnx")
    import dataclasses

    rewrite_metadata(copy / "head.onnx", model_config=dataclasses.replace(meta.model_config, head_conv=64))
    with pytest.raises(AmmaEdgeError, match="configurations differ in head_conv"):
        load_bundle(copy)


def test_a_renamed_file(copy):
    shutil.copy(copy / "head.onnx", copy / "encoder.onnx")
    with pytest.raises(AmmaEdgeError, match="encoder.onnx holds the head graph, not the encoder graph"):
        load_bundle(copy)


def test_a_foreign_onnx_file(copy):
    model = onnx.load(str(copy / "head.onnx"))
    del model.metadata_props[:]
    onnx.save(model, str(copy / "head.onnx"))
    with pytest.raises(AmmaEdgeError, match="head.onnx carries no amma-edge metadata"):
        load_bundle(copy)


def test_shapes_that_contradict_the_configuration(copy):
    meta = read_metadata(copy / "head.onnx")
    rewrite_metadata(copy / "head.onnx", inputs={"features": (1, 2, *meta.inputs["features"][2:])})
    with pytest.raises(AmmaEdgeError, match="declares inputs .* but its configuration"):
        load_bundle(copy)


def test_a_model_json_of_another_checkpoint(copy):
    manifest = json.loads((copy / "model.json").read_text())
    manifest["checkpoint_sha256"] = "f" * 64
    (copy / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(AmmaEdgeError, match="describes another checkpoint than the graphs beside it"):
        load_bundle(copy)


def test_engine_bundles_read_plan_headers(copy):
    from amma_edge.build.plan import write_plan

    with pytest.raises(AmmaEdgeError, match="holds no engines.*amma-edge build"):
        load_bundle(copy, kind="engine")
    for graph in ("encoder", "head"):
        header = read_metadata(copy / f"{graph}.onnx").replace(precision="fp16").to_dict()
        write_plan(copy / f"{graph}.engine", {**header, "engine": {"tensorrt_version": "10"}}, b"plan bytes")
    bundle = load_bundle(copy, kind="engine")
    assert list(bundle.graphs) == ["encoder", "head"]
    assert {m.precision for m in bundle.metadata.values()} == {"fp16"}
