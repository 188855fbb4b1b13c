"""The streaming pipeline: what it detects must be exactly what offline evaluation scores, and its outputs must
be complete however the run ends."""
import dataclasses
import json
import threading

import cv2
import numpy as np
import pytest
import torch
from runtime_fixtures import save_tiny_checkpoint, tiny_amma_config

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.synth import synthetic_stream
from amma_edge.errors import AmmaEdgeError
from amma_edge.eval.evaluate import evaluate_amma, evaluate_astar
from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.runtime.capture import open_source
from amma_edge.runtime.linking import LinkerConfig
from amma_edge.runtime.pipeline import Pipeline, PipelineConfig
from amma_edge.runtime.runners import RunnerOptions, open_model
from amma_edge.runtime.sinks import Sink, open_sink
from amma_edge.train.checkpoint import save_checkpoint

LINKER = LinkerConfig(min_length=4)  # short videos: accept short tubes, so there are tubes to compare
VIDEO = "walk/walk_00000"
NFRAMES = 26  # six whole clips of t = 4 and two frames left over


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """One synthetic video written as JPEG frames in the dataset layout evaluation reads."""
    root = tmp_path_factory.mktemp("data")
    gt = GroundTruth(labels=["walk", "wave", "sit_down"], splits=[([], [VIDEO])], nframes={VIDEO: NFRAMES},
                     resolution={VIDEO: (72, 96)},
                     gttubes={VIDEO: {0: [np.array([[f, 10, 10, 40, 60] for f in range(1, NFRAMES + 1)], np.float32)]}})
    frames = synthetic_stream(5, width=96, height=72, classes=("walk", "wave"))
    for f, frame in zip(range(1, NFRAMES + 1), frames):
        path = gt.frame_path(root, VIDEO, f)
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), frame.image)
    return root, gt


def assert_same_tubes(got, expected):
    assert len(got) == len(expected) > 0
    for a, b in zip(sorted(got, key=lambda t: t.tube_id), sorted(expected, key=lambda t: t.tube_id)):
        assert (a.tube_id, a.label, a.num_tubelets) == (b.tube_id, b.label, b.num_tubelets)
        assert a.score == b.score
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize("which", ["torch", "ort"])
def test_streaming_output_equals_offline_evaluation(which, dataset, tiny_checkpoint, tiny_export):
    root, gt = dataset
    path = tiny_checkpoint if which == "torch" else tiny_export
    with open_model(path, options=RunnerOptions(threads=1)) as model:
        offline = evaluate_amma(model.encode, model.head, model.config, root, gt, videos=[VIDEO], linker=LINKER)
        source = open_source(str(gt.frame_path(root, VIDEO, 1).parent))
        try:
            result = Pipeline(model, source, config=PipelineConfig(linker=LINKER, keep_detections=True)).run()
        finally:
            source.close()
    assert result.frames == NFRAMES and result.steps == NFRAMES // 4 and result.stopped_by == "end_of_stream"
    assert_same_tubes(result.tubes, offline.tubes[VIDEO])
    np.testing.assert_array_equal(result.detections, offline.detections)  # every frame's boxes, bit for bit


