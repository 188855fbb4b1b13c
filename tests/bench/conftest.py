"""One tiny export and one tiny dataset per session: exporting and rendering take seconds even when tiny."""
from __future__ import annotations

from pathlib import Path

import pytest
from bench_fixtures import CLASSES, export_tiny, save_tiny_checkpoint


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread(one_thread):
    """Every bench test runs torch on one thread (see `one_thread` in tests/conftest.py)."""


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    root = tmp_path_factory.mktemp("bench")
    checkpoint = save_tiny_checkpoint(root / "tiny.pt")
    return export_tiny(checkpoint, root / "model")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from amma_edge.data.synth import SynthConfig, write_dataset

    out = tmp_path_factory.mktemp("data") / "synth"
    write_dataset(out, SynthConfig(videos=2, seed=1, width=96, height=72, classes=CLASSES, test_fraction=1.0,
                                   min_frames=16, max_frames=16), workers=1)
    return out
