"""`amma-edge bench` end to end on a tiny export: the table, the JSON a user reads, the chart, the rows that
cannot run here saying why, and the regression check's exit status against doctored baselines."""
import json

import pytest
from click.testing import CliRunner

from amma_edge.cli import main

FAST = ["--frames", "8", "--warmup", "4", "--threads", "1"]


def bench(*args):
    return CliRunner().invoke(main, ["bench", *FAST, *map(str, args)])


@pytest.fixture(scope="module")
def full_run(tiny_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "bench.json"
    result = bench("--model", tiny_export, "--json", out)
    return result, out


def rows_by_key(report):
    return {(r["backend"], r["precision"]): r for r in report["rows"]}


def test_every_combination_gets_a_row_and_the_unavailable_ones_say_why(full_run, tiny_export):
    result, out = full_run
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = rows_by_key(report)
    assert len(rows) == 12  # 4 backends × 3 precisions
    assert rows[("ort-cpu", "fp32")]["status"] == "ok" and rows[("torch", "fp32")]["status"] == "ok"
    assert rows[("ort-cpu", "int8")]["status"].startswith("not available here: no INT8 model: run `amma-edge calibrate")
    assert f"{tiny_export.name}-int8" in rows[("ort-cpu", "int8")]["status"]
    assert "CUDAExecutionProvider" in rows[("ort-cuda", "fp32")]["status"]
    assert rows[("trt", "fp16")]["status"].startswith("not available here: tensorrt not installed")
    assert "fp16 needs CUDA" in rows[("ort-cpu", "fp16")]["status"]
    assert "fp16 needs CUDA" in rows[("torch", "fp16")]["status"]
    for line in ("backend", "precision", "status", "FPS", "engine FPS", "p99 ms"):
        assert line in result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("backend "))
    table = [line.split()[:3] for line in lines[header + 2:header + 14]]
    assert table[0] == ["ort-cpu", "fp32", "ok"] and table[9] == ["torch", "fp32", "ok"]
    assert table[6][:2] == ["trt", "fp32"] and table[6][2] == "n/a"
    assert "tensorrt not installed" in result.output  # the reasons are printed under the table


