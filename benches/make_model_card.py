"""Write amma_edge/demo/model/MODEL_CARD.md from what was measured: the checkpoint's training log and the
`amma-edge eval` reports of the fp32 and INT8 demo models on the held-out synthetic test set.

Usage: python benches/make_model_card.py RUN_DIR FP32_EVAL_JSON INT8_EVAL_JSON
(RUN_DIR holds the training's log.jsonl; the eval JSONs come from `amma-edge eval --model amma_edge/demo/...`.)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collect_training import training_minutes  # noqa: E402

from amma_edge.demo import FP32_DIR, INT8_DIR  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("*.onnx")) / 1e6


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def _checkpoint_epoch(path: Path) -> int | None:
    """The epoch a training checkpoint was saved at, when the file is still there."""
    if not path.is_file():
        return None
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True).get("epoch", 0)) or None


def _train_commands(starts: list[dict], train: dict, epochs_done: int) -> str:
    first = (f"amma-edge train --model {train['model']} --data synth-train --input-size 128 --device cpu --workers 1 "
             f"--epochs {train['epochs']} --lr {train['lr']:g} --lr-steps {','.join(map(str, train['lr_milestones']))} "
             f"--set warmup_steps={train['warmup_steps']} --set val_max_samples={train['val_max_samples']} "
             f"--seed {train['seed']} --out amma-s-cd")
    resumes = [f"amma-edge train --resume amma-s-cd/last.pt --epochs {s['train_config']['epochs']}"
               for s in starts[1:] if s.get("resumed")]
    lines = [first, *resumes]
    planned = starts[-1]["train_config"]["epochs"]
    if epochs_done < planned:
        lines[-1] += f"      # stopped with Ctrl-C after epoch {epochs_done} (the session's time ran out)"
    return "\n".join(lines)


def main(run_dir: Path, fp32_eval: Path, int8_eval: Path) -> None:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    starts = [r for r in records if r["event"] == "start"]
    first = starts[0]
    model, train = first["model_config"], first["train_config"]
    epochs = [r for r in records if r["event"] == "epoch"]
    steps = max(r.get("step", 0) for r in records)
    minutes = training_minutes(records)
    calibration = json.loads((INT8_DIR / "model.json").read_text()).get("calibration", {})
    method = calibration.get("method", "entropy")
    keep_float = calibration.get("keep_float", 0)
    checkpoint_path = Path(json.loads((FP32_DIR / "model.json").read_text())["checkpoint"])
    checkpoint = checkpoint_path.name
    chosen = _checkpoint_epoch(checkpoint_path)
    chosen_text = f"; the shipped weights are epoch {chosen} ({checkpoint}, lowest validation loss)" if chosen else ""
    fp32, int8 = json.loads(fp32_eval.read_text()), json.loads(int8_eval.read_text())

    def video(report, t):
        return next((e["mAP"] for e in report["video_map"]["at"] if abs(e["threshold"] - t) < 1e-9), None)

    rows = "\n".join(
        f"| {c['label']} | {_fmt(c['ap'])} | {_fmt(i['ap'])} |"
        for c, i in zip(fp32["frame_map"]["per_class"], int8["frame_map"]["per_class"]))
    card = f"""# Demo model card: AMMA-S on synthetic actions

The model `amma-edge run` uses when given no `--model`. It exists to show the whole device path working on a
fresh machine; it has only seen synthetic figures, so it means nothing on real people.

| | |
|---|---|
| architecture | AMMA-S: two-stream ShuffleNetV2 ×{model['width']} with `{model['micro_motion']}` micro-motion and lateral fusion, center / movement / box head |
| classes | {', '.join(first['class_names'])} |
| input | K = {model['K']} clips × t = {model['t']} frames × {model['input_size'][0]}×{model['input_size'][1]} RGB, ImageNet mean / std |
| files | `model/` fp32 ONNX ({_size_mb(FP32_DIR):.1f} MB), `model-int8/` INT8 Q/DQ ONNX ({_size_mb(INT8_DIR):.1f} MB) |
| training data | `amma-edge data synth --out synth-train --videos 240 --seed 0 --test-fraction 0.15` (200 train videos) |
| training | from scratch, seed {train['seed']}, {len(epochs)} epochs of batch {train['batch_size']}, Adam lr {train['lr']} ({first['schedule']}){chosen_text}; see `benches/recipes/synthetic.sh` |
| test data | `amma-edge data synth --out synth-test --videos 80 --seed 1 --test-fraction 1.0` (80 unseen videos) |

The exact commands, as in `benches/recipes/synthetic.sh` and `benches/recipes/demo.sh`:

```
amma-edge data synth --out synth-train --videos 240 --seed 0 --test-fraction 0.15
amma-edge data synth --out synth-test --videos 80 --seed 1 --test-fraction 1.0
{_train_commands(starts, train, len(epochs))}
amma-edge export --model amma-s-cd/{checkpoint} --out amma_edge/demo/model --data synth-test
amma-edge calibrate --model amma_edge/demo/model --data synth-train --out amma_edge/demo/model-int8 --method {method} --keep-float {keep_float}
amma-edge eval --model amma_edge/demo/model --data synth-test        # and amma_edge/demo/model-int8
```

## Measured on the test set (protocol `act`, through the streaming path)

| metric | fp32 | INT8 |
|---|---|---|
| frame-mAP@0.5 | {_fmt(fp32['frame_map']['mAP'])} | {_fmt(int8['frame_map']['mAP'])} |
| video-mAP@0.2 | {_fmt(video(fp32, 0.2))} | {_fmt(video(int8, 0.2))} |
| video-mAP@0.5 | {_fmt(video(fp32, 0.5))} | {_fmt(video(int8, 0.5))} |

| class | frame AP fp32 | frame AP INT8 |
|---|---|---|
{rows}

Training took {minutes:.0f} minutes of wall-clock time on 2 CPU cores ({steps} steps; the machine was shared
with other work part of the time). It is a demo of the device path, not a strong detector: at this CPU budget the
recipe stays far below the frame-mAP@0.5 of 80 we aim for on this synthetic test set (`benches/results/training.json`).
"""
    path = atomic_write_text(FP32_DIR / "MODEL_CARD.md", card)
    atomic_write_text(INT8_DIR / "MODEL_CARD.md", card)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
