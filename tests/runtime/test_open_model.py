"""open_model reads folders through the export stage's load_bundle: ONNX folders, INT8 folders and engine folders
open the same way, graphs that do not belong together are refused before any engine loads, and the metadata
(precision included) is what the files say."""
import json
import shutil
import sys

import numpy as np
import pytest
import torch

from amma_edge.errors import AmmaEdgeError, MissingDependencyError
from amma_edge.export import read_metadata, write_metadata
from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.runtime.runners import RunnerOptions, open_model
from amma_edge.train.checkpoint import save_checkpoint

ONE_THREAD = RunnerOptions(threads=1)


@pytest.fixture
def copy(tiny_export, tmp_path):
    """A fresh copy of the shared export that a test may change."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_export, folder)
    return folder


def rewrite_metadata(path, **changes):
    import onnx

    model = onnx.load(str(path))
    write_metadata(model, read_metadata(model).replace(**changes))
    onnx.save(model, str(path))


def write_engines(folder, precision="fp16", **changes):
    """encoder.engine + head.engine beside the ONNX graphs, with the headers `amma-edge build` writes (the plan
    bytes are not a real TensorRT plan: these tests stop before TensorRT would read them)."""
    from amma_edge.build.plan import write_plan

    for graph in ("encoder", "head"):
        meta = read_metadata(folder / f"{graph}.onnx").replace(precision=precision, **changes.get(graph, {}))
        write_plan(folder / f"{graph}.engine", {**meta.to_dict(), "engine": {"tensorrt_version": "10.0"}}, b"plan")


def test_the_device_model_carries_the_files_metadata(tiny_export):
    with open_model(tiny_export, options=ONE_THREAD) as model:
        assert set(model.metadata) == {"encoder", "head"}
        assert model.metadata["head"].outputs["trajectory"] == (1, 6, 8, 8)
        assert model.metadata["encoder"].checkpoint_sha256 == "test" and model.precision == "fp32"
        assert model.source == str(tiny_export)


def test_precision_comes_from_the_metadata(copy):
    for graph in ("encoder", "head"):
        rewrite_metadata(copy / f"{graph}.onnx", precision="int8")
    with open_model(copy, options=ONE_THREAD) as model:
        assert model.precision == "int8" and "int8" in model.describe()
    rewrite_metadata(copy / "head.onnx", precision="fp16")
    with open_model(copy / "encoder.onnx", options=ONE_THREAD) as model:
        assert model.precision == "encoder int8, head fp16"


@pytest.mark.slow
def test_an_int8_qdq_folder_opens_like_the_fp32_one(tiny_export, tmp_path):
    """Q/DQ graphs with the same file names and precision "int8", as `amma-edge calibrate` writes them."""
    quantization = pytest.importorskip("onnxruntime.quantization")

    class Reader(quantization.CalibrationDataReader):
        def __init__(self, name, shape):
            rng = np.random.default_rng(0)
            self.feeds = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(2)])

        def get_next(self):
            return next(self.feeds, None)

    int8 = tmp_path / "tiny-int8"
    int8.mkdir()
    for graph, name, shape in (("encoder", "clip", (1, 4, 3, 64, 64)), ("head", "features", (1, 3, 8, 8, 8))):
        quantization.quantize_static(str(tiny_export / f"{graph}.onnx"), str(int8 / f"{graph}.onnx"),
                                     Reader(name, shape), quant_format=quantization.QuantFormat.QDQ,
                                     activation_type=quantization.QuantType.QInt8,
                                     weight_type=quantization.QuantType.QInt8)
        rewrite_metadata(int8 / f"{graph}.onnx", precision="int8")
    (int8 / "model.json").write_text(json.dumps({"graphs": {"encoder": {}, "head": {}}, "checkpoint_sha256": "test"}))
    clip = np.random.default_rng(3).standard_normal((4, 3, 64, 64)).astype(np.float32)
    with open_model(tiny_export, options=ONE_THREAD) as fp32, open_model(int8, options=ONE_THREAD) as q:
        assert q.precision == "int8" and fp32.precision == "fp32"
        assert q.config == fp32.config and q.class_names == fp32.class_names
        assert any(node.op_type == "QuantizeLinear" for node in _graph_nodes(int8 / "encoder.onnx"))
        f32, f8 = fp32.encode(clip), q.encode(clip)
        assert f8.shape == f32.shape and not np.array_equal(f8, f32)  # really the quantized graph
        assert np.corrcoef(f8.ravel(), f32.ravel())[0, 1] > 0.9
        assert q.head(np.stack([f8] * 3))["center"].shape == (3, 8, 8)


def _graph_nodes(path):
    import onnx

    return onnx.load(str(path)).graph.node


def test_engine_folders_are_opened_through_their_headers(copy, monkeypatch):
    write_engines(copy)
    with open_model(copy, options=ONE_THREAD) as model:  # ONNX graphs and engines: ONNX unless asked
        assert model.backend == "ort" and model.precision == "fp32"
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as if not installed: TensorRT is needed only to run
    for path, backend in ((copy, "trt"), (copy / "head.engine", None)):
        with pytest.raises(MissingDependencyError, match="pip install tensorrt"):
            open_model(path, backend)


def test_engines_that_do_not_belong_together_are_refused_before_tensorrt_loads(copy, monkeypatch):
    write_engines(copy, head={"checkpoint_sha256": "0" * 64})
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(AmmaEdgeError, match="encoder.engine and head.engine .* do not belong together: they come "
                                            "from different checkpoints"):
        open_model(copy / "encoder.engine")


def test_folders_that_hold_no_streaming_model(copy, tmp_path):
    with pytest.raises(AmmaEdgeError, match="holds no model: expected encoder.engine \\+ head.engine"):
        open_model(copy, "trt")
    fused_only = tmp_path / "fused_only"
    fused_only.mkdir()
    shutil.copy(copy / "encoder.onnx", fused_only / "fused.onnx")
    with pytest.raises(AmmaEdgeError, match="holds no model: expected encoder.onnx \\+ head.onnx"):
        open_model(fused_only)
    with pytest.raises(AmmaEdgeError, match="unknown backend 'tvm'"):
        open_model(copy, "tvm")
    (copy / "head.onnx").unlink()
    with pytest.raises(AmmaEdgeError, match="has encoder.onnx but no head.onnx"):
        open_model(copy)


def test_a_graph_listed_in_model_json_but_missing_is_named(copy):
    (copy / "model.json").write_text(json.dumps({"graphs": {"encoder": {}, "head": {}, "fused": {}},
                                                 "checkpoint_sha256": "test"}))
    with pytest.raises(AmmaEdgeError, match=r"lists graphs whose files are missing: fused \(fused.onnx\)"):
        open_model(copy)


def test_a_renamed_amma_graph_alone_is_refused(copy):
    shutil.copy(copy / "encoder.onnx", copy / "my_encoder.onnx")
    with pytest.raises(AmmaEdgeError, match="AMMA's encoder graph alone.*pass the export folder"):
        open_model(copy / "my_encoder.onnx")


def test_renamed_graph_files_are_refused(copy):
    shutil.copy(copy / "head.onnx", copy / "encoder.onnx")
    with pytest.raises(AmmaEdgeError, match="encoder.onnx holds the head graph"):
        open_model(copy / "head.onnx")


@pytest.fixture(scope="module")
def astar_export(tmp_path_factory):
    """A tiny A* checkpoint and its model.onnx with metadata, made with the export stage's own functions."""
    from amma_edge.export.exporter import graph_metadata
    from amma_edge.export.graph_modules import graph_module
    from amma_edge.export.graphs import graph_spec
    from amma_edge.export.onnx_export import export_onnx

    pytest.importorskip("onnx")
    import onnx

    root = tmp_path_factory.mktemp("astar")
    config = get_config("astar-x3dm", num_classes=3, input_size=(64, 64), clip_len=4, width=0.25, head_channels=16,
                        embedding_dim=8, backbone="x3d_xs")
    torch.manual_seed(0)
    net = build(config).eval()
    names = ("walk", "wave", "sit_down")
    checkpoint = save_checkpoint(root / "astar.pt", {"model_config": config_to_dict(config),
                                                     "model": net.state_dict(), "class_names": list(names)})
    spec = graph_spec(config, "astar")
    proto = export_onnx(graph_module(net, "astar"), spec)
    write_metadata(proto, graph_metadata(config, names, spec, opset=17, checkpoint_sha256="astar"))
    (root / "model").mkdir()
    onnx.save(proto, str(root / "model" / "model.onnx"))
    return checkpoint, root / "model"


