import cv2
import numpy as np
from click.testing import CliRunner

from amma_edge.cli import main
from amma_edge.viz.motion import accumulated_motion, motion_strip


def moving_square(t=4, x0=10, step=6):
    frames = []
    for i in range(t):
        img = np.full((72, 96, 3), 90, np.uint8)
        img[20:40, x0 + step * i:x0 + step * i + 16] = (30, 200, 240)
        frames.append(img)
    return frames


def test_motion_lights_up_where_things_move_and_stays_dark_where_they_do_not():
    motion = accumulated_motion(moving_square(), size=(72, 96))
    assert motion.shape == (72, 96)
    moving = motion[20:40, 10:50].mean()
    still = motion[50:, :].mean()
    assert still < 1e-3 and moving > 50 * max(still, 1e-6)
    static = accumulated_motion([moving_square()[0]] * 4, size=(72, 96))
    assert float(static.max()) < 1e-3  # a frozen clip shows no motion at all


def test_strip_has_one_row_per_clip_with_frame_map_and_overlay():
    strip = motion_strip([moving_square(), moving_square(x0=30)], size=(64, 64), tile_height=60, labels=["a", "b"])
    tile_w = round(96 * 60 / 72)
    assert strip.shape == (60 * 2 + 4, 3 * tile_w + 8, 3) and strip.dtype == np.uint8


def test_viz_motion_cli_writes_a_png_and_keeps_an_existing_one(tmp_path):
    out = tmp_path / "m.png"
    args = ["viz", "motion", "synthetic://?seed=2&size=128x96&frames=40", "--out", str(out), "--clips", "3",
            "--max-frames", "24", "--input-size", "64"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 3 * 100
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "--force" in again.output
