"""Temporal trimming of linked tubes (`LinkerConfig.trim`, `amma-edge eval --trim`): video-mAP at several trim
ratios, the ratio chosen on validation videos and only then scored on the test videos.

The papers link whole tubes; on untrimmed videos a tube then also covers the frames before and after the
action where the detector still follows the person with lower scores, and temporal IoU caps video-mAP@0.5
(benches/results/tube_overlap.json). Trimming only changes the linking, so each video goes through the model
once (the evaluation's streaming path: decode, feature cache) and its linker inputs are relinked per ratio.
Ratio 0 must reproduce `amma-edge eval`'s video-mAP, which this script checks. Frame-mAP does not depend on it.
Usage: python benches/bench_trim.py VAL_DATA TEST_DATA CKPT [CKPT ...] [--ratios 0,0.2,...]
Writes benches/results/trim.json, keeping the rows of models not passed this time when the ratios are the same.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.data.loading import load_dataset  # noqa: E402
from amma_edge.eval.detector import load_detector  # noqa: E402
from amma_edge.eval.evaluate import evaluate_amma  # noqa: E402
from amma_edge.eval.video_map import video_map  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402
from amma_edge.runtime.linking import LinkerConfig, link_video  # noqa: E402

THRESHOLDS = ("0.2", "0.5", "0.75")


def linker_inputs(det, data: Path) -> tuple[dict, dict, object, list[str]]:
    """Per video, the (clip-end frames, tubelets) steps the linker receives, and the evaluation's own
    video-mAP (trim 0), for the check."""
    gt, root = load_dataset(data)
    videos = gt.split_videos("test", 0)
    steps: dict[str, list] = {v: [] for v in videos}

    def keep(video: str, step) -> None:
        if len(step.clip_ends) == det.config.K:  # the steps the stream hands to its linker
            steps[video].append((step.clip_ends, step.tubelets))

    result = evaluate_amma(det.encode, det.head, det.config, root, gt, videos=videos, on_step=keep)
    return steps, result.video, gt, videos


def scores(steps: dict, gt, videos: list[str], trim: float) -> dict[str, float]:
    tubes = {v: link_video(steps[v], LinkerConfig(trim=trim)) for v in videos}
    result = video_map(tubes, gt, videos=videos, protocol="act")
    return {t: round(float(result.mean_ap(float(t))), 2) for t in THRESHOLDS}


def one_model(ckpt: Path, val_data: Path, test_data: Path, ratios: list[float]) -> dict:
    det = load_detector(ckpt, device="cpu", threads=2)
    result: dict = {}
    for name, data in (("validation", val_data), ("test", test_data)):
        started = time.perf_counter()
        steps, whole, gt, videos = linker_inputs(det, data)
        relinked = scores(steps, gt, videos, 0.0)
        assert relinked == {t: round(float(whole.mean_ap(float(t))), 2) for t in THRESHOLDS}, (relinked, whole)
        result[name] = {"data": str(data), "videos": len(videos),
                        "video_mAP": {str(r): scores(steps, gt, videos, r) for r in ratios},
                        "seconds": round(time.perf_counter() - started, 1)}
        print(ckpt, name, json.dumps(result[name]["video_mAP"]), flush=True)
    val = result["validation"]["video_mAP"]
    chosen = max(ratios, key=lambda r: (val[str(r)]["0.5"], -r))  # ties to the smaller trim
    result["chosen_on_validation"] = chosen
    result["test_at_chosen"] = result["test"]["video_mAP"][str(chosen)]
    result["test_untrimmed"] = result["test"]["video_mAP"]["0.0"]
    print(f"{ckpt}: trim {chosen} chosen on validation; test video-mAP {result['test_at_chosen']} "
          f"(untrimmed {result['test_untrimmed']})", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("val_data", type=Path)
    parser.add_argument("test_data", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--ratios", default="0,0.2,0.3,0.4,0.5,0.6,0.7")
    args = parser.parse_args()
    ratios = [float(r) for r in args.ratios.split(",")]
    out = Path(__file__).resolve().parent / "results" / "trim.json"
    result: dict = {"protocol": "act", "ratios": ratios, "models": {}}
    if out.is_file():  # keep the other models' rows when they were measured at the same ratios
        previous = json.loads(out.read_text())
        if previous.get("ratios") == ratios and previous.get("protocol") == "act":
            result["models"] = previous.get("models", {})
    for ckpt in args.checkpoints:
        result["models"][str(ckpt)] = one_model(ckpt, args.val_data, args.test_data, ratios)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
