"""Fixtures of the export tests: one export of a tiny AMMA checkpoint, shared because tracing, even of a tiny
model, takes seconds."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from export_fixtures import save_tiny_checkpoint


@pytest.fixture(scope="session")
def one_thread():
    """torch on one thread: on a loaded 2-core machine two threads make a tiny model's forward 100× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
