"""A device that has only ONNX Runtime installed must still run `amma-edge run` on an exported model."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "amma_edge" / "demo" / "model"

# Runs the real command line in a fresh interpreter where any import of torch fails, as on a Jetson image
# without PyTorch.
WITHOUT_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed on this device")
sys.meta_path.insert(0, NoTorch())
from amma_edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not (DEMO / "encoder.onnx").is_file(), reason="the demo model is not in this checkout")
def test_run_on_an_onnx_model_needs_no_torch(tmp_path):
    pytest.importorskip("onnxruntime", reason="the ONNX Runtime runner needs onnxruntime")
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, "run", "synthetic://?seed=3&frames=24&size=160x120", "--model",
         str(DEMO), "--headless", "--threads", "1", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 24
    assert (out / "events.jsonl").is_file() and (out / "annotated.mp4").stat().st_size > 0
