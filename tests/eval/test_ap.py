import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import AmmaEdgeError
from amma_edge.eval.ap import (
    ALL_POINT,
    GREEDY,
    TRAPEZOID,
    VOC,
    Protocol,
    average_precision,
    get_protocol,
    greedy_match,
    group_ranks,
)


def test_ap_by_hand_both_rules():
    hits = np.array([True, False, True])
    # 3 GT. precision 1, 1/2, 2/3; recall 1/3, 1/3, 2/3.
    # trapezoid from (0, 1): 1/3·(1 + 1)/2 + 0 + 1/3·(1/2 + 2/3)/2 = 12/36 + 7/36 = 19/36
    assert average_precision(hits, 3, TRAPEZOID) == pytest.approx(19 / 36)
    # all-point: envelope 1 on (0, 1/3], 2/3 on (1/3, 2/3], nothing beyond: 1/3 + 2/9 = 5/9
    assert average_precision(hits, 3, ALL_POINT) == pytest.approx(5 / 9)


def test_a_false_positive_first_halves_the_trapezoid_but_not_the_envelope():
    hits = np.array([False, True])
    # trapezoid: rows (P, R) = (1, 0), (0, 0), (1/2, 1): 1·(0 + 1/2)/2 = 1/4
    assert average_precision(hits, 1, TRAPEZOID) == pytest.approx(0.25)
    # all-point: the envelope is 1/2 on (0, 1]
    assert average_precision(hits, 1, ALL_POINT) == pytest.approx(0.5)


def test_ap_edge_cases():
    assert average_precision(np.array([True, True]), 2, TRAPEZOID) == pytest.approx(1.0)
    assert average_precision(np.array([True, True]), 2, ALL_POINT) == pytest.approx(1.0)
    assert average_precision(np.zeros(0, bool), 2, TRAPEZOID) == 0.0  # ground truth, no detection
    assert math.isnan(average_precision(np.array([False]), 0, TRAPEZOID))  # no ground truth: no AP
    with pytest.raises(AmmaEdgeError):
        average_precision(np.array([True]), 1, "eleven_point")


def test_greedy_and_voc_matching_differ_on_a_taken_best():
    # one group, two GT; detection 0 overlaps GT 1 best (0.9); detection 1 overlaps GT 0 by 0.7, GT 1 by 0.8
    iou = np.array([[0.6, 0.9], [0.7, 0.8]])
    slots = np.array([[0, 1], [0, 1]])
    rank = np.array([0, 1])
    # greedy: det 1 takes the best unmatched, GT 0 (0.7 ≥ 0.5)
    np.testing.assert_array_equal(greedy_match(iou, slots, rank, 2, 0.5, GREEDY), [1, 0])
    # VOC: det 1's best overall is GT 1, already taken → no match
    np.testing.assert_array_equal(greedy_match(iou, slots, rank, 2, 0.5, VOC), [1, -1])


def test_matching_threshold_is_inclusive_ties_go_to_the_earlier_gt_and_padding_never_matches():
    np.testing.assert_array_equal(greedy_match(np.array([[0.5]]), np.array([[0]]), np.array([0]), 1, 0.5), [0])
    np.testing.assert_array_equal(
        greedy_match(np.array([[0.7, 0.7]]), np.array([[0, 1]]), np.array([0]), 2, 0.5), [0])
    np.testing.assert_array_equal(
        greedy_match(np.array([[-np.inf, 0.9]]), np.array([[-1, 0]]), np.array([0]), 1, 0.5), [0])
    assert greedy_match(np.zeros((2, 0)), np.zeros((2, 0), int), np.array([0, 1]), 0, 0.5).tolist() == [-1, -1]


def test_groups_match_independently_in_their_own_rank_order():
    # group A (GT 0) and group B (GT 1); ranks within group; the second of each group finds its GT taken
    iou = np.array([[0.9], [0.8], [0.95], [0.6]])
    slots = np.array([[0], [1], [0], [1]])
    rank = np.array([1, 0, 0, 1])  # group A: row 2 before row 0; group B: row 1 before row 3
    np.testing.assert_array_equal(greedy_match(iou, slots, rank, 2, 0.5), [-1, 1, 0, -1])


def test_group_ranks():
    np.testing.assert_array_equal(group_ranks(np.array([7, 3, 7, 7, 3])), [0, 0, 1, 2, 1])
    assert group_ranks(np.zeros(0)).shape == (0,)


def test_protocols():
    assert get_protocol("act") == Protocol("act", TRAPEZOID, GREEDY, GREEDY, 1.0)
    assert get_protocol("voc").ap_rule == ALL_POINT and get_protocol("voc").frame_matching == VOC
    with pytest.raises(AmmaEdgeError):
        get_protocol("coco")
    with pytest.raises(AmmaEdgeError):
        Protocol("x", "bad", GREEDY, GREEDY, 0.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=30), st.integers(0, 10))
def test_ap_bounds_and_the_trapezoid_never_exceeds_the_envelope(hits, extra_gt):
    hits = np.array(hits, dtype=bool)
    num_gt = int(hits.sum()) + extra_gt
    if num_gt == 0:
        return
    trap = average_precision(hits, num_gt, TRAPEZOID)
    env = average_precision(hits, num_gt, ALL_POINT)
    assert 0.0 <= trap <= env + 1e-12 <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.sampled_from([GREEDY, VOC]))
def test_each_gt_is_matched_at_most_once_and_only_above_threshold(seed, rule):
    rng = np.random.default_rng(seed)
    m, g = int(rng.integers(1, 12)), int(rng.integers(1, 4))
    iou = rng.random((m, g))
    keys = rng.integers(0, 3, size=m)
    # each group (key) owns its own GT slots, some padded away
    slots = np.where(rng.random((m, g)) < 0.2, -1, keys[:, None] * g + np.arange(g))
    num_gt = 3 * g
    matched = greedy_match(iou, slots, group_ranks(keys), num_gt, 0.4, rule)
    hit = matched[matched >= 0]
    assert len(hit) == len(set(hit.tolist()))
    for i in np.flatnonzero(matched >= 0):
        j = list(slots[i]).index(matched[i])
        assert iou[i, j] >= 0.4
