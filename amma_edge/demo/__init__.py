"""The built-in demo: a small AMMA-S trained on synthetic videos, shipped as ONNX, and the stream it watches.

`amma-edge run` with no arguments uses these, so a fresh clone shows the whole device path (capture, C
preprocessing, encoder, feature cache, head, decode, linking, sinks) with nothing downloaded. The model card
(`model/MODEL_CARD.md`) says how the model was trained and what it scores.
"""
from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
FP32_DIR = DEMO_DIR / "model"
INT8_DIR = DEMO_DIR / "model-int8"
# A stream the demo model was not trained on: a seed far from the training (0) and test (1) sets.
DEMO_SOURCE = "synthetic://?seed=2026&frames=300&size=320x240"


def demo_model_path() -> Path | None:
    """The fp32 demo model, else the INT8 one, else None (a checkout without the shipped models).

    fp32 comes first because `make demo` runs on ONNX Runtime on a CPU, where the TensorRT-style INT8 Q/DQ
    graphs (signed, symmetric) are slower than fp32 (`benches/results/int8.json`); the INT8 folder is the one to
    build TensorRT engines from (`amma-edge build --model amma_edge/demo/model-int8`).
    """
    for folder in (FP32_DIR, INT8_DIR):
        if (folder / "encoder.onnx").is_file() and (folder / "head.onnx").is_file():
            return folder
    return None
