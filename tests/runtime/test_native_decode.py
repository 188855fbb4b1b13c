"""Tubelet decoding: the C kernel against its NumPy twin, bit for bit, on random and awkward head outputs.

The twin (reference.decode) is the definition; `decode()` dispatches to the C kernel when it is built, so the
streaming path, evaluation and the device all rank ties and round boxes the same way.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import InputShapeError
from amma_edge.runtime import decode as decode_module
from amma_edge.runtime import native, reference

needs_c = pytest.mark.skipif(not native.NATIVE_AVAILABLE, reason=f"{native.native_unavailable_reason()}")
IMPLS = [pytest.param(reference, id="numpy")]
if native.NATIVE_AVAILABLE:
    from amma_edge.runtime import _native

    IMPLS.append(pytest.param(_native, id="c"))


def run(impl, center, trajectory, box, cap, stride=8, sizes=(32.0, 40.0, 50.0, 70.0)):
    K = trajectory.shape[0] // 2
    boxes = np.full((cap, K, 4), -7.0, np.float32)
    scores = np.full(cap, -7.0, np.float32)
    classes = np.full(cap, -7, np.int64)
    n = impl.decode(center, trajectory, box, boxes, scores, classes, stride, *sizes)
    return n, boxes[:n], scores[:n], classes[:n]


def maps(rng, C, K, h, w, kind):
    if kind == "coarse":  # few distinct values: plateaus and ties everywhere
        center = rng.integers(0, 4, size=(C, h, w)).astype(np.float32) / 3
    elif kind == "zeros":
        center = np.zeros((C, h, w), np.float32)
    elif kind == "nan":
        center = rng.random((C, h, w)).astype(np.float32)
        center[rng.random((C, h, w)) < 0.2] = np.nan
    elif kind == "inf":
        center = rng.random((C, h, w)).astype(np.float32)
        center[rng.random((C, h, w)) < 0.2] = np.inf
        center[rng.random((C, h, w)) < 0.1] = -np.inf
    else:
        center = rng.random((C, h, w)).astype(np.float32)
    trajectory = (rng.normal(size=(2 * K, h, w)) * 2).astype(np.float32)
    box = (rng.normal(size=(2 * K, h, w)) * 3).astype(np.float32)  # negative sizes too
    if kind == "nan":
        trajectory[rng.random(trajectory.shape) < 0.1] = np.nan
        box[rng.random(box.shape) < 0.1] = np.nan
    return center, trajectory, box


@needs_c
@settings(max_examples=120, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1),
       st.sampled_from(["random", "coarse", "zeros", "nan", "inf"]), st.integers(0, 120), st.integers(1, 16),
       st.tuples(*[st.floats(1, 1000)] * 4))
def test_c_matches_numpy_twin_exactly(C, K, h, w, seed, kind, cap, stride, sizes):
    center, trajectory, box = maps(np.random.default_rng(seed), C, K, h, w, kind)
    c = run(_native, center, trajectory, box, cap, stride, sizes)
    twin = run(reference, center, trajectory, box, cap, stride, sizes)
    assert c[0] == twin[0]
    for got, expected in zip(c[1:], twin[1:]):
        np.testing.assert_array_equal(got, expected)  # NaN where NaN, the same bits elsewhere


@pytest.mark.parametrize("impl", IMPLS)
def test_ties_go_to_the_lower_class_row_and_column(impl):
    center = np.zeros((2, 3, 3), np.float32)  # a flat map: every cell is a peak
    n, _, scores, classes = run(impl, center, np.zeros((2, 3, 3), np.float32), np.ones((2, 3, 3), np.float32), 30)
    assert n == 18  # fewer peaks than asked for
    np.testing.assert_array_equal(classes, [0] * 9 + [1] * 9)
    assert np.all(scores == 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_one_by_one_map_and_top_n_zero(impl):
    center = np.array([[[0.25]]], np.float32)
    n, boxes, scores, classes = run(impl, center, np.zeros((2, 1, 1), np.float32), np.ones((2, 1, 1), np.float32), 5,
                                    stride=8, sizes=(8.0, 8.0, 8.0, 8.0))
    assert n == 1 and scores[0] == np.float32(0.25) and classes[0] == 0
    np.testing.assert_array_equal(boxes[0, 0], [0, 0, 4, 4])  # centre 0, size 8, clipped at 0
    assert run(impl, center, np.zeros((2, 1, 1), np.float32), np.ones((2, 1, 1), np.float32), 0)[0] == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_nan_cells_and_their_neighbours_are_no_peaks(impl):
    center = np.full((1, 1, 5), 0.5, np.float32)
    center[0, 0, 2] = np.nan
    n, _, _, _ = run(impl, center, np.zeros((2, 1, 5), np.float32), np.ones((2, 1, 5), np.float32), 10)
    assert n == 2  # cells 0 and 4 only: 1, 2, 3 see the NaN


def test_decode_uses_the_kernel_and_returns_exact_length_arrays():
    rng = np.random.default_rng(0)
    center, trajectory, box = maps(rng, 3, 2, 4, 5, "random")
    t = decode_module.decode(center, trajectory, box, input_size=(32, 40), original_size=(50, 70), top_n=1000)
    n, boxes, scores, classes = run(reference, center, trajectory, box, 1000)
    assert len(t) == n and t.boxes.shape == (n, 2, 4)
    np.testing.assert_array_equal(t.boxes, boxes)
    np.testing.assert_array_equal(t.scores, scores)
    np.testing.assert_array_equal(t.classes, classes)
    # a transposed (non-contiguous) map is made contiguous first, not refused
    strided = decode_module.decode(np.ascontiguousarray(center.transpose(0, 2, 1)).transpose(0, 2, 1), trajectory,
                                   box, input_size=(32, 40), original_size=(50, 70), top_n=1000)
    np.testing.assert_array_equal(strided.boxes, t.boxes)
    with pytest.raises(ValueError, match="top_n"):
        decode_module.decode(center, trajectory, box, input_size=(32, 40), top_n=-1)


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments_raise_the_same_errors(impl):
    rng = np.random.default_rng(0)
    center, trajectory, box = maps(rng, 2, 2, 4, 4, "random")
    out = (np.empty((5, 2, 4), np.float32), np.empty(5, np.float32), np.empty(5, np.int64))
    sizes = (32.0, 32.0, 32.0, 32.0)
    with pytest.raises(InputShapeError, match="trajectory must have shape"):
        impl.decode(center, trajectory[:3], box, *out, 8, *sizes)
    with pytest.raises(InputShapeError, match="box must have shape"):
        impl.decode(center, trajectory, box[:2].copy(), *out, 8, *sizes)
    with pytest.raises(InputShapeError, match="boxes_out must have shape"):
        impl.decode(center, trajectory, box, np.empty((5, 3, 4), np.float32), *out[1:], 8, *sizes)
    with pytest.raises(InputShapeError, match="classes_out must have shape"):
        impl.decode(center, trajectory, box, *out[:2], np.empty(4, np.int64), 8, *sizes)
    with pytest.raises(TypeError, match="center must be float32"):
        impl.decode(center.astype(np.float64), trajectory, box, *out, 8, *sizes)
    with pytest.raises(TypeError, match="classes_out must be int64"):
        impl.decode(center, trajectory, box, *out[:2], np.empty(5, np.int32), 8, *sizes)
    with pytest.raises(InputShapeError, match="C-contiguous"):
        impl.decode(center.transpose(0, 2, 1), trajectory, box, *out, 8, *sizes)
    read_only = out[1].copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        impl.decode(center, trajectory, box, out[0], read_only, out[2], 8, *sizes)
    with pytest.raises(ValueError, match="stride"):
        impl.decode(center, trajectory, box, *out, 0, *sizes)
    with pytest.raises(ValueError, match="original width"):
        impl.decode(center, trajectory, box, *out, 8, 32.0, 32.0, 32.0, float("nan"))
    scores_in_center = np.empty((2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="must not overlap"):
        impl.decode(scores_in_center, trajectory, box, out[0], scores_in_center.reshape(-1)[:5], out[2], 8, *sizes)
