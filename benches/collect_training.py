"""Gather the synthetic training experiments (benches/recipes/synthetic.sh) into benches/results/training.json.

For each run: the exact configuration and seed (from its log.jsonl), wall-clock and CPU time (from the
`<run>.time` file /usr/bin/time wrote), the test-set scores of `amma-edge eval` on last.pt (frame-mAP@0.5,
video-mAP, per-class frame AP), and the learning curve: the checkpoint after each epoch scored on the same test
set (EXP/<run>/curve/epoch<N>/eval.json). Also the micro-motion ablation: conv_diff against none on sit_down and
stand_up, the two classes only the direction of motion separates.
Usage: python benches/collect_training.py EXP_DIR
(The first recipe's runs, with a step schedule and full width, are kept in benches/results/training_v1.json.)
"""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.bench.machine import cpu_model
from amma_edge.fileio import atomic_write_text
from amma_edge.models.complexity import measure
from amma_edge.models.config import config_from_dict
from amma_edge.train import progress
from amma_edge.train.trainer import cpu_has_bfloat16

# One list for the recipe's `eval` stage and for this file (benches/recipes/runs.txt).
RUNS_FILE = Path(__file__).resolve().parent / "recipes" / "runs.txt"


def recipe_runs(path: Path = RUNS_FILE) -> tuple[str, ...]:
    """The run names of the synthetic recipe, oldest first."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


# conv_diff run → its RGB-only twin (same recipe, --set micro_motion=none)
ABLATIONS = {"amma-s-cd": "amma-s-none", "amma-s-skip": "amma-s-skip-none"}
MOTION_CLASSES = ("sit_down", "stand_up")


def training_minutes(records: list[dict]) -> float:
    """Wall-clock minutes of training, summed over the sessions of a resumed run (the gaps between are not)."""
    total, session_start, last = 0.0, None, None
    for r in records:
        if r["event"] == "start":
            if session_start is not None:
                total += last - session_start
            session_start = r["time"]
        last = r["time"]
    return (total + (last - session_start)) / 60 if session_start is not None else 0.0


def read_log(path: Path) -> dict:
    records = progress.read_log(path)  # the trainer's reader: a last line cut short by a crash is skipped
    start = next(r for r in records if r["event"] == "start")
    epochs = [r for r in records if r["event"] == "epoch"]
    checks = [r for r in records if r["event"] in ("epoch", "validation")]  # "validation": a max-steps stop
    return {"train_config": start["train_config"], "model_config": start["model_config"],
            "schedule": start.get("schedule"), "precision": precision(start),
            # logs from before the trainer recorded its machine have none: see the file's "machine"
            **({"machine": start["machine"]} if "machine" in start else {}),
            "steps": max(r.get("step", 0) for r in records),
            "epochs_done": len(epochs), "train_minutes": round(training_minutes(records), 1),
            "last_epoch": {k: v for k, v in epochs[-1].items() if k not in ("event", "time")} if epochs else None,
            "last_validation": {k: v for k, v in checks[-1].items() if k not in ("event", "time")} if checks else None,
            "gradient_norms": gradient_norms(records, start["train_config"].get("warmup_steps", 0)),
            "seconds_per_step": pace(records)}


def pace(records: list[dict]) -> dict | None:
    """Seconds a step between consecutive step rows of one session (the first row, which holds the start-up,
    and any span holding a validation are left out): median, fastest and slowest. What a step cost on the
    run's own machine, and how much it drifted while the run went."""
    spans = sorted(progress.step_spans(records))
    if not spans:
        return None
    return {"median": round(spans[len(spans) // 2], 3), "fastest": round(spans[0], 3), "slowest": round(spans[-1], 3)}


def gradient_norms(records: list[dict], warmup_steps: int) -> dict | None:
    """The run's total gradient norms as its step rows logged them (before any clip): the typical window mean
    after warm-up, the largest single step and where it fell, and the share of steps a clip cut. A largest step
    hundreds of times the typical one is the spike that stalls Adam; logs from before the trainer measured
    norms have none."""
    rows = [r for r in records if r["event"] == "step" and "grad_norm" in r]
    if not rows:
        return None
    after = sorted(r["grad_norm"] for r in rows if r["step"] > warmup_steps) or sorted(r["grad_norm"] for r in rows)
    peak = max(rows, key=lambda r: r["grad_norm_max"])
    median = after[len(after) // 2]
    clipped = [r["clipped_fraction"] for r in rows if "clipped_fraction" in r]
    return {"median_window_mean_after_warmup": round(median, 2),
            "largest": round(peak["grad_norm_max"], 2), "largest_in_window_ending_step": peak["step"],
            "largest_over_median": round(peak["grad_norm_max"] / median, 1),
            **({"clipped_fraction": round(sum(clipped) / len(clipped), 4)} if clipped else {})}


def precision(start: dict) -> str:
    """What the run computed in. Logs written before the trainer recorded it say only that --amp was asked
    for; --amp falls back to float32 on a CPU without bfloat16, so this machine's CPU decides those."""
    if "precision" in start:
        return start["precision"]
    if not start["train_config"].get("amp"):
        return "float32"
    return "bfloat16" if cpu_has_bfloat16() else "float32 (--amp asked; this CPU has no bfloat16)"


def read_eval(path: Path) -> dict:
    report = json.loads(path.read_text())
    per_class = {c["label"]: c["ap"] for c in report["frame_map"]["per_class"]}
    video = {f"{e['threshold']:g}": e["mAP"] for e in report["video_map"]["at"]}
    return {"frame_mAP@0.5": report["frame_map"]["mAP"], "video_mAP": video,
            "video_mAP@0.5:0.95": report["video_map"]["mAP@0.5:0.95"], "frame_AP_per_class": per_class,
            "error_breakdown_mean": report["error_breakdown"]["mean"], "test_videos": report["videos"],
            "eval_seconds": report["seconds"], "protocol": report["protocol"], "data": report["data"]}


def best_epoch(log: Path) -> int | None:
    """The epoch best.pt holds: the lowest validation loss, as the trainer keeps it."""
    epochs = [r for r in progress.read_log(log) if r.get("event") == "epoch"]
    return min(epochs, key=lambda r: r["val_loss"])["epoch"] if epochs else None


def learning_curve(run: Path) -> list[dict]:
    """The run's checkpoints scored along the way: RUN/curve/epoch<N>/eval.json, written by
    `amma-edge eval --model RUN/epoch<N>.pt --data EXP/synth-test` (epoch<N>.pt: last.pt copied after epoch N)."""
    points = []
    for path in sorted((run / "curve").glob("epoch*/eval.json"), key=lambda p: int(p.parent.name[5:])):
        report = read_eval(path)
        points.append({"epoch": int(path.parent.name[5:]), "videos": report["test_videos"],
                       "frame_mAP@0.5": round(report["frame_mAP@0.5"], 2),
                       "video_mAP@0.5": round(report["video_mAP"].get("0.5", float("nan")), 2),
                       **{f"AP_{c}": round(report["frame_AP_per_class"][c], 2) for c in MOTION_CLASSES}})
    return points


def read_time(path: Path) -> dict | None:
    """`/usr/bin/time -f "%e wall_s %U user_s %S sys_s"` output: wall-clock and CPU minutes of the whole run
    (its data-loader worker included)."""
    if not path.exists():
        return None
    words = path.read_text().split()
    values = {words[i + 1]: float(words[i]) for i in range(0, len(words) - 1) if words[i + 1].endswith("_s")}
    return {"wall_minutes": round(values["wall_s"] / 60, 1),
            "cpu_minutes": round((values["user_s"] + values["sys_s"]) / 60, 1)}


def main(exp: Path) -> None:
    out = Path(__file__).resolve().parent / "results" / "training.json"
    # A run whose folder is not in EXP (a fresh checkout: runs/ is not in git) keeps what the file says of it.
    recorded = json.loads(out.read_text()).get("runs", {}) if out.exists() else {}
    runs = {}
    for name in recipe_runs():
        log, ev = exp / name / "log.jsonl", exp / name / "eval-test" / "eval.json"
        live = exp / name / "eval-test-live" / "eval.json"
        if not log.exists():
            if name in recorded:
                runs[name] = recorded[name]
            continue
        info = read_log(log)
        runs[name] = {**info, "best_epoch": best_epoch(log), "time": read_time(exp / f"{name}.time"),
                      **({"test": read_eval(ev), "test_of": "last.pt"} if ev.exists() else {}),
                      # a weight-averaged run's live weights at its last step (benches/live_weights.py)
                      **({"test_live_weights": read_eval(live)} if live.exists() else {}),
                      "learning_curve": learning_curve(exp / name),
                      # what one step of the model costs, counted at its input size (parameters, MACs)
                      "complexity": measure(config_from_dict(info["model_config"])).as_dict()}
    # The machine that collected: a run records its own where its log does ("machine"); older runs were
    # trained on whichever machine their session had, not necessarily this one.
    result = {"machine": {"cpu_cores": __import__("os").cpu_count(), "cpu": cpu_model(),
                          "python": platform.python_version()},
              "recipe": "benches/recipes/synthetic.sh", "runs": runs}
    mean = lambda t: sum(t["frame_AP_per_class"][c] for c in MOTION_CLASSES) / len(MOTION_CLASSES)
    ablations = {}
    for cd_name, none_name in ABLATIONS.items():
        cd, none = runs.get(cd_name, {}).get("test"), runs.get(none_name, {}).get("test")
        if cd and none:
            ablations[f"{cd_name} vs {none_name}"] = {
                "classes": list(MOTION_CLASSES), "metric": "mean frame AP@0.5 over the classes",
                "conv_diff": round(mean(cd), 2), "none": round(mean(none), 2), "gain": round(mean(cd) - mean(none), 2),
                "frame_mAP": {"conv_diff": cd["frame_mAP@0.5"], "none": none["frame_mAP@0.5"]}}
    if ablations:
        result["micro_motion_ablations"] = ablations
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    for name, run in runs.items():
        test = run.get("test") or {}
        print(f"{name}: {run['train_minutes']} min ({run['time']}), frame-mAP {test.get('frame_mAP@0.5')}, "
              f"video-mAP@0.5 {test.get('video_mAP', {}).get('0.5')}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/synthetic"))
