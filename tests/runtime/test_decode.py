import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amma_edge.errors import InputShapeError
from amma_edge.runtime.decode import Tubelets, decode, decode_batch, peak_mask


def _hand_maps():
    """C = 2, K = 2 on a 4×4 grid (input 32×32 at stride 8)."""
    center = np.zeros((2, 4, 4), np.float32)
    trajectory = np.zeros((4, 4, 4), np.float32)
    box = np.zeros((4, 4, 4), np.float32)
    center[0, 1, 2] = 0.9  # a peak
    center[0, 1, 3] = 0.5  # beside 0.9: not a peak
    center[1, 0, 3] = 0.6  # two equal peaks of class 1: flat index 3 ...
    center[1, 3, 0] = 0.6  # ... and 12
    trajectory[:, 1, 2] = [-1.0, 0.5, 0.25, 0.5]  # (dx1, dy1, dx2, dy2)
    box[:, 1, 2] = [2, 1, 4, 2]  # (w1, h1, w2, h2)
    box[:, 0, 3] = 1
    trajectory[:, 3, 0] = 0.5
    box[:, 3, 0] = 1
    return center, trajectory, box


def test_decode_by_hand():
    center, trajectory, box = _hand_maps()
    # original frame 64 high, 48 wide: x scales by 48/32 = 1.5, y by 64/32 = 2
    t = decode(center, trajectory, box, input_size=(32, 32), original_size=(64, 48), top_n=3)
    np.testing.assert_array_equal(t.classes, [0, 1, 1])
    np.testing.assert_allclose(t.scores, [0.9, 0.6, 0.6])
    expected = np.array([
        # peak (x 2, y 1). clip 1: centre grid (2 − 1, 1 + 0.5) → px (8, 12), size (16, 8) → (0, 8, 16, 16)
        # → scaled (0, 16, 24, 32). clip 2: centre (2.25, 1.5) → (18, 12), size (32, 16) → (2, 4, 34, 20)
        # → (3, 8, 51, 40), clipped to the 48-wide frame → (3, 8, 48, 40)
        [[0, 16, 24, 32], [3, 8, 48, 40]],
        # the tie at 0.6 goes to the lower flat index, (y 0, x 3): centre px (24, 0), size 8 → (20, −4, 28, 4)
        # → (30, −8, 42, 8) → clipped (30, 0, 42, 8)
        [[30, 0, 42, 8], [30, 0, 42, 8]],
        # (y 3, x 0): centre grid (0.5, 3.5) → px (4, 28), size 8 → (0, 24, 8, 32) → (0, 48, 12, 64)
        [[0, 48, 12, 64], [0, 48, 12, 64]],
    ], dtype=np.float32)
    np.testing.assert_allclose(t.boxes, expected, atol=1e-5)
    assert t.boxes.dtype == np.float32 and t.classes.dtype == np.int64


def test_negative_sizes_shrink_to_the_centre_point():
    center, trajectory, box = _hand_maps()
    box[:, 1, 2] = -3
    t = decode(center, trajectory, box, input_size=(32, 32), top_n=1)
    # clip 1 centre px (8, 12) with no size
    np.testing.assert_allclose(t.boxes[0, 0], [8, 12, 8, 12])


def test_peak_mask_keeps_flat_tops_and_compares_borders_with_what_exists():
    m = np.array([[[0.1, 0.5, 0.5, 0.2],
                   [0.1, 0.2, 0.3, 0.2],
                   [0.4, 0.1, 0.1, 0.1]]], np.float32)
    expected = np.array([[[False, True, True, False],
                          [False, False, False, False],
                          [True, False, False, False]]])
    np.testing.assert_array_equal(peak_mask(m), expected)


