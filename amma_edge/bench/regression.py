"""Comparing a benchmark with an earlier one (`--baseline`), as a pure function of the two JSON documents.

Every ok row is matched to the baseline's row of the same (backend, precision). A figure regressed when the
end-to-end FPS fell by more than `max_slowdown` (a fraction: 0.10 = 10 %) or frame-mAP by more than
`max_drop` points; a combination that ran in the baseline and fails now regressed too. Rows the other run
lacks, or could not run, are reported and not judged. Speeds from another kind of machine (CPU model, GPU
name) are compared with a warning; runs of different models (checkpoint SHA-256) are refused unless forced,
because then nothing the comparison says would be about a change in the code.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amma_edge.bench.machine import machine_kind
from amma_edge.errors import AmmaEdgeError
from amma_edge.tables import format_table

REGRESSED, IMPROVED, WITHIN, MISSING, NOT_COMPARED = "regressed", "improved", "within", "missing", "not compared"


@dataclass(frozen=True)
class Finding:
    backend: str
    precision: str
    figure: str  # fps | frame_map | row
    verdict: str  # regressed | improved | within | missing | not compared
    baseline: float | None = None
    current: float | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict == REGRESSED

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "precision": self.precision, "figure": self.figure, "verdict": self.verdict,
                "baseline": self.baseline, "current": self.current, "message": self.message}


@dataclass(frozen=True)
class Comparison:
    baseline: str  # where the baseline came from
    max_slowdown: float
    max_drop: float
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.failed]

    @property
    def passed(self) -> bool:
        return not self.regressions

    def format(self) -> str:
        rows = [[f.backend, f.precision, f.figure, _fmt(f.baseline), _fmt(f.current), f.verdict, f.message]
                for f in self.findings]
        lines = [f"against {self.baseline} (FPS may drop {self.max_slowdown:.0%}, frame-mAP {self.max_drop:g} "
                 "points):"]
        lines += [f"warning: {w}" for w in self.warnings]
        if rows:
            lines.append(format_table(["backend", "precision", "figure", "baseline", "now", "verdict", ""], rows))
        failed = self.regressions
        lines.append(f"REGRESSION: {len(failed)} figure(s) got worse: " + "; ".join(
            f"{f.backend} {f.precision} {f.message}" for f in failed) if failed else "no regression")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "max_slowdown": self.max_slowdown, "max_drop": self.max_drop,
                "passed": self.passed, "warnings": list(self.warnings),
                "findings": [f.as_dict() for f in self.findings]}


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def load_report(path: str | Path) -> dict[str, Any]:
    """A JSON written by `amma-edge bench`, checked enough to compare with."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AmmaEdgeError(f"baseline {path} does not exist: pass a JSON written by `amma-edge bench --json`") \
            from None
    except (OSError, ValueError) as exc:
        raise AmmaEdgeError(f"baseline {path} is not readable JSON ({exc}): pass a file written by "
                            "`amma-edge bench --json`") from exc
    check_report(data, str(path))
    return data


def check_report(data: Any, name: str) -> None:
    if not isinstance(data, Mapping) or not isinstance(data.get("rows"), list) or \
            not isinstance(data.get("model"), Mapping):
        raise AmmaEdgeError(f"{name} is not a report of `amma-edge bench` (it has no model and rows): pass a file "
                            "written by `amma-edge bench --json`")


def same_model_problem(current_sha: str, baseline: Mapping[str, Any]) -> str | None:
    """Why the baseline is of another model, None when it is of the same one (or does not say)."""
    theirs = str(baseline.get("model", {}).get("checkpoint_sha256") or "")
    if current_sha and theirs and current_sha != theirs:
        return (f"the baseline measured another model (checkpoint sha256 {theirs[:12]}…, this one "
                f"{current_sha[:12]}…): its figures say nothing about this model; pass --force-compare to compare "
                "anyway")
    return None


