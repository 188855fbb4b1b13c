"""`calibrate_model` end to end on a tiny untrained AMMA export and a tiny synthetic dataset: the INT8 folder
opens like an fp32 one, its scales are the calibrator's, it stays close to fp32, and failures leave nothing."""
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

from amma_edge.calibration.calibrate import calibrate_model, default_out  # noqa: E402
from amma_edge.calibration.metrics import sqnr_db  # noqa: E402
from amma_edge.calibration.options import CalibrationOptions  # noqa: E402
from amma_edge.calibration.qdq import activation_scales  # noqa: E402
from amma_edge.calibration.trt_cache import read_cache  # noqa: E402
from amma_edge.errors import AmmaEdgeError  # noqa: E402
from amma_edge.export.bundle import load_bundle  # noqa: E402
from amma_edge.export.golden import compare_golden, load_golden  # noqa: E402

FAST = dict(threads=1, latency_runs=2, report_samples=4, sensitivity_samples=4, evaluate=False, method="minmax")


def test_the_int8_folder_opens_like_an_fp32_one(calibrated, tiny_export):
    result, _ = calibrated
    out = result.out
    assert sorted(p.name for p in out.iterdir()) == ["calibration", "calibration_report.json", "encoder.onnx",
                                                     "golden", "head.onnx", "model.json"]
    bundle, fp32 = load_bundle(out), load_bundle(tiny_export)
    assert {g: m.precision for g, m in bundle.metadata.items()} == {"encoder": "int8", "head": "int8"}
    assert bundle.checkpoint_sha256 == fp32.checkpoint_sha256 and bundle.config == fp32.config
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["precision"] == "int8" and manifest["calibration"]["method"] == "entropy"
    assert all((out / f).is_file() for f in manifest["files"])
    from amma_edge.runtime.runners.model import open_model

    with open_model(out) as model:
        assert model.precision == "int8" and model.backend == "ort"


def test_int8_streaming_outputs_stay_close_to_fp32_on_real_clips(calibrated, tiny_export, tiny_data):
    from amma_edge.export.samples import dataset_samples
    from amma_edge.runtime.runners.model import RunnerOptions, open_model

    result, _ = calibrated
    options = RunnerOptions(threads=1)
    with open_model(tiny_export, options=options) as fp32, open_model(result.out, options=options) as int8:
        samples = dataset_samples(fp32.config, tiny_data, count=3)
        features = [(fp32.encode(c), int8.encode(c)) for s in samples for c in s.frames]
        windows = [np.stack([fp32.encode(c) for c in s.frames]) for s in samples]
        heads = [(fp32.head(w), int8.head(w)) for w in windows]
    assert sqnr_db(np.stack([a for a, _ in features]), np.stack([b for _, b in features])) > 20.0
    for name in ("center", "trajectory", "box"):
        ref = np.stack([a[name] for a, _ in heads])
        got = np.stack([b[name] for _, b in heads])
        assert 20.0 < sqnr_db(ref, got) < 200.0


def test_the_models_scales_are_the_calibrators_and_the_caches_hold_the_same_numbers(calibrated):
    result, _ = calibrated
    for graph in ("encoder", "head"):
        cache = read_cache(result.out / "calibration" / f"{graph}.cache")
        assert cache.header == "TRT-8602-EntropyCalibration2"
        written = activation_scales(onnx.load(str(result.out / f"{graph}.onnx")))
        assert written and set(written) <= set(cache.scales)
        assert all(np.float32(s).tobytes() == cache.scales[t].tobytes() for t, s in written.items())
        assert result.report["graphs"][graph]["calibrated_tensors"] == len(cache.scales) > len(written)


