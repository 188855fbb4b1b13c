import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.augment import AugmentConfig, augment_clip, mean_fill
from amma_edge.data.dataset import AMMATrainDataset, AStarTrainDataset, EvalDataset, normalise_frames
from amma_edge.data.frames import FrameReader
from amma_edge.data.sampling import amma_clip_frames, amma_tubelets
from amma_edge.data.targets import amma_targets
from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig

H, W = 48, 64  # frame size (height, width)
GREY = (90, 90, 90)
RED = (0, 0, 255)  # BGR
CONFIG = AMMAConfig(K=2, t=2, num_classes=3, input_size=(64, 64))


def box_at(f, scale=1.0):
    return np.array([4 + 2 * f, 8, 20 + 2 * f, 40], np.float32) * scale


def make_gt(scale=1.0, extra=None):
    tube = np.array([[f, *box_at(f, scale)] for f in range(3, 13)], np.float32)
    tubes = {1: [tube]}
    tubes.update(extra or {})
    return GroundTruth(
        labels=["a", "b", "c"],
        splits=[(["v1"], ["v2"])],
        nframes={"v1": 12, "v2": 5},
        resolution={"v1": (int(H * scale), int(W * scale)), "v2": (H, W)},
        gttubes={"v1": tubes, "v2": {}},
        frame_pattern="{video}/{frame:05d}.png",
    )


class Reader:
    """In-memory frames: grey with a red rectangle at the tube's box; counts decodes."""

    def __init__(self):
        self.calls = []

    def __call__(self, video, frame):
        self.calls.append((video, frame))
        image = np.full((H, W, 3), GREY, np.uint8)
        x1, y1, x2, y2 = box_at(max(frame, 3)).astype(int)
        image[y1:y2, x1:x2] = RED
        return image


def normalised(bgr, c):
    return (bgr[2 - c] / 255 - CONFIG.mean[c]) / CONFIG.std[c]


def test_amma_sample_layout_and_targets_worked_by_hand():
    ds = AMMATrainDataset("unused", make_gt(), CONFIG, augment=None, read_frame=Reader())
    assert len(ds) == 10  # frames 3..12 are annotated
    sample = ds[ds.samples.index(("v1", 6))]
    assert sample["clips"].shape == (2, 2, 3, 64, 64) and sample["clips"].dtype == torch.float32
    assert sample["heatmap"].shape == (3, 8, 8) and sample["index"].dtype == torch.int64
    assert sample["movement"].shape == (128, 4) and sample["size"].shape == (128, 4)
    assert sample["video"] == "v1" and sample["frame"] == 6
    # key box (16, 8, 32, 40) → ×(1, 4/3) → /8 = (2, 1.33, 4, 6.67): centre (3, 4);
    # clip 1 ends at frame 4, whose box is 4 px (half a cell) further left
    assert sample["index"][0] == 4 * 8 + 3 and sample["mask"].sum() == 1
    np.testing.assert_allclose(sample["movement"][0], [-0.5, 0, 0, 0], atol=1e-5)
    np.testing.assert_allclose(sample["size"][0], [2, 16 / 3, 2, 16 / 3], atol=1e-5)
    assert sample["heatmap"][1, 4, 3] == 1
    clips = sample["clips"].numpy()
    for c in range(3):  # RGB order, normalised: a background pixel and a pixel inside the rectangle
        assert clips[1, 1, c, 0, 0] == pytest.approx(normalised(GREY, c), abs=1e-5)
        assert clips[1, 1, c, 32, 24] == pytest.approx(normalised(RED, c), abs=1e-5)


def test_a_frame_step_2_sample_reads_every_other_frame_and_moves_twice_as_far():
    config = AMMAConfig(K=2, t=2, num_classes=3, input_size=(64, 64), frame_step=2)
    reader = Reader()
    ds = AMMATrainDataset("unused", make_gt(), config, augment=None, read_frame=reader)
    sample = ds[ds.samples.index(("v1", 10))]
    assert reader.calls == [("v1", f) for f in (4, 6, 8, 10)]  # clips [[4, 6], [8, 10]]
    # clip 1 ends at frame 6, whose box is 8 px (a whole cell) left of the key frame's
    np.testing.assert_allclose(sample["movement"][0], [-1, 0, 0, 0], atol=1e-5)


def test_padding_frames_are_decoded_once():
    reader = Reader()
    ds = AMMATrainDataset("unused", make_gt(), CONFIG, augment=None, read_frame=reader)
    ds[ds.samples.index(("v1", 3))]  # frames [[1, 1], [2, 3]]
    assert reader.calls == [("v1", 1), ("v1", 2), ("v1", 3)]


