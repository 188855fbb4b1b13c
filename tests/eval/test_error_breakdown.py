import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.data.annotations import GroundTruth
from amma_edge.eval.errors import (
    CLASSIFICATION,
    LOCALIZATION,
    OTHER,
    TIME,
    TRUE_POSITIVE,
    error_categories,
    frame_error_breakdown,
)
from amma_edge.eval.frame_map import frame_map

SQUARE = [0, 0, 9, 9]
FAR = [50, 50, 59, 59]
JUMP_BOX = [20, 0, 29, 9]


def tube(frames, box) -> np.ndarray:
    frames = list(frames)
    return np.column_stack([frames, np.tile(box, (len(frames), 1))]).astype(np.float32)


def make_gt(labels, gttubes, videos) -> GroundTruth:
    return GroundTruth(labels=labels, splits=[(list(videos), list(videos))], nframes={v: 20 for v in videos},
                       resolution={v: (100, 100) for v in videos}, gttubes=gttubes)


# v0: run on frames 1..2, jump on frame 3; v1: jump on frame 9 only; nobody sits
GT = make_gt(["run", "jump", "sit"],
             {"v0": {0: [tube([1, 2], SQUARE)], 1: [tube([3], JUMP_BOX)]}, "v1": {1: [tube([9], JUMP_BOX)]}},
             ["v0", "v1"])

RUN = np.array([
    [0, 3, 0, 0.95, *JUMP_BOX],  # frame 3: no run box, a jump box with IoU 1       → classification
    [0, 1, 0, 0.90, *SQUARE],  # matches run on frame 1                            → true positive
    [0, 1, 0, 0.85, *SQUARE],  # run on frame 1 is already matched (a duplicate)   → localization
    [0, 5, 0, 0.80, *SQUARE],  # frame 5 has no box, v0 has a run tube             → time
    [0, 3, 0, 0.75, *FAR],  # frame 3 has a jump box, IoU 0                        → other
    [0, 2, 0, 0.70, *SQUARE],  # matches run on frame 2                            → true positive
    [1, 1, 0, 0.60, *SQUARE],  # v1 has no run tube                                → other
    [1, 1, 2, 0.50, *SQUARE],  # "sit" has no ground truth: excluded
])


def test_categories_follow_act():
    _, category, bounds, num_gt = error_categories(RUN, GT, nms_threshold=None)
    run = category[bounds[0]:bounds[1]]
    assert run.tolist() == [CLASSIFICATION, TRUE_POSITIVE, LOCALIZATION, TIME, OTHER, TRUE_POSITIVE, OTHER]
    assert num_gt.tolist() == [2, 2, 0]


def test_localization_has_no_lower_iou_bound():
    far_on_a_run_frame = np.array([[0, 1, 0, 0.9, *FAR]])
    _, category, _, _ = error_categories(far_on_a_run_frame, GT)
    assert category.tolist() == [LOCALIZATION]


def test_breakdown_by_hand():
    result = frame_error_breakdown(RUN, GT, nms_threshold=None)
    run, jump = result.classes
    # run, 2 GT, ranked [C, TP, L, T, O, TP, O]: recall 0, 1/2, 1/2, 1/2, 1/2, 1, 1 — only detections 2 and 6
    # raise recall, so only the intervals ending there have width (1/2 each).
    # AP: precision 0 → 1/2 at detection 2: 1/2·(0 + 1/2)/2 = 1/8; 1/5 → 1/3 at 6: 1/2·(1/5 + 1/3)/2 = 2/15
    assert run.ap == pytest.approx(100 * (1 / 8 + 2 / 15))
    # localization share: 0, 0 at detections 1–2; 1/5, 1/6 at 5–6: 1/2·(1/5 + 1/6)/2 = 11/120
    assert run.localization == pytest.approx(100 * 11 / 120)
    # classification share: 1 → 1/2 over detections 1–2: 1/2·(1 + 1/2)/2 = 3/8; then 1/5 → 1/6: 11/120
    assert run.classification == pytest.approx(100 * (3 / 8 + 11 / 120))
    assert run.time == pytest.approx(100 * 11 / 120)  # 0, 0, then 1/5 → 1/6
    assert run.other == pytest.approx(100 * 11 / 120)  # 0, 0, then 1/5 → 1/6 (the second "other" comes later)
    assert run.missed == pytest.approx(0.0)  # final recall 1
    # 25.83 + 9.17 + 46.67 + 9.17 + 9.17 + 0 = 100
    assert run.total == pytest.approx(100.0)
    # jump: 2 GT and no detection: AP 0, all missed
    assert (jump.ap, jump.localization, jump.missed, jump.total) == (0.0, 0.0, 100.0, 100.0)
    assert result.excluded == ("sit",)
    assert result.mean.ap == pytest.approx((run.ap + 0.0) / 2)
    assert result.mean.total == pytest.approx(100.0)


def test_ap_of_the_breakdown_is_frame_map_act():
    for nms in (None, 0.3):
        fm = frame_map(RUN, GT, nms_threshold=nms)
        eb = frame_error_breakdown(RUN, GT, nms_threshold=nms)
        assert [c.ap for c in eb.classes] == pytest.approx([c.ap for c in fm.classes])


def test_json():
    out = json.loads(json.dumps(frame_error_breakdown(RUN, GT).as_dict()))
    assert out["protocol"] == "act" and out["per_class"][0]["label"] == "run"
    assert set(out["mean"]) >= {"ap", "localization", "classification", "time", "other", "missed"}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 31 - 1))
def test_ap_and_the_five_errors_add_up_to_100_for_every_class(seed):
    rng = np.random.default_rng(seed)
    videos = ["v0", "v1", "v2"]
    gttubes = {}
    for v in videos:
        gttubes[v] = {}
        for label in rng.choice(3, size=int(rng.integers(0, 3)), replace=False).tolist():
            start = int(rng.integers(1, 8))
            x = float(rng.integers(0, 3) * 12)
            gttubes[v][label] = [tube(range(start, start + int(rng.integers(1, 6))), [x, 0, x + 9, 9])]
    gt = make_gt(["a", "b", "c"], gttubes, videos)
    m = int(rng.integers(0, 40))
    x = rng.integers(0, 3, size=m) * 12.0 + rng.normal(scale=2.0, size=m)
    dets = np.column_stack([rng.integers(0, 3, size=m), rng.integers(1, 12, size=m), rng.integers(0, 3, size=m),
                            rng.random(m), x, np.zeros(m), x + 9, np.full(m, 9.0)])
    result = frame_error_breakdown(dets, gt)
    for c in result.classes:
        assert c.total == pytest.approx(100.0, abs=1e-9)
        assert min(c.ap, c.localization, c.classification, c.time, c.other, c.missed) >= -1e-9