def test_fewer_peaks_than_top_n_and_a_map_with_no_peak_but_a_flat_top():
    center = np.zeros((1, 4, 4), np.float32)
    center[0] = np.arange(16).reshape(4, 4) / 16  # one peak, the bottom-right corner
    t = decode(center, np.zeros((2, 4, 4), np.float32), np.ones((2, 4, 4), np.float32), input_size=(32, 32))
    assert len(t) == 1 and t.scores[0] == pytest.approx(15 / 16)
    flat = decode(np.full((1, 4, 4), 0.3, np.float32), np.zeros((2, 4, 4), np.float32),
                  np.ones((2, 4, 4), np.float32), input_size=(32, 32), top_n=5)
    # every cell of a flat map is a peak; ties go in (class, y, x) order: cells 0..4, row 0 then (1, 0)
    np.testing.assert_allclose(flat.boxes[:, 0, 0], [0, 4, 12, 20, 0])


def test_decode_batch_equals_decode_per_sample():
    rng = np.random.default_rng(1)
    center = rng.random((3, 2, 4, 4)).astype(np.float32)
    trajectory = rng.normal(size=(3, 6, 4, 4)).astype(np.float32)
    box = rng.random((3, 6, 4, 4)).astype(np.float32) * 3
    sizes = [(32, 32), (64, 48), (40, 100)]
    batch = decode_batch(center, trajectory, box, input_size=(32, 32), original_size=sizes, top_n=7)
    for i in range(3):
        one = decode(center[i], trajectory[i], box[i], input_size=(32, 32), original_size=sizes[i], top_n=7)
        np.testing.assert_array_equal(batch[i].boxes, one.boxes)
        np.testing.assert_array_equal(batch[i].classes, one.classes)
    same = decode_batch(center, trajectory, box, input_size=(32, 32), original_size=(64, 48), top_n=7)
    np.testing.assert_array_equal(same[1].boxes, batch[1].boxes)


def test_shape_errors():
    center, trajectory, box = _hand_maps()
    with pytest.raises(InputShapeError):
        decode(center, trajectory[:3], box, input_size=(32, 32))
    with pytest.raises(InputShapeError):
        decode(center, trajectory, box, input_size=(64, 64))
    with pytest.raises(InputShapeError):
        decode_batch(center[None], trajectory[None], box[None], input_size=(32, 32), original_size=[(1, 1)] * 2)
    with pytest.raises(InputShapeError):
        Tubelets(np.zeros((2, 3, 4)), np.zeros(1), np.zeros(2))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2 ** 31 - 1), st.integers(1, 30))
def test_decode_agrees_with_a_cell_by_cell_reference(C, K, seed, top_n):
    rng = np.random.default_rng(seed)
    h, w = 4, 5
    center = rng.integers(0, 6, size=(C, h, w)).astype(np.float32) / 5  # coarse values: plateaus and ties
    trajectory = rng.normal(size=(2 * K, h, w)).astype(np.float32)
    box = rng.random((2 * K, h, w)).astype(np.float32) * 4
    t = decode(center, trajectory, box, input_size=(32, 40), original_size=(50, 70), top_n=top_n)

    peaks = []
    for c in range(C):
        for y in range(h):
            for x in range(w):
                window = center[c, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
                if center[c, y, x] >= window.max():
                    peaks.append((-center[c, y, x], c, y, x))
    peaks.sort()
    peaks = peaks[:top_n]
    assert len(t) == len(peaks)
    for i, (_, c, y, x) in enumerate(peaks):
        assert t.classes[i] == c
        for k in range(K):
            cx = (x + trajectory[2 * k, y, x]) * 8 * 70 / 40
            cy = (y + trajectory[2 * k + 1, y, x]) * 8 * 50 / 32
            bw, bh = box[2 * k, y, x] * 8 * 70 / 40, box[2 * k + 1, y, x] * 8 * 50 / 32
            ref = np.clip([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 0, [70, 50, 70, 50])
            np.testing.assert_allclose(t.boxes[i, k], ref, rtol=1e-4, atol=1e-3)
