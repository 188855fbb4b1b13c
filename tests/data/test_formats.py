import os
import pickle
import warnings

import cv2
import numpy as np
import pytest

from amma_edge.data.annotations import load_ground_truth
from amma_edge.data.formats import load_pickle
from amma_edge.data.frames import FrameReader, ImageSequence, VideoFile
from amma_edge.data.loading import convert_dataset, load_dataset
from amma_edge.errors import AmmaEdgeError


def level(image: np.ndarray) -> int:
    """The frame number a fixture frame encodes (its colour / 10), robust to JPEG/MJPEG coding."""
    return int(round(float(image.mean()) / 10))


# --- the published pickles -------------------------------------------------------------------------------


def test_ucf_pickle_loads_with_every_field_and_the_frame_layout(ucf_root, published):
    raw = published.ucf_raw()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy.core names in old pickles must not trip numpy 2's warning
        gt = load_pickle(ucf_root / "UCF101v2-GT.pkl")
    assert gt.labels == raw["labels"]
    assert gt.splits == [(raw["train_videos"][0], raw["test_videos"][0])]
    assert gt.nframes == raw["nframes"]
    assert gt.resolution == {v: (published.H, published.W) for v in raw["nframes"]}
    for video, by_label in raw["gttubes"].items():
        assert sorted(gt.gttubes[video]) == sorted(by_label)
        for label, tubes in by_label.items():
            assert len(gt.gttubes[video][label]) == len(tubes)
            for got, want in zip(gt.gttubes[video][label], tubes):
                np.testing.assert_array_equal(got, want)
    assert (gt.frame_dir, gt.frame_pattern) == ("rgb-images", "{video}/{frame:05d}.jpg")
    video = "Biking/v_Biking_g02_c03"
    assert gt.frame_path(ucf_root, video, 3) == ucf_root / "rgb-images" / video / "00003.jpg"


def test_jhmdb_pickle_keeps_three_splits_and_png_frames(jhmdb_root, published):
    loaded = load_dataset(jhmdb_root)
    gt = loaded.gt
    assert len(gt.splits) == 3
    assert gt.split_videos("test", 1) == ["brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0"]
    assert (gt.frame_dir, gt.frame_pattern) == ("Frames", "{video}/{frame:05d}.png")
    assert loaded.root == jhmdb_root
    image = FrameReader(loaded.root, gt)(gt.videos[0], 4)
    assert image.shape == (published.H, published.W, 3) and image.dtype == np.uint8 and level(image) == 4


def test_pickle_resaved_by_python3_loads_too(tmp_path, published):
    raw = published.ucf_raw()
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(pickle.dumps(raw, protocol=pickle.HIGHEST_PROTOCOL))
    gt = load_pickle(path)
    video = "Biking/v_Biking_g02_c03"
    np.testing.assert_array_equal(gt.gttubes[video][1][0], raw["gttubes"][video][1][0])
    path.write_bytes(pickle.dumps(raw, protocol=2))  # bytes travel as _codecs.encode here
    assert load_pickle(path).nframes == raw["nframes"]


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


@pytest.mark.parametrize("payload, refused", [(_RunsCommand, "system"), (_CallsEval, "builtin__.eval")])
def test_pickle_that_would_run_code_is_refused_before_anything_runs(tmp_path, payload, refused, published):
    marker = tmp_path / "pwned"
    raw = published.ucf_raw()
    raw["labels"].append(payload(f"touch {marker}") if payload is _RunsCommand else payload())
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(pickle.dumps(raw, protocol=2))
    with pytest.raises(AmmaEdgeError) as err:
        load_dataset(path)
    assert refused in str(err.value) and "not a plain ground-truth pickle" in str(err.value)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_pickle_without_gttubes_names_the_missing_key(tmp_path, published):
    raw = published.ucf_raw()
    del raw["gttubes"]
    path = published.write_py2_pickle(raw, tmp_path / "UCF101v2-GT.pkl")
    with pytest.raises(AmmaEdgeError, match="lacks 'gttubes'"):
        load_pickle(path)