def _rows(report: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    rows: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in report["rows"]:
        rows.setdefault((str(row.get("backend")), str(row.get("precision"))), row)
    return rows


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value == value else None  # NaN is no figure


def _fps(backend: str, precision: str, base: float | None, now: float | None, max_slowdown: float) -> Finding:
    if not base or now is None:
        return Finding(backend, precision, "fps", NOT_COMPARED, base, now, "FPS missing on one side")
    change = now / base - 1
    text = f"FPS {base:.2f} → {now:.2f} ({change:+.1%}"
    if change < -max_slowdown:
        return Finding(backend, precision, "fps", REGRESSED, base, now, f"{text}, allowed −{max_slowdown:.0%})")
    return Finding(backend, precision, "fps", IMPROVED if change > max_slowdown else WITHIN, base, now, text + ")")


def _map(backend: str, precision: str, base: float | None, now: float | None, max_drop: float) -> Finding | None:
    if base is None:
        return None
    if now is None:
        return Finding(backend, precision, "frame_map", NOT_COMPARED, base, None,
                       "the baseline has frame-mAP, this run none: pass --data to compare it")
    change = now - base
    text = f"frame-mAP {base:.2f} → {now:.2f} ({change:+.2f} points"
    if change < -max_drop:
        return Finding(backend, precision, "frame_map", REGRESSED, base, now, f"{text}, allowed −{max_drop:g})")
    return Finding(backend, precision, "frame_map", IMPROVED if change > max_drop else WITHIN, base, now, text + ")")


def compare_reports(current: Mapping[str, Any], baseline: Mapping[str, Any], *, max_slowdown: float = 0.10,
                    max_drop: float = 1.0, force: bool = False, baseline_name: str = "the baseline") -> Comparison:
    """Judge `current` against `baseline` (both `amma-edge bench` JSON documents); see the module docstring."""
    check_report(current, "the current report")
    check_report(baseline, baseline_name)
    if not 0 <= max_slowdown < 1:
        raise AmmaEdgeError(f"max_slowdown must be a fraction in [0, 1), got {max_slowdown}")
    if max_drop < 0:
        raise AmmaEdgeError(f"max_drop must be 0 or more points, got {max_drop}")
    warnings = []
    problem = same_model_problem(str(current["model"].get("checkpoint_sha256") or ""), baseline)
    if problem:
        if not force:
            raise AmmaEdgeError(f"refusing to compare with {baseline_name}: {problem}")
        warnings.append(problem.split(":")[0] + " (compared anyway: --force-compare)")
    mine, theirs = machine_kind(current.get("machine") or {}), machine_kind(baseline.get("machine") or {})
    differ = [f"{k} {theirs[k]!r} there, {mine[k]!r} here" for k in mine if mine[k] != theirs[k]]
    if differ:
        warnings.append("the baseline ran on another kind of machine (" + "; ".join(differ) + "): speeds may differ "
                        "for that reason alone")
    base_rows, findings = _rows(baseline), []
    for key, row in _rows(current).items():
        backend, precision = key
        base = base_rows.get(key)
        state = row.get("state")
        if state != "ok":
            if base is not None and base.get("state") == "ok" and state == "failed":
                findings.append(Finding(backend, precision, "row", REGRESSED,
                                        message=f"ran in the baseline, fails now: {row.get('reason', '')}"))
            elif base is not None and base.get("state") == "ok":
                findings.append(Finding(backend, precision, "row", NOT_COMPARED,
                                        message=f"ran in the baseline, {row.get('status', state)} now"))
            continue
        if base is None:
            findings.append(Finding(backend, precision, "row", MISSING, message="no such row in the baseline"))
            continue
        if base.get("state") != "ok":
            findings.append(Finding(backend, precision, "row", NOT_COMPARED,
                                    message=f"the baseline row is {base.get('status', base.get('state'))}"))
            continue
        findings.append(_fps(backend, precision, _number(base.get("fps")), _number(row.get("fps")), max_slowdown))
        map_finding = _map(backend, precision, _number(base.get("frame_map")), _number(row.get("frame_map")),
                           max_drop)
        if map_finding is not None:
            findings.append(map_finding)
    current_keys = set(_rows(current))
    for (backend, precision), base in base_rows.items():
        if (backend, precision) not in current_keys and base.get("state") == "ok":
            findings.append(Finding(backend, precision, "row", MISSING, message="in the baseline, not run now"))
    return Comparison(baseline_name, max_slowdown, max_drop, tuple(findings), tuple(warnings))
