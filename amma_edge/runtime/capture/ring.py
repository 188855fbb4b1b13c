"""A ring of preallocated frame slots between the capture thread (one producer) and the pipeline (one consumer).

The capture thread decodes straight into a free slot; the pipeline gets `Frame`s that are views of their slot
(no copy after decode) and releases each when it no longer reads it (after preprocessing and drawing). Memory
is fixed at start: nothing is queued without bound.

When no slot is free, what happens depends on the source:
- a live source (camera, RTSP) must not fall further and further behind real time: the oldest frame not yet
  handed to the pipeline is dropped (and counted) and its slot reused, so the pipeline always gets the newest;
- a file or synthetic source has no real time to keep: the capture thread waits for the pipeline to release a
  slot, so every frame is processed.
Frames the pipeline holds are never overwritten in either case.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from amma_edge.errors import AmmaEdgeError


class CaptureStatus(enum.Enum):
    OK = "ok"
    TIMEOUT = "timeout"  # nothing yet: not an error (a live source between frames, a reconnect in progress)
    END_OF_STREAM = "end_of_stream"
    ERROR = "error"


class Frame:
    """One captured frame: `image` is a view of its ring slot, valid until `release()`."""

    __slots__ = ("_ring", "slot", "seq", "timestamp", "image", "_released")

    def __init__(self, ring: FrameRing, slot: int, seq: int, timestamp: float):
        self._ring = ring
        self.slot = slot
        self.seq = seq  # 0-based capture number: gaps mean dropped frames
        self.timestamp = timestamp  # time.monotonic() when decoded
        self.image = ring.slot_view(slot)
        self._released = False

    def release(self) -> None:
        """Give the slot back to the capture thread; the image must not be read afterwards."""
        if not self._released:
            self._released = True
            self.image = None  # type: ignore[assignment]
            self._ring.release(self.slot)

    def __enter__(self) -> Frame:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class CaptureResult:
    status: CaptureStatus
    frame: Frame | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is CaptureStatus.OK


class FrameRing:
    def __init__(self, slots: int, shape: tuple[int, ...], *, drop_oldest: bool, dtype: np.dtype = np.dtype(np.uint8)):
        if slots < 2:
            raise AmmaEdgeError(f"a frame ring needs at least 2 slots, got {slots}")
        self._buffer = np.zeros((slots, *shape), dtype=dtype)
        self.drop_oldest = drop_oldest
        self._free: deque[int] = deque(range(slots))
        self._pending: deque[tuple[int, int, float]] = deque()  # (slot, seq, timestamp), oldest first
        self._cond = threading.Condition()
        self._closed = False
        self._ended = False
        self._error: str | None = None
        self.dropped = 0

    @property
    def slots(self) -> int:
        return self._buffer.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return self._buffer.shape[1:]

    def slot_view(self, slot: int) -> np.ndarray:
        return self._buffer[slot]

    # --- producer -----------------------------------------------------------------------------------------------

    def acquire(self, timeout: float | None = None) -> int | None:
        """A slot to decode into; None when the ring was closed, or on timeout (a blocking source waiting for
        the consumer)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._free:
                if self._closed:
                    return None
                if self.drop_oldest and self._pending:
                    slot, _, _ = self._pending.popleft()
                    self.dropped += 1
                    return slot
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return None if self._closed else self._free.popleft()

    def commit(self, slot: int, seq: int, timestamp: float | None = None) -> None:
        """The frame in `slot` is complete: queue it for the consumer."""
        with self._cond:
            self._pending.append((slot, seq, time.monotonic() if timestamp is None else timestamp))
            self._cond.notify_all()

    def abandon(self, slot: int) -> None:
        """Return a slot that got no frame (a failed read)."""
        self.release(slot)

    def end(self, error: str | None = None) -> None:
        """No more frames: the consumer gets what is queued, then END_OF_STREAM (or ERROR with `error`)."""
        with self._cond:
            self._ended = True
            self._error = error
            self._cond.notify_all()

    # --- consumer -----------------------------------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> CaptureResult:
        """The oldest queued frame, waiting up to `timeout` seconds (None: until one comes or the stream ends)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._pending:
                if self._ended or self._closed:
                    if self._error is not None:
                        return CaptureResult(CaptureStatus.ERROR, message=self._error)
                    return CaptureResult(CaptureStatus.END_OF_STREAM)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return CaptureResult(CaptureStatus.TIMEOUT)
                self._cond.wait(remaining)
            slot, seq, timestamp = self._pending.popleft()
        return CaptureResult(CaptureStatus.OK, Frame(self, slot, seq, timestamp))

    def release(self, slot: int) -> None:
        with self._cond:
            self._free.append(slot)
            self._cond.notify_all()

    def close(self) -> None:
        """Wake and stop both sides; queued frames are dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._pending)
