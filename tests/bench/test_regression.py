"""The regression check as a pure function of two reports, on hand-made baselines."""
import copy

import pytest

from amma_edge.bench.regression import compare_reports
from amma_edge.errors import AmmaEdgeError

MACHINE = {"cpu": "AMD EPYC", "gpu": {"name": "NVIDIA H200"}}


def report(*rows, sha="a" * 64, machine=MACHINE):
    return {"model": {"checkpoint_sha256": sha}, "machine": copy.deepcopy(machine), "rows": list(rows)}


def row(backend="ort-cpu", precision="fp32", fps=100.0, frame_map=None, state="ok", reason=""):
    status = "ok" if state == "ok" else f"{'failed' if state == 'failed' else 'not available here'}: {reason}"
    return {"backend": backend, "precision": precision, "state": state, "status": status, "reason": reason,
            "fps": fps if state == "ok" else None, "frame_map": frame_map}


def verdicts(comparison):
    return {(f.backend, f.precision, f.figure): f.verdict for f in comparison.findings}


def test_a_slower_run_fails_and_says_which_figure_moved_and_by_how_much():
    result = compare_reports(report(row(fps=85.0)), report(row(fps=100.0)), max_slowdown=0.10)
    assert not result.passed
    (finding,) = result.regressions
    assert finding.figure == "fps" and finding.baseline == 100.0 and finding.current == 85.0
    assert "100.00 → 85.00" in finding.message and "-15.0%" in finding.message
    assert "REGRESSION" in result.format() and "ort-cpu fp32 FPS" in result.format()


def test_within_the_allowance_or_faster_passes():
    assert compare_reports(report(row(fps=91.0)), report(row(fps=100.0)), max_slowdown=0.10).passed
    faster = compare_reports(report(row(fps=150.0)), report(row(fps=100.0)))
    assert faster.passed and verdicts(faster)[("ort-cpu", "fp32", "fps")] == "improved"
    strict = compare_reports(report(row(fps=97.0)), report(row(fps=100.0)), max_slowdown=0.02)
    assert not strict.passed


def test_a_frame_map_drop_beyond_max_drop_fails():
    base = report(row(fps=100.0, frame_map=60.0))
    assert compare_reports(report(row(fps=100.0, frame_map=59.5)), base, max_drop=1.0).passed
    dropped = compare_reports(report(row(fps=100.0, frame_map=58.0)), base, max_drop=1.0)
    assert [f.figure for f in dropped.regressions] == ["frame_map"]
    assert "-2.00 points" in dropped.regressions[0].message
    without = compare_reports(report(row(fps=100.0)), base)
    assert without.passed and verdicts(without)[("ort-cpu", "fp32", "frame_map")] == "not compared"


def test_missing_rows_are_reported_on_both_sides_and_not_judged():
    current = report(row(), row("trt", "fp16", fps=400.0))
    baseline = report(row(), row("torch", "fp32", fps=20.0))
    result = compare_reports(current, baseline)
    assert result.passed
    v = verdicts(result)
    assert v[("trt", "fp16", "row")] == "missing" and v[("torch", "fp32", "row")] == "missing"


def test_a_row_that_ran_in_the_baseline_and_fails_now_regressed():
    current = report(row("trt", "fp16", state="failed", reason="TensorRT could not build the head engine"),
                     row("ort-cuda", "fp32", state="not available", reason="no CUDAExecutionProvider"))
    baseline = report(row("trt", "fp16", fps=400.0), row("ort-cuda", "fp32", fps=300.0))
    result = compare_reports(current, baseline)
    assert [(f.backend, f.figure) for f in result.regressions] == [("trt", "row")]
    assert "could not build" in result.regressions[0].message
    assert verdicts(result)[("ort-cuda", "fp32", "row")] == "not compared"


def test_another_kind_of_machine_warns_and_another_model_is_refused():
    other_machine = report(row(), machine={"cpu": "ARMv8 Processor rev 1 (v8l)", "gpu": {"name": "Orin"}})
    result = compare_reports(report(row()), other_machine)
    assert result.passed and any("another kind of machine" in w and "Orin" in w for w in result.warnings)
    with pytest.raises(AmmaEdgeError, match="another model.*--force-compare"):
        compare_reports(report(row()), report(row(), sha="b" * 64))
    forced = compare_reports(report(row()), report(row(), sha="b" * 64), force=True)
    assert any("compared anyway" in w for w in forced.warnings)


def test_a_document_that_is_not_a_bench_report_is_refused():
    with pytest.raises(AmmaEdgeError, match="not a report of `amma-edge bench`"):
        compare_reports(report(row()), {"rows": "nope"})
    with pytest.raises(AmmaEdgeError, match="max_slowdown"):
        compare_reports(report(row()), report(row()), max_slowdown=1.5)
