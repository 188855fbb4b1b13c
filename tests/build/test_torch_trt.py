"""What `--via torch-tensorrt` checks without Torch-TensorRT: the checkpoint and the engine's tensor names."""
import json
import shutil

import pytest

from amma_edge.build.torch_trt import binding_names, check_engine_names, resolve_checkpoint
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import load_bundle


def test_the_checkpoint_recorded_in_model_json_is_found_and_verified(exported_folder, tiny_checkpoint, tmp_path):
    bundle = load_bundle(exported_folder)
    found = resolve_checkpoint(None, bundle.manifest, exported_folder, bundle.checkpoint_sha256)
    assert found == tiny_checkpoint


def test_a_moved_folder_finds_the_checkpoint_beside_it(exported_folder, tiny_checkpoint, tmp_path):
    folder = shutil.copytree(exported_folder, tmp_path / "moved")
    manifest = json.loads((folder / "model.json").read_text())
    manifest["checkpoint"] = "gone/tiny.pt"
    shutil.copyfile(tiny_checkpoint, folder / "tiny.pt")
    sha = load_bundle(exported_folder).checkpoint_sha256
    assert resolve_checkpoint(None, manifest, folder, sha) == folder / "tiny.pt"
    (folder / "tiny.pt").unlink()
    with pytest.raises(AmmaEdgeError, match="gone/tiny.pt.*--checkpoint PT"):
        resolve_checkpoint(None, manifest, folder, sha)
    with pytest.raises(AmmaEdgeError, match="records no training checkpoint"):
        resolve_checkpoint(None, None, folder, sha)


def test_another_checkpoint_is_refused(exported_folder, tmp_path):
    other = tmp_path / "other.pt"
    other.write_bytes(b"x")
    with pytest.raises(AmmaEdgeError, match="is not the checkpoint"):
        resolve_checkpoint(other, None, exported_folder, load_bundle(exported_folder).checkpoint_sha256)


def test_binding_names_follow_the_module_return_shape():
    assert binding_names(("feature",)) == "feature"
    assert binding_names(("center", "trajectory", "box")) == ("center", "trajectory", "box")


def test_engines_with_torch_tensorrt_default_names_are_refused():
    good = {"features": "input", "center": "output", "trajectory": "output", "box": "output"}
    check_engine_names("head", good, ("features",), ("center", "trajectory", "box"), "2.9")
    default = {"features": "input", "output0": "output", "output1": "output", "output2": "output"}
    with pytest.raises(AmmaEdgeError, match="output0 .*output_binding_names.*--via trt"):
        check_engine_names("head", default, ("features",), ("center", "trajectory", "box"), "2.9")