def test_golden_files_are_the_int8_graphs_outputs_on_the_fp32_golden_inputs(calibrated, tiny_export):
    from amma_edge.calibration.collect import ort_session

    result, _ = calibrated
    for graph in ("encoder", "head"):
        golden, fp32 = load_golden(result.out / "golden" / f"{graph}.npz"), load_golden(
            tiny_export / "golden" / f"{graph}.npz")
        assert golden.source["precision"] == "int8" and golden.source["reference"] == "onnxruntime"
        assert golden.inputs.keys() == fp32.inputs.keys()
        assert all(np.array_equal(golden.inputs[k], fp32.inputs[k]) for k in fp32.inputs)
        session = ort_session((result.out / f"{graph}.onnx").read_bytes(), threads=1)
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, golden.inputs)))
        assert compare_golden(outputs, golden, rtol=1e-5, atol=1e-6).passed
        assert not compare_golden(outputs, fp32, rtol=1e-5, atol=1e-6).passed  # INT8 is not fp32


def test_the_report_compares_fp32_and_int8(calibrated):
    result, lines = calibrated
    report = json.loads((result.out / "calibration_report.json").read_text())
    assert report == json.loads(json.dumps(result.report))
    for graph in ("encoder", "head"):
        g = report["graphs"][graph]
        assert g["int8_layers"] == g["layers"] > 0 and g["float_layers"] == []
        assert g["bytes"]["int8"] < g["bytes"]["fp32"]
        assert g["latency_ms"]["fp32"] > 0 and g["latency_ms"]["int8"] > 0 and g["latency_ms"]["threads"] == 1
        assert all(isinstance(v, float) and v > 10.0 for v in g["sqnr_db"].values())
    assert set(report["accuracy"]["fp32"]) >= {"frame_map", "video_map_50", "video_map_50_95"}
    assert report["accuracy"]["videos"] == 3
    from amma_edge.calibration.report import format_report

    table = format_report(report)
    assert "encoder" in table and "frame-mAP@0.5" in table and "speed-up" in table


def test_too_few_samples_warns_with_the_numbers(calibrated):
    result, lines = calibrated
    warning = next(w for w in result.warnings if w.startswith("encoder:"))
    assert "12 input(s)" in warning and "500 recommended" in warning
    assert f"warning: {warning}" in lines


@pytest.mark.slow  # ~20 s: every one of the encoder's ~100 layers is quantized alone
def test_layers_kept_float_are_the_most_sensitive(tiny_export, tiny_data, tmp_path):
    result = calibrate_model(tiny_export, tiny_data, tmp_path / "kept",
                             CalibrationOptions(samples=6, keep_float=2, **FAST))
    report = result.report
    top = [(r["graph"], r["layer"]) for r in report["sensitivity"][:2]]
    assert [(f["graph"], f["layer"]) for f in report["float_layers"]] == top
    layers = {g: set(report["graphs"][g]["float_layers"]) for g in ("encoder", "head")}
    assert {(g, name) for g, names in layers.items() for name in names} == set(top)
    for graph, names in layers.items():
        model = onnx.load(str(result.out / f"{graph}.onnx"))
        kept = [n for n in model.graph.node if n.name in names]
        assert len(kept) == len(names)
        producers = {o: n.op_type for n in model.graph.node for o in n.output}
        assert all(producers.get(i) != "DequantizeLinear" for n in kept for i in n.input)


