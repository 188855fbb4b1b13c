"""Engine headers: the export's metadata with the engine's precision and how it was built."""
import pytest
from build_fixtures import RecordingCompiler

from amma_edge.build.header import describe_engine, engine_header
from amma_edge.build.options import BuildConfig
from amma_edge.build.plan import read_plan, read_plan_header, write_plan
from amma_edge.export.bundle import load_bundle
from amma_edge.export.metadata import ModelMetadata, read_metadata
from amma_edge.fileio import file_sha256


def _details(**overrides):
    details = RecordingCompiler().compile("encoder", None, None).details  # type: ignore[arg-type]
    details.update(overrides)
    return details


def test_header_is_the_graph_metadata_with_the_engine_precision_and_build_facts(exported_folder, tmp_path):
    source = exported_folder / "encoder.onnx"
    meta = read_metadata(source)
    config = BuildConfig(precision="fp16", workspace_gib=1.5, timing_cache=tmp_path / "t.cache")
    header = engine_header(meta, config, _details(), source=source, source_sha256=file_sha256(source))

    assert header["precision"] == "fp16" and meta.precision == "fp32"
    for key in ("graph", "model_config", "class_names", "inputs", "outputs", "output_layout", "checkpoint_sha256"):
        assert header[key] == meta.to_dict()[key]
    engine = header["engine"]
    assert engine["source"] == "encoder.onnx" and engine["source_sha256"] == file_sha256(source)
    assert engine["source_precision"] == "fp32" and engine["workspace_gib"] == 1.5
    assert engine["timing_cache"] == str(tmp_path / "t.cache") and engine["dla_core"] is None
    assert engine["tensorrt_version"] == "0.0-test" and engine["device"]["compute_capability"] == "8.7"
    assert engine["flags"] == ["FP16"] and engine["build_seconds"] == 0.25

    # The runtime reads it back as the same model at the engine's precision.
    back = ModelMetadata.from_dict(header, "engine")
    assert back == meta.replace(precision="fp16")


def test_measured_details_win_over_the_config(exported_folder):
    meta = read_metadata(exported_folder / "head.onnx")
    header = engine_header(meta, BuildConfig(), _details(timing_cache={"path": "c", "loaded_bytes": 7}))
    assert header["engine"]["timing_cache"] == {"path": "c", "loaded_bytes": 7}


def test_a_compiler_that_reports_too_little_is_a_programming_error(exported_folder):
    meta = read_metadata(exported_folder / "head.onnx")
    with pytest.raises(ValueError, match="tensorrt_version"):
        engine_header(meta, BuildConfig(), {"builder": "x", "device": {}, "flags": [], "strongly_typed": False,
                                            "build_seconds": 0})


def test_engine_files_with_these_headers_form_a_bundle_the_runtime_accepts(exported_folder, tmp_path):
    for graph in ("encoder", "head"):
        meta = read_metadata(exported_folder / f"{graph}.onnx")
        write_plan(tmp_path / f"{graph}.engine", engine_header(meta, BuildConfig(), _details()), b"plan")
    bundle = load_bundle(tmp_path, kind="engine")
    assert list(bundle.graphs) == ["encoder", "head"] and bundle.first.precision == "fp16"
    header, plan = read_plan(tmp_path / "head.engine")
    assert plan == b"plan" and read_plan_header(tmp_path / "head.engine") == header


def test_describe_engine_names_precision_version_device_and_time(exported_folder):
    meta = read_metadata(exported_folder / "encoder.onnx")
    text = describe_engine(engine_header(meta, BuildConfig(precision="int8", dla_core=1), _details()))
    assert text == "int8, TensorRT 0.0-test on test GPU (sm_87), DLA core 1, 0.2 s"
