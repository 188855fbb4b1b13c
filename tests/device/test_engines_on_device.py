"""On a GPU machine with TensorRT (`make test-device`): engines built from a tiny export reproduce the golden
outputs saved at export, the bench runs them through the streaming pipeline, and the bundled demo model's
speed holds against the baseline committed for this kind of device (benches/baselines/<device>.json).

The same harness runs on the CPU with ONNX Runtime in tests/bench/. Nothing here imports TensorRT at
collection time: each test skips (conftest.py), saying why, where TensorRT, cuda-python or the build stage is
missing.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from amma_edge.bench.golden_check import check_golden, tolerance_for

pytestmark = pytest.mark.device
REPO = Path(__file__).resolve().parents[2]
BASELINES = REPO / "benches" / "baselines"


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engines_of_a_tiny_export_reproduce_its_golden_outputs(tiny_export, tmp_path, precision):
    from amma_edge.build.builder import BuildConfig, build_engines
    from amma_edge.runtime.runners.model import open_model

    out = tmp_path / precision
    build_engines(tiny_export, out, BuildConfig(precision=precision))
    with open_model(out, "trt") as model:
        assert model.backend == "trt" and model.precision == precision
        reports = check_golden(model, tiny_export, tolerance_for("trt", precision))
    assert set(reports) == {"encoder", "head"}
    failed = [str(r) for r in reports.values() if not r.passed]
    assert not failed, "\n".join(failed)


def test_the_bench_streams_the_engines_and_they_pass_the_golden_check(tiny_export, tmp_path):
    from amma_edge.bench.bench import run_bench
    from amma_edge.bench.config import BenchConfig

    config = BenchConfig(model=tiny_export, backends=("trt",), precisions=("fp32", "fp16"), frames=40, warmup=8,
                         engine_cache=tmp_path / "engines")
    rows = {r.precision: r for r in run_bench(config).rows}
    for precision, row in rows.items():
        assert row.ok, f"trt {precision}: {row.status}"
        assert row.fps and row.engine_fps and row.engine_fps >= row.fps
        assert row.golden and row.golden["passed"], row.golden
        assert row.build and row.build["built"]
    again = run_bench(config).rows  # the second run reuses the cached engines
    assert all(r.ok and r.build and r.build["built"] is False and r.build["reason"] == "cached" for r in again)


def _baseline_model(baseline: dict) -> Path | None:
    """The model folder the baseline measured, where it is here: the bundled demo model, or its path as
    recorded (relative to the repository) when that folder holds the same checkpoint."""
    from amma_edge.demo import FP32_DIR
    from amma_edge.export.bundle import load_bundle

    sha = baseline["model"].get("checkpoint_sha256")
    recorded = Path(baseline["model"].get("path", ""))
    for candidate in (FP32_DIR, recorded if recorded.is_absolute() else REPO / recorded):
        if (candidate / "model.json").is_file() and load_bundle(candidate).checkpoint_sha256 == sha:
            return candidate
    return None


def test_latency_holds_against_the_committed_baseline_of_this_device(tmp_path):
    from amma_edge.bench.bench import run_bench
    from amma_edge.bench.config import BenchConfig
    from amma_edge.bench.machine import describe_machine, device_slug
    from amma_edge.bench.regression import compare_reports, load_report

    slug = device_slug(describe_machine())
    path = BASELINES / f"{slug}.json"
    if not path.is_file():
        where = path.relative_to(REPO)
        pytest.skip(f"no baseline committed for this kind of device ({where}): record one with `amma-edge bench "
                    f"--model amma_edge/demo/model --backends trt,ort-cuda --json {where}`")
    baseline = load_report(path)
    model = _baseline_model(baseline)
    if model is None:
        pytest.skip(f"{path.name} measured a model that is not here (checkpoint "
                    f"{str(baseline['model'].get('checkpoint_sha256'))[:12]}…)")
    ran = [r for r in baseline["rows"] if r.get("state") == "ok"]
    settings = baseline.get("settings", {})
    config = BenchConfig(model=model, backends=tuple(dict.fromkeys(r["backend"] for r in ran)),
                         precisions=tuple(dict.fromkeys(r["precision"] for r in ran)),
                         frames=int(settings.get("frames", 120)), warmup=int(settings.get("warmup", 16)),
                         threads=settings.get("threads"), engine_cache=tmp_path / "engines")
    comparison = compare_reports(run_bench(config).document, baseline, baseline_name=str(path))
    assert comparison.passed, comparison.format()
