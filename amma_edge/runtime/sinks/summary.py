"""The run's summary as one JSON file, written atomically at the end (tubes found, FPS, per-stage timing)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from amma_edge.fileio import atomic_write_text
from amma_edge.runtime.sinks.base import Sink


class SummarySink(Sink):
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def close(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.path, json.dumps(summary, indent=1) + "\n")

    def describe(self) -> str:
        return f"summary {self.path}"
