"""The synthetic recipe's run list (benches/recipes/runs.txt) is what `eval` scores and what the collector
gathers: a run missing from it silently drops out of benches/results/training.json at the next collect."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collector():
    spec = importlib.util.spec_from_file_location("collect_training", ROOT / "benches" / "collect_training.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_list_skips_comments_and_blank_lines(tmp_path):
    listing = tmp_path / "runs.txt"
    listing.write_text("# a comment\nrun-a\n\n  run-b  \n# run-c is commented out\n")
    assert _collector().recipe_runs(listing) == ("run-a", "run-b")


def test_every_recorded_run_is_in_the_list_once():
    runs = _collector().recipe_runs()
    assert len(runs) == len(set(runs)), "a run is listed twice in benches/recipes/runs.txt"
    recorded = json.loads((ROOT / "benches" / "results" / "training.json").read_text())["runs"]
    missing = [name for name in recorded if name not in runs]
    assert not missing, f"add these runs to benches/recipes/runs.txt or the next collect loses them: {missing}"


def test_step_pace_leaves_out_start_up_and_validation():
    rows = [{"event": "start", "time": 0.0, "step": 0},
            {"event": "step", "time": 30.0, "step": 100},  # start-up: left out
            {"event": "step", "time": 70.0, "step": 200},  # 0.4 s a step
            {"event": "validation", "time": 90.0, "step": 200},
            {"event": "step", "time": 200.0, "step": 300},  # holds the validation: left out
            {"event": "step", "time": 230.0, "step": 400},  # 0.3
            {"event": "step", "time": 280.0, "step": 500}]  # 0.5
    assert _collector().pace(rows) == {"median": 0.4, "fastest": 0.3, "slowest": 0.5}
