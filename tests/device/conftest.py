"""A tiny AMMA export for the device tests, made by the real export stage (on the CPU, before any engine)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def needs_tensorrt() -> None:
    """Skip, saying what is missing, before any fixture spends time (checked when a test runs, never when
    tests are collected: collecting must work on any machine)."""
    pytest.importorskip("tensorrt", reason="TensorRT is not installed: the device tests need TensorRT 10 and an "
                                           "NVIDIA GPU (JetPack on Jetson, `pip install tensorrt` elsewhere)")
    pytest.importorskip("cuda", reason="cuda-python is not installed: pip install cuda-python (matching CUDA)")
    pytest.importorskip("amma_edge.build.builder", reason="the build stage (amma_edge.build.builder) is missing")


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    pytest.importorskip("onnx")
    import torch

    from amma_edge.export.exporter import ExportOptions, export_model
    from amma_edge.models import build, get_config
    from amma_edge.models.config import config_to_dict
    from amma_edge.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    config = get_config("amma-s", num_classes=3, input_size=(32, 64), width=0.5, feature_dim=32, head_conv=32,
                        box_head_conv=16)
    model = build(config).eval()
    root = tmp_path_factory.mktemp("device")
    checkpoint = save_checkpoint(root / "tiny.pt", {"model_config": config_to_dict(config),
                                                    "class_names": ["walk", "wave", "sit_down"],
                                                    "model": model.state_dict(), "metrics": {}})
    return export_model(checkpoint, root / "model", ExportOptions(simplify=True, random_samples=1)).out
