import cv2
import numpy as np
import pytest

from amma_edge.data.augment import (
    AugmentConfig,
    View,
    augment_clip,
    hue_matrix,
    photometric_matrix,
    resize_clip,
    sample_view,
    saturation_matrix,
    warp_clip,
)
from amma_edge.errors import AmmaEdgeError

GEOMETRY_ONLY = AugmentConfig(photometric_prob=0.0, expand_prob=1.0, crop_prob=1.0, scale_jitter_prob=1.0,
                              location_jitter_prob=1.0, flip_prob=0.5)
COLOURS = [(0, 0, 255), (0, 255, 0)]  # BGR, one per actor


def draw(boxes_per_frame, size=(240, 320)):
    """Black frames with a filled rectangle per box; boxes (M, N, 4), pixels x1..x2-1 filled."""
    frames = np.zeros((boxes_per_frame.shape[1], *size, 3), np.uint8)
    for m, actor in enumerate(boxes_per_frame):
        for n, (x1, y1, x2, y2) in enumerate(actor.astype(int)):
            frames[n, y1:y2, x1:x2] = COLOURS[m]
    return frames


def extent(frame, colour):
    """(x1, y1, x2, y2) of the pixels at least half-covered by `colour` (edges of a warp are blends)."""
    channel = int(np.argmax(colour))
    ys, xs = np.nonzero(frame[..., channel] > 127)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def moving_boxes():
    """Two actors over 4 frames, moving right / down: (M=2, N=4, 4) in 320×240 pixels."""
    a = np.array([[40 + 10 * n, 50, 120 + 10 * n, 150] for n in range(4)], np.float32)
    b = np.array([[200, 60 + 8 * n, 280, 130 + 8 * n] for n in range(4)], np.float32)
    return np.stack([a, b])


@pytest.mark.parametrize("seed", range(8))
def test_rectangles_land_where_the_transformed_boxes_say(seed):
    boxes = moving_boxes()
    frames = draw(boxes)
    out, out_boxes = augment_clip(frames, boxes, (96, 128), GEOMETRY_ONLY, np.random.default_rng(seed))
    assert out.shape == (4, 96, 128, 3) and out.dtype == np.uint8
    assert out_boxes.shape == boxes.shape
    for m, colour in enumerate(COLOURS):
        for n in range(4):
            np.testing.assert_allclose(extent(out[n], colour), out_boxes[m, n], atol=1.5)


def test_flip_mirrors_boxes_and_pixels():
    boxes = np.array([[[10, 20, 50, 60]]], np.float32)
    frames = draw(boxes, size=(80, 100))
    out, out_boxes = warp_clip(frames, boxes, View(0, 0, 100, 80, flip=True), (80, 100))
    np.testing.assert_allclose(out_boxes, [[[50, 20, 90, 60]]])
    np.testing.assert_array_equal(out[0], frames[0][:, ::-1])


def test_resize_scales_boxes_to_the_input_size():
    frames = np.zeros((1, 240, 320, 3), np.uint8)
    _, out_boxes = resize_clip(frames, np.array([[32, 24, 64, 48]], np.float32), (288, 288))
    np.testing.assert_allclose(out_boxes, [[28.8, 28.8, 57.6, 57.6]], rtol=1e-6)


def test_plain_resize_equals_cv2_resize():
    frames = np.random.default_rng(0).integers(0, 256, (2, 30, 40, 3), dtype=np.uint8)
    out, _ = resize_clip(frames, np.zeros((0, 4)), (64, 96))
    for frame, resized in zip(frames, out):
        expected = cv2.resize(frame, (96, 64), interpolation=cv2.INTER_LINEAR)
        assert np.abs(resized.astype(int) - expected).max() <= 1