def test_the_json_carries_every_figure_and_the_machine(full_run, tiny_export):
    _, out = full_run
    report = json.loads(out.read_text())
    row = rows_by_key(report)[("ort-cpu", "fp32")]
    lat = row["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
    assert row["fps"] > 0 and row["engine_fps"] >= row["fps"]  # the engines are part of each clip's time
    assert row["frames"] == 8 and row["steps"] == 2  # t = 4: two timed clips after one warm-up clip
    onnx_mb = sum((tiny_export / f).stat().st_size for f in ("encoder.onnx", "head.onnx")) / 1e6
    assert row["size_mb"] == pytest.approx(onnx_mb, abs=1e-3)
    assert row["peak_rss_mb"] > 10 and row["golden"]["passed"] is True
    assert row["timing_ms"]["total"]["count"] == 2 and "encoder" in row["timing_ms"]
    assert report["model"]["checkpoint_sha256"] and report["model"]["name"] == "amma-s"
    machine = report["machine"]
    assert machine["cpu"] and machine["cores_logical"] >= 1 and machine["ram_gib"] > 0
    assert machine["versions"]["onnxruntime"] and machine["versions"]["torch"]
    assert report["telemetry_sources"]["sources"]["host"] == "ok"
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_frame_map_is_scored_through_the_backend_with_data(tiny_export, tiny_dataset, tmp_path):
    out = tmp_path / "b.json"
    result = bench("--model", tiny_export, "--backends", "ort-cpu", "--precisions", "fp32", "--data", tiny_dataset,
                   "--json", out)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["rows"]
    assert row["frame_map"] is not None and 0.0 <= row["frame_map"] <= 100.0
    assert row["evaluation"]["videos"] == 2 and row["evaluation"]["frames_scored"] > 0
    assert "frame-mAP" in result.output


def doctored(report_path, tmp_path, name, factor):
    report = json.loads(report_path.read_text())
    for row in report["rows"]:
        if row.get("fps"):
            row["fps"] *= factor
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def test_a_faster_baseline_fails_the_run_and_a_slower_one_passes(full_run, tiny_export, tmp_path):
    _, first = full_run
    faster = doctored(first, tmp_path, "faster.json", 100.0)
    result = bench("--model", tiny_export, "--backends", "ort-cpu", "--precisions", "fp32", "--baseline", faster,
                   "--json", tmp_path / "now.json", "--no-chart")
    assert result.exit_code == 3, result.output
    assert "REGRESSION" in result.output and "ort-cpu fp32 FPS" in result.output
    comparison = json.loads((tmp_path / "now.json").read_text())["comparison"]
    assert comparison["passed"] is False
    # The torch row of the baseline was not run this time: reported, not judged.
    assert any(f["backend"] == "torch" and f["verdict"] == "missing" for f in comparison["findings"])

    slower = doctored(first, tmp_path, "slower.json", 0.01)
    result = bench("--model", tiny_export, "--backends", "ort-cpu", "--precisions", "fp32", "--baseline", slower,
                   "--json", tmp_path / "again.json", "--no-chart")
    assert result.exit_code == 0, result.output
    assert "no regression" in result.output and "improved" in result.output


def test_a_baseline_of_another_model_is_refused_before_running(full_run, tiny_export, tmp_path):
    _, first = full_run
    report = json.loads(first.read_text())
    report["model"]["checkpoint_sha256"] = "f" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(report))
    result = bench("--model", tiny_export, "--backends", "ort-cpu", "--baseline", other, "--json", tmp_path / "x.json")
    assert result.exit_code == 1 and "another model" in result.output and "--force-compare" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.json").exists()
    forced = bench("--model", tiny_export, "--backends", "ort-cpu", "--precisions", "fp32", "--baseline", other,
                   "--force-compare", "--json", tmp_path / "y.json", "--no-chart", "--max-slowdown", "99%")
    assert forced.exit_code == 0, forced.output
    assert "compared anyway" in forced.output


def test_user_errors_are_one_line(tiny_export, tmp_path):
    not_bench = tmp_path / "not-bench.json"
    not_bench.write_text("{}")
    for args, text in [
        (["--model", tiny_export, "--backends", "ort-gpu"], "unknown backend(s) ort-gpu"),
        (["--model", tiny_export, "--precisions", "fp64"], "unknown precision(s) fp64"),
        (["--model", tiny_export, "--max-slowdown", "fast"], "--max-slowdown must be a percentage"),
        (["--model", tmp_path / "missing"], "does not exist"),
        (["--model", tiny_export, "--baseline", not_bench], "is not a report of `amma-edge bench`"),
        (["--model", tiny_export, "--baseline", tmp_path / "none.json"], "does not exist"),
    ]:
        result = bench(*args)
        assert result.exit_code == 1 and text in result.output and "Traceback" not in result.output, result.output


def test_a_failing_combination_is_reported_in_its_row_and_the_others_still_run(tiny_export, tmp_path):
    from bench_fixtures import save_tiny_checkpoint

    other = save_tiny_checkpoint(tmp_path / "other.pt", seed=3)
    out = tmp_path / "b.json"
    result = bench("--model", tiny_export, "--backends", "torch,ort-cpu", "--precisions", "fp32", "--checkpoint",
                   other, "--json", out, "--no-chart")
    assert result.exit_code == 0, result.output
    rows = rows_by_key(json.loads(out.read_text()))
    assert rows[("torch", "fp32")]["status"].startswith("failed: ") and "is not the checkpoint" in \
        rows[("torch", "fp32")]["status"]
    assert rows[("ort-cpu", "fp32")]["status"] == "ok" and rows[("ort-cpu", "fp32")]["fps"] > 0
    assert "FAILED [1]" in result.output and not out.with_suffix(".png").exists()
