import json

import numpy as np
import pytest

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.eval.ap import GREEDY, TRAPEZOID, Protocol
from amma_edge.eval.frame_map import frame_map, ground_truth_frames, tubelet_frame_detections
from amma_edge.runtime.decode import Tubelets


def tube(frames, box) -> np.ndarray:
    frames = list(frames)
    return np.column_stack([frames, np.tile(box, (len(frames), 1))]).astype(np.float32)


def make_gt(labels, gttubes, videos) -> GroundTruth:
    return GroundTruth(labels=labels, splits=[(list(videos), list(videos))],
                       nframes={v: 50 for v in videos}, resolution={v: (100, 100) for v in videos},
                       gttubes=gttubes)


SQUARE = [0, 0, 9, 9]  # 10×10 pixels, inclusive coordinates
GT = make_gt(["run", "jump", "sit"],
             {"v0": {0: [tube(range(1, 4), SQUARE)]},  # run on frames 1..3 of v0
              "v1": {1: [tube(range(1, 3), [10, 10, 19, 19])]}},  # jump on frames 1..2 of v1; nobody sits
             ["v0", "v1"])


def det(video, frame, label, score, box):
    return [video, frame, label, score, *box]


def test_frame_map_by_hand():
    dets = np.array([
        det(0, 1, 0, 0.9, SQUARE),  # TP
        det(0, 2, 0, 0.8, [50, 50, 59, 59]),  # FP, far from the run box on frame 2
        det(0, 2, 0, 0.7, SQUARE),  # TP (no overlap with the FP above, so NMS keeps both)
        det(0, 3, 0, 0.6, SQUARE),  # TP
        det(1, 1, 2, 0.5, SQUARE),  # a "sit" box: a class with no ground truth
    ])
    act = frame_map(dets, GT)
    # run, 3 GT: precision 1, 1/2, 2/3, 3/4; recall 1/3, 1/3, 2/3, 1
    # trapezoids: 1/3·(1+1)/2 + 0 + 1/3·(1/2+2/3)/2 + 1/3·(2/3+3/4)/2 = 24/72 + 14/72 + 17/72 = 55/72
    run, jump = act.classes
    assert (run.label, run.num_gt, run.num_detections) == ("run", 3, 4)
    assert run.ap == pytest.approx(100 * 55 / 72)
    assert (jump.label, jump.ap, jump.num_gt, jump.num_detections) == ("jump", 0.0, 2, 0)  # GT, no detection
    assert act.excluded == ("sit",)  # no ground truth: not in the mean
    assert act.mean_ap == pytest.approx(100 * 55 / 72 / 2)
    # all-point: envelope 1 on (0, 1/3], 3/4 on (1/3, 1]: 1/3 + 2/3·3/4 = 5/6
    assert frame_map(dets, GT, protocol="voc").classes[0].ap == pytest.approx(100 * 5 / 6)


TWO_RUNNERS = make_gt(["run"], {"v0": {0: [tube([1], [0, 0, 9, 9]), tube([1], [5, 0, 14, 9])]}}, ["v0"])
# X matches runner 0 exactly. Y = (2, 0, 11, 9), with inclusive pixels: runner 0 → 8·10/(200 − 80) = 2/3,
# runner 1 → 7·10/(200 − 70) = 7/13 ≈ 0.54. X and Y overlap by 2/3.
X_AND_Y = np.array([det(0, 1, 0, 0.9, [0, 0, 9, 9]), det(0, 1, 0, 0.8, [2, 0, 11, 9])])


def test_act_matches_the_best_unmatched_box_voc_counts_a_taken_best_as_false():
    # act: X → runner 0; Y → best unmatched, runner 1 (7/13 ≥ 0.5): two hits out of two → AP 1
    assert frame_map(X_AND_Y, TWO_RUNNERS, nms_threshold=None).mean_ap == pytest.approx(100.0)
    # voc: Y's best is runner 0, taken → false positive. P = 1, 1/2 at R = 1/2: envelope 1 on (0, 1/2] → 1/2
    assert frame_map(X_AND_Y, TWO_RUNNERS, nms_threshold=None, protocol="voc").mean_ap == pytest.approx(50.0)


def test_per_frame_nms_at_0_3_comes_first():
    # X and Y overlap by 2/3 > 0.3: Y is suppressed; one hit of two GT: rows (1, 0), (1, 1/2) → AP 1/2
    assert frame_map(X_AND_Y, TWO_RUNNERS).mean_ap == pytest.approx(50.0)
    # the same boxes on different frames or classes are not suppressed against each other
    apart = X_AND_Y.copy()
    apart[1, 1] = 2
    assert frame_map(apart, TWO_RUNNERS).classes[0].num_detections == 2


