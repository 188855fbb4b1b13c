"""The build stage's checks and file handling, with a compiler double standing in for TensorRT."""
import json

import pytest
from build_fixtures import RecordingCompiler

from amma_edge.build.builder import BUILD_JSON, build_engines
from amma_edge.build.options import BuildConfig
from amma_edge.build.plan import read_plan
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import load_bundle
from amma_edge.export.golden import load_golden


def _hidden(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_one_engine_per_graph_beside_the_onnx_graphs_by_default(model_dir):
    compiler = RecordingCompiler()
    result = build_engines(model_dir, config=BuildConfig(precision="fp16"), compiler=compiler)

    assert [g for g, _ in compiler.compiled] == ["encoder", "head"]
    assert [s.name for _, s in compiler.compiled] == ["encoder.onnx", "head.onnx"]
    assert compiler.finished and compiler.closed
    assert result.out == model_dir and [e.path.name for e in result.engines] == ["encoder.engine", "head.engine"]
    header, plan = read_plan(model_dir / "head.engine")
    assert plan == b"test-plan:head" and header["precision"] == "fp16" and header["engine"]["source"] == "head.onnx"
    engines = load_bundle(model_dir, kind="engine")  # the runtime's check of an engine folder, model.json included
    assert engines.checkpoint_sha256 == load_bundle(model_dir).checkpoint_sha256
    record = json.loads((model_dir / BUILD_JSON).read_text())
    assert record["config"]["precision"] == "fp16" and record["engines"]["encoder"]["file"] == "encoder.engine"
    assert _hidden(model_dir) == []  # the staging folder is gone


def test_engines_in_another_folder_come_with_the_golden_files(model_dir, tmp_path):
    out = tmp_path / "engines"
    build_engines(model_dir, out, BuildConfig(precision="fp32"), compiler=RecordingCompiler())
    assert sorted(p.name for p in out.iterdir()) == ["build.json", "encoder.engine", "golden", "head.engine"]
    golden = load_golden(out / "golden" / "head.npz")
    assert golden.graph == "head" and load_bundle(out, kind="engine").golden("encoder") is not None


def test_a_failed_build_leaves_no_engine_and_keeps_the_old_ones(model_dir):
    build_engines(model_dir, config=BuildConfig(precision="fp16"), compiler=RecordingCompiler())
    before = {p: p.read_bytes() for p in model_dir.glob("*.engine")}

    with pytest.raises(AmmaEdgeError, match="could not build the head engine"):
        build_engines(model_dir, config=BuildConfig(precision="fp32", force=True),
                      compiler=RecordingCompiler(fail_on="head"))
    assert {p: p.read_bytes() for p in model_dir.glob("*.engine")} == before  # no new encoder beside an old head
    assert _hidden(model_dir) == []


def test_a_first_failed_build_writes_nothing(model_dir, tmp_path):
    out = tmp_path / "engines"
    compiler = RecordingCompiler(fail_on="encoder")
    with pytest.raises(AmmaEdgeError):
        build_engines(model_dir, out, BuildConfig(), compiler=compiler)
    assert list(out.iterdir()) == [] and compiler.closed and not compiler.finished


def test_existing_engines_need_force(model_dir):
    build_engines(model_dir, config=BuildConfig(), compiler=RecordingCompiler())
    with pytest.raises(AmmaEdgeError, match="already holds encoder.engine, head.engine: pass --force"):
        build_engines(model_dir, config=BuildConfig(), compiler=RecordingCompiler())
    result = build_engines(model_dir, config=BuildConfig(precision="fp32", force=True), compiler=RecordingCompiler())
    assert read_plan(result.engines[0].path)[0]["precision"] == "fp32"


def test_force_removes_engines_of_another_model_that_would_mix_with_the_new_ones(model_dir, tmp_path):
    out = tmp_path / "engines"
    out.mkdir()
    (out / "model.engine").write_bytes(b"an old A* engine")
    with pytest.raises(AmmaEdgeError, match="model.engine"):
        build_engines(model_dir, out, BuildConfig(), compiler=RecordingCompiler())
    build_engines(model_dir, out, BuildConfig(force=True), compiler=RecordingCompiler())
    assert not (out / "model.engine").exists() and load_bundle(out, kind="engine").streaming


def test_the_timing_cache_record_reaches_the_result_and_build_json(model_dir, tmp_path):
    info = {"path": str(tmp_path / "t.cache"), "loaded_bytes": 0, "saved_bytes": 123}
    result = build_engines(model_dir, config=BuildConfig(timing_cache=tmp_path / "t.cache"),
                           compiler=RecordingCompiler(finish_result=info))
    assert result.timing_cache == info
    assert json.loads((model_dir / BUILD_JSON).read_text())["timing_cache"] == info


def test_user_errors_come_before_any_compiler_is_made(model_dir, int8_folder, tmp_path):
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        build_engines(tmp_path / "missing", config=BuildConfig())
    with pytest.raises(AmmaEdgeError, match="amma-edge calibrate"):
        build_engines(model_dir, config=BuildConfig(precision="int8"))
    with pytest.raises(AmmaEdgeError, match="--precision int8"):
        build_engines(int8_folder, tmp_path / "e", BuildConfig(precision="fp16"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(AmmaEdgeError, match="is a file"):
        build_engines(model_dir, tmp_path / "file", BuildConfig())
    with pytest.raises(AmmaEdgeError, match="--timing-cache .* is a folder"):
        build_engines(model_dir, config=BuildConfig(timing_cache=tmp_path))


def test_int8_builds_from_a_calibrated_folder(int8_folder, tmp_path):
    compiler = RecordingCompiler()
    result = build_engines(int8_folder, tmp_path / "e", BuildConfig(precision="int8"), compiler=compiler)
    header = result.engines[0].header
    assert header["precision"] == "int8" and header["engine"]["source_precision"] == "int8"
