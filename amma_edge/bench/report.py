"""The benchmark's outputs: the printed table (in the spirit of `yolo benchmark`), the JSON document with
every figure and the machine, and a PNG chart of FPS and frame-mAP per combination."""
from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amma_edge.bench.results import OK, Row
from amma_edge.errors import MissingDependencyError
from amma_edge.fileio import atomic_write, atomic_write_text
from amma_edge.tables import format_table

REPORT_FORMAT = 1
HEADERS = ["backend", "precision", "status", "size MB", "frame-mAP", "p50 ms", "p90 ms", "p99 ms", "FPS",
           "engine FPS", "RSS MB", "device MB", "W", "mJ/frame", "golden"]


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _golden(row: Row) -> str:
    if not row.golden or row.golden.get("passed") is None:
        return ""
    return "pass" if row.golden["passed"] else "FAIL"


def format_rows(rows: Sequence[Row]) -> str:
    """The table, then one numbered line per row that did not run saying why (reasons are long)."""
    table, notes = [], []
    for row in rows:
        if row.ok:
            status = OK
        else:
            notes.append(f"[{len(notes) + 1}] {row.backend} {row.precision}: {row.status}")
            status = f"{'n/a' if row.state == 'not available' else 'FAILED'} [{len(notes)}]"
        lat = row.latency_ms or {}
        table.append([row.backend, row.precision, status, _num(row.size_mb, 2), _num(row.frame_map),
                      _num(lat.get("p50")), _num(lat.get("p90")), _num(lat.get("p99")), _num(row.fps),
                      _num(row.engine_fps), _num(row.peak_rss_mb, 0), _num(row.peak_device_mem_mb, 0),
                      _num(row.avg_power_w, 2), _num(row.energy_mj_per_frame), _golden(row)])
    return "\n".join([format_table(HEADERS, table), *notes])


def build_document(*, model: dict[str, Any], settings: dict[str, Any], machine: dict[str, Any],
                   telemetry: dict[str, Any], rows: Sequence[Row], created: str, version: str,
                   notes: Sequence[str] = ()) -> dict[str, Any]:
    return {"format": REPORT_FORMAT, "tool": "amma-edge bench", "amma_edge_version": version, "created": created,
            "model": model, "settings": settings, "machine": machine, "telemetry_sources": telemetry,
            "rows": [r.as_dict() for r in rows], "comparison": None, "notes": list(notes)}


def write_json(path: str | Path, document: dict[str, Any]) -> Path:
    return atomic_write_text(path, json.dumps(document, indent=1, default=str) + "\n")


def write_chart(path: str | Path, rows: Sequence[Row], title: str) -> Path:
    """Two panels: end-to-end and engine FPS, and frame-mAP (when measured), one bar group per combination;
    combinations that did not run are labelled n/a."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless: CI, a Jetson over ssh
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib", "the benchmark chart", "or pass --no-chart") from None

    labels = [f"{r.backend}\n{r.precision}" for r in rows]
    x = list(range(len(rows)))
    with_map = any(r.frame_map is not None for r in rows)
    fig, axes = plt.subplots(1, 2 if with_map else 1, figsize=(max(6.0, 0.9 * len(rows)) * (1.6 if with_map else 1),
                                                               4.2), squeeze=False)
    ax = axes[0][0]
    fps = [r.fps or 0.0 for r in rows]
    engine = [r.engine_fps or 0.0 for r in rows]
    ax.bar([i - 0.2 for i in x], fps, 0.4, label="end to end", color="#2b6cb0")
    ax.bar([i + 0.2 for i in x], engine, 0.4, label="engines only", color="#90cdf4")
    for i, row in enumerate(rows):
        if not row.ok:
            ax.text(i, 0, "n/a" if row.state == "not available" else "failed", ha="center", va="bottom",
                    fontsize=8, rotation=90, color="#718096")
    ax.set_ylabel("frames per second")
    ax.set_xticks(x, labels, fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title("speed")
    if with_map:
        ax2 = axes[0][1]
        maps = [r.frame_map or 0.0 for r in rows]
        ax2.bar(x, maps, 0.6, color="#38a169")
        for i, row in enumerate(rows):
            if row.frame_map is None:
                ax2.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8, rotation=90, color="#718096")
        ax2.set_ylabel("frame-mAP@0.5 (%)")
        ax2.set_xticks(x, labels, fontsize=8)
        ax2.set_title("accuracy")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
