"""Fixtures of the build tests: one export of a tiny AMMA checkpoint, shared (tracing takes seconds), and
copies of it that tests may change."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from build_fixtures import relabelled_copy, save_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def exported_folder(tmp_path_factory, tiny_checkpoint, one_thread) -> Path:
    """encoder.onnx + head.onnx + golden/ + model.json of the tiny model; never modified by tests."""
    from amma_edge.export.exporter import ExportOptions, export_model

    out = tmp_path_factory.mktemp("export") / "tiny"
    export_model(tiny_checkpoint, out, ExportOptions(random_samples=1))
    return out


@pytest.fixture()
def model_dir(exported_folder, tmp_path) -> Path:
    """A private copy of the export (tests build into it)."""
    return Path(shutil.copytree(exported_folder, tmp_path / "model"))


@pytest.fixture(scope="session")
def int8_folder(exported_folder, tmp_path_factory) -> Path:
    """The export relabelled INT8, named like the calibrate stage names its folders (DIR-int8)."""
    return relabelled_copy(exported_folder, tmp_path_factory.mktemp("calibrated") / "tiny-int8", "int8")
