"""Fixtures of the calibration tests: a tiny AMMA export (32×64, K=2, t=2) with golden files and model.json, a
tiny synthetic dataset with the same classes, and one calibration of them, each made once per session."""
from __future__ import annotations

from pathlib import Path

import pytest
from calibration_fixtures import save_tiny_checkpoint, write_tiny_dataset


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, one_thread) -> Path:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from amma_edge.export.exporter import ExportOptions, export_model

    root = tmp_path_factory.mktemp("calib-export")
    checkpoint = save_tiny_checkpoint(root / "tiny.pt")
    return export_model(checkpoint, root / "model", ExportOptions(simplify=False)).out


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("calib-data") / "data")


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory, tiny_export, tiny_data):
    """(CalibrationResult, log lines) of the tiny export calibrated with entropy on 12 inputs, evaluated."""
    from amma_edge.calibration.calibrate import calibrate_model
    from amma_edge.calibration.options import CalibrationOptions

    lines: list[str] = []
    out = tmp_path_factory.mktemp("calib-out") / "model-int8"
    result = calibrate_model(tiny_export, tiny_data, out, CalibrationOptions(samples=12, threads=1, latency_runs=3,
                                                                            report_samples=8), log=lines.append)
    return result, lines