def test_expand_zooms_out_onto_a_mean_filled_canvas():
    config = AugmentConfig(photometric_prob=0, expand_prob=1, expand_max_ratio=3, crop_prob=0, scale_jitter_prob=0,
                           location_jitter_prob=0, flip_prob=0)
    frames = np.full((2, 60, 90, 3), 255, np.uint8)
    out, _ = augment_clip(frames, np.zeros((0, 4)), (60, 90), config, np.random.default_rng(3), fill=(10, 20, 30))
    image = np.all(out[0] > 200, axis=-1)
    canvas = np.all(out[0] == (10, 20, 30), axis=-1)
    assert canvas.sum() > 0 and (image | canvas).mean() > 0.97  # only the blended border row/column is neither
    ys, xs = np.nonzero(image)
    ratio = 90 / (xs.max() + 1 - xs.min())
    assert 1.0 < ratio <= 3.05 and abs(60 / (ys.max() + 1 - ys.min()) - ratio) < 0.2  # zoom keeps the aspect


def test_crops_never_drop_a_box_centre():
    boxes = moving_boxes()
    config = AugmentConfig(crop_prob=1.0, crop_min_scale=0.1, expand_prob=0.5, scale_jitter_prob=1.0,
                           location_jitter_prob=1.0)
    for seed in range(200):
        view = sample_view((240, 320), boxes, config, np.random.default_rng(seed))
        cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
        assert np.all((cx > view.x0) & (cx < view.x0 + view.w) & (cy > view.y0) & (cy < view.y0 + view.h))


def test_crops_happen():
    config = AugmentConfig(crop_prob=1.0, expand_prob=0.0, scale_jitter_prob=0.0, location_jitter_prob=0.0)
    views = [sample_view((240, 320), moving_boxes(), config, np.random.default_rng(s)) for s in range(20)]
    assert sum(v.w < 320 or v.h < 240 for v in views) >= 15


def test_one_photometric_draw_covers_every_frame():
    config = AugmentConfig(photometric_prob=1.0, expand_prob=0, crop_prob=0, scale_jitter_prob=0,
                           location_jitter_prob=0, flip_prob=0)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    changed = 0
    for seed in range(5):
        out, _ = augment_clip(np.stack([frame] * 3), np.zeros((0, 4)), (24, 32), config, np.random.default_rng(seed))
        assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
        changed += not np.array_equal(out[0], frame)
    assert changed >= 3


def test_brightness_only_shifts_every_pixel_by_one_delta():
    config = AugmentConfig(contrast_range=(1, 1), saturation_range=(1, 1), hue_delta=0, brightness_delta=20)
    for seed in range(10):
        m = photometric_matrix(config, np.random.default_rng(seed))
        np.testing.assert_allclose(m[:, :3], np.eye(3), atol=1e-12)
        assert np.all(m[:, 3] == m[0, 3]) and abs(m[0, 3]) <= 20


def test_zero_saturation_gives_grey_and_hue_keeps_grey():
    pixel = np.array([30.0, 120.0, 200.0])
    grey = saturation_matrix(0.0) @ pixel
    np.testing.assert_allclose(grey, np.full(3, 0.114 * 30 + 0.587 * 120 + 0.299 * 200))
    np.testing.assert_allclose(hue_matrix(37.0) @ np.full(3, 90.0), np.full(3, 90.0))
    np.testing.assert_allclose(hue_matrix(120.0) @ pixel, [200, 30, 120], atol=1e-9)  # a third turn cycles channels


def test_same_seed_same_augmentation():
    boxes = moving_boxes()
    frames = draw(boxes)
    a = augment_clip(frames, boxes, (64, 64), AugmentConfig(), np.random.default_rng(5))
    b = augment_clip(frames, boxes, (64, 64), AugmentConfig(), np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_config_and_mixed_frame_sizes_are_user_errors():
    with pytest.raises(AmmaEdgeError, match="flip_prob"):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(AmmaEdgeError, match="differ in size"):
        resize_clip([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)], np.zeros((0, 4)), (32, 32))