def test_boxes_annotated_at_another_resolution_are_scaled_to_the_frames():
    base = AMMATrainDataset("unused", make_gt(), CONFIG, augment=None, read_frame=Reader())[3]
    scaled = AMMATrainDataset("unused", make_gt(scale=2.0), CONFIG, augment=None, read_frame=Reader())[3]
    for key in ("index", "movement", "size", "heatmap"):
        np.testing.assert_allclose(scaled[key], base[key], atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_overlapping_clips_are_augmented_as_one_draw_over_every_frame(seed):
    # K=3 clips of 4 overlapping by 2 ask for 12 frames, 8 of them distinct: each is decoded and transformed once,
    # and the sample is what one augmentation of all 12 requested frames gives.
    config = AMMAConfig(K=3, t=4, hop=2, num_classes=3, input_size=(64, 64))
    reader = Reader()
    ds = AMMATrainDataset("unused", make_gt(), config, augment=AugmentConfig(), read_frame=reader)
    torch.manual_seed(seed)
    sample = ds[ds.samples.index(("v1", 10))]
    assert reader.calls == [("v1", f) for f in range(3, 11)]

    requested = amma_clip_frames(10, 3, 4, 1, 2)
    labels, boxes = amma_tubelets(make_gt().gttubes["v1"], 10, 3, 4, 1, 2)
    torch.manual_seed(seed)
    rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
    images, boxes = augment_clip([Reader()("v1", f) for f in requested.reshape(-1)], boxes, (64, 64),
                                 AugmentConfig(), rng, mean_fill(config.mean))
    expected = normalise_frames(images, config.mean, config.std).reshape(3, 4, 3, 64, 64)
    np.testing.assert_array_equal(sample["clips"].numpy(), expected)
    targets = amma_targets(labels, boxes, 3, (64, 64), config.stride, 128, 0)
    for key in ("heatmap", "index", "movement", "size"):
        np.testing.assert_array_equal(sample[key].numpy(), targets[key])
    np.testing.assert_array_equal(sample["clips"][0, 2:], sample["clips"][1, :2])  # the shared frames agree


@pytest.mark.parametrize("seed", range(4))
def test_augmented_targets_point_at_the_augmented_rectangle(seed):
    torch.manual_seed(seed)
    augment = AugmentConfig(photometric_prob=0.0, expand_prob=1.0, expand_max_ratio=1.5, crop_prob=1.0,
                            crop_min_scale=0.6, scale_jitter_prob=1.0, location_jitter_prob=1.0)
    ds = AMMATrainDataset("unused", make_gt(), CONFIG, augment=augment, read_frame=Reader())
    s = ds[7]
    red = s["clips"][-1, -1, 0].numpy() > normalised((0, 0, 128), 0)  # R channel of the key frame
    ys, xs = np.nonzero(red)
    centre = np.array([(xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2])
    cell = np.array([s["index"][0] % 8, s["index"][0] // 8])
    np.testing.assert_allclose((cell + s["movement"][0, 2:].numpy()) * 8, centre, atol=1.5)
    np.testing.assert_allclose(s["size"][0, 2:].numpy() * 8, [xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()],
                               atol=2.0)


def test_default_reader_reads_frame_files_and_names_a_missing_one(tmp_path):
    gt = make_gt()
    reader = Reader()
    for f in range(1, 13):
        (tmp_path / "rgb-images" / "v1").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(gt.frame_path(tmp_path, "v1", f)), reader("v1", f))
    from_disk = AMMATrainDataset(tmp_path, gt, CONFIG, augment=None)[5]
    in_memory = AMMATrainDataset(tmp_path, gt, CONFIG, augment=None, read_frame=Reader())[5]
    torch.testing.assert_close(from_disk["clips"], in_memory["clips"])
    with pytest.raises(AmmaEdgeError, match="00007.png"):
        FrameReader(tmp_path, gt)("v2", 7)


def test_batches_collate_with_the_default_loader():
    ds = AMMATrainDataset("unused", make_gt(), CONFIG, read_frame=Reader())
    batch = next(iter(DataLoader(ds, batch_size=3, num_workers=0)))
    assert batch["clips"].shape == (3, 2, 2, 3, 64, 64) and batch["mask"].shape == (3, 128)
    assert batch["video"] == ["v1"] * 3


ASTAR = AStarConfig(clip_len=4, num_classes=3, input_size=(64, 64))
ANCHORS = [(0.5, 1.0), (1.0, 2.0)]


def test_astar_sample_merges_labels_of_one_person():
    extra_tube = np.array([[f, *box_at(f)] for f in range(3, 13)], np.float32)  # the same person, action 2 as well
    ds = AStarTrainDataset("unused", make_gt(extra={2: [extra_tube]}), ASTAR, augment=None, read_frame=Reader(),
                           anchors=ANCHORS)
    s = ds[ds.samples.index(("v1", 6))]
    assert s["clips"].shape == (4, 3, 64, 64)
    assert s["obj_mask"].shape == (2, 2, 2) and s["obj_mask"].sum() == 1
    # key box (16, 8, 32, 40) → (16, 10.7, 32, 53.3): centre (24, 32) / 32 → cell (0, 1);
    # its 0.5×1.33 cells fit anchor 0
    assert s["obj_mask"][0, 1, 0] == 1
    np.testing.assert_array_equal(s["classes"][0, 1, 0], [0, 1, 1])
    np.testing.assert_allclose(s["txty"][0, 1, 0], [0.75, 0.0], atol=1e-5)
    assert s["gt_mask"].sum() == 1


def test_astar_anchors_come_from_the_argument_or_the_configuration():
    if hasattr(ASTAR, "anchors"):
        ds = AStarTrainDataset("unused", make_gt(), ASTAR, read_frame=Reader())
        np.testing.assert_allclose(ds.anchors, np.asarray(ASTAR.anchors, np.float32).reshape(-1, 2))
    else:
        with pytest.raises(AmmaEdgeError, match="anchors"):
            AStarTrainDataset("unused", make_gt(), ASTAR, read_frame=Reader())


def test_evaluation_covers_every_test_frame_and_decodes_each_once_in_order():
    reader = Reader()
    ds = EvalDataset("unused", make_gt(), CONFIG, read_frame=reader)
    assert [(s["video"], s["frame"]) for s in ds] == [("v2", f) for f in range(1, 6)]
    assert sorted(reader.calls) == [("v2", f) for f in range(1, 6)]
    item = ds[4]
    assert item["clips"].shape == (2, 2, 3, 64, 64)
    assert item["resolution"].tolist() == [H, W]
    assert EvalDataset("unused", make_gt(), ASTAR, read_frame=Reader())[0]["clips"].shape == (4, 3, 64, 64)
