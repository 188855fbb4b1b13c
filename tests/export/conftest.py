"""Fixtures of the export tests: one export of a tiny AMMA checkpoint, shared because tracing, even of a tiny
model, takes seconds."""
from __future__ import annotations

from pathlib import Path

import pytest
from export_fixtures import save_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def exported(tmp_path_factory, tiny_checkpoint, one_thread):
    """(checkpoint, ExportResult) of the tiny model exported with the fused graph, simplified, random inputs."""
    from amma_edge.export.exporter import ExportOptions, export_model

    out = tmp_path_factory.mktemp("export") / "tiny"
    lines: list[str] = []
    result = export_model(tiny_checkpoint, out, ExportOptions(fused=True), log=lines.append)
    result.log = lines
    return tiny_checkpoint, result
