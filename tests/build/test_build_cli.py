"""`amma-edge build` on this machine: every user error is one line, checked before TensorRT is needed."""
import importlib.util
import shutil

import pytest
from click.testing import CliRunner

from amma_edge.cli import main

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HAS_TORCH_TENSORRT = importlib.util.find_spec("torch_tensorrt") is not None


def _build(*args):
    return CliRunner().invoke(main, ["build", *map(str, args)])


def _one_line_error(result, *words):
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_build_is_a_registered_command():
    result = CliRunner().invoke(main, ["build", "-h"])
    assert result.exit_code == 0
    for flag in ("--precision", "--workspace", "--dla", "--timing-cache", "--dynamic-batch", "--out", "--force",
                 "--via", "--checkpoint"):
        assert flag in result.output


def test_missing_folder(tmp_path):
    _one_line_error(_build("--model", tmp_path / "nope", "--precision", "fp16"), "does not exist")
    _one_line_error(_build("--model", tmp_path / "nope"), "does not exist")  # also when the default is looked up


def test_int8_from_an_fp32_folder_says_to_calibrate_first(exported_folder):
    _one_line_error(_build("--model", exported_folder, "--precision", "int8"), "amma-edge calibrate", "-int8")


def test_fp16_from_an_int8_folder_is_refused(int8_folder):
    _one_line_error(_build("--model", int8_folder, "--precision", "fp16"), "Q/DQ", "--precision int8")
    _one_line_error(_build("--model", int8_folder, "--precision", "fp32"), "Q/DQ")


@pytest.mark.parametrize("value", ["1,2", "x", "4,2,1"])
def test_bad_dynamic_batch(exported_folder, value):
    _one_line_error(_build("--model", exported_folder, "--dynamic-batch", value), "--dynamic-batch")


def test_dla_with_fp32(exported_folder):
    _one_line_error(_build("--model", exported_folder, "--precision", "fp32", "--dla", "0"), "DLA", "fp16")


def test_existing_engines_without_force(model_dir):
    (model_dir / "encoder.engine").write_bytes(b"x")
    _one_line_error(_build("--model", model_dir, "--precision", "fp16"), "encoder.engine", "--force")


def test_checkpoint_problems_of_via_torch_tensorrt(exported_folder, tmp_path):
    _one_line_error(_build("--model", exported_folder, "--via", "torch-tensorrt", "--checkpoint",
                           tmp_path / "none.pt"), "does not exist")
    other = tmp_path / "other.pt"
    other.write_bytes(b"not the checkpoint")
    _one_line_error(_build("--model", exported_folder, "--via", "torch-tensorrt", "--checkpoint", other),
                    "is not the checkpoint")
    _one_line_error(_build("--model", exported_folder, "--checkpoint", other), "--via torch-tensorrt")


def test_via_torch_tensorrt_finds_the_recorded_checkpoint_and_needs_torch_tensorrt(exported_folder, tmp_path):
    if HAS_TORCH_TENSORRT:
        pytest.skip("torch_tensorrt is installed here: the message for a missing one cannot show")
    folder = shutil.copytree(exported_folder, tmp_path / "m")
    _one_line_error(_build("--model", folder, "--via", "torch-tensorrt"), "torch-tensorrt", "pip install")
    assert not list(folder.glob("*.engine"))


def test_without_tensorrt_the_message_says_what_to_install(model_dir):
    if HAS_TENSORRT:
        pytest.skip("tensorrt is installed here: the message for a missing one cannot show")
    line = _one_line_error(_build("--model", model_dir, "--precision", "fp16"), "tensorrt", "JetPack", "cuda-python")
    assert "pip install tensorrt" in line
    assert not list(model_dir.glob("*.engine")) and not [p for p in model_dir.iterdir() if p.name.startswith(".")]
