"""The TensorRT engine cache of the bench, with a compiler double in place of TensorRT: built once, reused,
built again when the export changed or another precision is asked for."""
import os
import shutil
import time

import pytest
from bench_fixtures import PlanCompiler

from amma_edge.bench.engines import ensure_engines, stale_reason
from amma_edge.export.bundle import load_bundle

pytest.importorskip("amma_edge.build.builder")


def test_engines_are_built_once_and_reused(tiny_export, tmp_path):
    folder = tmp_path / "engines" / "fp16"
    compiler = PlanCompiler()
    first = ensure_engines(tiny_export, folder, "fp16", compiler=compiler)
    assert first["built"] and first["reason"] == "no encoder.engine" and compiler.compiled == ["encoder", "head"]
    assert (folder / "encoder.engine").is_file() and (folder / "head.engine").is_file()
    again = ensure_engines(tiny_export, folder, "fp16", compiler=compiler)
    assert again == {"engines": str(folder), "built": False, "reason": "cached"}
    assert compiler.compiled == ["encoder", "head"]  # nothing built the second time
    forced = ensure_engines(tiny_export, folder, "fp16", rebuild=True, compiler=compiler)
    assert forced["built"] and forced["reason"] == "--rebuild-engines"


def test_stale_engines_are_rebuilt(tiny_export, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_export, model)
    folder = tmp_path / "engines"
    ensure_engines(model, folder, "fp16", compiler=PlanCompiler())
    bundle = load_bundle(model)
    assert stale_reason(bundle, folder, "fp16") is None
    assert stale_reason(bundle, folder, "fp32") == "encoder.engine is fp16, not fp32"
    past = time.time() - 60
    os.utime(folder / "head.engine", (past, past))
    os.utime(model / "head.onnx", None)  # the export is newer than its engine now
    assert stale_reason(bundle, folder, "fp16") == "head.onnx is newer than head.engine"
    rebuilt = ensure_engines(model, folder, "fp16", compiler=PlanCompiler())
    assert rebuilt["built"] and rebuilt["reason"] == "head.onnx is newer than head.engine"
