import json

import numpy as np
import pytest

from amma_edge.data.annotations import GroundTruth, load_ground_truth, save_ground_truth
from amma_edge.errors import AmmaEdgeError


def make_gt(shift: float = 0.0) -> GroundTruth:
    tube = np.array([[1, 10, 20, 50, 80], [2, 11 + shift, 21, 51, 81]], dtype=np.float32)
    return GroundTruth(
        labels=["walk", "wave"],
        splits=[(["a"], ["b"])],
        nframes={"a": 2, "b": 3},
        resolution={"a": (240, 320), "b": (240, 320)},
        gttubes={"a": {1: [tube]}, "b": {0: [tube, tube + 1]}},
        fps={"a": 25.0},
    )


def test_round_trip_keeps_every_field(tmp_path):
    gt = make_gt()
    save_ground_truth(gt, tmp_path)
    back = load_ground_truth(tmp_path)
    assert back.labels == gt.labels and back.splits == gt.splits
    assert back.nframes == gt.nframes and back.resolution == gt.resolution and back.fps == gt.fps
    np.testing.assert_array_equal(back.gttubes["b"][0][1], gt.gttubes["b"][0][1])
    assert back.split_videos("test") == ["b"]


def test_tubes_from_another_save_are_refused(tmp_path):
    save_ground_truth(make_gt(), tmp_path / "one")
    save_ground_truth(make_gt(shift=5.0), tmp_path / "two")
    (tmp_path / "one" / "tubes.npz").write_bytes((tmp_path / "two" / "tubes.npz").read_bytes())
    with pytest.raises(AmmaEdgeError, match="does not belong to"):
        load_ground_truth(tmp_path / "one")


def test_malformed_annotations_give_a_clear_error(tmp_path):
    save_ground_truth(make_gt(), tmp_path)
    meta = json.loads((tmp_path / "annotations.json").read_text())
    del meta["splits"]
    (tmp_path / "annotations.json").write_text(json.dumps(meta))
    with pytest.raises(AmmaEdgeError, match="malformed.*splits"):
        load_ground_truth(tmp_path)


def test_missing_dataset_says_how_to_make_one(tmp_path):
    with pytest.raises(AmmaEdgeError, match="data synth"):
        load_ground_truth(tmp_path)
