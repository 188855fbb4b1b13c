"""The streaming path must give exactly what the offline K-clip forward gives at the same key frames."""
import numpy as np
import pytest
import torch

from amma_edge.data.sampling import amma_clip_frames, stream_clip_frames
from amma_edge.errors import InputShapeError
from amma_edge.eval.frame_map import tubelet_frame_detections
from amma_edge.models import AMMAConfig, build
from amma_edge.runtime.decode import Tubelets, decode
from amma_edge.runtime.streaming import StreamStep, TubeletStream, clip_ends_for, interpolate_boxes

CONFIG = AMMAConfig(name="tiny", backbone="shufflenet_v2", width=0.5, num_classes=4, K=3, t=4, input_size=(64, 64))


def torch_callables(model):
    def encode(clip):
        with torch.no_grad():
            return model.encode(torch.from_numpy(clip)[None])[0].numpy()

    def head(features):
        with torch.no_grad():
            out = model.head(torch.from_numpy(np.array(features))[None])
        return {k: v[0].numpy() for k, v in out.items()}

    return encode, head


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return build(CONFIG).eval()


def test_stream_equals_offline_forward_at_every_key_frame(model):
    rng = np.random.default_rng(0)
    video = rng.standard_normal((22, 3, 64, 64)).astype(np.float32)  # 22 frames: 5 whole clips, 2 left over
    stream = TubeletStream(*torch_callables(model), CONFIG, original_size=(120, 160))
    ends = clip_ends_for(len(video), CONFIG.t)
    assert ends == [4, 8, 12, 16, 20]
    for end in ends:
        step = stream.push_clip(video[end - 4 : end])
        frames = amma_clip_frames(end, CONFIG.K, CONFIG.t)  # padded with frame 1 before the start
        with torch.no_grad():
            out = model(torch.from_numpy(video[frames - 1])[None])
        offline = decode(*(out[k][0].numpy() for k in ("center", "trajectory", "box")),
                         input_size=(64, 64), original_size=(120, 160), stride=8)
        unclamped_ends = end - CONFIG.t * np.arange(CONFIG.K - 1, -1, -1)
        valid = unclamped_ends >= 1
        np.testing.assert_array_equal(step.clip_ends, unclamped_ends[valid])
        np.testing.assert_array_equal(step.tubelets.classes, offline.classes)
        np.testing.assert_allclose(step.tubelets.scores, offline.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(step.tubelets.boxes, offline.boxes[:, valid], rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(step.new_frames, np.arange(end - 3, end + 1))
        if end < CONFIG.K * CONFIG.t:
            assert step.events == []  # linking waits for K real clips
        else:
            assert {e.kind for e in step.events} <= {"started", "updated", "ended"} and step.events


def test_a_stride_4_model_streams_on_its_own_grid():
    """The stream decodes with the model's output stride: boxes of a stride-4 model are not halved or doubled."""
    config = AMMAConfig(name="tiny-s4", backbone="shufflenet_v2", width=0.5, num_classes=4, K=3, t=4,
                        input_size=(64, 64), decoder="skip", output_stride=4)
    torch.manual_seed(3)
    model = build(config).eval()
    video = np.random.default_rng(2).standard_normal((12, 3, 64, 64)).astype(np.float32)
    stream = TubeletStream(*torch_callables(model), config, original_size=(120, 160))
    for end in (4, 8, 12):
        step = stream.push_clip(video[end - 4 : end])
    with torch.no_grad():
        out = model(torch.from_numpy(video[amma_clip_frames(12, 3, 4) - 1])[None])
    assert out["center"].shape[-2:] == (16, 16)
    offline = decode(*(out[k][0].numpy() for k in ("center", "trajectory", "box")),
                     input_size=(64, 64), original_size=(120, 160), stride=4)
    np.testing.assert_array_equal(step.tubelets.classes, offline.classes)
    np.testing.assert_allclose(step.tubelets.boxes, offline.boxes, rtol=1e-4, atol=1e-3)


def test_frame_detections_cover_each_frame_once(model):
    rng = np.random.default_rng(1)
    video = rng.standard_normal((12, 3, 64, 64)).astype(np.float32)
    stream = TubeletStream(*torch_callables(model), CONFIG, original_size=(64, 64), top_n=5)
    rows = np.concatenate([stream.push_clip(video[e - 4 : e]).frame_detections(7) for e in (4, 8, 12)])
    assert set(rows[:, 0]) == {7}
    frames, counts = np.unique(rows[:, 1], return_counts=True)
    np.testing.assert_array_equal(frames, np.arange(1, 13))
    assert set(counts) == {5}  # top_n tubelets, one box each per frame


def test_a_finished_stream_starts_the_next_video_fresh(model):
    rng = np.random.default_rng(2)
    video = rng.standard_normal((8, 3, 64, 64)).astype(np.float32)
    stream = TubeletStream(*torch_callables(model), CONFIG, original_size=(64, 64))
    first = [stream.push_clip(video[e - 4 : e]) for e in (4, 8)]
    stream.finish()
    again = [stream.push_clip(video[e - 4 : e]) for e in (4, 8)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.tubelets.boxes, b.tubelets.boxes)
        np.testing.assert_array_equal(a.clip_ends, b.clip_ends)


def test_boxes_are_interpolated_between_clip_ends_and_held_outside():
    boxes = np.array([[[0, 0, 10, 10], [4, 0, 14, 10], [4, 8, 14, 18]]], np.float32)
    got = interpolate_boxes(np.array([4, 8, 12]), boxes, np.arange(1, 15))
    np.testing.assert_array_equal(got[0, :4], np.repeat(boxes[:, :1], 4, axis=1)[0])  # frames 1..4: first end's
    np.testing.assert_allclose(got[0, 4:8, 0], [1, 2, 3, 4])  # x1 over frames 5..8
    np.testing.assert_allclose(got[0, 8:12, 1], [2, 4, 6, 8])  # y1 over frames 9..12
    np.testing.assert_array_equal(got[0, 11:], np.repeat(boxes[:, 2:], 3, axis=1)[0])  # from frame 12 on: held
    one_end = interpolate_boxes(np.array([4]), boxes[:, 1:2], np.arange(1, 5))
    np.testing.assert_array_equal(one_end, np.repeat(boxes[:, 1:2], 4, axis=1))
    with pytest.raises(InputShapeError, match="one clip end per box"):
        interpolate_boxes(np.array([4, 8]), boxes, np.arange(1, 9))


def test_step_rows_are_the_offline_rows_of_the_new_frames():
    """A step's rows are what offline evaluation gives for the same tubelets and clip ends, cut to the frames the
    step is first to cover; at the first clip (one clip end) the key-frame box is held over frames 1..t."""
    rng = np.random.default_rng(5)
    tubelets = Tubelets((rng.random((3, 3, 4)) * 50).astype(np.float32), np.array([0.9, 0.5, 0.2], np.float32),
                        np.array([2, 0, 1]))
    step = StreamStep(np.array([4, 8, 12]), tubelets, np.arange(9, 13))
    offline = tubelet_frame_detections(6, np.array([4, 8, 12]), tubelets)
    np.testing.assert_array_equal(step.frame_detections(6), offline[np.isin(offline[:, 1], np.arange(9, 13))])
    first = StreamStep(np.array([4]), Tubelets(tubelets.boxes[:, 2:], tubelets.scores, tubelets.classes),
                       np.arange(1, 5))
    rows = first.frame_detections(6)
    assert rows.shape == (12, 8)
    np.testing.assert_array_equal(rows[:, 4:].reshape(3, 4, 4), np.repeat(tubelets.boxes[:, 2:], 4, axis=1))
    assert StreamStep(np.array([4]), Tubelets.empty(1), np.arange(1, 5)).frame_detections(0).shape == (0, 8)


@pytest.mark.parametrize("frame_step", [1, 2])
def test_overlapping_clips_stream_equals_offline_forward_at_every_clip_end(frame_step):
    """Clips of t = 4 with ends 2 sampled frames apart (hop 2): each new clip shares half its frames with the
    last, the stream steps every 2·frame_step frames, and every step equals the offline forward at its key
    frame, including the first steps, whose clips reach before the video's start."""
    config = AMMAConfig(name="tiny-hop2", backbone="shufflenet_v2", width=0.5, num_classes=4, K=3, t=4,
                        input_size=(64, 64), hop=2, frame_step=frame_step)
    torch.manual_seed(3)
    model = build(config).eval()
    video = np.random.default_rng(5).standard_normal((19, 3, 64, 64)).astype(np.float32)
    stream = TubeletStream(*torch_callables(model), config, original_size=(120, 160))
    hop = 2 * frame_step
    ends = clip_ends_for(len(video), config.clip_hop)
    assert ends == list(range(hop, 20, hop))
    covered = []
    for i, end in enumerate(ends, start=1):
        read = stream_clip_frames(i, config.t, config.frame_step, config.hop)
        np.testing.assert_array_equal(read, np.maximum(np.arange(end - 3 * frame_step, end + 1, frame_step),
                                                       frame_step))
        step = stream.push_clip(video[read - 1])
        with torch.no_grad():
            out = model(torch.from_numpy(video[amma_clip_frames(end, 3, 4, frame_step, hop=2) - 1])[None])
        offline = decode(*(out[k][0].numpy() for k in ("center", "trajectory", "box")),
                         input_size=(64, 64), original_size=(120, 160), stride=8)
        unclamped_ends = end - hop * np.arange(2, -1, -1)
        valid = unclamped_ends >= 1
        np.testing.assert_array_equal(step.clip_ends, unclamped_ends[valid])
        np.testing.assert_allclose(step.tubelets.scores, offline.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(step.tubelets.boxes, offline.boxes[:, valid], rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(step.new_frames, np.arange(end - hop + 1, end + 1))
        covered.append(step.frame_detections(0)[:, 1])
    assert stream.clips_seen == len(ends)
    np.testing.assert_array_equal(np.unique(np.concatenate(covered)), np.arange(1, ends[-1] + 1))


def test_a_frame_step_2_stream_equals_offline_forward_and_boxes_every_frame():
    """With frame_step 2 the stream reads every other frame; each step still equals the offline forward on the
    frames sampling gives at its key frame, and the skipped frames get boxes too."""
    config = AMMAConfig(name="tiny-step2", backbone="shufflenet_v2", width=0.5, num_classes=4, K=3, t=4,
                        input_size=(64, 64), frame_step=2)
    torch.manual_seed(3)
    model = build(config).eval()
    video = np.random.default_rng(4).standard_normal((37, 3, 64, 64)).astype(np.float32)  # 4 clips of 8, 5 left
    stream = TubeletStream(*torch_callables(model), config, original_size=(120, 160))
    ends = clip_ends_for(len(video), config.clip_span)
    assert ends == [8, 16, 24, 32]
    covered = []
    for i, end in enumerate(ends, start=1):
        read = stream_clip_frames(i, config.t, config.frame_step)
        np.testing.assert_array_equal(read, np.arange(end - 6, end + 1, 2))
        step = stream.push_clip(video[read - 1])
        with torch.no_grad():
            out = model(torch.from_numpy(video[amma_clip_frames(end, 3, 4, 2) - 1])[None])
        offline = decode(*(out[k][0].numpy() for k in ("center", "trajectory", "box")),
                         input_size=(64, 64), original_size=(120, 160), stride=8)
        unclamped_ends = end - 8 * np.arange(2, -1, -1)
        valid = unclamped_ends >= 1
        np.testing.assert_array_equal(step.clip_ends, unclamped_ends[valid])
        np.testing.assert_allclose(step.tubelets.scores, offline.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(step.tubelets.boxes, offline.boxes[:, valid], rtol=1e-4, atol=1e-3)
        covered.append(step.frame_detections(0)[:, 1])
    assert stream.clips_seen == 4
    np.testing.assert_array_equal(np.unique(np.concatenate(covered)), np.arange(1, 33))


@pytest.mark.parametrize("hop", [0, 1, 3])
def test_a_clip_buffer_gives_the_clips_stream_clip_frames_names(hop):
    """Fed only each clip's new frames, the buffer holds exactly the clip read whole from the video: the frames
    that overlap the last clip kept, the frames before the video its first frame."""
    from amma_edge.runtime import native
    from amma_edge.runtime.streaming import ClipBuffer

    config = AMMAConfig(name="tiny-buffer", backbone="shufflenet_v2", width=0.5, num_classes=4, K=3, t=4,
                        input_size=(32, 32), hop=hop)
    video = np.random.default_rng(6).integers(0, 256, (20, 40, 48, 3), dtype=np.uint8)  # frames 1..20
    buffer, fresh = ClipBuffer(config), config.new_frames_per_clip
    for i, _ in enumerate(clip_ends_for(len(video), config.clip_hop), start=1):
        frames = stream_clip_frames(i, config.t, 1, config.hop)
        got = buffer.push([video[f - 1] for f in frames[-fresh:]])
        whole = native.preprocess_batch([video[f - 1] for f in frames], mean=config.mean, std=config.std,
                                        size=config.input_size)
        np.testing.assert_array_equal(got, whole)
    with pytest.raises(InputShapeError, match=f"each clip adds {fresh} sampled frames.*got {fresh + 1}"):
        buffer.push([video[0]] * (fresh + 1))
