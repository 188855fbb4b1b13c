"""`amma-edge run` end to end on tiny models: the run folder, the one-line errors, Ctrl-C."""
import json
import os
import signal
import threading

from click.testing import CliRunner

from amma_edge.cli import main

SOURCE = "synthetic://?seed=1&classes=walk,wave&size=96x72&frames=20"


def test_run_writes_the_run_folder_and_prints_the_report(tiny_export, tmp_path):
    out = tmp_path / "run1"
    result = CliRunner().invoke(main, ["run", SOURCE, "--model", str(tiny_export), "--out-dir", str(out),
                                       "--headless", "--threshold", "0", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"annotated.mp4", "events.jsonl", "summary.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 20 and summary["backend"] == "ort"
    for stage in ("capture wait", "preprocess", "encoder", "head", "decode", "link", "render", "total"):
        assert stage in result.output
    assert "20 frames in" in result.output and "FPS" in result.output and str(out) in result.output
    again = CliRunner().invoke(main, ["run", SOURCE, "--model", str(tiny_export), "--out-dir", str(out)])
    assert again.exit_code != 0 and "--force" in again.output and "Traceback" not in again.output


def test_run_with_a_checkpoint_an_output_path_and_max_frames(tiny_checkpoint, tmp_path):
    video = tmp_path / "custom.avi"
    result = CliRunner().invoke(main, ["run", SOURCE, str(video), "--model", str(tiny_checkpoint), "--max-frames",
                                       "8", "--out-dir", str(tmp_path / "r"), "--threads", "1", "--trim", "0.5"])
    assert result.exit_code == 0, result.output
    assert video.is_file() and not (tmp_path / "r" / "annotated.mp4").exists()
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["stopped_by"] == "max_frames"


def test_without_a_bundled_demo_model_run_asks_for_one(tmp_path, monkeypatch):
    import amma_edge.runtime.cli as run_cli

    monkeypatch.setattr(run_cli, "default_model_path", lambda: None)
    result = CliRunner().invoke(main, ["run", SOURCE, "--out-dir", str(tmp_path / "r")])
    assert result.exit_code != 0 and "no model: pass --model" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_user_errors_are_one_line(tiny_export, tmp_path):
    runner = CliRunner()
    for args, text in [
        (["run", "0", "--camera", "1", "--model", str(tiny_export)], "not both"),
        (["run", str(tmp_path / "missing.mp4"), "--model", str(tiny_export)], "does not exist"),
        (["run", SOURCE, "display://0", "--headless", "--model", str(tiny_export)], "contradict"),
        (["run", SOURCE, "out.mkv", "--model", str(tiny_export), "--out-dir", str(tmp_path / "x")], "unknown output"),
        (["run", SOURCE, "--trim", "1", "--model", str(tiny_export)], "--trim"),
    ]:
        result = runner.invoke(main, args)
        assert result.exit_code != 0 and text in result.output and "Traceback" not in result.output, result.output


def test_ctrl_c_stops_cleanly_with_complete_outputs(tiny_export, tmp_path):
    out = tmp_path / "interrupted"
    endless = "synthetic://?seed=1&classes=walk&size=64x48"
    timer = threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = CliRunner().invoke(main, ["run", endless, "--model", str(tiny_export), "--out-dir", str(out),
                                           "--headless", "--threads", "1"])
    finally:
        timer.cancel()
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_by"] == "stopped" and summary["frames"] > 0
    import cv2

    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == summary["frames"]
