"""`amma-edge eval` end to end on a tiny dataset and an untrained tiny checkpoint: the files a user looks for
appear, the numbers are percentages, and mistakes get one-line answers."""
import json

import pytest
from click.testing import CliRunner

from amma_edge.cli import main
from amma_edge.data.synth import SynthConfig, write_dataset
from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.train.checkpoint import save_checkpoint

CLASSES = ("walk", "sit_down")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = root / "data"
    write_dataset(data, SynthConfig(videos=4, seed=1, width=96, height=72, classes=CLASSES, test_fraction=0.5,
                                    min_frames=16, max_frames=18), workers=1)
    config = get_config("amma-s", num_classes=2, input_size=(64, 64), width=0.5, feature_dim=32, head_conv=16,
                        box_head_conv=8, K=2, t=2)
    model = build(config)
    ckpt = save_checkpoint(root / "model.pt", {"model": model.state_dict(), "model_config": config_to_dict(config),
                                               "class_names": list(CLASSES)})
    return data, ckpt


def test_eval_prints_the_table_and_writes_json_and_a_pr_plot(tiny, tmp_path):
    data, ckpt = tiny
    out = tmp_path / "ev"
    result = CliRunner().invoke(main, ["eval", "--model", str(ckpt), "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "frame-mAP@0.5" in result.output and "video-mAP@0.5" in result.output and "E_M" in result.output
    report = json.loads((out / "eval.json").read_text())
    assert report["protocol"] == "act" and report["videos"] == 2
    fmap = report["frame_map"]["mAP"]
    assert fmap is None or 0.0 <= fmap <= 100.0
    assert (out / "pr_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = CliRunner().invoke(main, ["eval", "--model", str(ckpt), "--data", str(data), "--out", str(out)])
    assert again.exit_code != 0 and "--force" in again.output  # an earlier result is not overwritten silently
    voc = CliRunner().invoke(main, ["eval", "--model", str(ckpt), "--data", str(data), "--out", str(out),
                                    "--protocol", "voc", "--no-plot", "--force", "--max-videos", "1"])
    assert voc.exit_code == 0, voc.output
    report = json.loads((out / "eval.json").read_text())
    assert report["protocol"] == "voc" and report["linker"]["trim"] == 0.0
    trimmed = CliRunner().invoke(main, ["eval", "--model", str(ckpt), "--data", str(data), "--out", str(out),
                                        "--trim", "0.5", "--no-plot", "--force", "--max-videos", "1"])
    assert trimmed.exit_code == 0, trimmed.output
    assert json.loads((out / "eval.json").read_text())["linker"]["trim"] == 0.5
    bad = CliRunner().invoke(main, ["eval", "--model", str(ckpt), "--data", str(data), "--trim", "1"])
    assert bad.exit_code != 0 and "--trim" in bad.output


def test_eval_refuses_a_model_trained_for_other_classes(tiny, tmp_path):
    data, _ = tiny
    config = get_config("amma-s", num_classes=3, input_size=(64, 64), width=0.5, feature_dim=32, head_conv=16,
                        box_head_conv=8, K=2, t=2)
    ckpt = save_checkpoint(tmp_path / "other.pt", {"model": build(config).state_dict(),
                                                   "model_config": config_to_dict(config),
                                                   "class_names": ["a", "b", "c"]})
    result = CliRunner().invoke(main, ["eval", "--model", str(ckpt), "--data", str(data), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "classes" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["eval", "--model", str(tmp_path / "nope.pt"), "--data", str(data)])
    assert missing.exit_code != 0 and "does not exist" in missing.output
