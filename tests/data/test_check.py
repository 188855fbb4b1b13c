import cv2
import numpy as np
import pytest

from amma_edge.data import check as check_module
from amma_edge.data import frames as frames_module
from amma_edge.data.check import check_dataset
from amma_edge.data.loading import convert_dataset, load_dataset

A = "Basketball/v_Basketball_g01_c01"  # 8 frames
B = "Biking/v_Biking_g02_c03"  # 6 frames
C = "Diving/v_Diving_g05_c01"  # 7 frames
EXTRA = "Fencing/v_Fencing_g01_c01"  # in a split only


def found(report):
    return {(p.kind, p.video, p.frame) for p in report.problems}


def test_clean_dataset_passes_with_counts(ucf_root):
    gt, root = load_dataset(ucf_root)
    report = check_dataset(root, gt)
    assert report.ok, report.problems
    assert (report.videos, report.tubes, report.boxes, report.frames) == (3, 4, 8 + 4 + 5 + 4, 8 + 6 + 7)
    assert "no problems found" in report.summary()


def broken_dataset(root, published):
    raw = published.ucf_raw()
    raw["test_videos"] = [[C, EXTRA, A]]  # A is also in train; EXTRA has no nframes, resolution or frames
    raw["gttubes"][A] = {0: [published.tube([0, 1, 2]), published.tube([7, 8, 9, 10])]}
    bad_box = published.tube([6], (10, 3, 5, 18))
    raw["gttubes"][B] = {
        1: [published.tube([2, 3, 3, 5, 4]), published.tube([1, 2], (4, 3, 40, 18)),
            np.zeros((0, 5), np.float32), bad_box],
        7: [published.tube([1])],
    }
    published.write_ucf(root, raw)
    (root / "rgb-images" / A / "00005.jpg").unlink()
    (root / "rgb-images" / A / "00006.jpg").write_bytes(b"")
    for f in (root / "rgb-images" / C).iterdir():
        f.unlink()
    (root / "rgb-images" / C).rmdir()
    return root


def test_every_problem_is_reported_with_its_video_and_frame(tmp_path, published):
    gt, root = load_dataset(broken_dataset(tmp_path / "ucf", published))
    report = check_dataset(root, gt)
    assert found(report) == {
        ("split_overlap", A, None),
        ("no_nframes", EXTRA, None),
        ("no_resolution", EXTRA, None),
        ("missing_video", EXTRA, None),
        ("missing_video", C, None),
        ("missing_frame", A, 5),
        ("empty_frame_file", A, 6),
        ("tube_before_start", A, 0),
        ("tube_after_end", A, 9),
        ("tube_after_end", A, 10),
        ("duplicate_frame", B, 3),
        ("frame_order", B, 4),
        ("box_outside", B, 1),
        ("box_outside", B, 2),
        ("empty_tube", B, None),
        ("bad_box", B, 6),
        ("unknown_label", B, None),
    }
    assert not report.ok
    messages = {p.kind: p.message for p in report.problems}
    assert str(root / "rgb-images" / A / "00005.jpg") in messages["missing_frame"]
    assert "(4, 3, 40, 18) outside the 32×24 image" in messages["box_outside"]
    assert "label index 7" in messages["unknown_label"]
    assert "17 problems" in report.summary() and "2 tube_after_end" in report.summary()


def test_without_decode_no_image_is_decoded(ucf_root, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("check decoded an image without --decode")

    monkeypatch.setattr(check_module.cv2, "imread", no_decoding)
    monkeypatch.setattr(frames_module.cv2, "imread", no_decoding)
    gt, root = load_dataset(ucf_root)
    assert check_dataset(root, gt).ok


def test_decode_finds_corrupt_and_odd_sized_frames_that_stat_cannot(ucf_root, published):
    gt, root = load_dataset(ucf_root)
    gt.frame_path(root, B, 3).write_bytes(b"\xff\xd8 not really a jpeg")
    cv2.imwrite(str(gt.frame_path(root, B, 4)), np.zeros((published.H + 2, published.W, 3), np.uint8))
    assert check_dataset(root, gt).ok
    report = check_dataset(root, gt, decode=True)
    assert found(report) == {("undecodable_frame", B, 3), ("frame_size", B, 4)}
    assert report.frames == 8 + 6 + 7


def test_frames_at_another_size_than_annotated_are_noted_not_failed(ucf_root, published):
    gt, root = load_dataset(ucf_root)
    for f in range(1, 7):
        cv2.imwrite(str(gt.frame_path(root, B, f)), np.zeros((2 * published.H, 2 * published.W, 3), np.uint8))
    report = check_dataset(root, gt, decode=True)
    assert report.ok and report.resized_videos == [B]
    assert "another size" in report.summary()


def test_missing_frame_folder_is_one_problem_naming_it(ucf_root):
    import shutil

    shutil.rmtree(ucf_root / "rgb-images")
    gt, root = load_dataset(ucf_root)
    report = check_dataset(root, gt)
    (problem,) = report.problems
    assert problem.kind == "missing_video" and str(ucf_root / "rgb-images") in problem.message


def test_video_file_dataset_reports_missing_and_short_videos(tmp_path, published):
    root = published.write_ucf(tmp_path / "ucf", frames="videos")
    gt, root = load_dataset(root)
    assert check_dataset(root, gt).ok
    assert check_dataset(root, gt, decode=True).frames == 8 + 6 + 7
    (root / "videos" / f"{C}.avi").unlink()
    published.write_video(root / "videos" / f"{B}.avi", 4)  # annotations say 6 frames
    assert found(check_dataset(root, gt)) == {("missing_video", C, None), ("short_video", B, 5)}
    assert found(check_dataset(root, gt, decode=True)) == {("missing_video", C, None), ("short_video", B, 5)}


def test_converted_dataset_checks_against_the_source_frames(ucf_root, tmp_path):
    convert_dataset(ucf_root, tmp_path / "out")
    gt, root = load_dataset(tmp_path / "out")
    assert check_dataset(root, gt).frames == 8 + 6 + 7
    (ucf_root / "rgb-images" / B / "00002.jpg").unlink()
    assert found(check_dataset(root, gt)) == {("missing_frame", B, 2)}


@pytest.mark.parametrize("value", [np.nan, 2.5])
def test_frame_numbers_that_are_not_whole_are_reported(tmp_path, value, published):
    raw = published.ucf_raw()
    raw["gttubes"][B][1] = [published.tube([1, value, 4])]
    gt, root = load_dataset(published.write_ucf(tmp_path / "ucf", raw))
    assert [(p.kind, p.video) for p in check_dataset(root, gt).problems] == [("bad_frame_number", B)]
