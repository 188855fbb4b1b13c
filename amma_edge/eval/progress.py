"""Which video an evaluation is on, written so that both a terminal and a log file stay readable.

On a terminal the line is redrawn in place (padded, so a shorter name leaves no tail of the longer one);
in a log (stderr piped to a file, a CI job) carriage returns would run every video into one line of
thousands of characters, so there it writes whole lines: the first video, about every tenth of the set and
the last.
"""
from __future__ import annotations

import math
from typing import IO

from amma_edge.train.progress import is_tty


class VideoProgress:
    """Called as `progress(i, n, name)` before video i (0-based) of n; `close()` once the last is done."""

    def __init__(self, stream: IO[str], *, tty: bool | None = None, lines: int = 10):
        self.stream = stream
        self.tty = is_tty(stream) if tty is None else tty
        self.lines = max(1, lines)
        self._width = 0

    def __call__(self, i: int, n: int, name: str) -> None:
        text = f"[{i + 1}/{n}] {name}"
        if self.tty:
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
        elif i == 0 or i == n - 1 or (i + 1) % math.ceil(n / self.lines) == 0:
            self.stream.write(text + "\n")
        else:
            return
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
