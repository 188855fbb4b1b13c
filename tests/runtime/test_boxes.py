import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import InputShapeError
from amma_edge.runtime.boxes import (
    aligned_tubelet_iou,
    box_iou,
    nms,
    paired_iou,
    tube_iou,
    tube_iou_factors,
    tube_nms,
    tubelet_iou,
)


def test_box_iou_by_hand_continuous_and_inclusive():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 5, 15, 15], [20, 20, 30, 30]])
    # continuous: intersection 5·5 = 25, union 100 + 100 − 25 = 175
    np.testing.assert_allclose(box_iou(a, b), [[25 / 175, 0.0]])
    # inclusive pixels (+1): intersection 6·6 = 36, areas 11·11 = 121, union 242 − 36 = 206
    np.testing.assert_allclose(box_iou(a, b, offset=1.0), [[36 / 206, 0.0]])


def test_touching_boxes_overlap_only_under_the_inclusive_convention():
    a, b = np.array([0, 0, 10, 10]), np.array([10, 0, 20, 10])
    assert paired_iou(a, b) == 0.0
    # inclusive: column 10 is shared, 1·11 = 11 pixels; areas 121 each; union 242 − 11 = 231
    assert paired_iou(a, b, offset=1.0) == pytest.approx(11 / 231)


def test_empty_boxes_give_zero_not_nan():
    a = np.array([[3, 3, 3, 3]])
    assert box_iou(a, a)[0, 0] == 0.0


def test_box_iou_rejects_non_boxes():
    with pytest.raises(InputShapeError):
        paired_iou(np.zeros((2, 3)), np.zeros((2, 3)))


def test_tubelet_iou_averages_over_shared_frames_only():
    a = np.array([[[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]]], dtype=float)  # frames 1, 5, 9
    b = np.array([[[0, 0, 10, 10], [0, 0, 10, 5], [50, 50, 60, 60]]], dtype=float)  # frames 5, 9, 13
    # shared frames 5 and 9: IoU 1 at 5; at 9 (0,0,10,10) vs (0,0,10,5) = 50/100 = 0.5; mean 0.75
    out = tubelet_iou(a, np.array([1, 5, 9]), b, np.array([5, 9, 13]))
    np.testing.assert_allclose(out, [[0.75]])
    # no shared frame at all
    np.testing.assert_array_equal(tubelet_iou(a, np.array([1, 5, 9]), b, np.array([10, 14, 18])), [[0.0]])


def test_aligned_tubelet_iou_gives_each_row_its_own_frames():
    a = np.array([[[0, 0, 10, 10]] * 3, [[0, 0, 10, 10]] * 3], dtype=float)
    frames_a = np.array([[1, 5, 9], [5, 9, 13]])
    b = np.array([[[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 10]]], dtype=float)  # at frames 9, 13, 17
    iou, shared = aligned_tubelet_iou(a, frames_a, b, np.array([9, 13, 17]))
    # row 0 shares frame 9 only: IoU 1. Row 1 shares 9 (IoU 1) and 13 (50/100): mean 0.75
    np.testing.assert_allclose(iou, [[1.0], [0.75]])
    np.testing.assert_array_equal(shared, [1, 2])
    none, count = aligned_tubelet_iou(a[:1], frames_a[:1], b, np.array([20, 24, 28]))
    assert none.tolist() == [[0.0]] and count.tolist() == [0]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 31 - 1))
def test_aligned_tubelet_iou_agrees_with_tubelet_iou_row_by_row(seed):
    rng = np.random.default_rng(seed)
    na, nb, ka, kb = (int(v) for v in rng.integers(1, 5, size=4))
    corner = rng.integers(0, 20, size=(na, ka, 2))
    a = np.concatenate([corner, corner + rng.integers(1, 15, size=(na, ka, 2))], -1).astype(float)
    corner = rng.integers(0, 20, size=(nb, kb, 2))
    b = np.concatenate([corner, corner + rng.integers(1, 15, size=(nb, kb, 2))], -1).astype(float)
    frames_a = np.stack([np.sort(rng.choice(12, size=ka, replace=False)) for _ in range(na)])
    frames_b = np.sort(rng.choice(12, size=kb, replace=False))
    iou, shared = aligned_tubelet_iou(a, frames_a, b, frames_b, offset=1.0)
    for i in range(na):
        np.testing.assert_allclose(iou[i], tubelet_iou(a[i:i + 1], frames_a[i], b, frames_b, offset=1.0)[0])
        assert shared[i] == len(np.intersect1d(frames_a[i], frames_b))


def test_tube_iou_by_hand():
    fa, ba = np.arange(1, 11), np.tile([0, 0, 10, 10], (10, 1))
    fb, bb = np.arange(6, 16), np.tile([0, 0, 10, 5], (10, 1))
    # temporal: [6, 10] ∩ = 5 frames, [1, 15] ∪ = 15 frames; spatial 50/100 = 0.5 on each shared frame
    assert tube_iou(fa, ba, fb, bb) == pytest.approx(5 / 15 * 0.5)
    assert tube_iou(fa, ba, np.arange(11, 20), np.tile([0, 0, 10, 10], (9, 1))) == 0.0
    # the two factors apart, as bench_tube_overlap reports them
    assert tube_iou_factors(fa, ba, fb, bb) == pytest.approx((5 / 15, 0.5))
    assert tube_iou_factors(fa, ba, np.arange(11, 20), np.tile([0, 0, 10, 10], (9, 1))) == (0.0, 0.0)