def test_tube_that_is_not_n_by_5_names_video_and_label(tmp_path, published):
    raw = published.ucf_raw()
    raw["gttubes"]["Biking/v_Biking_g02_c03"][1].append(np.zeros((3, 4), np.float32))
    path = published.write_py2_pickle(raw, tmp_path / "UCF101v2-GT.pkl")
    with pytest.raises(AmmaEdgeError, match=r"tube 1 of label 1 in video 'Biking/v_Biking_g02_c03' has shape \(3, 4\)"):
        load_pickle(path)


def test_truncated_pickle_is_a_clear_error(tmp_path, ucf_root):
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes((ucf_root / "UCF101v2-GT.pkl").read_bytes()[:100])
    with pytest.raises(AmmaEdgeError, match="truncated or not a pickle"):
        load_pickle(path)


# --- load_dataset -------------------------------------------------------------------------------------------


def test_load_dataset_accepts_folder_pickle_file_and_converted_folder(ucf_root, tmp_path):
    by_folder = load_dataset(ucf_root)
    by_file = load_dataset(ucf_root / "UCF101v2-GT.pkl")
    assert by_folder.format == by_file.format == "pickle"
    assert by_folder.root == by_file.root == ucf_root
    convert_dataset(ucf_root, tmp_path / "converted")
    converted = load_dataset(tmp_path / "converted")
    assert converted.format == "amma-edge"
    assert converted.gt.nframes == by_folder.gt.nframes
    gt, root = load_dataset(tmp_path / "converted" / "annotations.json")
    assert root == tmp_path / "converted" and gt.labels == by_folder.gt.labels


def test_load_dataset_on_something_else_lists_what_it_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for path in (tmp_path, tmp_path / "notes.txt", tmp_path / "absent"):
        with pytest.raises(AmmaEdgeError) as err:
            load_dataset(path)
        message = str(err.value)
        assert str(path) in message
        assert "annotations.json" in message and "UCF101v2-GT.pkl" in message and "JHMDB-GT.pkl" in message


def test_folder_with_both_published_pickles_asks_which(ucf_root):
    (ucf_root / "JHMDB-GT.pkl").write_bytes((ucf_root / "UCF101v2-GT.pkl").read_bytes())
    with pytest.raises(AmmaEdgeError, match="both"):
        load_dataset(ucf_root)


def test_video_files_stand_in_for_a_missing_frame_folder(tmp_path, published):
    root = published.write_ucf(tmp_path / "ucf", frames="videos")
    gt, root = load_dataset(root)
    assert (gt.frame_dir, gt.frame_pattern) == ("videos", "{video}.avi")
    read = FrameReader(root, gt)
    video = "Basketball/v_Basketball_g01_c01"
    assert [level(read(video, f)) for f in (1, 2, 3, 7)] == [1, 2, 3, 7]


# --- convert: annotations only, frames referenced ----------------------------------------------------------


def _file_names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_convert_writes_json_npz_and_finds_frames_at_their_absolute_path(ucf_root, tmp_path):
    out = tmp_path / "out"
    convert_dataset(ucf_root, out)
    assert _file_names(out) == ["annotations.json", "tubes.npz"]  # no frame was copied
    gt = load_ground_truth(out)
    assert os.path.isabs(gt.frame_dir)
    src = load_pickle(ucf_root / "UCF101v2-GT.pkl")
    assert (gt.labels, gt.splits, gt.nframes, gt.resolution) == (src.labels, src.splits, src.nframes, src.resolution)
    for video in src.gttubes:
        for label in src.gttubes[video]:
            for a, b in zip(gt.gttubes[video][label], src.gttubes[video][label]):
                np.testing.assert_array_equal(a, b)
    moved = tmp_path / "elsewhere" / "out"
    moved.parent.mkdir()
    out.rename(moved)  # the output can move; the frames stay put
    gt, root = load_dataset(moved)
    assert level(FrameReader(root, gt)("Diving/v_Diving_g05_c01", 5)) == 5


def test_convert_relative_survives_moving_source_and_output_together(tmp_path, published):
    src = published.write_ucf(tmp_path / "data" / "ucf24")
    convert_dataset(src, tmp_path / "data" / "ucf24-amma", "relative")
    assert load_ground_truth(tmp_path / "data" / "ucf24-amma").frame_dir == "../ucf24/rgb-images"
    (tmp_path / "data").rename(tmp_path / "moved")
    gt, root = load_dataset(tmp_path / "moved" / "ucf24-amma")
    assert level(FrameReader(root, gt)("Biking/v_Biking_g02_c03", 6)) == 6


