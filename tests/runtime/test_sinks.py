"""Sinks: which output URI makes which sink, tube events as a user reads them, drawing, timing statistics."""
import cv2
import numpy as np
import pytest

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.linking import LinkedTube, TubeEnded, TubeStarted, TubeUpdated
from amma_edge.runtime.sinks import FrameBoxes, JsonlEventSink, StageTimer, SummarySink, TubeReporter, open_sink
from amma_edge.runtime.sinks.base import StreamInfo
from amma_edge.runtime.sinks.display import display_problem
from amma_edge.runtime.sinks.video import VideoFileSink, draw_boxes

INFO = StreamInfo((48, 64), 25.0, ("walk", "wave"), "test", "test")


def test_output_uris(tmp_path):
    assert isinstance(open_sink(str(tmp_path / "a.mp4")), VideoFileSink)
    assert isinstance(open_sink(f"file://{tmp_path}/b.avi"), VideoFileSink)
    assert isinstance(open_sink(str(tmp_path / "e.jsonl")), JsonlEventSink)
    assert isinstance(open_sink(str(tmp_path / "s.json")), SummarySink)
    with pytest.raises(AmmaEdgeError, match="unknown output"):
        open_sink(str(tmp_path / "x.mkv"))


@pytest.mark.skipif(display_problem() is None, reason="this machine can open windows")
def test_display_without_a_gui_is_a_clear_error():
    with pytest.raises(AmmaEdgeError, match="display://0 cannot open a window"):
        open_sink("display://0")


def _tube(tube_id, score, frames):
    frames = np.asarray(frames)
    return LinkedTube(tube_id, 1, score, frames, np.tile(np.float32([1, 2, 3, 4]), (len(frames), 1)), 2)


def test_reporter_starts_a_tube_when_it_crosses_the_threshold():
    reporter = TubeReporter(("walk", "wave"), threshold=0.5)
    box = np.float32([[1, 2, 3, 4]] * 2)
    assert reporter.report([TubeStarted(7, 1, 0.3, np.array([4, 8]), box)]) == []  # too weak yet
    out = reporter.report([TubeUpdated(7, 1, 0.6, 0.9, np.array([8, 12]), box)])
    assert [e["event"] for e in out] == ["tube_start"] and out[0]["class"] == "wave"
    assert out[0]["frames"] == [4, 12] and [b[0] for b in out[0]["boxes"]] == [4, 8, 12]  # what it collected so far
    out = reporter.report([TubeUpdated(7, 1, 0.55, 0.5, np.array([12, 16]), box)])
    assert out[0]["event"] == "tube_update" and out[0]["score"] == 0.55
    out = reporter.report([TubeEnded(7, 1, True, _tube(7, 0.55, range(4, 17))),
                           TubeEnded(9, 0, True, _tube(9, 0.1, range(1, 5)))])  # 9 was never reported
    assert [e["event"] for e in out] == ["tube_end"] and out[0]["accepted"] and out[0]["frames"] == [4, 16]
    assert reporter.counts == {"tube_start": 1, "tube_update": 1, "tube_end": 1}


def test_annotated_video_appears_only_when_closed(tmp_path):
    sink = VideoFileSink(tmp_path / "out.avi", fps=10)
    sink.open(INFO)
    frame = np.zeros((48, 64, 3), np.uint8)
    boxes = FrameBoxes(np.float32([[5, 5, 30, 40]]), np.float32([0.87]), np.int64([0]))
    for i in range(5):
        sink.frame(i + 1, draw_boxes(frame.copy(), boxes, INFO.class_names), boxes)
    assert not (tmp_path / "out.avi").exists()  # still a temp file while the run goes on
    sink.close({})
    cap = cv2.VideoCapture(str(tmp_path / "out.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    ok, image = cap.read()
    assert ok and image[5:40, 5:30].max() > 100  # the box (and its label) was drawn
    aborted = VideoFileSink(tmp_path / "gone.mp4")
    aborted.open(INFO)
    aborted.abort()
    assert list(tmp_path.iterdir()) == [tmp_path / "out.avi"]


def test_stage_timer_mean_and_p99():
    timer = StageTimer(("encoder",), max_samples=50)
    for ms in range(1, 101):
        timer.add("encoder", float(ms))
    stats = timer.stats()["encoder"]
    assert stats["count"] == 100 and stats["mean_ms"] == pytest.approx(50.5)  # exact despite the reservoir
    assert 50 < stats["p99_ms"] <= 100
    with timer.time("decode"):
        pass
    assert "decode" in timer.table() and "p99 ms" in timer.table()
