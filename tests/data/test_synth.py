"""The synthetic dataset: deterministic, physically plausible, correctly annotated, safely written."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from amma_edge.data.annotations import load_ground_truth
from amma_edge.data.synth import (
    CLASSES,
    SynthConfig,
    make_video_spec,
    render_frames,
    spec_tubes,
    synthetic_stream,
    write_dataset,
)
from amma_edge.data.synth.actions import action_track, random_motion
from amma_edge.data.synth.cli import synth
from amma_edge.data.synth.generator import build_scene, label_for, scene_tubes
from amma_edge.data.synth.render import FigureRenderer
from amma_edge.data.synth.skeleton import C, P
from amma_edge.errors import AmmaEdgeError

SMALL = {"width": 160, "height": 120, "min_frames": 24, "max_frames": 30}


def _index_of(label: str, seed: int = 0) -> int:
    return next(i for i in range(len(CLASSES)) if label_for(seed, i, CLASSES) == label)


def _performers(scene):
    return [a for a in scene.layout.actors if a.performer]


def test_same_seed_gives_the_same_video_and_another_seed_a_different_one():
    a, b = make_video_spec(7, 3, **SMALL), make_video_spec(7, 3, **SMALL)
    frames_a, frames_b = list(render_frames(a)), list(render_frames(b))
    assert len(frames_a) == a.nframes and frames_a[0].shape == (120, 160, 3) and frames_a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b))
    tubes_a, tubes_b = spec_tubes(a), spec_tubes(b)
    assert tubes_a.keys() == tubes_b.keys()
    assert all(np.array_equal(x, y) for k in tubes_a for x, y in zip(tubes_a[k], tubes_b[k]))

    other = make_video_spec(8, 3, **SMALL)
    assert not np.array_equal(next(iter(render_frames(other))), frames_a[0])
    other_tubes = [t for ts in spec_tubes(other).values() for t in ts]
    assert not any(t.shape == u.shape and np.array_equal(t, u) for t in other_tubes for ts in tubes_a.values() for u in ts)


def test_stand_up_is_sit_down_played_backwards():
    motion = random_motion(np.random.default_rng(1))
    up = action_track("stand_up", motion, 70, 12, 40, fps=25)
    down = action_track("sit_down", motion, 70, 70 - 12 - 40, 40, fps=25)
    np.testing.assert_array_equal(up.poses, down.poses[::-1])
    np.testing.assert_array_equal(up.active, down.active[::-1])
    assert np.flatnonzero(up.active).tolist() == list(range(12, 52))
    hip = P["l_hip_flex"]
    assert up.poses[0, hip] > 1.4 and up.poses[-1, hip] < 0.3  # seated, then standing
    assert down.poses[0, hip] < 0.3 and down.poses[-1, hip] > 1.4


def test_every_class_moves_the_way_its_name_says():
    """Body geometry over each class's tube (seed 0, videos 0-7 hold one of each class)."""
    seen = set()
    for i in range(len(CLASSES)):
        scene = build_scene(make_video_spec(0, i))
        label, fps = scene.spec.label, scene.spec.fps
        for a in _performers(scene):
            act = np.flatnonzero(a.track.active)
            h, g, boxes = a.body.height, a.geometry, a.boxes[act]
            dx = abs(a.root[act[-1], 0] - a.root[act[0], 0]) / h
            dy = (a.root[act[-1], 1] - a.root[act[0], 1]) / h  # > 0: the hips went down
            hands_x = (g.caps_b[act, C["l_hand"], 0] - g.caps_b[act, C["r_hand"], 0]) / h
            hand_top = np.minimum(g.caps_b[act, C["l_hand"], 1], g.caps_b[act, C["r_hand"], 1])
            airborne = (a.ground_y - boxes[:, 3]).max() / h
            if label in ("walk", "run"):
                speed = dx / (len(act) / fps)  # body heights per second
                assert (0.45 < speed < 1.2) if label == "walk" else (speed > 1.0), (label, speed)
            else:
                assert dx < 1.2, (label, dx)
            if label == "jump":
                assert airborne > 0.15
            else:
                assert airborne < 0.08, (label, airborne)
            if label == "wave":
                assert (hand_top < g.head[act, 1]).mean() > 0.5  # a hand above the head most of the time
            if label == "clap":
                assert np.abs(hands_x).min() < 0.1 and np.abs(hands_x).max() > 0.3
            if label in ("sit_down", "stand_up"):
                assert dy > 0.15 if label == "sit_down" else dy < -0.15
                assert a.chair is not None
            if label == "fall":
                width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
                assert height[0] > 2 * width[0] and width[-1] > 2 * height[-1]
            seen.add(label)
    assert seen == set(CLASSES)


