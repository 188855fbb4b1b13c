"""The golden harness on ONNX Runtime: the tiny export reproduces its golden outputs, and a doctored golden
file (or a doctored tolerance) is caught. The device tests run the same harness on TensorRT engines."""
import shutil

import numpy as np

from amma_edge.bench.golden_check import GoldenTolerance, check_golden, golden_summary, tolerance_for
from amma_edge.export.golden import Golden, golden_path, load_golden, save_golden
from amma_edge.runtime.runners.model import RunnerOptions, open_model


def test_the_export_reproduces_its_golden_outputs_on_onnx_runtime(tiny_export):
    with open_model(tiny_export, "ort", RunnerOptions(threads=1, providers=("cpu",))) as model:
        reports = check_golden(model, tiny_export)
    assert set(reports) == {"encoder", "head"}
    assert all(r.passed for r in reports.values()), "\n".join(str(r) for r in reports.values())
    summary = golden_summary(reports, tolerance_for("ort", "fp32"))
    assert summary["passed"] is True
    assert summary["graphs"]["head"]["outputs"]["center"]["mismatched"] == 0


def test_a_doctored_golden_output_fails_and_names_the_output(tiny_export, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_export, folder)
    golden = load_golden(golden_path(folder, "head"))
    outputs = dict(golden.outputs)
    outputs["box"] = outputs["box"] * 1.05  # 5 % off: far outside fp32's tolerance, as a broken engine would be
    save_golden(golden_path(folder, "head"), Golden("head", golden.inputs, outputs, golden.source))
    with open_model(folder, "ort", RunnerOptions(threads=1, providers=("cpu",))) as model:
        reports = check_golden(model, folder)
        loose = check_golden(model, folder, GoldenTolerance(rtol=0.1, atol_of_range=0.1))
    assert reports["encoder"].passed and not reports["head"].passed
    assert [c.name for c in reports["head"].failures] == ["box"]
    assert loose["head"].passed  # within 10 %: the tolerance decides, as it should
    assert golden_summary(reports, tolerance_for("ort", "fp32"))["passed"] is False


def test_tolerances_loosen_with_precision():
    fp32, fp16, int8 = (tolerance_for("trt", p) for p in ("fp32", "fp16", "int8"))
    assert tolerance_for("ort", "fp32").atol_of_range < fp32.atol_of_range < fp16.atol_of_range <= int8.atol_of_range
    assert np.isfinite(tolerance_for("unknown", "fp8").rtol)


def test_a_folder_without_golden_files_gives_no_reports(tiny_export, tmp_path):
    folder = tmp_path / "bare"
    shutil.copytree(tiny_export, folder, ignore=shutil.ignore_patterns("golden"))
    with open_model(folder, "ort", RunnerOptions(threads=1, providers=("cpu",))) as model:
        assert check_golden(model, folder) == {}
