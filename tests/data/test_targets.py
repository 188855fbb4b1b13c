import numpy as np
import pytest

from amma_edge.data.targets import amma_targets, astar_targets, draw_gaussians, gaussian_radius, merge_multilabel
from amma_edge.errors import AmmaEdgeError


def test_gaussian_radius_matches_centernet_values_worked_by_hand():
    # 10×10, overlap 0.7: roots 19.07, 36.73, 2.733 (case 3: (−28 + √1120) / 2); the smallest wins.
    assert gaussian_radius(10, 10) == pytest.approx(2.7332, abs=1e-4)
    # 20 high × 10 wide: case 3 = (−42 + √2436) / 2
    assert gaussian_radius(20, 10) == pytest.approx((-42 + np.sqrt(2436)) / 2)
    np.testing.assert_allclose(gaussian_radius(np.array([10.0, 20.0]), np.array([10.0, 10.0])), [2.7332, 3.6780],
                               atol=1e-4)


def one_tubelet():
    """Boxes in 288×288 input pixels at the ends of K = 3 clips; /8 → (1,1,11,21), (2,2,12,22), (10,10,20,30)."""
    return np.array([[[8, 8, 88, 168], [16, 16, 96, 176], [80, 80, 160, 240]]], np.float32)


def test_amma_targets_for_one_tubelet_worked_by_hand():
    t = amma_targets(np.array([1]), one_tubelet(), num_classes=3, input_size=(288, 288))
    assert t["heatmap"].shape == (3, 36, 36) and t["heatmap"].dtype == np.float32
    assert t["index"].shape == (128,) and t["index"].dtype == np.int64
    assert t["movement"].shape == (128, 6) and t["size"].shape == (128, 6)
    assert t["index"][0] == 20 * 36 + 15  # key centre (15, 20)
    np.testing.assert_array_equal(t["mask"][:2], [1, 0])
    np.testing.assert_allclose(t["movement"][0], [-9, -9, -8, -8, 0, 0])
    np.testing.assert_allclose(t["size"][0], [10, 20, 10, 20, 10, 20])
    heat = t["heatmap"]
    assert heat[1, 20, 15] == 1.0 and heat[0].max() == 0 and heat[2].max() == 0
    # radius int(3.678) = 3, σ = 7/6: one cell away exp(−1 / (2σ²)); nothing beyond 3 cells
    assert heat[1, 20, 16] == pytest.approx(np.exp(-1 / (2 * (7 / 6) ** 2)), rel=1e-6)
    assert heat[1, 20, 18] > 0 and heat[1, 20, 19] == 0 and heat[1, 23, 15] > 0 and heat[1, 24, 15] == 0


def test_min_radius_widens_the_one_cell_peaks_of_small_boxes():
    boxes = np.array([[[32, 32, 48, 80]]], np.float32)  # 2 × 6 cells at stride 8: CenterNet's radius is 0
    plain = amma_targets(np.array([0]), boxes, 1, (128, 128))["heatmap"][0]
    wide = amma_targets(np.array([0]), boxes, 1, (128, 128), min_radius=1)["heatmap"][0]
    assert np.count_nonzero(plain) == 1 and plain[7, 5] == 1.0
    assert np.count_nonzero(wide) == 9 and wide[7, 5] == 1.0  # the 3 × 3 block, σ = 1/2
    assert wide[7, 6] == pytest.approx(np.exp(-1 / (2 * 0.5**2)), rel=1e-6)
    big = np.array([[[8, 8, 88, 168]]], np.float32)  # radius 3 by the rule: a minimum of 1 leaves it alone
    np.testing.assert_array_equal(amma_targets(np.array([0]), big, 1, (288, 288), min_radius=1)["heatmap"],
                                  amma_targets(np.array([0]), big, 1, (288, 288))["heatmap"])


def test_movement_keeps_the_fraction_lost_by_the_integer_centre():
    boxes = np.array([[[84, 82, 164, 242]]], np.float32)  # centre (124, 162) / 8 = (15.5, 20.25)
    t = amma_targets(np.array([0]), boxes, 1, (288, 288))
    assert t["index"][0] == 20 * 36 + 15
    np.testing.assert_allclose(t["movement"][0], [0.5, 0.25])


def test_overlapping_gaussians_of_a_class_take_the_maximum():
    heat = np.zeros((1, 9, 9), np.float32)
    draw_gaussians(heat, np.array([0, 0]), np.array([[3, 4], [5, 4]]), np.array([2, 2]))
    assert heat[0, 4, 3] == 1.0 and heat[0, 4, 5] == 1.0
    one = np.zeros((1, 9, 9), np.float32)
    draw_gaussians(one, np.array([0]), np.array([[3, 4]]), np.array([2]))
    assert heat[0, 4, 4] == pytest.approx(one[0, 4, 4])  # max of two equal values, not their sum


