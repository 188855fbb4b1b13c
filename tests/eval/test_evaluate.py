"""End to end through the streaming path with an oracle head built from the ground-truth targets: the
targets, decode, streaming, linking and metrics must all agree on their conventions to score near 100."""
import cv2
import numpy as np
import pytest

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.sampling import amma_tubelets
from amma_edge.data.targets import amma_targets
from amma_edge.eval.evaluate import evaluate_amma
from amma_edge.models import AMMAConfig

CONFIG = AMMAConfig(name="oracle", num_classes=3, K=3, t=4, input_size=(64, 96))
ORIGINAL = (120, 160)  # (h, w) of the video, not the input size: boxes must be scaled both ways


def moving_tube(first, last, x0, y0, dx, size=(40, 60)):
    frames = np.arange(first, last + 1)
    x1 = x0 + dx * (frames - first)
    return np.column_stack([frames, x1, np.full_like(x1, y0), x1 + size[0], np.full_like(x1, y0 + size[1])]).astype(np.float32)


def make_dataset(root):
    gt = GroundTruth(
        labels=["walk", "wave", "jump"],
        splits=[([], ["a", "b"])],
        nframes={"a": 24, "b": 24},
        resolution={"a": ORIGINAL, "b": ORIGINAL},
        gttubes={"a": {0: [moving_tube(1, 24, 10, 30, 2.0)]}, "b": {2: [moving_tube(1, 24, 100, 40, -1.5)]}},
    )
    blank = np.zeros(ORIGINAL + (3,), np.uint8)
    for video in gt.nframes:
        (root / "rgb-images" / video).mkdir(parents=True)
        for f in range(1, 25):
            cv2.imwrite(str(gt.frame_path(root, video, f)), blank)
    return gt


class OracleHead:
    """Ignores the features and draws the maps the targets say the model should output at this key frame."""

    def __init__(self, gt, videos, config=CONFIG):
        self.gt, self.videos, self.video, self.step = gt, list(videos), -1, 0
        self.config = config

    def start(self, video):
        self.video, self.step = video, 0

    def __call__(self, features):
        c = self.config
        self.step += 1
        key = self.step * c.t
        labels, boxes = amma_tubelets(self.gt.gttubes[self.video], key, c.K, c.t)
        scale = np.array([c.input_size[1] / ORIGINAL[1], c.input_size[0] / ORIGINAL[0]] * 2)
        tg = amma_targets(labels, boxes * scale, c.num_classes, c.input_size, c.stride)
        h, w = c.output_size
        trajectory = np.zeros((2 * c.K, h * w), np.float32)
        box = np.zeros((2 * c.K, h * w), np.float32)
        n = int(tg["mask"].sum())
        trajectory[:, tg["index"][:n]] = tg["movement"][:n].T
        box[:, tg["index"][:n]] = tg["size"][:n].T
        return {"center": tg["heatmap"], "trajectory": trajectory.reshape(-1, h, w), "box": box.reshape(-1, h, w)}


@pytest.mark.parametrize("config", [CONFIG, AMMAConfig(name="oracle-s4", num_classes=3, K=3, t=4, input_size=(64, 96),
                                                        decoder="skip", output_stride=4)], ids=["stride8", "stride4"])
def test_oracle_maps_score_near_perfectly_through_the_stream(tmp_path, config):
    """At either output stride: the targets, the decode and the stream must use the model's own grid."""
    gt = make_dataset(tmp_path)
    head = OracleHead(gt, ["a", "b"], config)
    result = evaluate_amma(
        lambda clip: np.zeros((config.feature_dim // 4,) + config.output_size, np.float32),
        head, config, tmp_path, gt, on_video=lambda i, n, video: head.start(video),
    )
    assert result.videos == 2 and result.frames_scored == 48
    assert result.frame.mean_ap > 99.9, result.frame.as_dict()
    assert result.video.mean_ap(0.5) == 100.0, result.video.as_dict()


def test_on_step_hands_out_what_the_linker_was_given(tmp_path):
    from amma_edge.runtime.linking import link_video

    gt = make_dataset(tmp_path)
    head = OracleHead(gt, ["a", "b"])
    seen: dict[str, list] = {}
    result = evaluate_amma(
        lambda clip: np.zeros((CONFIG.feature_dim // 4,) + CONFIG.output_size, np.float32),
        head, CONFIG, tmp_path, gt, on_video=lambda i, n, video: head.start(video),
        on_step=lambda video, step: seen.setdefault(video, []).append(step),
    )
    assert {v: len(s) for v, s in seen.items()} == {"a": 24 // CONFIG.t, "b": 24 // CONFIG.t}
    for video, steps in seen.items():  # relinking the full steps gives the evaluation's own tubes
        relinked = link_video([(s.clip_ends, s.tubelets) for s in steps if len(s.clip_ends) == CONFIG.K])
        assert [(t.label, t.frames.tolist()) for t in relinked] == \
               [(t.label, t.frames.tolist()) for t in result.tubes[video]]
