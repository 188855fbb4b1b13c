"""The runner contract on every backend this machine has: ONNX Runtime and PyTorch agree with the model, metadata
travels inside the files, and what cannot run says what to install."""
import json
import sys

import numpy as np
import pytest
import torch

from amma_edge.build.plan import PLAN_MAGIC, read_plan, write_plan
from amma_edge.errors import AmmaEdgeError, InputShapeError, MissingDependencyError
from amma_edge.runtime.runners import backend_for, open_model, runner_class, runner_names
from amma_edge.runtime.runners.base import Runner
from amma_edge.runtime.runners.onnxruntime_runner import OnnxRuntimeRunner, OrtOptions
from amma_edge.runtime.runners.tensorrt_runner import TensorRTRunner
from amma_edge.runtime.runners.torch_runner import TorchRunner
from amma_edge.train.checkpoint import load_model


def test_registry_and_suffixes():
    assert set(runner_names()) >= {"ort", "trt", "torch"}
    assert runner_class("ort") is OnnxRuntimeRunner and runner_class("trt") is TensorRTRunner
    assert backend_for("m/encoder.onnx") == "ort" and backend_for("m.engine") == "trt"
    assert backend_for("m.plan") == "trt"
    assert backend_for("best.pt") == "torch" and backend_for("anything.bin", "ort") == "ort"
    with pytest.raises(AmmaEdgeError, match="--backend"):
        backend_for("model.bin")
    with pytest.raises(AmmaEdgeError, match="unknown backend 'tvm'"):
        backend_for("m.onnx", "tvm")


def test_ort_runner_matches_pytorch_and_reads_the_metadata(tiny_export, tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint)
    rng = np.random.default_rng(0)
    clip = rng.standard_normal((1, 4, 3, 64, 64)).astype(np.float32)
    with OnnxRuntimeRunner(tiny_export / "encoder.onnx", OrtOptions(intra_op_threads=1)) as runner:
        assert runner.metadata.graph == "encoder" and runner.metadata.class_names == ("walk", "wave", "sit_down")
        assert runner.inputs["clip"].shape == (1, 4, 3, 64, 64)
        assert list(runner.outputs) == ["feature"]
        assert runner.providers[-1] == "CPUExecutionProvider"
        out = runner.infer({"clip": clip})["feature"]
        assert runner.last_inference_ms is not None and runner.last_inference_ms > 0
        with pytest.raises(InputShapeError, match="was fed float64"):
            runner.infer({"clip": clip.astype(np.float64)})
        with pytest.raises(InputShapeError, match="missing: clip"):
            runner.infer({"clips": clip})
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(clip)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert not runner.is_active
    with pytest.raises(AmmaEdgeError, match="activate"):
        runner.infer({"clip": clip})


def test_torch_and_ort_models_agree_through_the_device_model(tiny_export, tiny_checkpoint):
    rng = np.random.default_rng(1)
    clip = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    with open_model(tiny_checkpoint) as pt, open_model(tiny_export) as onnx_model:
        assert pt.backend == "torch" and onnx_model.backend == "ort"
        assert pt.config == onnx_model.config and pt.class_names == onnx_model.class_names
        f_pt, f_ort = pt.encode(clip), onnx_model.encode(clip)
        np.testing.assert_allclose(f_pt, f_ort, rtol=1e-4, atol=1e-4)
        features = np.stack([f_pt] * 3)
        features.flags.writeable = False  # the feature cache hands out read-only views
        h_pt, h_ort = pt.head(features), onnx_model.head(features)
        for k in ("center", "trajectory", "box"):
            np.testing.assert_allclose(h_pt[k], h_ort[k], rtol=1e-4, atol=1e-4)
        assert h_pt["center"].shape == (3, 8, 8)


def test_open_model_finds_the_pair_from_one_graph_file(tiny_export):
    with open_model(tiny_export / "head.onnx") as model:
        assert set(model.runners) == {"encoder", "head"}


