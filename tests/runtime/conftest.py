"""Tiny models for the runtime's tests, made once per session so everything runs in seconds."""
from __future__ import annotations

from pathlib import Path

import pytest
from runtime_fixtures import export_amma, save_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_checkpoint) -> Path:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    return export_amma(tiny_checkpoint, tmp_path_factory.mktemp("export") / "tiny")
