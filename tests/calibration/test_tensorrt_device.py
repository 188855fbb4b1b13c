"""On a machine with TensorRT (10 or newer) and a GPU: the Q/DQ graphs build as explicit-quantization engines
whose convolutions run in INT8, and the calibration caches feed TensorRT's implicit INT8 calibration.

Run with `make test-device`; elsewhere these tests skip (TensorRT is imported inside the tests, never at
collection). The TensorRT calls are the documented Python API: OnnxParser, a strongly typed network,
build_serialized_network, the engine inspector, IInt8EntropyCalibrator2.read_calibration_cache.
"""
import importlib.util
import json

import pytest

# find_spec looks for the package without importing it, so the skip costs nothing (the fixtures calibrate).
pytestmark = [pytest.mark.device,
              pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None,
                                 reason="TensorRT is not installed (JetPack or `pip install tensorrt`)")]


def _tensorrt():
    trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed (JetPack or `pip install tensorrt`)")
    if int(trt.__version__.split(".")[0]) < 10:
        pytest.skip(f"TensorRT {trt.__version__}: these checks use the TensorRT 10 API")
    return trt


def _network(trt, builder, onnx_bytes: bytes, flags: int):
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt.Logger(trt.Logger.WARNING))
    if not parser.parse(onnx_bytes):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        pytest.fail("TensorRT's ONNX parser refused the graph: " + "; ".join(errors))
    return network, parser


def _layers(trt, plan: bytes) -> list[dict]:
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(plan)
    inspector = engine.create_engine_inspector()
    return json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))["Layers"]


@pytest.mark.parametrize("graph", ["encoder", "head"])
def test_qdq_graphs_build_strongly_typed_with_int8_convolutions(calibrated, graph):
    trt = _tensorrt()
    result, _ = calibrated
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, _parser = _network(trt, builder, (result.out / f"{graph}.onnx").read_bytes(),
                                1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, "TensorRT could not build the Q/DQ graph"
    layers = _layers(trt, bytes(plan))
    assert any("Int8" in json.dumps(layer) for layer in layers), "no layer of the engine runs in INT8"


def test_the_calibration_cache_drives_implicit_int8_calibration(calibrated, tiny_export):
    trt = _tensorrt()
    if not hasattr(trt, "IInt8EntropyCalibrator2"):
        pytest.skip(f"TensorRT {trt.__version__} has no implicit INT8 calibration any more")
    from amma_edge.calibration.trt_cache import read_cache

    result, _ = calibrated
    cache = read_cache(result.out / "calibration" / "head.cache").retarget(trt.__version__)
    reads = []

    class CacheOnly(trt.IInt8EntropyCalibrator2):
        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            return None  # no data: the cache must be used

        def read_calibration_cache(self):
            reads.append(True)
            return cache.to_text().encode()

        def write_calibration_cache(self, data):
            return None

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, _parser = _network(trt, builder, (tiny_export / "head.onnx").read_bytes(), 0)
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.INT8)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    config.int8_calibrator = CacheOnly()
    plan = builder.build_serialized_network(network, config)
    assert plan is not None and reads
    assert any("Int8" in json.dumps(layer) for layer in _layers(trt, bytes(plan)))
