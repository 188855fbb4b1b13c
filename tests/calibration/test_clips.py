"""Calibration inputs are what the device sees: the head's windows are the feature cache's content at those
clips, A*'s windows are the frame stream's, and the picks spread over videos and along each video."""
import numpy as np
import pytest

from amma_edge.calibration.clips import amma_samples, astar_samples, spread_picks
from amma_edge.models.config import AMMAConfig, AStarConfig
from amma_edge.runtime import native
from amma_edge.runtime.frame_stream import FrameWindowStream
from amma_edge.runtime.streaming import TubeletStream

FRAME = (24, 40)  # original frames, (height, width)


def read_frame(video: str, frame: int) -> np.ndarray:
    seed = sum(map(ord, video)) * 1000 + frame
    return np.random.default_rng(seed).integers(0, 256, (*FRAME, 3), dtype=np.uint8)


def encode(clip: np.ndarray) -> np.ndarray:
    """A stand-in encoder: distinct, deterministic (c=2, h, w) features of a (t, 3, H, W) clip."""
    return np.stack([clip.mean(axis=(0, 1))[::8, ::8], clip[-1, 0, ::8, ::8] - clip[0, 1, ::8, ::8]])


def test_picks_are_the_count_asked_for_and_spread_evenly():
    lengths = {"a": 10, "b": 3, "c": 10, "d": 1}
    picks = spread_picks(lengths, 12)
    assert sum(len(p.positions) for p in picks) == 12
    got = {p.video: p.positions for p in picks}
    assert got["b"] == (1, 2, 3) and got["d"] == (1,)  # short videos give all they have
    assert len(got["a"]) == len(got["c"]) == 4 and got["a"] == (2, 4, 7, 9)  # evenly along the video
    assert sum(len(p.positions) for p in spread_picks(lengths, 100)) == 24  # never more than there is
    few = spread_picks({f"v{i}": 5 for i in range(10)}, 3)
    assert [len(p.positions) for p in few] == [1, 1, 1] and len({p.video for p in few}) == 3
    assert [p.positions for p in few] == [(3,), (3,), (3,)]  # the middle of each video


@pytest.mark.parametrize("frame_step", [1, 2])
def test_head_windows_are_what_the_feature_cache_holds_at_those_clips(frame_step):
    config = AMMAConfig(num_classes=2, input_size=(32, 64), K=3, t=2, feature_dim=8, head_conv=8, box_head_conv=8,
                        frame_step=frame_step)
    seen = []

    def head(features):
        seen.append(np.array(features))
        h, w = features.shape[-2:]
        return {"center": np.zeros((2, h, w), np.float32), "trajectory": np.zeros((6, h, w), np.float32),
                "box": np.zeros((6, h, w), np.float32)}

    def clip_frames(i):  # the stream's i-th clip: t frames frame_step apart, ending at frame i * t * frame_step
        return [read_frame("v", f) for f in range(i * 2 * frame_step - frame_step, i * 2 * frame_step + 1, frame_step)]

    stream = TubeletStream(encode, head, config, original_size=FRAME)
    for i in range(1, 7):  # clips 1..6 of video "v"
        stream.push_clip(native.preprocess_batch(clip_frames(i), mean=config.mean, std=config.std,
                                                 size=config.input_size))
    positions = (1, 3, 4, 6)  # clips 1 and 2 have padding in their windows
    picks = [p for p in spread_picks({"v": 6}, 4)]
    assert picks[0].positions == positions
    clips, windows = amma_samples(config, read_frame, picks, encode)
    assert clips.shape == (4, 2, 3, 32, 64) and windows.shape == (4, 3, 2, 4, 8)
    for n, clip_number in enumerate(positions):
        np.testing.assert_array_equal(windows[n], seen[clip_number - 1])
        np.testing.assert_array_equal(clips[n], native.preprocess_batch(clip_frames(clip_number), mean=config.mean,
                                                                        std=config.std, size=config.input_size))


def test_astar_windows_are_what_the_frame_stream_feeds_the_detector():
    config = AStarConfig(num_classes=2, clip_len=4, input_size=(32, 64))
    seen = []

    def detect(window):
        seen.append(np.array(window))
        A, (h, w) = config.num_anchors, config.output_size
        return {"box": np.zeros((A, 4, h, w), np.float32), "objectness": np.full((A, h, w), -9, np.float32),
                "classes": np.zeros((A, 2, h, w), np.float32)}

    stream = FrameWindowStream(detect, config, original_size=FRAME)
    for f in range(1, 9):
        stream.push_frame(native.preprocess(read_frame("v", f), mean=config.mean, std=config.std,
                                            size=config.input_size))
    picks = spread_picks({"v": 8}, 3)
    windows = astar_samples(config, read_frame, picks)
    assert windows.shape == (3, 4, 3, 32, 64)
    for n, key in enumerate(picks[0].positions):
        np.testing.assert_array_equal(windows[n], seen[key - 1])


def test_no_picks_for_empty_videos_and_a_clear_error_for_zero():
    from amma_edge.errors import AmmaEdgeError

    assert spread_picks({"a": 0}, 5) == []
    with pytest.raises(AmmaEdgeError, match="at least 1"):
        spread_picks({"a": 3}, 0)
