"""The tables `amma-edge calibrate` prints from its report (calibration_report.json)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from amma_edge.tables import format_table


def _db(value: Any) -> str:
    return str(value) if isinstance(value, str) else f"{value:.1f}"


def _num(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_report(report: Mapping[str, Any], sensitive: int = 5) -> str:
    """Per graph: layers, SQNR per output, sizes, CPU latency fp32 against INT8; then accuracy and the most
    sensitive layers when they were measured."""
    parts = []
    rows = []
    for graph, g in report["graphs"].items():
        lat = g["latency_ms"]
        ratio = lat["fp32"] / lat["int8"] if lat["int8"] else float("nan")
        sqnr = ", ".join(f"{k} {_db(v)}" for k, v in g["sqnr_db"].items())
        rows.append([graph, f"{g['int8_layers']}/{g['layers']}", sqnr, f"{g['bytes']['fp32'] / 1e6:.2f}",
                     f"{g['bytes']['int8'] / 1e6:.2f}", f"{lat['fp32']:.2f}", f"{lat['int8']:.2f}", f"{ratio:.2f}x"])
    threads = next(iter(report["graphs"].values()))["latency_ms"]["threads"]
    parts.append(f"INT8 against fp32 ({report['method']}; SQNR on the calibration inputs; ONNX Runtime CPU latency, "
                 f"median, {threads or 'default'} thread(s)):")
    parts.append(format_table(["graph", "INT8 layers", "SQNR dB", "fp32 MB", "INT8 MB", "fp32 ms", "INT8 ms",
                               "speed-up"], rows))
    accuracy = report.get("accuracy")
    if accuracy:
        fp32, int8 = accuracy["fp32"], accuracy["int8"]
        table = [[name, _num(fp32[key]), _num(int8[key]),
                  _num(None if fp32[key] is None or int8[key] is None else int8[key] - fp32[key])]
                 for name, key in (("frame-mAP@0.5", "frame_map"), ("video-mAP@0.5", "video_map_50"),
                                   ("video-mAP@0.5:0.95", "video_map_50_95"))]
        parts.append(f"\naccuracy on {accuracy['videos']} test video(s) (%):")
        parts.append(format_table(["metric", "fp32", "INT8", "change"], table))
    if report.get("keep_float_search"):
        tried = ", ".join(f"{t['float_layers']} float: drop {_num(t['drop'])}" for t in report["keep_float_search"])
        parts.append(f"\n--keep-float auto (frame-mAP drop allowed: {report['max_drop']} points): {tried}; kept "
                     f"{len(report.get('float_layers', []))} layer(s) float")
    if report.get("sensitivity"):
        kept = {(f["graph"], f["layer"]) for f in report.get("float_layers", [])}
        rows = [[r["graph"], r["layer"], r["op_type"], _db(r["sqnr_db"]), "float" if (r["graph"], r["layer"]) in kept
                 else "int8"] for r in report["sensitivity"][:max(sensitive, len(kept))]]
        parts.append("\nmost sensitive layers (each quantized alone; SQNR of the graph's worst output):")
        parts.append(format_table(["graph", "layer", "op", "SQNR dB", "kept"], rows))
    return "\n".join(parts)


__all__ = ["format_report"]