def test_mismatched_graphs_are_refused(tiny_export, tmp_path):
    import onnx

    proto = onnx.load(str(tiny_export / "head.onnx"))
    meta = json.loads(proto.metadata_props[0].value)
    meta["class_names"] = ["a", "b", "c"]
    proto.metadata_props[0].value = json.dumps(meta)
    (tmp_path / "encoder.onnx").write_bytes((tiny_export / "encoder.onnx").read_bytes())
    onnx.save(proto, str(tmp_path / "head.onnx"))
    with pytest.raises(AmmaEdgeError, match="do not belong together.*class names differ"):
        open_model(tmp_path)


def test_onnx_without_metadata_says_how_to_reexport(tiny_export, tmp_path):
    import onnx

    proto = onnx.load(str(tiny_export / "encoder.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    with pytest.raises(AmmaEdgeError, match="not exported by amma-edge.*amma-edge export"):
        OnnxRuntimeRunner(tmp_path / "bare.onnx").activate()


def test_missing_model_and_empty_folder(tmp_path):
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        open_model(tmp_path / "nope.onnx")
    with pytest.raises(AmmaEdgeError, match="holds no model"):
        open_model(tmp_path)


def test_torch_runner_contract_from_a_checkpoint(tiny_checkpoint):
    runner = TorchRunner(tiny_checkpoint, graph="head")
    assert isinstance(runner, Runner) and not runner.is_active
    with runner:
        assert runner.inputs["features"].shape == (1, 3, 8, 8, 8)
        out = runner.infer({"features": np.zeros((1, 3, 8, 8, 8), np.float32)})
        assert set(out) == {"center", "trajectory", "box"} and out["trajectory"].shape == (1, 6, 8, 8)
        assert np.all((out["center"] > 0) & (out["center"] < 1))  # after the sigmoid


def test_plan_files_carry_their_metadata(tmp_path):
    header = {"graph": "encoder", "model_config": {"family": "amma"}}
    path = write_plan(tmp_path / "encoder.engine", header, b"\x01\x02serialized")
    assert path.read_bytes().startswith(PLAN_MAGIC)
    got, plan = read_plan(path)
    assert got == header and plan == b"\x01\x02serialized"
    (tmp_path / "bare.engine").write_bytes(b"just a tensorrt plan")
    with pytest.raises(AmmaEdgeError, match="not an amma-edge engine"):
        read_plan(tmp_path / "bare.engine")
    (tmp_path / "cut.engine").write_bytes(path.read_bytes()[:20])
    with pytest.raises(AmmaEdgeError, match="truncated"):
        read_plan(tmp_path / "cut.engine")


def test_tensorrt_missing_says_what_to_install(tmp_path, tiny_export, monkeypatch):
    import onnxruntime as ort

    from amma_edge.export import read_metadata_ort

    session = ort.InferenceSession(str(tiny_export / "encoder.onnx"))
    header = json.loads(session.get_modelmeta().custom_metadata_map["amma_edge"])
    assert read_metadata_ort(session, "encoder.onnx").graph == "encoder"
    path = write_plan(tmp_path / "encoder.engine", header, b"plan")
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match="pip install tensorrt"):
        TensorRTRunner(path).activate()


@pytest.mark.device
def test_tensorrt_engine_matches_onnx_runtime(tiny_export, tmp_path):
    trt = pytest.importorskip("tensorrt")
    pytest.importorskip("cuda")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse((tiny_export / "encoder.onnx").read_bytes())
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    import onnxruntime as ort

    session = ort.InferenceSession(str(tiny_export / "encoder.onnx"))
    header = json.loads(session.get_modelmeta().custom_metadata_map["amma_edge"])
    path = write_plan(tmp_path / "encoder.engine", header, bytes(plan))
    clip = np.random.default_rng(0).standard_normal((1, 4, 3, 64, 64)).astype(np.float32)
    with TensorRTRunner(path) as runner:
        out = runner.infer({"clip": clip})["feature"]
    np.testing.assert_allclose(out, session.run(None, {"clip": clip})[0], rtol=1e-3, atol=1e-3)
