"""Capture: URIs, the frame ring's drop/block policies, and the threaded sources on files, folders and synthetic."""
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from runtime_fixtures import write_video

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.capture import CaptureStatus, FrameRing, VideoSource, open_source, parse_source
from amma_edge.runtime.capture.grabbers import Grabber
from amma_edge.runtime.capture.source import Backoff
from amma_edge.runtime.capture.uri import csi_pipeline

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"


def drain(source: VideoSource, timeout: float = 5.0) -> tuple[list[np.ndarray], CaptureStatus]:
    frames = []
    while True:
        result = source.capture(timeout)
        if not result.ok:
            return frames, result.status
        frames.append(result.frame.image.copy())
        result.frame.release()


def test_uris_name_their_kind(tmp_path):
    video = write_video(tmp_path / "a.mp4", frames=3)
    assert parse_source(0).kind == "v4l2" and parse_source("2").target == "2"
    assert parse_source("/dev/video1").kind == "v4l2"
    assert parse_source("v4l2:///dev/video0").target == "/dev/video0"
    assert parse_source(str(video)).kind == "file"
    assert parse_source(f"file://{video}").target == str(video)
    assert parse_source(str(tmp_path)).kind == "images"
    spec = parse_source("csi://1?width=640&height=480")
    assert spec.kind == "csi" and spec.target == "1" and spec.options == {"width": "640", "height": "480"}
    assert "nvarguscamerasrc sensor-id=1" in csi_pipeline(1, 640, 480, 30, 0)
    assert parse_source("rtsp://cam:8554/live?x=1").target == "rtsp://cam:8554/live?x=1"
    assert parse_source("gst://videotestsrc ! appsink").target == "videotestsrc ! appsink"
    spec = parse_source("synthetic://?seed=3&classes=walk,wave&size=96x72")
    assert spec.kind == "synthetic" and spec.options["classes"] == "walk,wave"
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        parse_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(AmmaEdgeError, match="unknown source scheme"):
        parse_source("ftp://host/video")


def test_ring_blocks_a_file_source_and_drops_the_oldest_for_a_live_one():
    blocking = FrameRing(2, (1, 1, 3), drop_oldest=False)
    a, b = blocking.acquire(), blocking.acquire()
    blocking.commit(a, 0)
    blocking.commit(b, 1)
    assert blocking.acquire(timeout=0.05) is None  # full: waits for the consumer instead of dropping
    live = FrameRing(3, (1, 1, 3), drop_oldest=True)
    for seq in range(5):  # nobody reads: the two oldest are dropped, the newest kept
        slot = live.acquire(timeout=0.05)
        live.slot_view(slot)[...] = seq
        live.commit(slot, seq)
    assert live.dropped == 2
    got = [live.get(0).frame for _ in range(3)]
    assert [f.seq for f in got] == [2, 3, 4] and [int(f.image[0, 0, 0]) for f in got] == [2, 3, 4]
    # frames the consumer holds are never overwritten: all three slots are held, so the producer waits
    assert live.acquire(timeout=0.05) is None
    slot = got[0].slot
    got[0].release()
    assert live.acquire(timeout=0.05) == slot
    assert live.get(0.01).status is CaptureStatus.TIMEOUT  # a timeout is a status, not an error
    live.end()
    assert live.get(0.01).status is CaptureStatus.END_OF_STREAM


def test_video_file_frames_arrive_in_order_none_dropped(tmp_path):
    video = write_video(tmp_path / "moving.mp4", frames=30)
    with open_source(str(video), slots=3) as source:  # fewer slots than frames: the thread must wait
        assert not source.live and source.frame_size == (64, 80) and source.fps == pytest.approx(25)
        frames, status = drain(source)
    assert status is CaptureStatus.END_OF_STREAM and len(frames) == 30
    assert source.stats.dropped == 0 and source.stats.captured == 30
    cap = cv2.VideoCapture(str(video))
    for frame in frames:  # the same pixels a plain VideoCapture decodes
        ok, expected = cap.read()
        np.testing.assert_array_equal(frame, expected)


def test_frames_are_views_of_the_ring(tmp_path):
    video = write_video(tmp_path / "v.mp4", frames=4)
    with open_source(f"file://{video}", slots=4) as source:
        result = source.capture(2.0)
        assert np.shares_memory(result.frame.image, source.ring._buffer)
        result.frame.release()


