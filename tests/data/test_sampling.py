import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.sampling import (
    amma_clip_frames,
    amma_tubelets,
    boxes_at,
    evaluation_samples,
    keyframe_boxes,
    stream_clip_frames,
    training_key_frames,
    training_samples,
    tube_boxes_at,
    window_frames,
)
from amma_edge.errors import AmmaEdgeError


def tube(frames, box_at):
    return np.array([[f, *box_at(f)] for f in frames], dtype=np.float32)


def make_gt(tubes_by_video, nframes=30, train=None, test=None):
    videos = sorted(tubes_by_video)
    return GroundTruth(
        labels=["a", "b", "c"],
        splits=[(train or videos, test or videos)],
        nframes={v: nframes for v in videos},
        resolution={v: (48, 64) for v in videos},
        gttubes=tubes_by_video,
    )


def test_amma_clips_are_consecutive_and_end_at_the_key_frame():
    np.testing.assert_array_equal(
        amma_clip_frames(20, K=3, t=4), [[9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]]
    )


def test_amma_clips_before_the_video_start_repeat_frame_one():
    np.testing.assert_array_equal(amma_clip_frames(5, K=3, t=4), [[1, 1, 1, 1], [1, 1, 1, 1], [2, 3, 4, 5]])


@settings(max_examples=60, deadline=None)
@given(key=st.integers(1, 500), K=st.integers(1, 6), t=st.integers(1, 8))
def test_clip_k_ends_at_key_minus_later_clips(key, K, t):
    frames = amma_clip_frames(key, K, t)
    assert frames.shape == (K, t) and frames.dtype == np.int64
    expected_ends = np.maximum(key - (K - 1 - np.arange(K)) * t, 1)
    np.testing.assert_array_equal(frames[:, -1], expected_ends)
    flat = frames.ravel()
    assert flat.min() >= 1 and np.all(np.diff(flat) >= 0) and np.all(np.diff(flat) <= 1)


def test_a_frame_step_spaces_the_clips_and_pads_with_the_first_frame_on_the_key_frames_grid():
    np.testing.assert_array_equal(amma_clip_frames(20, K=3, t=4, step=2),
                                  [[2, 2, 2, 4], [6, 8, 10, 12], [14, 16, 18, 20]])
    np.testing.assert_array_equal(amma_clip_frames(9, K=2, t=2, step=3), [[3, 3], [6, 9]])
    with pytest.raises(AmmaEdgeError, match="frame step"):
        amma_clip_frames(9, K=2, t=2, step=0)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(1, 40), K=st.integers(1, 5), t=st.integers(1, 6), step=st.integers(1, 4))
def test_offline_clips_at_a_stream_clip_end_are_the_streams_clips(index, K, t, step):
    """What training and validation sample at the stream's i-th clip end is what the stream has read by then:
    its last K clips, and before its first clip, that clip's first frame (what it pads the cache with)."""
    offline = amma_clip_frames(index * t * step, K, t, step)
    first = stream_clip_frames(1, t, step)[0]
    for row, clip in zip(offline, range(index - K + 1, index + 1)):
        expected = stream_clip_frames(clip, t, step) if clip >= 1 else np.full(t, first)
        np.testing.assert_array_equal(row, expected)


def test_overlapping_clips_end_hop_frames_apart_and_pad_before_the_start():
    np.testing.assert_array_equal(amma_clip_frames(12, K=3, t=4, hop=2),
                                  [[5, 6, 7, 8], [7, 8, 9, 10], [9, 10, 11, 12]])
    np.testing.assert_array_equal(amma_clip_frames(4, K=3, t=4, hop=2), [[1, 1, 1, 1], [1, 1, 1, 2], [1, 2, 3, 4]])
    np.testing.assert_array_equal(amma_clip_frames(10, K=2, t=4, step=2, hop=2), [[2, 2, 4, 6], [4, 6, 8, 10]])
    np.testing.assert_array_equal(stream_clip_frames(1, 4, step=2, hop=2), [2, 2, 2, 4])
    np.testing.assert_array_equal(amma_clip_frames(12, K=3, t=4, hop=0), amma_clip_frames(12, K=3, t=4))
    for bad in (5, -1):
        with pytest.raises(AmmaEdgeError, match=f"1 to t=4 sampled frames apart.*got {bad}"):
            amma_clip_frames(12, K=3, t=4, hop=bad)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(1, 40), K=st.integers(1, 5), t=st.integers(1, 6), step=st.integers(1, 4),
       hop_fraction=st.floats(0.0, 1.0))
def test_offline_overlapping_clips_at_a_stream_clip_end_are_the_streams_clips(index, K, t, step, hop_fraction):
    """The same agreement when clips overlap: the stream's clip i ends at i·hop·step and training samples there
    the stream's last K clips, the clips before its first one being its first frame repeated."""
    hop = max(1, round(hop_fraction * t))
    offline = amma_clip_frames(index * hop * step, K, t, step, hop)
    first = stream_clip_frames(1, t, step, hop)[0]
    for row, clip in zip(offline, range(index - K + 1, index + 1)):
        expected = stream_clip_frames(clip, t, step, hop) if clip >= 1 else np.full(t, first)
        np.testing.assert_array_equal(row, expected)


