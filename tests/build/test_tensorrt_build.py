"""The TensorRT compiler's own decisions (flags, profiles, timing cache, failure messages), run against the
recording stand-in of `fake_tensorrt`; the real TensorRT is exercised by `test_device_build.py`."""
import sys
import types

import fake_tensorrt as fake
import pytest

from amma_edge.build.builder import build_engines
from amma_edge.build.options import BuildConfig
from amma_edge.build.plan import read_plan, read_plan_header
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import load_bundle


@pytest.fixture()
def trt(monkeypatch, exported_folder):
    bundle = load_bundle(exported_folder)
    fake.reset({g: dict(m.inputs) for g, m in bundle.metadata.items()})
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    runtime = fake.cudart_module()
    cuda.bindings, bindings.runtime = bindings, runtime
    for name, module in {"tensorrt": fake.tensorrt_module(), "cuda": cuda, "cuda.bindings": bindings,
                         "cuda.bindings.runtime": runtime}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return fake.state


def _flags(config):
    return {f.value for f in config.flags}


def test_fp16_sets_the_fp16_flag_on_a_weakly_typed_network(trt, model_dir):
    result = build_engines(model_dir, config=BuildConfig(precision="fp16", workspace_gib=0.5))
    assert trt.parsed == ["encoder", "head"] and [n.flags for n in trt.networks] == [0, 0]
    assert all(_flags(c) == {"FP16", "TF32"} for c in trt.configs)
    assert all(c.pools[fake.MemoryPoolType.WORKSPACE] == 1 << 29 for c in trt.configs)
    assert all(c.profiles == [] for c in trt.configs)  # the export is static
    header, plan = read_plan(model_dir / "head.engine")
    assert plan == b"plan-of-2"
    engine = header["engine"]
    assert engine["tensorrt_version"] == "10.3.0-test" and engine["flags"] == ["FP16", "TF32"]
    assert engine["device"] == {"index": 0, "name": "Orin (test)", "compute_capability": "8.7", "integrated": True}
    assert engine["strongly_typed"] is False and engine["builder"] == "tensorrt"
    assert "fp16, TensorRT 10.3.0-test on Orin (test) (sm_87)" in result.engines[1].summary()


def test_fp32_means_fp32_tf32_is_cleared(trt, model_dir):
    build_engines(model_dir, config=BuildConfig(precision="fp32"))
    assert all(_flags(c) == set() for c in trt.configs)


def test_qdq_graphs_build_strongly_typed_without_precision_flags(trt, int8_folder, tmp_path):
    build_engines(int8_folder, tmp_path / "e", BuildConfig(precision="int8"))
    strongly = 1 << int(fake.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    assert [n.flags for n in trt.networks] == [strongly, strongly]
    assert all(_flags(c) == {"TF32"} for c in trt.configs)
    assert read_plan_header(tmp_path / "e" / "encoder.engine")["engine"]["strongly_typed"] is True


def test_qdq_graphs_weakly_typed_get_int8_and_fp16(trt, int8_folder, tmp_path):
    build_engines(int8_folder, tmp_path / "e", BuildConfig(precision="int8", strongly_typed=False))
    assert [n.flags for n in trt.networks] == [0, 0]
    assert all(_flags(c) == {"INT8", "FP16", "TF32"} for c in trt.configs)


def test_dla_builds_set_the_core_and_gpu_fallback(trt, model_dir):
    trt.dla_cores = 2
    build_engines(model_dir, config=BuildConfig(precision="fp16", dla_core=1))
    config = trt.configs[0]
    assert config.default_device_type == fake.DeviceType.DLA and config.DLA_core == 1
    assert "GPU_FALLBACK" in _flags(config)
    assert read_plan_header(model_dir / "encoder.engine")["engine"]["dla_core"] == 1


def test_a_dla_core_the_device_lacks_is_reported(trt, model_dir):
    with pytest.raises(AmmaEdgeError, match="has 0 DLA core"):
        build_engines(model_dir, config=BuildConfig(precision="fp16", dla_core=0))
    assert not list(model_dir.glob("*.engine"))


def test_parser_errors_name_the_nodes(trt, model_dir):
    trt.parser_errors = [fake.ParserError(3, "Conv_3", "Conv", "no\nimplementation")]
    with pytest.raises(AmmaEdgeError) as error:
        build_engines(model_dir, config=BuildConfig())
    message = str(error.value)
    assert "node 3 Conv_3 (Conv): UNSUPPORTED_NODE: no implementation" in message and "\n" not in message
    assert "encoder.onnx" in message and not list(model_dir.glob("*.engine"))


def test_a_failed_build_reports_tensorrts_errors_and_writes_nothing(trt, model_dir):
    trt.fail_build = True
    lines = []
    with pytest.raises(AmmaEdgeError, match="could not build the encoder engine .*: out of workspace"):
        build_engines(model_dir, config=BuildConfig(), log=lines.append)
    assert any(line.startswith("tensorrt error:") for line in lines)
    assert not list(model_dir.glob("*.engine")) and not (model_dir / "build.json").exists()


def test_one_timing_cache_serves_every_graph_and_is_written_back(trt, model_dir, tmp_path):
    cache = tmp_path / "caches" / "t.cache"
    cache.parent.mkdir()
    cache.write_bytes(b"earlier")
    result = build_engines(model_dir, config=BuildConfig(timing_cache=cache))
    assert trt.configs[0].timing_cache is trt.configs[1].timing_cache is not None
    assert cache.read_bytes() == b"earlier+built"
    assert result.timing_cache == {"path": str(cache), "loaded_bytes": 7, "saved_bytes": 13}
    assert read_plan_header(model_dir / "head.engine")["engine"]["timing_cache"]["loaded_bytes"] == 7
    assert [p.name for p in cache.parent.iterdir()] == ["t.cache"]  # no temp file left


def test_a_timing_cache_from_another_device_is_replaced_with_a_warning(trt, model_dir, tmp_path):
    cache = tmp_path / "t.cache"
    cache.write_bytes(b"other-device")
    lines = []
    build_engines(model_dir, config=BuildConfig(timing_cache=cache), log=lines.append)
    assert any("another TensorRT version or GPU" in line for line in lines)
    assert cache.read_bytes() == b"+built"


def test_dynamic_batch_on_static_graphs_is_refused_after_parsing(trt, model_dir):
    with pytest.raises(AmmaEdgeError, match="static batch 1"):
        build_engines(model_dir, config=BuildConfig(dynamic_batch=(1, 2, 4)))


def test_a_dynamic_batch_graph_gets_an_optimization_profile(trt, model_dir):
    trt.inputs = {g: {n: (-1, *s[1:]) for n, s in shapes.items()} for g, shapes in trt.inputs.items()}
    build_engines(model_dir, config=BuildConfig(dynamic_batch=(1, 2, 4)))
    profile = trt.configs[0].profiles[0]
    (low, opt, high), = profile.shapes.values()
    assert (low[0], opt[0], high[0]) == (1, 2, 4)
    assert read_plan_header(model_dir / "encoder.engine")["engine"]["profile"]["clip"][2][0] == 4
