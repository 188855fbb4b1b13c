"""TensorRT engines of the tiny export, built and run on a GPU, against the export's golden outputs.

Skipped where TensorRT, cuda-python or a CUDA device is missing (run with `make test-device` on the device).
"""
import importlib.util

import numpy as np
import pytest
from click.testing import CliRunner

from amma_edge.build.builder import build_engines
from amma_edge.build.options import BuildConfig
from amma_edge.build.plan import read_plan_header
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import load_bundle
from amma_edge.export.golden import compare_golden, load_golden

pytestmark = pytest.mark.device

# Relative error allowed against PyTorch fp32, per output as a share of the output's largest magnitude.
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "int8": 1e-1}


@pytest.fixture(scope="session")
def gpu():  # session scope: resolved before the (session) export, so a skip costs nothing
    trt = pytest.importorskip("tensorrt", reason="TensorRT's Python bindings are not installed")
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        cudart = pytest.importorskip("cuda.cudart", reason="cuda-python is not installed")
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess or count == 0:
        pytest.skip("no CUDA device")
    return trt


def _check_against_golden(folder, golden_dir, precision):
    from amma_edge.runtime.runners.model import open_model

    share = TOLERANCE[precision]
    with open_model(folder, backend="trt") as model:
        assert model.backend == "trt" and model.precision == precision
        for graph, runner in model.runners.items():
            golden = load_golden(golden_dir / "golden" / f"{graph}.npz")
            outputs = {k: np.array(v) for k, v in runner.infer(golden.inputs).items()}
            atol = {name: share * float(np.abs(ref).max()) for name, ref in golden.outputs.items()}
            report = compare_golden(outputs, golden, rtol=share, atol=atol)
            assert report.passed, str(report)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engines_reproduce_the_golden_outputs(gpu, exported_folder, tmp_path, precision):
    out = tmp_path / precision
    result = build_engines(exported_folder, out, BuildConfig(precision=precision))
    assert [e.path.name for e in result.engines] == ["encoder.engine", "head.engine"]
    header = read_plan_header(out / "encoder.engine")
    assert header["precision"] == precision and header["engine"]["tensorrt_version"] == gpu.__version__
    assert ("TF32" not in header["engine"]["flags"]) if precision == "fp32" else ("FP16" in header["engine"]["flags"])
    assert load_bundle(out, kind="engine").streaming
    _check_against_golden(out, out, precision)


def test_timing_cache_is_written_and_reused(gpu, exported_folder, tmp_path):
    cache = tmp_path / "caches" / "tiny.cache"
    first = build_engines(exported_folder, tmp_path / "a", BuildConfig(precision="fp16", timing_cache=cache))
    assert cache.is_file() and first.timing_cache["saved_bytes"] == cache.stat().st_size > 0
    assert first.timing_cache["loaded_bytes"] == 0
    size = cache.stat().st_size
    second = build_engines(exported_folder, tmp_path / "b", BuildConfig(precision="fp16", timing_cache=cache))
    assert second.timing_cache["loaded_bytes"] == size
    assert read_plan_header(tmp_path / "b" / "head.engine")["engine"]["timing_cache"]["loaded_bytes"] == size


def test_dynamic_batch_on_a_static_export_is_refused_after_parsing(gpu, exported_folder, tmp_path):
    with pytest.raises(AmmaEdgeError, match="static batch"):
        build_engines(exported_folder, tmp_path / "d", BuildConfig(precision="fp16", dynamic_batch=(1, 2, 4)))
    assert not list((tmp_path / "d").glob("*.engine"))


def test_cli_builds_into_the_model_folder(gpu, model_dir):
    from amma_edge.cli import main

    result = CliRunner().invoke(main, ["build", "--model", str(model_dir), "--precision", "fp16"])
    assert result.exit_code == 0, result.output
    assert "encoder.engine" in result.output and "head.engine" in result.output
    _check_against_golden(model_dir, model_dir, "fp16")


def test_dla_engine_with_gpu_fallback(gpu, exported_folder, tmp_path):
    builder = gpu.Builder(gpu.Logger(gpu.Logger.WARNING))
    if builder.num_DLA_cores == 0:
        pytest.skip("this device has no DLA")
    out = tmp_path / "dla"
    build_engines(exported_folder, out, BuildConfig(precision="fp16", dla_core=0))
    assert "GPU_FALLBACK" in read_plan_header(out / "head.engine")["engine"]["flags"]
    _check_against_golden(out, out, "fp16")


def test_int8_engine_from_a_calibrated_folder(gpu, exported_folder, tmp_path):
    from amma_edge.cli import main

    if importlib.util.find_spec("amma_edge.calibration") is None or "calibrate" not in main.commands:
        pytest.skip("amma-edge calibrate does not exist yet: no Q/DQ folder to build from")
    import shutil

    from amma_edge.runtime.runners.model import open_model

    model = shutil.copytree(exported_folder, tmp_path / "tiny")
    calibrated = CliRunner().invoke(main, ["calibrate", "--model", str(model)])
    assert calibrated.exit_code == 0, calibrated.output
    qdq = tmp_path / "tiny-int8"
    result = build_engines(qdq, config=BuildConfig(precision="int8"))
    header = result.engines[0].header
    assert header["precision"] == "int8" and header["engine"]["strongly_typed"] is True
    share = TOLERANCE["int8"]
    # Against the Q/DQ graphs on ONNX Runtime: the same quantization, so closer than against PyTorch fp32.
    with open_model(qdq, backend="trt") as engines, open_model(qdq, backend="ort") as reference:
        for graph in engines.runners:
            golden = load_golden(qdq / "golden" / f"{graph}.npz")
            got = {k: np.array(v) for k, v in engines.runners[graph].infer(golden.inputs).items()}
            want = reference.runners[graph].infer(golden.inputs)
            for name, ref in want.items():
                np.testing.assert_allclose(got[name], ref, rtol=share, atol=share * float(np.abs(ref).max()))


def test_torch_tensorrt_engines_run_like_the_onnx_ones(gpu, exported_folder, tiny_checkpoint, tmp_path):
    pytest.importorskip("torch_tensorrt", reason="Torch-TensorRT is not installed")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("torch was built without CUDA")
    out = tmp_path / "torchtrt"
    result = build_engines(exported_folder, out, BuildConfig(precision="fp16", via="torch-tensorrt",
                                                             checkpoint=tiny_checkpoint))
    assert result.engines[0].header["engine"]["builder"] == "torch-tensorrt"
    _check_against_golden(out, out, "fp16")