def test_empty_boxes_are_skipped_and_max_objs_caps_the_rest():
    boxes = np.array([[[0, 0, 16, 16]], [[40, 40, 40, 60]], [[80, 80, 96, 96]], [[120, 120, 136, 136]]], np.float32)
    t = amma_targets(np.array([0, 0, 0, 0]), boxes, 1, (288, 288), max_objs=2)
    np.testing.assert_array_equal(t["mask"], [1, 1])
    np.testing.assert_array_equal(t["index"], [1 * 36 + 1, 11 * 36 + 11])  # the zero-width box is not counted


def test_a_centre_on_the_image_border_stays_on_the_grid():
    # an unclipped box whose centre (292, 110) / 8 = (36.5, 13.75) is past the last column
    t = amma_targets(np.array([0]), np.array([[[284, 100, 300, 120]]], np.float32), 1, (288, 288))
    assert t["index"][0] == 13 * 36 + 35
    np.testing.assert_allclose(t["movement"][0], [1.5, 0.75])


def test_no_tubelet_gives_empty_targets():
    t = amma_targets(np.zeros(0, np.int64), np.zeros((0, 3, 4), np.float32), 2, (64, 64))
    assert t["heatmap"].max() == 0 and t["mask"].sum() == 0 and t["movement"].shape == (128, 6)


def test_unknown_label_is_a_user_error():
    with pytest.raises(AmmaEdgeError, match="label 5"):
        amma_targets(np.array([5]), one_tubelet(), 3, (288, 288))


def test_one_person_doing_two_actions_becomes_one_multi_hot_row():
    boxes = np.array([[10, 10, 50, 90], [60, 10, 90, 40], [10, 10, 50, 90]], np.float32)
    classes, merged = merge_multilabel(np.array([0, 2, 3]), boxes, 4)
    order = np.argsort(merged[:, 0])
    np.testing.assert_array_equal(merged[order], [[10, 10, 50, 90], [60, 10, 90, 40]])
    np.testing.assert_array_equal(classes[order], [[1, 0, 0, 1], [0, 0, 1, 0]])


ANCHORS = np.array([[1.0, 1.0], [3.0, 4.0]])


def test_yolo_targets_worked_by_hand():
    boxes = np.array([[64, 96, 160, 224], [40, 40, 72, 72]], np.float32)
    classes = np.array([[0, 1, 1], [1, 0, 0]], np.float32)
    t = astar_targets(classes, boxes, ANCHORS, (224, 224))
    assert t["obj_mask"].shape == (2, 7, 7) and t["classes"].shape == (2, 7, 7, 3) and t["boxes"].shape == (2, 7, 7, 4)
    assert t["obj_mask"].sum() == 2
    # box 1: centre (112, 160)/32 = (3.5, 5.0), size 3×4 cells → anchor 1, cell (x 3, y 5)
    assert t["obj_mask"][1, 5, 3] == 1
    np.testing.assert_allclose(t["txty"][1, 5, 3], [0.5, 0.0])
    np.testing.assert_allclose(t["twth"][1, 5, 3], [0.0, 0.0], atol=1e-6)
    np.testing.assert_array_equal(t["classes"][1, 5, 3], [0, 1, 1])
    np.testing.assert_array_equal(t["boxes"][1, 5, 3], [64, 96, 160, 224])
    # box 2: centre (56, 56)/32 = (1.75, 1.75), size 1×1 → anchor 0, cell (1, 1)
    assert t["obj_mask"][0, 1, 1] == 1
    np.testing.assert_allclose(t["txty"][0, 1, 1], [0.75, 0.75])
    np.testing.assert_array_equal(t["gt_mask"][:3], [1, 1, 0])
    np.testing.assert_array_equal(t["gt_boxes"][:2], boxes)


def test_tw_th_are_log_size_over_anchor():
    t = astar_targets(np.ones((1, 1), np.float32), np.array([[0, 0, 64, 32]], np.float32), ANCHORS, (224, 224))
    assert t["obj_mask"][0, 0, 1] == 1  # 2×1 cells fits the 1×1 anchor (IoU 0.5) better than 3×4 (1/6)
    np.testing.assert_allclose(t["twth"][0, 0, 1], [np.log(2.0), 0.0], atol=1e-6)


def test_two_boxes_on_one_slot_keep_the_better_fitting_one():
    boxes = np.array([[40, 40, 80, 80], [44, 44, 76, 76]], np.float32)  # same cell; 1.25 and 1.0 cells → anchor 0
    t = astar_targets(np.eye(2, dtype=np.float32), boxes, ANCHORS, (224, 224))
    assert t["obj_mask"].sum() == 1
    np.testing.assert_array_equal(t["boxes"][0, 1, 1], [44, 44, 76, 76])
    np.testing.assert_array_equal(t["classes"][0, 1, 1], [0, 1])
    assert t["gt_mask"].sum() == 2  # both still count for the ignore rule


def test_missing_anchors_are_a_user_error():
    with pytest.raises(AmmaEdgeError, match="anchors"):
        astar_targets(np.ones((1, 1), np.float32), np.array([[0, 0, 10, 10]], np.float32), np.zeros((0, 2)), (224, 224))
