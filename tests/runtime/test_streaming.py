"""The streaming path must give exactly what the offline K-clip forward gives at the same key frames."""
import numpy as np
import pytest
import torch

from amma_edge.data.sampling import amma_clip_frames
from amma_edge.models import AMMAConfig, build
from amma_edge.runtime.decode import decode
from amma_edge.runtime.streaming import TubeletStream, clip_ends_for

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
