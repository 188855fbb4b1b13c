"""`amma-edge calibrate` on the command line: it prints the comparison table, and every mistake a user can make
gets a one-line answer instead of a traceback."""
import json

import pytest
from click.testing import CliRunner

from amma_edge.cli import main

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def calibrate(*args):
    return CliRunner().invoke(main, ["calibrate", *map(str, args)])


def one_line_error(result, *fragments):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    error = [line for line in lines if line.startswith("Error")]
    assert len(error) == 1, result.output
    for fragment in fragments:
        assert fragment in error[0], result.output


def test_calibrate_writes_the_int8_folder_and_prints_the_table(tiny_export, tiny_data, tmp_path):
    out = tmp_path / "int8"
    result = calibrate("--model", tiny_export, "--data", tiny_data, "--out", out, "--samples", 4, "--method",
                       "percentile", "--percentile", 99.9, "--no-eval", "--threads", 1, "--trt-version", "10.3.0")
    assert result.exit_code == 0, result.output
    assert "warning: encoder: calibrating on 4 input(s)" in result.output
    assert "speed-up" in result.output and f"wrote {out}" in result.output
    report = json.loads((out / "calibration_report.json").read_text())
    assert report["method"] == "percentile" and report["percentile"] == 99.9 and report["accuracy"] is None
    assert (out / "calibration" / "head.cache").read_text().startswith("TRT-100300-EntropyCalibration2\n")


def test_user_errors_are_one_line(tiny_export, tiny_data, tmp_path, calibrated):
    one_line_error(calibrate("--model", tmp_path / "missing", "--data", tiny_data), "does not exist")
    one_line_error(calibrate("--model", tiny_export, "--data", tmp_path / "nodata", "--out", tmp_path / "o"),
                   "dataset", "does not exist")
    int8 = calibrated[0].out
    one_line_error(calibrate("--model", int8, "--data", tiny_data, "--out", tmp_path / "o2"), "fp32 export")
    one_line_error(calibrate("--model", tiny_export, "--data", tiny_data, "--keep-float", "some"),
                   "neither a number of layers nor 'auto'")
    one_line_error(calibrate("--model", tiny_export, "--data", tiny_data, "--keep-float", "auto", "--no-eval",
                             "--out", tmp_path / "o3"), "--no-eval")
    one_line_error(calibrate("--model", tiny_export, "--data", tiny_data, "--trt-version", "x", "--out",
                             tmp_path / "o4"), "MAJOR.MINOR.PATCH")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    one_line_error(calibrate("--model", tiny_export, "--data", tiny_data, "--out", full), "--force")
    one_line_error(calibrate("--model", tiny_export, "--data", tiny_data, "--out", tiny_export, "--force"),
                   "is the model folder itself")
    assert (full / "keep.txt").read_text() == "x"