def test_walkers_stand_on_the_floor_and_their_stance_foot_does_not_slide():
    scene = build_scene(make_video_spec(0, _index_of("walk")))
    a = _performers(scene)[0]
    g, root = a.geometry, a.root
    np.testing.assert_allclose(a.boxes[:, 3], a.ground_y, atol=1e-6)  # lowest drawn point on the floor
    ankles = np.stack([g.caps_b[:, C["l_shin"], 0], g.caps_b[:, C["r_shin"], 0]], 1) + root[:, :1]
    soles = np.stack([g.caps_b[:, C["l_foot"], 1], g.caps_b[:, C["r_foot"], 1]], 1)
    stance = np.argmax(np.maximum(soles, np.stack([g.caps_a[:, C["l_foot"], 1], g.caps_a[:, C["r_foot"], 1]], 1)), 1)
    act = np.flatnonzero(a.track.active)
    moved = [abs(ankles[t, stance[t]] - ankles[t - 1, stance[t]]) for t in act[1:]]
    assert max(moved) < 1e-6
    assert abs(root[act[-1], 0] - root[act[0], 0]) > a.body.height  # and yet the body travels


@pytest.mark.parametrize("label", CLASSES)
def test_boxes_are_tight_around_every_drawn_pixel_of_the_performer(label):
    scene = build_scene(make_video_spec(0, _index_of(label), **SMALL))
    spec = scene.spec
    tubes = scene_tubes(scene)[spec.label_index]
    performers = _performers(scene)
    assert len(tubes) == len(performers) >= 1
    for actor, tube in zip(performers, tubes):
        renderer = FigureRenderer(actor.body, actor.appearance, actor.geometry)
        for row in tube[np.linspace(0, len(tube) - 1, 4).astype(int)]:
            t = int(row[0]) - 1
            origin = actor.root[t] - scene.camera[t]
            drawn = np.zeros((spec.height, spec.width), bool)
            for fill in (0, 255):  # drawn: at least a quarter covered, on a black or on a white canvas
                canvas = np.full((spec.height, spec.width, 3), fill, np.uint8)
                renderer.draw(canvas, t, tuple(origin))
                drawn |= (np.abs(canvas.astype(int) - fill) > 64).any(2)
            ys, xs = np.nonzero(drawn)
            x1, y1, x2, y2 = row[1:]
            assert xs.min() >= x1 - 1.1 and xs.max() <= x2 + 1.1 and ys.min() >= y1 - 1.1 and ys.max() <= y2 + 1.1
            assert abs(xs.min() - x1) <= 1.5 and abs(xs.max() - x2) <= 1.5  # tight, not merely containing
            assert abs(ys.min() - y1) <= 1.5 and abs(ys.max() - y2) <= 1.5


