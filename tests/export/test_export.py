"""The export stage on a tiny AMMA: files, metadata, parity, golden files, atomicity."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from amma_edge import __version__
from amma_edge.errors import AmmaEdgeError
from amma_edge.export import compare_golden, load_bundle, load_golden, read_metadata, read_metadata_ort
from amma_edge.export.exporter import ExportOptions, export_model
from amma_edge.train.checkpoint import checkpoint_model_config, load_model

GRAPHS = ("encoder", "head", "fused")


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(path, feed):
    s = session(path)
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, feed)))


def test_writes_the_graphs_golden_files_and_model_json(exported):
    _, result = exported
    out = result.out
    assert sorted(p.name for p in out.iterdir()) == ["encoder.onnx", "fused.onnx", "golden", "head.onnx", "model.json"]
    assert sorted(p.name for p in (out / "golden").iterdir()) == ["encoder.npz", "fused.npz", "head.npz"]
    manifest = json.loads((out / "model.json").read_text())
    assert list(manifest["graphs"]) == list(GRAPHS)
    assert set(manifest["files"]) == {"encoder.onnx", "head.onnx", "fused.onnx", "golden/encoder.npz",
                                      "golden/head.npz", "golden/fused.npz", "model.json"}
    assert manifest["class_names"] == ["walk", "wave", "sit_down"]
    assert not list(out.parent.glob(".tiny.*")), "the temporary export folder was left behind"


def test_every_graph_carries_the_contract_metadata(exported):
    checkpoint, result = exported
    _, state = load_model(checkpoint)
    config = checkpoint_model_config(state)
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    H, W = config.input_size
    expected = {
        "encoder": ({"clip": (1, 4, 3, H, W)}, {"feature": (1, 8, H // 8, W // 8)}),
        "head": ({"features": (1, 3, 8, H // 8, W // 8)},
                 {"center": (1, 3, H // 8, W // 8), "trajectory": (1, 6, H // 8, W // 8), "box": (1, 6, H // 8, W // 8)}),
        "fused": ({"clips": (1, 3, 4, 3, H, W)},
                  {"center": (1, 3, H // 8, W // 8), "trajectory": (1, 6, H // 8, W // 8), "box": (1, 6, H // 8, W // 8)}),
    }
    for graph in GRAPHS:
        path = result.out / f"{graph}.onnx"
        meta = read_metadata(path)
        assert meta == read_metadata_ort(session(path))
        assert meta.graph == graph and meta.model_config == config and meta.class_names == ("walk", "wave", "sit_down")
        assert (meta.inputs, meta.outputs) == expected[graph]
        assert set(meta.output_layout) == set(meta.outputs)
        assert meta.opset == 17 and meta.precision == "fp32"
        assert meta.checkpoint_sha256 == sha and meta.amma_edge_version == __version__
        # the ONNX graph itself has the same names, in the same order, with the same static shapes
        s = session(path)
        assert [(i.name, tuple(i.shape)) for i in s.get_inputs()] == list(meta.inputs.items())
        assert [(o.name, tuple(o.shape)) for o in s.get_outputs()] == list(meta.outputs.items())
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
        assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 17


def test_graphs_are_simplified_and_agree_with_pytorch_within_1e_4(exported):
    checkpoint, result = exported
    for graph in result.graphs:
        assert graph.simplify.simplified and graph.simplify.nodes_after < graph.simplify.nodes_before
        worst = graph.parity.worst()
        assert worst is not None and worst[2].max_rel <= 1e-4
    manifest = json.loads((result.out / "model.json").read_text())
    for name, entry in manifest["graphs"].items():
        outputs = entry["parity"]["random"]["outputs"]
        assert set(outputs) == set(entry["outputs"])
        assert all(0 <= e["max_rel"] <= 1e-4 for e in outputs.values())
    assert "max rel" in "\n".join(result.log)  # the parity table was printed

    # and independently of the exporter's own bookkeeping: ONNX Runtime against the checkpoint's PyTorch model
    model, _ = load_model(checkpoint)
    x = np.random.default_rng(5).standard_normal((1, 3, 4, 3, 32, 64), dtype=np.float32)
    with torch.no_grad():
        reference = {k: v.numpy() for k, v in model(torch.from_numpy(x)).items()}
    got = run(result.out / "fused.onnx", {"clips": x})
    for name in ("center", "trajectory", "box"):
        err = np.abs(got[name] - reference[name]).max() / np.abs(reference[name]).max()
        assert err <= 1e-4, (name, err)


def test_encoder_then_head_equals_the_fused_graph(exported):
    """The streaming split is exact: K encoder passes stacked into the head give the fused graph's outputs."""
    _, result = exported
    clips = np.random.default_rng(1).standard_normal((1, 3, 4, 3, 32, 64), dtype=np.float32)
    features = np.stack([run(result.out / "encoder.onnx", {"clip": clips[:, k]})["feature"] for k in range(3)], axis=1)
    split = run(result.out / "head.onnx", {"features": features})
    fused = run(result.out / "fused.onnx", {"clips": clips})
    for name in ("center", "trajectory", "box"):
        np.testing.assert_allclose(split[name], fused[name], rtol=1e-4, atol=1e-6)


