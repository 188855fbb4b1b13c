import numpy as np
import pytest

from amma_edge.errors import InputShapeError
from amma_edge.runtime.anchor_decode import decode_anchors

ANCHORS = np.array([[1.0, 1.0], [2.0, 3.0]], np.float32)


def raw(h=4, w=5, classes=3):
    return (np.zeros((2, 4, h, w), np.float32), np.full((2, h, w), -20.0, np.float32),
            np.full((2, classes, h, w), -20.0, np.float32))


def test_one_confident_cell_gives_its_box_scaled_to_the_original_frame():
    box, obj, cls = raw()
    obj[1, 2, 2] = 20.0
    cls[1, 2, 2, 2] = 20.0
    box[1, :, 2, 2] = [0.0, 0.0, np.log(2.0), 0.0]  # centre at the cell's middle; width 2·anchor
    d = decode_anchors(box, obj, cls, ANCHORS, stride=32, input_size=(128, 160), original_size=(256, 320))
    assert len(d) == 1 and d.classes.tolist() == [2] and d.scores[0] > 0.99
    cx, cy, bw, bh = (2.5 * 32) * 2, (2.5 * 32) * 2, 4 * 32 * 2, 3 * 32 * 2
    np.testing.assert_allclose(d.boxes[0], [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], atol=1e-3)
    obj[1, 2, 2], obj[1, 2, 4] = -20.0, 20.0  # at the right edge the box is clipped to the frame
    cls[1, 2, 2, 4] = 20.0
    d = decode_anchors(box, obj, cls, ANCHORS, stride=32, input_size=(128, 160), original_size=(256, 320))
    assert d.boxes[0, 2] == 320.0


def test_scores_are_objectness_times_class_and_sorted_with_nms_per_class():
    box, obj, cls = raw()
    obj[0, 1, 1] = obj[0, 1, 2] = 0.0  # sigmoid 0.5
    cls[0, 0, 1, 1] = 2.0
    cls[0, 0, 1, 2] = 1.0
    cls[0, 1, 1, 2] = 3.0  # same cell, another class: multi-label, kept
    d = decode_anchors(box, obj, cls, ANCHORS, stride=32, input_size=(128, 160), original_size=(128, 160),
                       nms_threshold=0.5)
    sig = lambda x: 1 / (1 + np.exp(-x))
    # the two class-0 boxes (adjacent cells, anchor 1x1: IoU 0) both survive
    np.testing.assert_allclose(d.scores, [0.5 * sig(3.0), 0.5 * sig(2.0), 0.5 * sig(1.0)], rtol=1e-5)
    assert d.classes.tolist() == [1, 0, 0]
    assert np.all(np.diff(d.scores) <= 0)


def test_nothing_above_threshold_and_bad_shapes():
    box, obj, cls = raw()
    d = decode_anchors(box, obj, cls, ANCHORS, stride=32, input_size=(128, 160), original_size=(128, 160))
    assert len(d) == 0 and d.boxes.shape == (0, 4) and d.as_tubelets().K == 2
    with pytest.raises(InputShapeError, match="anchors"):
        decode_anchors(box, obj, cls, ANCHORS[:1], stride=32, input_size=(128, 160), original_size=(128, 160))


def test_huge_raw_sizes_do_not_overflow():
    box, obj, cls = raw()
    box[:, 2:] = 1e6
    obj[:] = 20.0
    cls[:] = 20.0
    with np.errstate(all="raise"):
        d = decode_anchors(box, obj, cls, ANCHORS, stride=32, input_size=(128, 160), original_size=(128, 160))
    assert np.all(np.isfinite(d.boxes)) and d.boxes.max() <= 160