def test_tubes_lie_inside_the_video_and_the_actions_inside_longer_clips():
    untrimmed = 0
    total = 0
    for i in range(16):
        spec = make_video_spec(3, i)
        tubes = spec_tubes(spec)
        assert list(tubes) == [spec.label_index]
        for tube in tubes[spec.label_index]:
            frames = tube[:, 0]
            assert frames.min() >= 1 and frames.max() <= spec.nframes
            assert np.all(np.diff(frames) == 1)
            assert np.all(tube[:, 1] >= 0) and np.all(tube[:, 3] <= spec.width - 1)
            assert np.all(tube[:, 2] >= 0) and np.all(tube[:, 4] <= spec.height - 1)
            assert np.all(tube[:, 3] > tube[:, 1]) and np.all(tube[:, 4] > tube[:, 2])
            total += 1
            untrimmed += bool(frames.min() > 1 and frames.max() < spec.nframes)
    assert untrimmed >= total // 2


def test_bystanders_and_distractors_are_not_annotated():
    checked = 0
    for i in range(40):
        scene = build_scene(make_video_spec(0, i))
        bystanders = [a for a in scene.layout.actors if not a.performer]
        if not bystanders or not scene.layout.distractors:
            continue
        tubes = scene_tubes(scene)[scene.spec.label_index]
        assert len(tubes) == len(_performers(scene))
        for tube in tubes:
            t = tube[:, 0].astype(int) - 1
            for b in bystanders:
                box = b.boxes[t] - np.tile(scene.camera[t], 2)
                iw = np.clip(np.minimum(box[:, 2], tube[:, 3]) - np.maximum(box[:, 0], tube[:, 1]), 0, None)
                ih = np.clip(np.minimum(box[:, 3], tube[:, 4]) - np.maximum(box[:, 1], tube[:, 2]), 0, None)
                union = np.prod(box[:, 2:] - box[:, :2], 1) + np.prod(tube[:, 3:] - tube[:, 1:3], 1) - iw * ih
                assert (iw * ih / union).mean() < 0.5
        checked += 1
    assert checked >= 3


def _index(video: str) -> int:
    return int(video.rsplit("_", 1)[1])


def test_written_frames_are_the_streamed_frames_and_do_not_depend_on_workers(tmp_path):
    config = SynthConfig(videos=3, seed=5, width=128, height=96, min_frames=20, max_frames=22)
    gt1 = write_dataset(tmp_path / "one", config, workers=1)
    gt2 = write_dataset(tmp_path / "two", config, workers=2)
    assert gt1.videos == gt2.videos and gt1.splits == gt2.splits
    for video in gt1.videos:
        spec = config.spec(_index(video))
        assert spec.name == video and gt1.nframes[video] == spec.nframes
        for t, (raw, jpeg) in enumerate(zip(render_frames(spec), render_frames(spec, compress=True)), start=1):
            p1, p2 = gt1.frame_path(tmp_path / "one", video, t), gt1.frame_path(tmp_path / "two", video, t)
            assert p1.read_bytes() == p2.read_bytes()
            on_disk = cv2.imread(str(p1))
            assert np.array_equal(on_disk, jpeg)
            assert np.abs(on_disk.astype(int) - raw).mean() < 8  # the stream differs from disk by JPEG only
        expected = spec_tubes(spec)
        assert gt1.gttubes[video].keys() == expected.keys()
        for label in expected:
            for got, want in zip(gt1.gttubes[video][label], expected[label]):
                np.testing.assert_array_equal(got, want)


def test_the_synthetic_stream_plays_videos_back_to_back_with_their_boxes():
    frames = list(synthetic_stream(2, width=128, height=96, count=2, classes=("wave", "fall")))
    first = make_video_spec(2, 0, width=128, height=96, classes=("wave", "fall"))
    assert [f.frame for f in frames[:first.nframes]] == list(range(1, first.nframes + 1))
    assert frames[first.nframes].frame == 1 and frames[first.nframes].video != first.name
    assert np.array_equal(frames[0].image, next(iter(render_frames(first))))
    tube = spec_tubes(first)[first.label_index][0]
    f0 = int(tube[0, 0])
    assert any(np.allclose(b, tube[0, 1:]) for b in frames[f0 - 1].boxes)
    assert {f.label for f in frames} == {0, 1}