def test_convert_symlink_links_the_frame_folder(ucf_root, tmp_path):
    out = tmp_path / "out"
    convert_dataset(ucf_root, out, "symlink")
    assert (out / "rgb-images").is_symlink()
    gt, root = load_dataset(out)
    assert gt.frame_dir == "rgb-images"
    assert level(FrameReader(root, gt)("Biking/v_Biking_g02_c03", 2)) == 2


def test_convert_into_the_source_folder_keeps_frames_relative(ucf_root):
    convert_dataset(ucf_root, ucf_root)
    assert load_ground_truth(ucf_root).frame_dir == "rgb-images"


def test_convert_does_not_overwrite_without_permission(ucf_root, tmp_path):
    out = tmp_path / "out"
    convert_dataset(ucf_root, out)
    before = (out / "annotations.json").read_bytes()
    with pytest.raises(AmmaEdgeError, match="already exists"):
        convert_dataset(ucf_root, out, "relative")
    assert (out / "annotations.json").read_bytes() == before
    convert_dataset(ucf_root, out, "relative", overwrite=True)
    assert load_ground_truth(out).frame_dir.startswith("..")


# --- frames ---------------------------------------------------------------------------------------------------


def test_image_sequence_reads_bgr_frames_by_one_based_number(tmp_path, published):
    folder = tmp_path / "v"
    folder.mkdir()
    image = np.zeros((published.H, published.W, 3), np.uint8)
    image[..., 2] = 200  # red in BGR
    cv2.imwrite(str(folder / "00001.png"), image)
    frames = ImageSequence(str(folder / "{frame:05d}.png"), "v")
    got = frames.read(1)
    assert got.dtype == np.uint8 and got.shape == (published.H, published.W, 3)
    assert got[0, 0].tolist() == [0, 0, 200]
    with pytest.raises(AmmaEdgeError, match="numbered from 1"):
        frames.read(0)


def test_missing_frame_error_names_video_frame_and_path(ucf_root):
    gt, root = load_dataset(ucf_root)
    video = "Biking/v_Biking_g02_c03"
    with pytest.raises(AmmaEdgeError) as err:
        FrameReader(root, gt)(video, 7)
    message = str(err.value)
    assert f"frame 7 of video {video!r}" in message and str(ucf_root / "rgb-images" / video / "00007.jpg") in message


def test_corrupt_frame_is_reported_as_undecodable(ucf_root):
    gt, root = load_dataset(ucf_root)
    video = "Biking/v_Biking_g02_c03"
    gt.frame_path(root, video, 2).write_bytes(b"not a jpeg")
    with pytest.raises(AmmaEdgeError, match="cannot be decoded"):
        FrameReader(root, gt)(video, 2)


def test_video_file_reads_in_order_without_seeking_and_seeks_only_when_needed(tmp_path, published):
    frames = VideoFile(published.write_video(tmp_path / "clip.avi", 12), "clip")
    assert [level(frames.read(f)) for f in range(1, 13)] == list(range(1, 13))
    assert frames.seeks == 0
    assert [level(frames.read(f)) for f in (4, 5, 5, 9)] == [4, 5, 5, 9]  # back once, then forward
    assert frames.seeks == 1
    with pytest.raises(AmmaEdgeError, match=r"frame 13 of video 'clip' is missing: .*clip\.avi"):
        frames.read(13)
    assert level(frames.read(2)) == 2  # still usable after the error


def test_missing_video_file_names_video_and_path(tmp_path):
    with pytest.raises(AmmaEdgeError, match=r"video 'v' is missing: there is no file .*v\.mp4"):
        VideoFile(tmp_path / "v.mp4", "v").read(1)


def test_frame_reader_survives_pickling_for_dataloader_workers(tmp_path, published):
    root = published.write_ucf(tmp_path / "ucf", frames="videos")
    gt, root = load_dataset(root)
    reader = FrameReader(root, gt)
    reader("Biking/v_Biking_g02_c03", 1)  # opens a capture, which cannot be pickled
    copy = pickle.loads(pickle.dumps(reader))
    assert level(copy("Biking/v_Biking_g02_c03", 3)) == 3
    assert level(reader("Diving/v_Diving_g05_c01", 2)) == 2  # the original keeps working