def test_golden_files_reproduce_and_catch_a_perturbed_output(exported):
    _, result = exported
    bundle = load_bundle(result.out)
    for graph in GRAPHS:
        golden = load_golden(bundle.golden(graph))
        assert golden.graph == graph and golden.source["kind"] == "random" and golden.source["reference"] == "pytorch"
        outputs = run(bundle.path(graph), golden.inputs)
        report = compare_golden(outputs, golden, rtol=1e-4, atol=1e-6)
        assert report.passed, str(report)
        name = next(iter(outputs))
        perturbed = dict(outputs)
        perturbed[name] = outputs[name] + 0.01 * (np.abs(outputs[name]).max() + 1e-3)
        bad = compare_golden(perturbed, golden, rtol=1e-4, atol=1e-6)
        assert not bad.passed and [c.name for c in bad.failures] == [name]
        assert bad.outputs[name].mismatches == outputs[name].size
        with pytest.raises(AmmaEdgeError, match=f"{graph} does not reproduce its golden outputs"):
            bad.raise_on_failure()


def test_the_export_loads_as_a_bundle(exported):
    checkpoint, result = exported
    bundle = load_bundle(result.out)
    assert list(bundle.graphs) == list(GRAPHS) and bundle.kind == "onnx"
    assert bundle.family == "amma" and bundle.batch == 1 and bundle.streaming
    assert bundle.checkpoint_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()


def test_a_non_empty_out_is_refused_without_force(tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(AmmaEdgeError, match=r"is not empty \(keep.txt.*pass --force"):
        export_model(tiny_checkpoint, out)
    assert (out / "keep.txt").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    with pytest.raises(AmmaEdgeError, match="is a file"):
        export_model(tiny_checkpoint, tmp_path / "file")


def test_force_never_deletes_the_checkpoint_it_exports(tmp_path, tiny_checkpoint):
    out = tmp_path / "run"
    out.mkdir()
    inside = out / "best.pt"
    inside.write_bytes(tiny_checkpoint.read_bytes())
    with pytest.raises(AmmaEdgeError, match="lies inside --out"):
        export_model(inside, out, ExportOptions(force=True))
    assert inside.is_file()


def test_a_parity_failure_writes_nothing(tmp_path, tiny_checkpoint, monkeypatch, one_thread):
    """When ONNX Runtime and PyTorch disagree the export fails, naming the output, and leaves no folder."""
    import amma_edge.export.exporter as exporter

    real = exporter.run_graph

    def drifting_reference(module, spec, feed):
        return {k: v + 0.001 * (np.abs(v).max() + 1.0) for k, v in real(module, spec, feed).items()}

    monkeypatch.setattr(exporter, "run_graph", drifting_reference)
    lines: list[str] = []
    out = tmp_path / "out"
    with pytest.raises(AmmaEdgeError, match=r"disagrees with PyTorch beyond 0.0001.*encoder.feature.*Nothing was written"):
        export_model(tiny_checkpoint, out, ExportOptions(simplify=False), log=lines.append)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "a temporary folder was left behind"
    assert "FAIL" in "\n".join(lines)


@pytest.mark.parametrize("output_stride", [8, 4])
def test_the_skip_decoder_exports_and_agrees_with_pytorch(tmp_path, one_thread, output_stride):
    """`--set decoder=skip` adds graph branches (1×1 projections, additions) that must survive simplification;
    `output_stride=4` one more bilinear up-sampling and projection."""
    from export_fixtures import save_tiny_checkpoint, tiny_amma_config

    config = tiny_amma_config(decoder="skip", output_stride=output_stride)
    checkpoint = save_tiny_checkpoint(tmp_path / "skip.pt", config)
    result = export_model(checkpoint, tmp_path / "out", ExportOptions(fused=True), log=lambda line: None)
    saved = read_metadata(onnx.load(str(result.out / "encoder.onnx"))).model_config
    assert (saved.decoder, saved.output_stride) == ("skip", output_stride)
    feature = onnx.load(str(result.out / "encoder.onnx")).graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in feature][-2:] == list(config.output_size)
    for graph in result.graphs:
        worst = graph.parity.worst()
        assert worst is not None and worst[2].max_rel <= 1e-4, (graph.spec.name, worst)