def test_tube_iou_pairs_boxes_by_frame_number_across_gaps():
    fa, ba = np.arange(1, 11), np.tile([0, 0, 10, 10], (10, 1))
    fb = np.array([6, 8, 10, 12])
    bb = np.array([[0, 0, 10, 5], [0, 0, 10, 5], [0, 0, 10, 5], [0, 0, 10, 10]])
    # temporal: ∩ [6, 10] = 5 frames, ∪ [1, 12] = 12; spatial mean over shared frames 6, 8, 10: 0.5
    assert tube_iou(fa, ba, fb, bb) == pytest.approx(5 / 12 * 0.5)


def test_nms_chain_keeps_what_a_suppressed_box_would_have_removed():
    boxes = np.array([[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    # A–B: 60/140 = 0.43 > 0.3, so B goes; B–C would be 0.43 too, but B is gone; A–C: 20/180 = 0.11 keeps C
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [0, 2])


def test_nms_threshold_is_strict_and_ties_go_to_the_lower_index():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], dtype=float)  # IoU 50/150 = 1/3
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.9]), 1 / 3), [1, 0])  # not greater: both stay
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.9]), 0.3), [1])
    same = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    np.testing.assert_array_equal(nms(same, np.array([0.7, 0.7]), 0.3), [0])


def test_nms_groups_are_independent_and_top_k_is_per_group():
    boxes = np.array([[0, 0, 10, 10]] * 3 + [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    groups = np.array([1, 1, 1, 0, 0, 0])
    # group 1: three identical boxes → only the best; group 0: three disjoint boxes → all, then top 2
    np.testing.assert_array_equal(nms(boxes, scores, 0.3, groups=groups), [3, 4, 5, 0])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3, groups=groups, top_k=2), [3, 4, 0])


def test_tubelet_nms_uses_the_mean_iou_over_frames():
    a = [[0, 0, 10, 10], [0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [100, 100, 110, 110]]  # IoU 1 then 0: mean 0.5
    boxes = np.array([a, b], dtype=float)
    np.testing.assert_array_equal(nms(boxes, np.array([0.9, 0.8]), 0.6), [0, 1])
    np.testing.assert_array_equal(nms(boxes, np.array([0.9, 0.8]), 0.4), [0])


def test_nms_of_nothing():
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3).shape == (0,)


def test_tube_nms_by_hand():
    whole = (np.arange(1, 11), np.tile([0, 0, 10, 10], (10, 1)))
    half = (np.arange(6, 16), np.tile([0, 0, 10, 10], (10, 1)))  # IoU with `whole`: 5/15
    apart = (np.arange(1, 11), np.tile([50, 50, 60, 60], (10, 1)))
    np.testing.assert_array_equal(tube_nms([whole, half, apart], np.array([0.9, 0.8, 0.7]), 0.3), [0, 2])
    np.testing.assert_array_equal(tube_nms([whole, half, apart], np.array([0.9, 0.8, 0.7]), 0.4), [0, 1, 2])


box = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 30), st.integers(1, 30)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=60, deadline=None)
@given(st.lists(box, min_size=1, max_size=8), st.lists(box, min_size=1, max_size=8))
def test_iou_is_symmetric_bounded_and_one_on_itself(a, b):
    a, b = np.array(a, float), np.array(b, float)
    m = box_iou(a, b)
    np.testing.assert_allclose(m, box_iou(b, a).T)
    assert np.all((m >= 0) & (m <= 1 + 1e-12))
    np.testing.assert_allclose(np.diag(box_iou(a, a)), 1.0)


def _reference_nms(boxes, scores, groups, threshold):
    """The definition, one box at a time: walk each group best first, keep what no kept box overlaps."""
    keep = []
    for g in sorted(set(groups.tolist())):
        idx = [i for i in np.lexsort((np.arange(len(scores)), -scores)) if groups[i] == g]
        kept = []
        for i in idx:
            if all(paired_iou(boxes[i], boxes[j]) <= threshold for j in kept):
                kept.append(i)
        keep += kept
    return keep


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(box, st.integers(0, 5), st.integers(0, 2)), min_size=0, max_size=25),
       st.sampled_from([0.0, 0.3, 0.5, 0.7]))
def test_nms_matches_the_one_box_at_a_time_definition(rows, threshold):
    boxes = np.array([r[0] for r in rows], float).reshape(-1, 4)
    scores = np.array([r[1] / 5 for r in rows], float)  # few distinct values, so ties happen
    groups = np.array([r[2] for r in rows], dtype=np.int64)
    assert nms(boxes, scores, threshold, groups=groups).tolist() == _reference_nms(boxes, scores, groups, threshold)
