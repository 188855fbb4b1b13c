"""Which model each combination runs: the INT8 sibling, the recorded checkpoint, and the reasons for not."""
import json
import shutil
from pathlib import Path

import pytest
from bench_fixtures import relabelled_copy, save_tiny_checkpoint

from amma_edge.bench.config import BenchConfig, parse_fraction, parse_list
from amma_edge.bench.targets import NotAvailable, resolve_target
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import load_bundle


@pytest.fixture()
def model(tiny_export, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_export, folder)
    return folder


def test_int8_runs_the_calibrated_sibling_and_refuses_a_wrong_one(model):
    config = BenchConfig(model=model)
    with pytest.raises(NotAvailable, match="no INT8 model: run `amma-edge calibrate"):
        resolve_target(config, "ort-cpu", "int8", load_bundle(model))
    sibling = relabelled_copy(model, model.with_name("model-int8"), "int8")
    target = resolve_target(config, "ort-cpu", "int8", load_bundle(model))
    assert target.path == sibling and target.golden_dir == sibling and target.runtime == "ort"
    assert target.options.providers == ("cpu",)
    elsewhere = relabelled_copy(model, model.parent / "other", "fp32")
    with pytest.raises(AmmaEdgeError, match="not INT8 ones"):
        resolve_target(BenchConfig(model=model, int8_model=elsewhere), "ort-cpu", "int8", load_bundle(model))


def test_an_int8_folder_of_another_checkpoint_is_refused(model, tmp_path):
    sibling = relabelled_copy(model, model.with_name("model-int8"), "int8")
    import onnx

    from amma_edge.export.metadata import read_metadata, write_metadata

    for path in sibling.glob("*.onnx"):
        proto = onnx.load(str(path))
        write_metadata(proto, read_metadata(proto).replace(checkpoint_sha256="0" * 64))
        onnx.save(proto, str(path))
    manifest = json.loads((sibling / "model.json").read_text())
    manifest["checkpoint_sha256"] = "0" * 64
    (sibling / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(AmmaEdgeError, match="calibrated from another checkpoint"):
        resolve_target(BenchConfig(model=model), "ort-cpu", "int8", load_bundle(model))


def test_torch_runs_the_recorded_checkpoint_and_only_that_one(model, tmp_path):
    bundle = load_bundle(model)
    target = resolve_target(BenchConfig(model=model), "torch", "fp32", bundle)
    assert target.path == Path(bundle.manifest["checkpoint"]) and target.device == "cpu"
    other = save_tiny_checkpoint(tmp_path / "other.pt", seed=1)
    with pytest.raises(AmmaEdgeError, match="is not the checkpoint"):
        resolve_target(BenchConfig(model=model, checkpoint=other), "torch", "fp32", bundle)
    manifest = json.loads((model / "model.json").read_text())
    manifest["checkpoint"] = str(tmp_path / "gone.pt")
    (model / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(NotAvailable, match="not on this machine: pass --checkpoint"):
        resolve_target(BenchConfig(model=model), "torch", "fp32", load_bundle(model))
    with pytest.raises(NotAvailable, match="not PyTorch"):
        resolve_target(BenchConfig(model=model), "torch", "int8", bundle)


def test_lists_and_percentages_parse_as_users_write_them():
    assert parse_list("ort-cpu, trt,ort-cpu", ("ort-cpu", "trt"), "backend") == ("ort-cpu", "trt")
    assert parse_fraction("10%", "x") == pytest.approx(0.1) and parse_fraction("0.05", "x") == pytest.approx(0.05)
    assert parse_fraction("25", "x") == pytest.approx(0.25)
    for bad in ("fast", "150%", "-5%"):
        with pytest.raises(AmmaEdgeError):
            parse_fraction(bad, "--max-slowdown")
    with pytest.raises(AmmaEdgeError, match="unknown backend"):
        BenchConfig(model=Path("."), backends=("cuda",))
