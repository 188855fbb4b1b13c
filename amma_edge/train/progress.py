"""What a training run tells its user while it runs, and the machine-readable record it leaves.

On a terminal the progress is one line rewritten in place (carriage return), at most a few times a second;
redirected to a file or a CI log, where a carriage return would pile up, it is one plain line every
`every` steps. Messages (epoch results, checkpoints, warnings) are printed on lines of their own, above it.

`JsonLog` appends one JSON object per line to OUT/log.jsonl — a file that survives crashes line by line,
that a resumed run extends, and that `jq` or pandas read directly.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import IO, Any


def format_duration(seconds: float) -> str:
    """"1:02:03", "4:05", or "?" while the rate is unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Throughput:
    """Clips per second and time left, smoothed so that one slow batch (a checkpoint, a cold cache) does not
    swing the estimate. The first interval is dropped: it holds the DataLoader's start-up."""

    def __init__(self, smoothing: float = 0.9):
        self.smoothing = smoothing
        self._last: float | None = None
        self._seconds_per_step: float | None = None
        self._clips_per_step = 0.0

    def tick(self, clips: int, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        if self._last is not None:
            dt = now - self._last
            if self._seconds_per_step is None:
                self._seconds_per_step = dt
            else:
                self._seconds_per_step = self.smoothing * self._seconds_per_step + (1 - self.smoothing) * dt
            self._clips_per_step = float(clips)
        self._last = now

    def pause(self) -> None:
        """Forget the clock, so that time spent outside training steps (validation) is not counted."""
        self._last = None

    @property
    def clips_per_second(self) -> float:
        if not self._seconds_per_step:
            return float("nan")
        return self._clips_per_step / self._seconds_per_step

    def eta(self, steps_left: int) -> float:
        if self._seconds_per_step is None:
            return float("nan")
        return steps_left * self._seconds_per_step


class ProgressLine:
    """The one progress line: `epoch 2/10  step 340/1200  loss 3.214 (center 2.10 …)  45.2 clips/s  ETA 12:03`."""

    def __init__(self, stream: IO[str] | None = None, *, every: int = 20, tty: bool | None = None,
                 min_interval: float = 0.2, enabled: bool = True):
        self.stream = stream if stream is not None else sys.stdout
        self.every = max(1, every)
        self.tty = is_tty(self.stream) if tty is None else tty
        self.min_interval = min_interval
        self.enabled = enabled
        self._width = 0
        self._last_draw = -math.inf

    def update(self, *, step: int, total_steps: int, epoch: int, epochs: int, loss: float,
               parts: dict[str, float], clips_per_second: float, eta_seconds: float, force: bool = False) -> None:
        """Draw the line for `step` (1-based) when it is due: on a TTY when enough time passed, else every N steps."""
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if not force and now - self._last_draw < self.min_interval and step != total_steps:
                return
            self._last_draw = now
        elif not force and step % self.every and step != total_steps:
            return
        detail = " ".join(f"{k} {v:.3f}" for k, v in parts.items())
        rate = "?" if not math.isfinite(clips_per_second) else f"{clips_per_second:.1f}"
        text = (f"epoch {epoch}/{epochs}  step {step}/{total_steps}  loss {loss:.4f}"
                f"{f' ({detail})' if detail else ''}  {rate} clips/s  ETA {format_duration(eta_seconds)}")
        self._write(text)

    def message(self, text: str) -> None:
        """A line of its own that stays on screen (the progress line is redrawn below it next time)."""
        if not self.enabled:
            return
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the in-place line so that whatever prints next starts on a fresh line."""
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _write(self, text: str) -> None:
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0


class JsonLog:
    """Appends `{"event": …, "time": …, …}` lines to a file; None as the path makes it a no-op (other ranks)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (open for the run, closed by close())

    def write(self, event: str, **fields: Any) -> None:
        if self._file is None:
            return
        record = _finite({"event": event, "time": round(time.time(), 3), **fields})
        self._file.write(json.dumps(record, default=_jsonable, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a log.jsonl, skipping a last line cut short by a crash."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# Log rows that stand for time spent outside training steps; other rows (a gradient-spike note) take none.
_NOT_STEP_TIME = ("start", "epoch", "validation")


def step_spans(records: list[dict[str, Any]]) -> list[float]:
    """Seconds a step between consecutive "step" rows of a log, in log order. A span with a session start, a
    validation or an epoch end between its rows is left out: it holds more than steps."""
    rows = [r for r in records if r.get("event") == "step" or r.get("event") in _NOT_STEP_TIME]
    return [(b["time"] - a["time"]) / (b["step"] - a["step"]) for a, b in zip(rows, rows[1:])
            if a["event"] == "step" and b["event"] == "step" and b["step"] > a["step"]]


def _finite(value: Any) -> Any:
    """NaN and infinity as the strings "nan", "inf", "-inf": JSON has no such numbers and strict readers reject them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["JsonLog", "ProgressLine", "Throughput", "format_duration", "is_tty", "read_log"]
