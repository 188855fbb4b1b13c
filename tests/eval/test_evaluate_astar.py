"""A* through its streaming evaluation with an oracle head that inverts the training targets: decoding, the
frame-window stream, the two-frame linking and the metrics must agree on their conventions to score ~100."""
import numpy as np
import pytest
from test_evaluate import ORIGINAL, make_dataset

from amma_edge.data.sampling import boxes_at
from amma_edge.data.targets import astar_targets
from amma_edge.eval.evaluate import evaluate_astar
from amma_edge.models import AStarConfig

CONFIG = AStarConfig(name="oracle", num_classes=3, clip_len=4, input_size=(64, 96))


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class OracleDetect:
    def __init__(self, gt):
        self.gt, self.video, self.frame = gt, None, 0

    def start(self, video):
        self.video, self.frame = video, 0

    def __call__(self, window):
        assert window.shape == (CONFIG.clip_len, 3) + CONFIG.input_size
        self.frame += 1
        labels, boxes = boxes_at(self.gt.gttubes[self.video], self.frame, np.array([self.frame]))
        scale = np.array([CONFIG.input_size[1] / ORIGINAL[1], CONFIG.input_size[0] / ORIGINAL[0]] * 2)
        classes = np.eye(CONFIG.num_classes, dtype=np.float32)[labels]
        tg = astar_targets(classes, boxes[:, 0] * scale, np.array(CONFIG.anchors), CONFIG.input_size, CONFIG.stride)
        obj = tg["obj_mask"]
        return {
            "box": np.concatenate([_logit(tg["txty"]), tg["twth"]], axis=-1).transpose(0, 3, 1, 2),
            "objectness": np.where(obj > 0, 9.0, -9.0).astype(np.float32),
            "classes": np.where(tg["classes"] > 0, 9.0, -9.0).astype(np.float32).transpose(0, 3, 1, 2),
        }


def test_oracle_head_scores_near_perfectly_frame_by_frame(tmp_path):
    gt = make_dataset(tmp_path)
    detect = OracleDetect(gt)
    result = evaluate_astar(detect, CONFIG, tmp_path, gt, on_video=lambda i, n, video: detect.start(video))
    assert result.videos == 2 and result.frames_scored == 48
    assert result.frame.mean_ap > 99.9, result.frame.as_dict()
    assert result.video.mean_ap(0.5) == 100.0, result.video.as_dict()
    tube = result.tubes["a"][0]
    assert tube.frames[0] == 1 and tube.frames[-1] == 24  # the linking-only copy at frame 0 is gone
    want = gt.gttubes["a"][0][0][:, 1:]
    assert np.abs(tube.boxes - want).max() < 1.0  # per-frame boxes are the detections, not a smoothed mix


def test_a_trimmed_astar_tube_keeps_the_key_frames_of_its_confident_run(tmp_path):
    from amma_edge.runtime.linking import LinkerConfig

    gt = make_dataset(tmp_path)
    oracle = OracleDetect(gt)

    def detect(window):  # the oracle, less sure before frame 8 and after frame 16
        raw = oracle(window)
        if not 8 <= oracle.frame <= 16:
            raw["objectness"] = np.where(raw["objectness"] > 0, -1.0, -9.0).astype(np.float32)
        return raw

    kept = {}
    for trim, name in ((0.0, "whole"), (0.5, "trimmed")):
        result = evaluate_astar(detect, CONFIG, tmp_path, gt, videos=["a"], linker=LinkerConfig(trim=trim, min_length=5),
                                on_video=lambda i, n, video: oracle.start(video))
        (kept[name],) = result.tubes["a"]
    assert (kept["whole"].frames[0], kept["whole"].frames[-1]) == (1, 24)
    assert (kept["trimmed"].frames[0], kept["trimmed"].frames[-1]) == (8, 16)
    want = gt.gttubes["a"][0][0][7:16, 1:]
    assert np.abs(kept["trimmed"].boxes - want).max() < 1.0  # the boxes of frames 8 .. 16, not of 1 .. 9
    assert kept["trimmed"].score > kept["whole"].score


def test_windows_repeat_the_first_frame_before_the_video_starts():
    from amma_edge.runtime.frame_stream import FrameWindowStream

    seen = []

    def detect(window):
        seen.append(window[:, 0, 0, 0].copy())
        A, (h, w) = CONFIG.num_anchors, (2, 3)
        return {"box": np.zeros((A, 4, h, w), np.float32), "objectness": np.full((A, h, w), -20.0, np.float32),
                "classes": np.zeros((A, 3, h, w), np.float32)}

    stream = FrameWindowStream(detect, CONFIG, original_size=ORIGINAL, frame_stride=2)
    for value in (1.0, 2.0, 3.0):
        step = stream.push_frame(np.full((3,) + CONFIG.input_size, value, np.float32))
        assert len(step.detections) == 0
    # stride 2, clip_len 4: frames f-6, f-4, f-2, f, clamped to frame 1
    assert [s.tolist() for s in seen] == [[1, 1, 1, 1], [1, 1, 1, 2], [1, 1, 1, 3]]
    with pytest.raises(Exception, match="preprocessed"):
        stream.push_frame(np.zeros((3, 8, 8), np.float32))
