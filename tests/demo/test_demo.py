"""The built-in demo: the shipped model is complete and self-describing, and `amma-edge run` with no model or
source runs it on the demo's synthetic stream, as `make demo` does on a fresh clone."""
import json

import pytest
from click.testing import CliRunner

from amma_edge.cli import main
from amma_edge.demo import DEMO_SOURCE, FP32_DIR, INT8_DIR, demo_model_path
from amma_edge.export import load_bundle

SHIPPED = demo_model_path() is not None
needs_demo = pytest.mark.skipif(not SHIPPED, reason="the demo model is not in this checkout (amma_edge/demo/model*)")


@needs_demo
@pytest.mark.parametrize("folder, precision", [(FP32_DIR, "fp32"), (INT8_DIR, "int8")])
def test_shipped_models_load_with_their_metadata_and_card(folder, precision):
    bundle = load_bundle(folder)
    assert set(bundle.graphs) == {"encoder", "head"} and bundle.first.precision == precision
    assert bundle.config.name == "amma-s" and len(bundle.class_names) == 8
    card = (folder / "MODEL_CARD.md").read_text()
    assert "frame-mAP" in card and "--seed" in card


@needs_demo
def test_shipped_models_fit_the_size_budget():
    total = sum(p.stat().st_size for d in (FP32_DIR, INT8_DIR) for p in d.rglob("*") if p.is_file())
    assert total <= 30e6, f"demo models take {total / 1e6:.1f} MB, more than the 30 MB budget"


@needs_demo
def test_run_without_arguments_runs_the_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--headless", "--max-frames", "48", "--threads", "1"])
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and {p.name for p in runs[0].iterdir()} == {"annotated.mp4", "events.jsonl",
                                                                     "summary.json"}
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["frames"] == 48 and summary["precision"] == "fp32"
    assert "source: synthetic stream (seed 2026" in result.output and f"runs/{runs[0].name}/annotated.mp4" in result.output
    assert summary["source"] == DEMO_SOURCE