def test_astar_window_is_past_frames_padded_with_frame_one():
    np.testing.assert_array_equal(window_frames(3, 5), [1, 1, 1, 2, 3])
    np.testing.assert_array_equal(window_frames(10, 4, stride=2), [4, 6, 8, 10])


def test_key_frame_zero_is_rejected():
    with pytest.raises(ValueError):
        amma_clip_frames(0, 3, 4)


def test_tube_box_is_interpolated_in_a_gap_and_held_outside_the_tube():
    t = np.array([[10, 0, 0, 10, 10], [14, 4, 8, 14, 18]], dtype=np.float32)
    boxes = tube_boxes_at(t, np.array([12, 5, 20]))
    np.testing.assert_allclose(boxes, [[2, 4, 12, 14], [0, 0, 10, 10], [4, 8, 14, 18]])


def test_unsorted_tube_rows_are_sorted_before_interpolating():
    t = np.array([[14, 4, 8, 14, 18], [10, 0, 0, 10, 10]], dtype=np.float32)
    np.testing.assert_allclose(tube_boxes_at(t, np.array([11])), [[1, 2, 11, 12]])


def test_only_tubes_active_at_the_key_frame_are_returned():
    tubes = {
        0: [tube(range(1, 11), lambda f: (f, 0, f + 10, 10))],
        2: [tube(range(8, 21), lambda f: (0, f, 10, f + 10))],
    }
    labels, boxes = boxes_at(tubes, 15, np.array([15]))
    np.testing.assert_array_equal(labels, [2])
    np.testing.assert_allclose(boxes[:, 0], [[0, 15, 10, 25]])
    labels, boxes = keyframe_boxes(tubes, 9)
    np.testing.assert_array_equal(labels, [0, 2])
    np.testing.assert_allclose(boxes, [[9, 0, 19, 10], [0, 9, 10, 19]])
    labels, boxes = keyframe_boxes(tubes, 25)
    assert labels.shape == (0,) and boxes.shape == (0, 4)


def test_amma_tubelet_takes_clip_end_boxes_and_holds_the_first_box_before_a_tube_starts():
    tubes = {1: [tube(range(6, 30), lambda f: (f, 2 * f, f + 10, 2 * f + 10))]}
    labels, boxes = amma_tubelets(tubes, key_frame=12, K=3, t=4)  # clip ends 4, 8, 12; tube starts at 6
    np.testing.assert_array_equal(labels, [1])
    np.testing.assert_allclose(boxes[0], [[6, 12, 16, 22], [8, 16, 18, 26], [12, 24, 22, 34]])


def test_training_key_frames_are_the_annotated_frames():
    gt = make_gt({"v": {0: [tube(range(10, 21), lambda f: (0, 0, 5, 5)), tube(range(25, 29), lambda f: (0, 0, 5, 5))]}})
    np.testing.assert_array_equal(training_key_frames(gt, "v"), list(range(10, 21)) + list(range(25, 29)))


def test_min_history_keeps_only_keys_whose_tubes_cover_the_history():
    gt = make_gt({"v": {0: [tube(range(10, 21), lambda f: (0, 0, 5, 5)), tube(range(25, 29), lambda f: (0, 0, 5, 5))]}})
    np.testing.assert_array_equal(training_key_frames(gt, "v", min_history=4), list(range(14, 21)))


def test_min_history_counts_padding_before_the_video_as_frame_one():
    gt = make_gt({"v": {0: [tube(range(1, 6), lambda f: (0, 0, 5, 5))]}})
    np.testing.assert_array_equal(training_key_frames(gt, "v", min_history=8), [1, 2, 3, 4, 5])


def test_a_key_frame_with_a_late_starting_second_tube_is_dropped_by_min_history():
    early = tube(range(1, 21), lambda f: (0, 0, 5, 5))
    late = tube(range(12, 21), lambda f: (9, 9, 15, 15))
    gt = make_gt({"v": {0: [early], 1: [late]}})
    keys = training_key_frames(gt, "v", min_history=4)
    np.testing.assert_array_equal(keys, list(range(1, 12)) + list(range(16, 21)))


def test_training_samples_cover_the_split_and_fail_clearly_without_tubes():
    gt = make_gt({"a": {0: [tube(range(3, 6), lambda f: (0, 0, 5, 5))]}, "b": {}}, train=["a", "b"], test=["b"])
    assert training_samples(gt, "train") == [("a", 3), ("a", 4), ("a", 5)]
    with pytest.raises(AmmaEdgeError, match="no annotated frame"):
        training_samples(gt, "test")


def test_evaluation_samples_are_every_frame_of_the_test_videos():
    gt = make_gt({"a": {}, "b": {}}, nframes=4, train=["a"], test=["b"])
    assert evaluation_samples(gt) == [("b", 1), ("b", 2), ("b", 3), ("b", 4)]