def test_image_folder_in_name_order(tmp_path):
    for i in (3, 1, 2):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), np.full((8, 10, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(str(tmp_path)) as source:
        frames, status = drain(source)
    assert status is CaptureStatus.END_OF_STREAM and [int(f[0, 0, 0]) for f in frames] == [1, 2, 3]


def test_synthetic_source_is_the_generator(tmp_path):
    from amma_edge.data.synth import synthetic_stream

    uri = "synthetic://?seed=2&classes=walk,wave&size=96x72&frames=12"
    with open_source(uri) as source:
        frames, status = drain(source)
    assert status is CaptureStatus.END_OF_STREAM and len(frames) == 12 and frames[0].shape == (72, 96, 3)
    expected = [f.image for _, f in zip(range(12), synthetic_stream(2, width=96, height=72, classes=("walk", "wave")))]
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got, want)
    with open_source(uri + "&prerender=1") as source:
        again, _ = drain(source)
    np.testing.assert_array_equal(again[5], frames[5])
    with pytest.raises(AmmaEdgeError, match="unknown synthetic action"):
        open_source("synthetic://?classes=teleport")


def test_a_live_source_drops_and_counts_when_the_consumer_is_slow():
    with open_source("synthetic://?seed=1&classes=walk&size=64x48&frames=40&fps=400&live=1&prerender=1",
                     slots=4) as source:
        assert source.live
        time.sleep(0.3)  # 40 frames at 400 fps arrive while nobody reads
        frames, status = drain(source, timeout=2.0)
    assert status is CaptureStatus.END_OF_STREAM
    assert source.stats.dropped > 0 and len(frames) + source.stats.dropped == 40
    assert len(frames) <= 4 + 2  # only about the ring's worth of the newest frames is left


class _FlakyCamera(Grabber):
    """A live grabber that fails after every 3 frames and comes back on reopen (a network hiccup)."""

    live = True

    def __init__(self):
        super().__init__("flaky camera")
        self.opens, self.count = 0, 0

    def open(self):
        self.opens += 1
        self.count = 0
        if self.opens > 3:  # the camera is gone for good after three reconnects
            raise AmmaEdgeError("camera unplugged")

    def grab(self, slot):
        if self.count >= 3:
            return None
        self.count += 1
        image = np.full((4, 4, 3), self.opens, np.uint8)
        if slot is None:
            return image
        slot[...] = image
        return slot


def test_live_sources_reconnect_with_backoff_then_give_up():
    camera = _FlakyCamera()
    source = VideoSource("0", grabber=camera, backoff=Backoff(first_s=0.01, max_s=0.02, attempts=3)).start()
    try:
        frames, status = drain(source, timeout=2.0)
    finally:
        source.close()
    assert status is CaptureStatus.END_OF_STREAM
    assert [int(f[0, 0, 0]) for f in frames] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert source.stats.reconnects == 2


def test_a_decoder_error_is_a_status_with_the_reason():
    class Broken(Grabber):
        def grab(self, slot):
            if slot is None:
                return np.zeros((2, 2, 3), np.uint8)
            raise RuntimeError("corrupt packet")

    source = VideoSource("0", grabber=Broken("broken file")).start()
    try:
        assert source.capture(1.0).ok
        result = source.capture(1.0)
    finally:
        source.close()
    assert result.status is CaptureStatus.ERROR and "corrupt packet" in result.message


def test_close_unblocks_a_waiting_capture_thread(tmp_path):
    video = write_video(tmp_path / "v.mp4", frames=30)
    source = open_source(str(video), slots=2)
    time.sleep(0.1)  # the thread fills both slots and waits
    done = threading.Event()
    threading.Thread(target=lambda: (source.close(), done.set())).start()
    assert done.wait(3.0)


@pytest.mark.skipif(not (MEDIA / "arm_wrestling.mp4").is_file(), reason="the shared real clips are not here")
def test_real_clip_decodes_every_frame():
    with open_source(str(MEDIA / "arm_wrestling.mp4")) as source:
        assert source.frame_size == (256, 340)
        frames, status = drain(source)
    assert status is CaptureStatus.END_OF_STREAM and len(frames) == 280
