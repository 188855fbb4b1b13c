"""A video source: a grabber driven by its own capture thread into a frame ring, read with a timeout.

    source = open_source("rtsp://cam/stream")            # opened, first frame decoded, thread running
    result = source.capture(timeout=1.0)                 # CaptureResult: OK / TIMEOUT / END_OF_STREAM / ERROR
    if result.ok:
        use(result.frame.image); result.frame.release()  # the image is a view of a ring slot

Decoding runs beside the pipeline (OpenCV and the synthetic renderer release the GIL in their heavy parts),
so capture overlaps inference. A live source that stops delivering (a network hiccup, an unplugged camera) is
reopened with exponential backoff; meanwhile `capture` returns TIMEOUT, not an error. The first open happens
in `start()`, on the caller's thread, so a wrong device or URL fails at once with a clear message.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.capture.grabbers import Grabber
from amma_edge.runtime.capture.ring import CaptureResult, CaptureStatus, FrameRing
from amma_edge.runtime.capture.uri import SourceSpec, make_grabber, parse_source

DEFAULT_SLOTS = 16


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnection attempts: first, doubling up to at most; attempts None retries forever."""

    first_s: float = 0.25
    max_s: float = 8.0
    attempts: int | None = None

    def delays(self):
        delay, n = self.first_s, 0
        while self.attempts is None or n < self.attempts:
            yield delay
            delay = min(delay * 2, self.max_s)
            n += 1


@dataclass(frozen=True)
class SourceStats:
    captured: int  # frames decoded
    dropped: int  # frames decoded but dropped because the pipeline was behind (live sources only)
    reconnects: int

    def as_dict(self) -> dict[str, int]:
        return {"captured": self.captured, "dropped": self.dropped, "reconnects": self.reconnects}


class VideoSource:
    def __init__(self, uri: str | int | SourceSpec, *, slots: int = DEFAULT_SLOTS, backoff: Backoff | None = None,
                 grabber: Grabber | None = None):
        self.spec = uri if isinstance(uri, SourceSpec) else parse_source(uri)
        self.grabber = grabber or make_grabber(self.spec)
        self.slots = slots
        self.backoff = backoff or Backoff()
        self.ring: FrameRing | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._captured = 0
        self._reconnects = 0

    # --- properties -------------------------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        return self.spec.uri

    @property
    def live(self) -> bool:
        return self.grabber.live

    @property
    def fps(self) -> float | None:
        return self.grabber.fps

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        if self.ring is None:
            raise AmmaEdgeError("the source is not started: call start() first")
        return self.ring.shape[0], self.ring.shape[1]

    @property
    def stats(self) -> SourceStats:
        return SourceStats(self._captured, self.ring.dropped if self.ring else 0, self._reconnects)

    def describe(self) -> str:
        size = f"{self.ring.shape[1]}x{self.ring.shape[0]}" if self.ring else "?"
        fps = f"{self.fps:g} fps" if self.fps else "fps unknown"
        return f"{self.grabber.description} ({size}, {fps}, {'live' if self.live else 'not live'})"

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> VideoSource:
        if self._thread is not None:
            return self
        self.grabber.open()
        first = self.grabber.grab(None)
        if first is None:
            self.grabber.close()
            raise AmmaEdgeError(f"{self.grabber.description} gave no frame: it is empty or cannot be decoded")
        if first.ndim != 3 or first.shape[2] != 3:
            self.grabber.close()
            raise AmmaEdgeError(f"{self.grabber.description} gives frames of shape {first.shape}, not (H, W, 3) BGR")
        self.ring = FrameRing(self.slots, first.shape, drop_oldest=self.live)
        slot = self.ring.acquire()
        self.ring.slot_view(slot)[...] = first
        self.ring.commit(slot, 0)
        self._captured = 1
        self._thread = threading.Thread(target=self._run, name="amma-capture", daemon=True)
        self._thread.start()
        return self

    def capture(self, timeout: float | None = 1.0) -> CaptureResult:
        """The next frame, waiting up to `timeout` seconds; release `result.frame` when done with it."""
        if self.ring is None:
            raise AmmaEdgeError("the source is not started: call start() first")
        return self.ring.get(timeout)

    def close(self) -> None:
        self._stop.set()
        if self.ring is not None:
            self.ring.close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.grabber.close()

    def __enter__(self) -> VideoSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- capture thread ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        ring = self.ring
        assert ring is not None
        seq = 1
        try:
            while not self._stop.is_set():
                slot = ring.acquire(timeout=0.5)
                if slot is None:
                    continue  # waiting for the pipeline to release a slot (or closed: the loop test ends it)
                frame = self.grabber.grab(ring.slot_view(slot))
                if frame is None:
                    ring.abandon(slot)
                    if self.live and not self.grabber.exhausted and not self._stop.is_set() and self._reconnect():
                        continue
                    ring.end()
                    return
                ring.commit(slot, seq)
                seq += 1
                self._captured += 1
        except Exception as exc:  # a decoder or device error: the consumer gets ERROR with the reason
            ring.end(error=f"{self.grabber.description}: {exc}")
        finally:
            self.grabber.close()

    def _reconnect(self) -> bool:
        """Reopen a live source after a failed read; False when the attempts ran out or we are stopping."""
        self.grabber.close()
        for delay in self.backoff.delays():
            if self._stop.wait(delay):
                return False
            try:
                self.grabber.open()
            except AmmaEdgeError:
                continue
            self._reconnects += 1
            return True
        return False


def open_source(uri: str | int, *, slots: int = DEFAULT_SLOTS, backoff: Backoff | None = None) -> VideoSource:
    """Parse `uri`, open it and start its capture thread (see the module docstring)."""
    return VideoSource(uri, slots=slots, backoff=backoff).start()


__all__ = ["Backoff", "CaptureResult", "CaptureStatus", "SourceStats", "VideoSource", "open_source"]
