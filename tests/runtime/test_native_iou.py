"""The linker's overlap kernels (pairwise box IoU, aligned tubelet IoU, greedy NMS): C against the NumPy twins.

Both compute in float64 with the same operations in the same order, so the numbers agree exactly, NaN and
infinite coordinates included (an undefined union gives 0).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import InputShapeError
from amma_edge.runtime import native, reference
from amma_edge.runtime.boxes import aligned_tubelet_iou, box_iou, nms

needs_c = pytest.mark.skipif(not native.NATIVE_AVAILABLE, reason=f"{native.native_unavailable_reason()}")
IMPLS = [pytest.param(reference, id="numpy")]
if native.NATIVE_AVAILABLE:
    from amma_edge.runtime import _native

    IMPLS.append(pytest.param(_native, id="c"))
hsettings = settings(max_examples=80, deadline=None)


def random_boxes(rng, shape, kind):
    """Boxes (..., 4): ordinary, on a coarse grid (touching and identical boxes), degenerate, NaN or infinite."""
    if kind == "grid":
        xy = rng.integers(0, 5, size=shape + (2,)).astype(float) * 4
        wh = rng.integers(0, 4, size=shape + (2,)).astype(float) * 4
    else:
        xy = rng.random(shape + (2,)) * 50
        wh = rng.random(shape + (2,)) * 30 - (5 if kind == "degenerate" else 0)
    boxes = np.concatenate([xy, xy + wh], axis=-1)
    if kind == "nan":
        boxes[rng.random(boxes.shape) < 0.15] = np.nan
    if kind == "inf":
        boxes[rng.random(boxes.shape) < 0.15] = np.inf
        boxes[rng.random(boxes.shape) < 0.1] = -np.inf
    return np.ascontiguousarray(boxes)


kinds = st.sampled_from(["random", "grid", "degenerate", "nan", "inf"])


@needs_c
@hsettings
@given(st.integers(0, 12), st.integers(0, 12), st.integers(0, 2**32 - 1), kinds, st.sampled_from([0.0, 1.0]))
def test_box_iou_c_matches_numpy(n, m, seed, kind, offset):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, (n,), kind), random_boxes(rng, (m,), kind)
    got, expected = np.full((n, m), -1.0), np.full((n, m), -1.0)
    _native.box_iou(a, b, got, offset)
    reference.box_iou(a, b, expected, offset)
    np.testing.assert_array_equal(got, expected)
    assert not np.isnan(got).any()


@needs_c
@hsettings
@given(st.integers(0, 8), st.integers(0, 8), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1), kinds,
       st.sampled_from([0.0, 1.0]))
def test_aligned_tubelet_iou_c_matches_numpy(na, nb, ka, kb, seed, kind, offset):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, (na, ka), kind), random_boxes(rng, (nb, kb), kind)
    # increasing frame numbers that sometimes overlap b's, sometimes not at all
    frames_a = np.sort(rng.choice(30, size=(na, ka), replace=True), axis=1).astype(np.int64)
    frames_b = np.sort(rng.choice(30, size=kb, replace=False)).astype(np.int64)
    results = []
    for impl in (_native, reference):
        out, shared = np.full((na, nb), -1.0), np.full(na, -1, np.int64)
        impl.aligned_tubelet_iou(a, frames_a, b, frames_b, out, shared, offset)
        results.append((out, shared))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@needs_c
@hsettings
@given(st.integers(0, 40), st.integers(0, 9), st.integers(0, 4), st.integers(0, 2**32 - 1), kinds,
       st.sampled_from([0.0, 0.3, 0.5, 1.0]), st.one_of(st.none(), st.integers(0, 5)), st.sampled_from([0.0, 1.0]))
def test_nms_sorted_c_matches_numpy(n, K, num_groups, seed, kind, threshold, top_k, offset):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, (n, K) if K else (n,), kind)
    scores = rng.integers(0, 4, size=n) / 4  # ties
    groups = rng.integers(0, num_groups + 1, size=n).astype(np.int64)
    order = np.lexsort((np.arange(n), -scores, groups))
    results = []
    for impl in (_native, reference):
        keep = np.full(n, 7, np.uint8)
        impl.nms_sorted(boxes, order, groups, threshold, -1 if top_k is None else top_k, offset, keep)
        results.append(keep)
    np.testing.assert_array_equal(results[0], results[1])
    assert set(results[0].tolist()) <= {0, 1}


@pytest.mark.parametrize("impl", IMPLS)
def test_identical_boxes_overlap_fully_and_empty_ones_not_at_all(impl):
    a = np.array([[0, 0, 10, 10], [5, 5, 5, 5]], float)
    out = np.empty((2, 2))
    impl.box_iou(a, a, out, 0.0)
    np.testing.assert_array_equal(out, [[1, 0], [0, 0]])
    impl.box_iou(a, a, out, 1.0)  # inclusive pixels: the point box is one pixel
    np.testing.assert_array_equal(out, [[1, 1 / 121], [1 / 121, 1]])


@pytest.mark.parametrize("impl", IMPLS)
def test_nms_top_k_and_groups(impl):
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], float)
    groups = np.array([0, 0, 0, 1], np.int64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    order = np.lexsort((np.arange(4), -scores, groups))
    keep = np.empty(4, np.uint8)
    impl.nms_sorted(boxes, order, groups, 0.5, -1, 0.0, keep)
    np.testing.assert_array_equal(order[keep.astype(bool)], [0, 2, 3])  # box 1 suppressed by 0; group 1 apart
    impl.nms_sorted(boxes, order, groups, 0.5, 1, 0.0, keep)
    np.testing.assert_array_equal(order[keep.astype(bool)], [0, 3])


@pytest.mark.parametrize("impl", IMPLS)
def test_overlap_kernels_check_their_arguments(impl):
    a = np.zeros((2, 4))
    with pytest.raises(InputShapeError, match="out must have shape"):
        impl.box_iou(a, a, np.empty((2, 3)), 0.0)
    with pytest.raises(TypeError, match="a must be float64"):
        impl.box_iou(a.astype(np.float32), a, np.empty((2, 2)), 0.0)
    with pytest.raises(ValueError, match="offset"):
        impl.box_iou(a, a, np.empty((2, 2)), float("inf"))
    with pytest.raises(ValueError, match="must not overlap"):
        impl.box_iou(a, a, a.reshape(-1)[:4].reshape(2, 2), 0.0)
    t = np.zeros((2, 3, 4))
    with pytest.raises(InputShapeError, match="frames_a must have shape"):
        impl.aligned_tubelet_iou(t, np.zeros((2, 2), np.int64), t, np.zeros(3, np.int64), np.empty((2, 2)),
                                 np.empty(2, np.int64), 0.0)
    with pytest.raises(TypeError, match="frames_b must be int64"):
        impl.aligned_tubelet_iou(t, np.zeros((2, 3), np.int64), t, np.zeros(3, np.int32), np.empty((2, 2)),
                                 np.empty(2, np.int64), 0.0)
    with pytest.raises(ValueError, match="is not an index"):
        impl.nms_sorted(t, np.array([0, 5], np.int64), np.zeros(2, np.int64), 0.5, -1, 0.0, np.empty(2, np.uint8))
    with pytest.raises(InputShapeError, match="keep must have shape"):
        impl.nms_sorted(t, np.array([0, 1], np.int64), np.zeros(2, np.int64), 0.5, -1, 0.0, np.empty(3, np.uint8))


def test_public_functions_agree_with_the_twins():
    rng = np.random.default_rng(3)
    a, b = random_boxes(rng, (6, 3), "grid"), random_boxes(rng, (5, 3), "grid")
    frames_a = np.tile(np.array([4, 8, 12]), (6, 1))
    iou, shared = aligned_tubelet_iou(a, frames_a, b, np.array([8, 12, 16]))
    out, count = np.empty((6, 5)), np.empty(6, np.int64)
    reference.aligned_tubelet_iou(a, frames_a.astype(np.int64), b, np.array([8, 12, 16]), out, count, 0.0)
    np.testing.assert_array_equal(iou, out)
    np.testing.assert_array_equal(shared, [2] * 6)
    flat = random_boxes(rng, (7,), "random")
    expected = np.empty((7, 7))
    reference.box_iou(flat, flat, expected, 0.0)
    np.testing.assert_array_equal(box_iou(flat, flat), expected)
    # float class labels are numbered, not truncated: 0.25 and 0.75 stay two groups
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    assert nms(boxes, np.array([0.9, 0.8]), 0.5, groups=np.array([0.25, 0.75])).tolist() == [0, 1]
    assert nms(boxes, np.array([0.9, 0.8]), 0.5, groups=np.array([0.25, 0.25])).tolist() == [0]
    with pytest.raises(ValueError, match="top_k"):
        nms(boxes, np.array([0.9, 0.8]), 0.5, top_k=-1)