def test_astar_folders_files_and_renamed_files_open(astar_export, tmp_path):
    checkpoint, folder = astar_export
    renamed = tmp_path / "astar_x3d.onnx"
    shutil.copy(folder / "model.onnx", renamed)
    window = np.random.default_rng(4).standard_normal((4, 3, 64, 64)).astype(np.float32)
    with open_model(checkpoint, options=ONE_THREAD) as reference:
        expected = reference.detect(window)
    for path in (folder, folder / "model.onnx", renamed):
        with open_model(path, options=ONE_THREAD) as model:
            assert set(model.runners) == {"astar"} and model.family == "astar"
            assert model.metadata["astar"].checkpoint_sha256 == "astar"
            got = model.detect(window)
            for key in ("box", "objectness", "classes", "embedding"):
                np.testing.assert_allclose(got[key], expected[key], rtol=1e-3, atol=1e-4)


@pytest.mark.device
def test_a_folder_of_real_engines_runs_like_its_onnx_graphs(copy):
    trt = pytest.importorskip("tensorrt", reason="TensorRT builds and runs the engines")
    pytest.importorskip("cuda", reason="cuda-python moves the TensorRT runner's buffers")
    from amma_edge.build.plan import write_plan

    logger = trt.Logger(trt.Logger.WARNING)
    for graph in ("encoder", "head"):
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        assert parser.parse((copy / f"{graph}.onnx").read_bytes()), parser.get_error(0)
        plan = builder.build_serialized_network(network, builder.create_builder_config())
        header = read_metadata(copy / f"{graph}.onnx").to_dict()
        write_plan(copy / f"{graph}.engine", {**header, "engine": {"tensorrt_version": trt.__version__}}, bytes(plan))
    clip = np.random.default_rng(6).standard_normal((4, 3, 64, 64)).astype(np.float32)
    with open_model(copy, "trt") as engines, open_model(copy, "ort", ONE_THREAD) as onnx_model:
        assert engines.backend == "trt" and set(engines.runners) == {"encoder", "head"}
        f_trt, f_ort = engines.encode(clip), onnx_model.encode(clip)
        np.testing.assert_allclose(f_trt, f_ort, rtol=1e-3, atol=1e-3)
        h_trt, h_ort = engines.head(np.stack([f_ort] * 3)), onnx_model.head(np.stack([f_ort] * 3))
        for key in ("center", "trajectory", "box"):
            np.testing.assert_allclose(h_trt[key], h_ort[key], rtol=1e-3, atol=1e-3)