def _invoke(*args: str):
    return CliRunner().invoke(synth, list(args))


def test_cli_writes_a_dataset_that_loads_with_every_frame_present(tmp_path):
    out = tmp_path / "ds"
    result = _invoke("--out", str(out), "--videos", "8", "--seed", "1", "--size", "128x96", "--frames", "20-24",
                     "--workers", "2", "--preview")
    assert result.exit_code == 0, result.output
    gt = load_ground_truth(out)
    assert gt.labels == list(CLASSES) and len(gt.videos) == 8
    train, test = gt.splits[0]
    assert set(train) | set(test) == set(gt.videos) and not set(train) & set(test) and train and test
    for video in gt.videos:
        assert gt.resolution[video] == (96, 128) and gt.fps[video] == 25.0
        n = gt.nframes[video]
        assert 20 <= n <= 24
        assert all(gt.frame_path(out, video, f).is_file() for f in range(1, n + 1))
        assert not gt.frame_path(out, video, n + 1).exists()
        (label,) = gt.gttubes[video]
        assert gt.labels[label] == video.split("/")[0]
        assert all(t[:, 0].max() <= n for t in gt.gttubes[video][label])
    sheet = cv2.imread(str(out / "preview.png"))
    assert sheet is not None and sheet.shape[0] >= 8 * 96 * 0.75  # a row per class


def test_cli_refuses_a_non_empty_folder_it_did_not_write_unless_forced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ("--out", str(out), "--videos", "2", "--size", "96x72", "--frames", "16-18", "--workers", "1")
    result = _invoke(*args)
    assert result.exit_code != 0 and "--force" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    result = _invoke(*args, "--force")
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "keep me" and len(load_ground_truth(out).videos) == 2


def test_cli_rewrites_its_own_output_without_force(tmp_path):
    out = tmp_path / "ds"
    base = ("--out", str(out), "--size", "96x72", "--frames", "16-18", "--workers", "1")
    assert _invoke(*base, "--videos", "3", "--seed", "1").exit_code == 0
    result = _invoke(*base, "--videos", "2", "--seed", "2")
    assert result.exit_code == 0, result.output
    gt = load_ground_truth(out)
    on_disk = {str(p.relative_to(out / "rgb-images")) for p in (out / "rgb-images").glob("*/*")}
    assert on_disk == set(gt.videos) and len(gt.videos) == 2  # nothing left of the first run


def test_cli_names_unknown_classes_and_the_known_ones(tmp_path):
    result = _invoke("--out", str(tmp_path / "ds"), "--classes", "walk,dance")
    assert result.exit_code != 0 and "'dance'" in result.output and "sit_down" in result.output
    assert not (tmp_path / "ds").exists()


def test_an_interrupted_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    from amma_edge.data.synth import writer

    config = SynthConfig(videos=3, seed=4, width=96, height=72, min_frames=16, max_frames=18)
    old = write_dataset(tmp_path / "ds", config, workers=1)
    real = writer._render_video

    def interrupted(job):
        if job[1] == 1:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(writer, "_render_video", interrupted)
    for target in ("fresh", "ds"):
        with pytest.raises(KeyboardInterrupt):
            write_dataset(tmp_path / target, replace(config, seed=9), workers=1)
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temporary folders left behind
    assert load_ground_truth(tmp_path / "ds").nframes == old.nframes  # the previous dataset is intact


def test_bad_settings_are_user_errors():
    with pytest.raises(AmmaEdgeError, match="too small"):
        make_video_spec(0, 0, width=32, height=24)
    with pytest.raises(AmmaEdgeError, match="test-fraction"):
        SynthConfig(videos=2, test_fraction=1.5)
    with pytest.raises(AmmaEdgeError, match="juggle"):
        make_video_spec(0, 0, classes=("walk", "juggle"))