def test_equal_scores_keep_input_order():
    gt = make_gt(["run"], {"v0": {0: [tube([1], SQUARE)]}}, ["v0"])
    hit, miss = det(0, 1, 0, 0.5, SQUARE), det(0, 2, 0, 0.5, SQUARE)
    # [hit, miss]: rows (1, 0), (1, 1), (1/2, 1) → AP 1. [miss, hit]: rows (1, 0), (0, 0), (1/2, 1) → 1/4
    assert frame_map(np.array([hit, miss]), gt).mean_ap == pytest.approx(100.0)
    assert frame_map(np.array([miss, hit]), gt).mean_ap == pytest.approx(25.0)


def test_act_adds_a_pixel_to_box_sides():
    gt = make_gt(["run"], {"v0": {0: [tube([1], [0, 0, 2, 2])]}}, ["v0"])
    dets = np.array([det(0, 1, 0, 0.9, [1, 0, 3, 2])])
    # inclusive pixels: 2·3 / (9 + 9 − 6) = 1/2 → a hit; continuous: 1·2 / (4 + 4 − 2) = 1/3 → a miss
    assert frame_map(dets, gt).mean_ap == pytest.approx(100.0)
    continuous = Protocol("act-continuous", TRAPEZOID, GREEDY, GREEDY, 0.0)
    assert frame_map(dets, gt, protocol=continuous).mean_ap == pytest.approx(0.0)


def test_no_detections_at_all_and_a_video_without_any():
    result = frame_map(np.zeros((0, 8)), GT)
    assert [c.ap for c in result.classes] == [0.0, 0.0] and result.mean_ap == 0.0
    only_v0 = frame_map(np.array([det(0, 1, 0, 0.9, SQUARE)]), GT, videos=["v0"])
    assert [c.label for c in only_v0.classes] == ["run"] and only_v0.excluded == ("jump", "sit")


def test_nothing_has_ground_truth():
    empty = make_gt(["run"], {}, ["v0"])
    result = frame_map(np.array([det(0, 1, 0, 0.9, SQUARE)]), empty)
    assert result.classes == () and np.isnan(result.mean_ap)
    assert json.loads(json.dumps(result.as_dict()))["mAP"] is None


def test_input_errors():
    with pytest.raises(InputShapeError):
        frame_map(np.zeros((2, 7)), GT)
    with pytest.raises(AmmaEdgeError):
        frame_map(np.array([det(2, 1, 0, 0.9, SQUARE)]), GT)  # only videos 0 and 1 are evaluated
    with pytest.raises(AmmaEdgeError):
        frame_map(np.array([det(0, 1, 3, 0.9, SQUARE)]), GT)
    with pytest.raises(AmmaEdgeError):
        frame_map(np.array([det(0, 1, 0, 0.9, SQUARE)]), GT, protocol="coco")


def test_result_as_dict_is_json():
    out = json.loads(json.dumps(frame_map(np.array([det(0, 1, 0, 0.9, SQUARE)]), GT).as_dict()))
    assert out["protocol"] == "act" and out["excluded"] == ["sit"]
    assert [c["label"] for c in out["per_class"]] == ["run", "jump"]


def test_ground_truth_frames_table():
    table = ground_truth_frames(GT, ["v1", "v0"])  # indices follow the given order
    np.testing.assert_array_equal(table.video, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(table.frame, [1, 2, 1, 2, 3])
    np.testing.assert_array_equal(table.video_labels, [[False, True, False], [True, False, False]])


def test_tubelet_frame_detections_interpolate_between_clip_ends():
    t = Tubelets(np.array([[[0, 0, 10, 10], [4, 0, 14, 10]]], np.float32), np.array([0.7], np.float32),
                 np.array([2]))
    rows = tubelet_frame_detections(3, np.array([1, 5]), t)
    np.testing.assert_array_equal(rows[:, :4], [[3, f, 2, np.float32(0.7)] for f in range(1, 6)])
    np.testing.assert_allclose(rows[:, 4], [0, 1, 2, 3, 4])  # x1 moves 4 pixels over 4 frames
    sparse = tubelet_frame_detections(3, np.array([1, 5]), t, interpolate=False)
    np.testing.assert_array_equal(sparse[:, 1], [1, 5])
    assert tubelet_frame_detections(0, np.array([1, 5]), Tubelets.empty(2)).shape == (0, 8)
