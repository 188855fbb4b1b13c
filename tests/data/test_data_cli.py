import json
import os
import pickle

from click.testing import CliRunner

from amma_edge.data.annotations import load_ground_truth
from amma_edge.data.cli import data

B = "Biking/v_Biking_g02_c03"


def run(*args):
    return CliRunner().invoke(data, [str(a) for a in args])


def test_group_help_lists_convert_and_check():
    result = run("--help")
    assert result.exit_code == 0
    assert "convert" in result.output and "check" in result.output and "UCF101v2-GT.pkl" in result.output


def test_convert_help_says_frames_are_not_copied():
    result = run("convert", "--help")
    assert result.exit_code == 0
    assert "never copied" in result.output and "absolute" in result.output and "symlink" in result.output


def test_convert_writes_annotations_and_references_frames(ucf_root, tmp_path):
    out = tmp_path / "out"
    result = run("convert", ucf_root, "--out", out)
    assert result.exit_code == 0, result.output
    assert "3 videos, 4 tubes" in result.output
    assert sorted(os.listdir(out)) == ["annotations.json", "tubes.npz"]
    assert load_ground_truth(out).frame_dir == str(ucf_root / "rgb-images")
    again = run("convert", ucf_root, "--out", out, "--frames", "relative")
    assert again.exit_code == 1 and "--force" in again.output
    forced = run("convert", ucf_root, "--out", out, "--frames", "relative", "--force")
    assert forced.exit_code == 0, forced.output
    assert not os.path.isabs(load_ground_truth(out).frame_dir)


def test_check_clean_dataset_exits_zero_with_a_summary(ucf_root):
    result = run("check", ucf_root)
    assert result.exit_code == 0, result.output
    assert "checked 3 videos, 4 tubes" in result.output and "21 frames" in result.output
    assert "no problems found" in result.output


def test_check_lists_every_problem_and_exits_one(ucf_root):
    (ucf_root / "rgb-images" / B / "00002.jpg").unlink()
    (ucf_root / "rgb-images" / B / "00004.jpg").unlink()
    result = run("check", ucf_root)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("[missing_frame]")]
    assert len(lines) == 2 and f"video '{B}', frame 2" in lines[0] and f"video '{B}', frame 4" in lines[1]
    assert "2 problems" in result.output


def test_check_json_is_machine_readable(ucf_root):
    (ucf_root / "rgb-images" / B / "00002.jpg").unlink()
    result = run("check", ucf_root, "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["frames"] == 21 and report["counts"] == {"missing_frame": 1}
    (problem,) = report["problems"]
    assert (problem["kind"], problem["video"], problem["frame"]) == ("missing_frame", B, 2)


def test_check_decode_flag_decodes(ucf_root):
    (ucf_root / "rgb-images" / B / "00003.jpg").write_bytes(b"garbage")
    assert run("check", ucf_root).exit_code == 0
    result = run("check", ucf_root, "--decode")
    assert result.exit_code == 1 and "[undecodable_frame]" in result.output


def test_check_of_something_that_is_no_dataset_is_a_one_line_error(tmp_path):
    result = run("check", tmp_path)
    assert result.exit_code == 1
    assert "holds no dataset" in result.output and "Traceback" not in result.output


def test_check_refuses_a_pickle_that_would_run_code(tmp_path, published):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    raw = published.ucf_raw()
    raw["nframes"]["x"] = Evil()
    (tmp_path / "UCF101v2-GT.pkl").write_bytes(pickle.dumps(raw, protocol=2))
    result = run("check", tmp_path)
    assert result.exit_code == 1 and "not a plain ground-truth pickle" in result.output
    assert not (tmp_path / "pwned").exists()