def test_a_failure_leaves_nothing_behind(tiny_export, tiny_data, tmp_path, monkeypatch):
    import amma_edge.calibration.calibrate as stage

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(stage, "write_golden", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        calibrate_model(tiny_export, tiny_data, tmp_path / "out", CalibrationOptions(samples=4, **FAST))
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_out_needs_force_and_is_replaced_as_a_whole(tiny_export, tiny_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(AmmaEdgeError, match="--force"):
        calibrate_model(tiny_export, tiny_data, out, CalibrationOptions(samples=4, **FAST))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    calibrate_model(tiny_export, tiny_data, out, CalibrationOptions(samples=4, force=True, **FAST))
    assert not (out / "notes.txt").exists() and (out / "encoder.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left


def test_the_default_out_is_the_sibling_int8_folder(tiny_export, tiny_data, tmp_path):
    model = shutil.copytree(tiny_export, tmp_path / "model")
    assert default_out(model) == tmp_path / "model-int8"
    result = calibrate_model(model, tiny_data, options=CalibrationOptions(samples=4, **FAST))
    assert result.out == tmp_path / "model-int8" and load_bundle(result.out).first.precision == "int8"


def test_calibrating_an_int8_folder_or_other_classes_is_refused(calibrated, tiny_export, tmp_path):
    result, _ = calibrated
    with pytest.raises(AmmaEdgeError, match="calibrate the fp32 export"):
        calibrate_model(result.out, tmp_path, tmp_path / "x", CalibrationOptions(**FAST))
    from amma_edge.data.synth import SynthConfig, write_dataset

    other = tmp_path / "other"
    write_dataset(other, SynthConfig(videos=2, seed=3, width=64, height=48, classes=("run", "jump"),
                                     min_frames=16, max_frames=16), workers=1)
    with pytest.raises(AmmaEdgeError, match="classes"):
        calibrate_model(tiny_export, other, tmp_path / "y", CalibrationOptions(**FAST))


def test_auto_keeps_nothing_float_when_int8_loses_nothing_and_reuses_the_clip_cache(tiny_export, tiny_data,
                                                                                     tmp_path):
    """The untrained tiny model scores the same in INT8 and fp32, so no layer needs to stay float (and the
    costly sensitivity ranking is skipped); a second run with the same --cache reads its inputs from there."""
    cache = tmp_path / "clips"
    options = dict(FAST, evaluate=True, eval_videos=1, keep_float="auto", cache=cache)
    lines: list[str] = []
    first = calibrate_model(tiny_export, tiny_data, tmp_path / "a", CalibrationOptions(samples=4, **options),
                            log=lines.append)
    assert first.report["keep_float_search"][0]["float_layers"] == 0
    assert first.report["float_layers"] == [] and first.report["sensitivity"] == []
    assert first.report["accuracy"]["frame_map_drop"] <= 1.0
    assert sorted(p.name for p in cache.iterdir()) == ["encoder.json", "encoder.npy", "head.json", "head.npy"]
    again: list[str] = []
    calibrate_model(tiny_export, tiny_data, tmp_path / "b", CalibrationOptions(samples=4, **options), log=again.append)
    assert any(line.startswith("reusing the calibration inputs") for line in again)
    assert not any(line.startswith("reusing") for line in lines)


def test_astar_calibrates_on_frame_windows(tiny_data, tmp_path, one_thread):
    from calibration_fixtures import save_tiny_checkpoint

    from amma_edge.export.exporter import ExportOptions, export_model
    from amma_edge.models import get_config
    from amma_edge.runtime.runners.model import RunnerOptions, open_model

    config = get_config("astar-x3dm", num_classes=3, clip_len=4, input_size=(64, 64), width=0.25, head_channels=16,
                        embedding_dim=8, astpp_rates=(1, 2))
    model = export_model(save_tiny_checkpoint(tmp_path / "a.pt", config=config), tmp_path / "astar",
                         ExportOptions(simplify=False)).out
    result = calibrate_model(model, tiny_data, None, CalibrationOptions(samples=6, **dict(FAST, method="entropy")))
    assert result.out == tmp_path / "astar-int8"
    assert sorted(p.name for p in result.out.glob("*.onnx")) == ["model.onnx"]
    assert load_bundle(result.out).metadata["astar"].precision == "int8"
    sqnr = result.report["graphs"]["astar"]["sqnr_db"]
    assert set(sqnr) == {"box", "objectness", "classes", "embedding"} and min(sqnr.values()) > 15.0
    window = np.zeros((4, 3, 64, 64), np.float32)
    with open_model(result.out, options=RunnerOptions(threads=1)) as int8:
        assert int8.detect(window)["box"].shape == (config.num_anchors, 4, 2, 2)
