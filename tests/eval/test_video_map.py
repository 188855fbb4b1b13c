import json

import numpy as np
import pytest

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError
from amma_edge.eval.video_map import THRESHOLDS_50_95, video_map
from amma_edge.runtime.linking import LinkedTube


def gt_tube(first, last, box) -> np.ndarray:
    frames = np.arange(first, last + 1)
    return np.column_stack([frames, np.tile(box, (len(frames), 1))]).astype(np.float32)


def linked(label, score, first, last, box, tube_id=0) -> LinkedTube:
    frames = np.arange(first, last + 1)
    return LinkedTube(tube_id, label, score, frames, np.tile(np.asarray(box, np.float32), (len(frames), 1)), 1)


def make_gt(labels, gttubes, videos) -> GroundTruth:
    return GroundTruth(labels=labels, splits=[(list(videos), list(videos))], nframes={v: 40 for v in videos},
                       resolution={v: (100, 100) for v in videos}, gttubes=gttubes)


SQUARE = [0, 0, 9, 9]
GT = make_gt(["a", "b", "c"],
             {"v0": {0: [gt_tube(1, 10, SQUARE)]},
              "v1": {0: [gt_tube(1, 10, SQUARE)], 1: [gt_tube(1, 20, [20, 20, 39, 39])]}},
             ["v0", "v1"])
TUBES = {
    "v0": [linked(0, 0.9, 1, 10, SQUARE)],  # exact: tube IoU 1
    # frames 6..15 against 1..10: temporal 5/15, spatial 1 → 1/3
    "v1": [linked(0, 0.8, 6, 15, SQUARE),
           # half the GT box on every GT frame: 20·10 / (20·20) = 1/2 with inclusive pixels, temporal 1
           linked(1, 0.7, 1, 20, [20, 20, 39, 29])],
}


def test_video_map_by_hand():
    result = video_map(TUBES, GT)
    assert result.excluded == ("c",)
    # class a ranks [IoU 1, IoU 1/3] against 2 GT; class b has one tube of IoU 1/2 against 1 GT
    # at 0.2: a hits, hits → AP 1; b hits → 1
    assert result.mean_ap(0.2) == pytest.approx(100.0)
    # at 0.5: a hit, miss → rows (1, 0), (1, 1/2), (1/2, 1/2) → 1/2; b: 1/2 ≥ 1/2 hits → 1; mean 3/4
    assert [c.ap for c in result.at[1].classes] == pytest.approx([50.0, 100.0])
    assert result.mean_ap(0.5) == pytest.approx(75.0)
    # at 0.75: a 1/2; b misses → 0; mean 1/4
    assert result.mean_ap(0.75) == pytest.approx(25.0)
    # 0.5:0.95 — a is 1/2 at every threshold, b is 1 at 0.5 only: (3/4 + 9·1/4) / 10 = 0.3
    assert result.map_50_95 == pytest.approx(30.0)
    assert len(THRESHOLDS_50_95) == 10 and THRESHOLDS_50_95[-1] == 0.95


def test_tube_nms_at_0_3_removes_a_duplicate_before_matching():
    tubes = {"v0": TUBES["v0"] + [linked(0, 0.85, 1, 10, SQUARE)], "v1": TUBES["v1"]}
    # with NMS the duplicate (tube IoU 1 with the 0.9 tube) is gone and class a is as before: 1 at 0.2
    assert video_map(tubes, GT).at[0].classes[0].ap == pytest.approx(100.0)
    # without it, a ranks [hit, miss (its GT is taken), hit] against 2 GT:
    # rows (1, 0), (1, 1/2), (1/2, 1/2), (2/3, 1) → 1/2·(1 + 1)/2 + 0 + 1/2·(1/2 + 2/3)/2 = 1/2 + 7/24 = 19/24
    raw = video_map(tubes, GT, nms_threshold=None)
    assert raw.at[0].classes[0].ap == pytest.approx(100 * 19 / 24)
    assert raw.at[0].classes[0].num_detections == 3


def test_act_and_voc_differ_when_a_miss_comes_first():
    gt = make_gt(["a"], {"v0": {0: [gt_tube(1, 10, SQUARE)]}}, ["v0"])
    tubes = {"v0": [linked(0, 0.9, 1, 10, [50, 50, 59, 59]), linked(0, 0.8, 1, 10, SQUARE)]}
    # ranks [miss, hit], 1 GT. act: rows (1, 0), (0, 0), (1/2, 1) → 1/4. voc: envelope 1/2 on (0, 1] → 1/2
    assert video_map(tubes, gt, thresholds=[0.5]).mean_ap(0.5) == pytest.approx(25.0)
    assert video_map(tubes, gt, thresholds=[0.5], protocol="voc").mean_ap(0.5) == pytest.approx(50.0)


def test_a_tube_only_matches_ground_truth_of_its_own_video():
    gt = make_gt(["a"], {"v0": {0: [gt_tube(1, 10, SQUARE)]}, "v1": {}}, ["v0", "v1"])
    # the right box in the wrong video is a false positive; v0 has no tube → AP 0
    assert video_map({"v1": [linked(0, 0.9, 1, 10, SQUARE)]}, gt).mean_ap(0.5) == 0.0
    assert video_map({}, gt).mean_ap(0.2) == 0.0


def test_tubes_of_videos_outside_the_evaluated_list_are_ignored():
    only_v0 = video_map({"v0": TUBES["v0"], "v1": TUBES["v1"]}, GT, videos=["v0"])
    assert only_v0.excluded == ("b", "c") and only_v0.mean_ap(0.5) == pytest.approx(100.0)


def test_errors_and_json():
    with pytest.raises(AmmaEdgeError):
        video_map({"v0": [linked(5, 0.9, 1, 10, SQUARE)]}, GT)
    result = video_map(TUBES, GT)
    with pytest.raises(AmmaEdgeError):
        result.mean_ap(0.3)
    out = json.loads(json.dumps(result.as_dict()))
    assert [a["threshold"] for a in out["at"]] == [0.2, 0.5, 0.75]
    assert out["mAP@0.5:0.95"] == pytest.approx(30.0) and out["excluded"] == ["c"]