def test_a_frame_step_2_model_reads_every_other_frame_and_boxes_them_all(dataset, tmp_path):
    """Streaming at frame_step 2 equals offline evaluation at frame_step 2: the camera's frames in between are
    drawn and scored with interpolated boxes, and the model runs once per 8 frames instead of once per 4."""
    root, gt = dataset
    config = dataclasses.replace(tiny_amma_config(), frame_step=2)
    ckpt = save_tiny_checkpoint(tmp_path / "step2.pt", config)
    with open_model(ckpt, options=RunnerOptions(threads=1)) as model:
        assert model.config.frame_step == 2
        offline = evaluate_amma(model.encode, model.head, model.config, root, gt, videos=[VIDEO], linker=LINKER)
        with open_source(str(gt.frame_path(root, VIDEO, 1).parent)) as source:
            result = Pipeline(model, source, config=PipelineConfig(linker=LINKER, keep_detections=True)).run()
    assert result.frames == NFRAMES and result.steps == NFRAMES // 8
    np.testing.assert_array_equal(np.unique(result.detections[:, 1]), np.arange(1, 8 * (NFRAMES // 8) + 1))
    np.testing.assert_array_equal(result.detections, offline.detections)
    assert_same_tubes(result.tubes, offline.tubes[VIDEO])


@pytest.mark.parametrize("frame_step", [1, 2])
def test_overlapping_clips_stream_as_offline_evaluation_scores_them(dataset, tmp_path, frame_step):
    """Clips of t = 4 whose ends are 2 sampled frames apart: the camera pipeline keeps the overlapping
    preprocessed frames, runs once per 2·frame_step frames, and reports exactly what evaluation scores."""
    root, gt = dataset
    config = dataclasses.replace(tiny_amma_config(), hop=2, frame_step=frame_step)
    ckpt = save_tiny_checkpoint(tmp_path / f"hop2-step{frame_step}.pt", config)
    with open_model(ckpt, options=RunnerOptions(threads=1)) as model:
        assert model.config.clip_hop == 2 * frame_step
        offline = evaluate_amma(model.encode, model.head, model.config, root, gt, videos=[VIDEO], linker=LINKER)
        with open_source(str(gt.frame_path(root, VIDEO, 1).parent)) as source:
            result = Pipeline(model, source, config=PipelineConfig(linker=LINKER, keep_detections=True)).run()
    hop = 2 * frame_step
    assert result.frames == NFRAMES and result.steps == NFRAMES // hop
    np.testing.assert_array_equal(np.unique(result.detections[:, 1]), np.arange(1, hop * (NFRAMES // hop) + 1))
    np.testing.assert_array_equal(result.detections, offline.detections)
    assert_same_tubes(result.tubes, offline.tubes[VIDEO])


def test_astar_streaming_equals_offline_evaluation(dataset, tmp_path):
    root, gt = dataset
    config = get_config("astar-x3dm", num_classes=3, input_size=(64, 64), clip_len=4, width=0.25, head_channels=16,
                        embedding_dim=8, backbone="x3d_xs")
    torch.manual_seed(0)
    net = build(config).eval()
    ckpt = save_checkpoint(tmp_path / "astar.pt", {"model_config": config_to_dict(config), "model": net.state_dict(),
                                                   "class_names": gt.labels})
    with open_model(ckpt, options=RunnerOptions(threads=1)) as model:
        assert set(model.runners) == {"astar"}
        offline = evaluate_astar(model.detect, model.config, root, gt, videos=[VIDEO], linker=LINKER)
        with open_source(str(gt.frame_path(root, VIDEO, 1).parent)) as source:
            result = Pipeline(model, source, config=PipelineConfig(linker=LINKER, keep_detections=True)).run()
    assert result.steps == NFRAMES and "detector" in result.timing
    np.testing.assert_array_equal(result.detections, offline.detections)
    assert len(result.tubes) == len(offline.tubes[VIDEO])
    for a, b in zip(result.tubes, offline.tubes[VIDEO]):
        np.testing.assert_array_equal(a.boxes, b.boxes)


def test_outputs_are_complete_and_describe_the_run(tiny_export, tmp_path):
    outputs = [tmp_path / "annotated.mp4", tmp_path / "events.jsonl", tmp_path / "summary.json"]
    with open_model(tiny_export, options=RunnerOptions(threads=1)) as model, \
            open_source("synthetic://?seed=1&classes=walk,wave&size=96x72&frames=30") as source:
        config = PipelineConfig(threshold=0.0, linker=LINKER)
        result = Pipeline(model, source, [open_sink(str(p)) for p in outputs], config).run()
    assert result.frames == 30 and result.steps == 7  # 28 frames in clips, 2 left over
    cap = cv2.VideoCapture(str(outputs[0]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30  # the left-over frames are written too, without boxes
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (96, 72)
    assert not list(tmp_path.glob(".annotated*"))  # the temp file was renamed, not left behind
    events = [json.loads(line) for line in outputs[1].read_text().splitlines()]
    kinds = {e["event"] for e in events}
    assert {"tube_start", "tube_end"} <= kinds
    ends = [e for e in events if e["event"] == "tube_end"]
    assert all(e["class"] in ("walk", "wave", "sit_down") and e["frames"][0] <= e["frames"][1] for e in ends)
    starts = {e["tube_id"] for e in events if e["event"] == "tube_start"}
    assert {e["tube_id"] for e in ends} == starts  # every reported tube is ended once
    summary = json.loads(outputs[2].read_text())
    assert summary["frames"] == 30 and summary["stopped_by"] == "end_of_stream" and summary["backend"] == "ort"
    assert set(summary["timing_ms"]) >= {"capture wait", "preprocess", "encoder", "head", "decode", "link", "render",
                                         "total"}
    accepted = {t.tube_id for t in result.tubes}
    assert {t["tube_id"] for t in summary["tubes"]} == accepted  # threshold 0: every accepted tube is listed
    assert 0 <= summary["share_outside_engines"] <= 1
    assert "encoder" in result.timing_table and "p99" in result.timing_table


def test_threshold_hides_weak_tubes_but_linking_sees_all(tiny_export):
    with open_model(tiny_export) as model:
        results = {}
        for threshold in (0.0, 1.0):
            with open_source("synthetic://?seed=1&classes=walk&size=64x48&frames=16") as source:
                results[threshold] = Pipeline(model, source, config=PipelineConfig(threshold=threshold,
                                                                                   linker=LINKER)).run()
    assert len(results[0.0].tubes) == len(results[1.0].tubes) > 0
    assert results[1.0].summary["tubes"] == [] and results[1.0].summary["events"]["tube_start"] == 0


def test_max_frames_and_stop_end_the_run_cleanly(tiny_export, tmp_path):
    with open_model(tiny_export) as model:
        with open_source("synthetic://?seed=1&classes=walk&size=64x48") as source:  # endless
            result = Pipeline(model, source, config=PipelineConfig(max_frames=10)).run()
        assert result.frames == 10 and result.steps == 2 and result.stopped_by == "max_frames"

        class StopAfter(Sink):
            def __init__(self, stop):
                self.stop, self.closed = stop, None

            def events(self, events):
                self.stop.set()

            def close(self, summary):
                self.closed = summary

        stop = threading.Event()
        sink = StopAfter(stop)
        config = PipelineConfig(threshold=0.0, linker=LINKER)
        with open_source("synthetic://?seed=1&classes=walk&size=64x48") as source:
            result = Pipeline(model, source, [sink], config, stop=stop).run()
    assert result.stopped_by == "stopped" and sink.closed["stopped_by"] == "stopped"


def test_an_engine_error_still_closes_the_outputs(tiny_export, tmp_path):
    with open_model(tiny_export) as model, open_source("synthetic://?seed=1&classes=walk&size=64x48&frames=12") as src:
        def broken_head(features):
            raise AmmaEdgeError("the engine fell over")

        model.head = broken_head
        summary = tmp_path / "summary.json"
        with pytest.raises(AmmaEdgeError, match="fell over"):
            Pipeline(model, src, [open_sink(str(summary))]).run()
    assert json.loads(summary.read_text())["stopped_by"].startswith("error: the engine fell over")


@pytest.mark.skipif(not (__import__("pathlib").Path(__file__).resolve().parents[3] / "shared/media/pool_cleaning.mp4")
                    .is_file(), reason="the shared real clips are not here")
def test_real_clip_runs_end_to_end(tiny_export, tmp_path):
    from pathlib import Path

    clip = Path(__file__).resolve().parents[3] / "shared/media/pool_cleaning.mp4"
    with open_model(tiny_export) as model, open_source(str(clip)) as source:
        result = Pipeline(model, source, [open_sink(str(tmp_path / "out.mp4"))]).run()
    assert result.frames == 300 and result.steps == 75
