"""AVA v2.2 annotations for A*: the box CSVs, the action label map and the excluded-timestamps list.

A box CSV has one row per (person, action) at a key frame, without a header:
`video_id, timestamp, x1, y1, x2, y2, action_id, person_id`, with integer timestamps in seconds (key frames
at 1 FPS) and corners normalised to 0-1. A person doing three actions is three rows with the same box, so
`load_ava_csv` groups rows into key frames of persons with multi-label actions, the unit A* trains on.

The label map is a protobuf text file of `item { name: "..." id: N }` blocks (the 60-class file of the
ActivityNet challenge) or `label { name: "..." label_id: N label_type: ... }` blocks (the 80-class
list). Training against the 60-class map routinely meets rows of the 20 other actions, so rows whose action
is not in the map are skipped and counted, not rejected; `unknown_actions="error"` makes them an error.

Everything else that is off in a row is an error naming the file and line: a silently dropped row would
become a missing person in every epoch.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amma_edge.errors import AmmaEdgeError

AVA_COLUMNS = ("video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "person_id")


@dataclass(frozen=True)
class AVAPerson:
    """One person at one key frame: the box (normalised x1, y1, x2, y2) and every action they do."""

    person_id: int
    box: tuple[float, float, float, float]
    actions: tuple[int, ...]


@dataclass
class AVAKeyframe:
    """All annotated persons of one key frame (`timestamp` in whole seconds of the movie)."""

    video: str
    timestamp: int
    persons: list[AVAPerson]

    def boxes(self) -> np.ndarray:
        """(P, 4) float32 normalised x1, y1, x2, y2."""
        return np.asarray([p.box for p in self.persons], dtype=np.float32).reshape(-1, 4)

    def multi_hot(self, action_ids: Sequence[int]) -> np.ndarray:
        """(P, len(action_ids)) float32: column j is 1 where the person does action `action_ids[j]`."""
        column = {a: j for j, a in enumerate(action_ids)}
        out = np.zeros((len(self.persons), len(action_ids)), dtype=np.float32)
        for i, person in enumerate(self.persons):
            for action in person.actions:
                if action in column:
                    out[i, column[action]] = 1.0
        return out


@dataclass
class AVALabelMap:
    """Action id -> name (ids as in the CSVs, from 1), and the label_type where the file gives one."""

    names: dict[int, str]
    types: dict[int, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return sorted(self.names)


@dataclass
class AVAAnnotations:
    """The key frames of one AVA CSV, sorted by (video, timestamp), and what loading left out."""

    keyframes: list[AVAKeyframe]
    label_map: AVALabelMap | None = None
    excluded: set[tuple[str, int]] = field(default_factory=set)
    skipped_rows: int = 0  # rows whose action is not in the label map
    excluded_rows: int = 0  # rows at an excluded timestamp

    @property
    def videos(self) -> list[str]:
        return sorted({k.video for k in self.keyframes})

    def keyframe(self, video: str, timestamp: int) -> AVAKeyframe | None:
        for k in self.keyframes:
            if k.video == video and k.timestamp == timestamp:
                return k
        return None


def _where(path: Path, line: int) -> str:
    return f"{path}, line {line}"


def _read_rows(path: Path, what: str):
    """(line number, fields) of every non-blank CSV row."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            for fields in reader:
                if not fields or all(not x.strip() for x in fields):
                    continue
                yield reader.line_num, [x.strip() for x in fields]
    except FileNotFoundError as exc:
        raise AmmaEdgeError(f"AVA {what} {path} does not exist: check the path") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AmmaEdgeError(f"AVA {what} {path} is not a readable CSV text file ({exc})") from exc


def _int_field(value: str, name: str, where: str, minimum: int) -> int:
    if not re.fullmatch(r"[+-]?\d+", value):
        hint = " (AVA CSVs have no header row)" if value == name or value in AVA_COLUMNS else ""
        raise AmmaEdgeError(f"{where}: {name} {value!r} is not a whole number{hint}")
    number = int(value)
    if number < minimum:
        raise AmmaEdgeError(f"{where}: {name} {number} is below {minimum}")
    return number


def _coordinate(value: str, name: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise AmmaEdgeError(f"{where}: {name} {value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:  # also rejects nan
        raise AmmaEdgeError(f"{where}: {name} {value} is outside 0-1; AVA boxes are normalised to the frame size")
    return number


def load_ava_excluded(path: str | os.PathLike) -> set[tuple[str, int]]:
    """The (video_id, timestamp) pairs of an excluded-timestamps CSV (rows `video_id, timestamp`)."""
    path = Path(path)
    out: set[tuple[str, int]] = set()
    for line, fields in _read_rows(path, "excluded-timestamps file"):
        where = _where(path, line)
        if len(fields) != 2 or not fields[0]:
            raise AmmaEdgeError(f"{where}: expected 2 fields (video_id, timestamp), found {len(fields)}: {fields}")
        out.add((fields[0], _int_field(fields[1], "timestamp", where, 0)))
    return out


_TOKEN = re.compile(r'\s+|#[^\n]*|(?P<str>"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')|(?P<word>[A-Za-z_][\w.]*|[+-]?\d+)|(?P<sym>[{}:])')


def _tokens(text: str, path: Path):
    """(line, kind, value) tokens of a protobuf text file, strings unescaped."""
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise AmmaEdgeError(f"{_where(path, line)}: unexpected {text[pos:pos + 20]!r} in the label map")
        if m.group("str") is not None:
            raw = m.group("str")[1:-1]
            yield line, "str", re.sub(r"\\(.)", r"\1", raw)
        elif m.group("word") is not None:
            yield line, "word", m.group("word")
        elif m.group("sym") is not None:
            yield line, "sym", m.group("sym")
        line += m.group(0).count("\n")
        pos = m.end()


def load_ava_label_map(path: str | os.PathLike) -> AVALabelMap:
    """Parse `item { name: ".." id: N }` or `label { name: ".." label_id: N label_type: T }` blocks."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise AmmaEdgeError(f"AVA label map {path} does not exist: check the path") from exc
    tokens = list(_tokens(text, path))
    names: dict[int, str] = {}
    types: dict[int, str] = {}
    i = 0

    def expect(kind: str, value: str | None = None) -> tuple[int, str]:
        nonlocal i
        if i >= len(tokens):
            raise AmmaEdgeError(f"{path}: the label map ends inside a block; the file is truncated")
        line, k, v = tokens[i]
        if k != kind or (value is not None and v != value):
            raise AmmaEdgeError(f"{_where(path, line)}: expected {value or kind}, found {v!r} in the label map")
        i += 1
        return line, v

    while i < len(tokens):
        start, block = expect("word")
        if block not in ("item", "label"):
            raise AmmaEdgeError(f"{_where(path, start)}: expected an 'item {{' or 'label {{' block, found {block!r}")
        expect("sym", "{")
        fields: dict[str, tuple[int, str]] = {}
        while i < len(tokens) and tokens[i][1:] != ("sym", "}"):
            line, key = expect("word")
            expect("sym", ":")
            if i < len(tokens) and tokens[i][1] == "sym":
                raise AmmaEdgeError(f"{_where(path, tokens[i][0])}: {key} has no value in the label map")
            if i < len(tokens):
                fields[key] = (line, tokens[i][2])
                i += 1
        expect("sym", "}")
        id_key = "id" if "id" in fields else "label_id"
        if "name" not in fields or id_key not in fields:
            raise AmmaEdgeError(f"{_where(path, start)}: this {block} block needs both a name and an id "
                                f"(written 'id' in item blocks, 'label_id' in label blocks)")
        action = _int_field(fields[id_key][1], id_key, _where(path, fields[id_key][0]), 1)
        if action in names:
            raise AmmaEdgeError(f"{_where(path, fields[id_key][0])}: action id {action} appears twice in the label map")
        names[action] = fields["name"][1]
        if "label_type" in fields:
            types[action] = fields["label_type"][1]
    if not names:
        raise AmmaEdgeError(f"{path} holds no 'item' or 'label' blocks: it is not an AVA label map")
    return AVALabelMap(names, types)


def load_ava_csv(
    path: str | os.PathLike,
    label_map: AVALabelMap | None = None,
    excluded: set[tuple[str, int]] | None = None,
    *,
    unknown_actions: str = "skip",
) -> AVAAnnotations:
    """Group the rows of an AVA box CSV into key frames of persons with multi-label actions.

    Rows of the same key frame with the same person_id and box are one person. Rows at an `excluded`
    timestamp and (by default) rows whose action is not in `label_map` are left out and counted.
    """
    if unknown_actions not in ("skip", "error"):
        raise ValueError(f"unknown_actions must be 'skip' or 'error', not {unknown_actions!r}")
    path = Path(path)
    excluded = set(excluded or ())
    grouped: dict[tuple[str, int], dict[tuple[int, tuple[float, ...]], set[int]]] = {}
    skipped = excluded_rows = 0
    for line, fields in _read_rows(path, "box CSV"):
        where = _where(path, line)
        if len(fields) != len(AVA_COLUMNS):
            raise AmmaEdgeError(
                f"{where}: expected {len(AVA_COLUMNS)} fields ({', '.join(AVA_COLUMNS)}), found {len(fields)}"
            )
        video = fields[0]
        if not video:
            raise AmmaEdgeError(f"{where}: the video_id is empty")
        timestamp = _int_field(fields[1], "timestamp", where, 0)
        x1, y1, x2, y2 = (_coordinate(v, n, where) for v, n in zip(fields[2:6], AVA_COLUMNS[2:6]))
        if x2 <= x1 or y2 <= y1:
            raise AmmaEdgeError(
                f"{where}: the box ({x1}, {y1}, {x2}, {y2}) is empty or inverted (needs x1 < x2, y1 < y2)"
            )
        action = _int_field(fields[6], "action_id", where, 1)
        person = _int_field(fields[7], "person_id", where, 0)
        if (video, timestamp) in excluded:
            excluded_rows += 1
            continue
        if label_map is not None and action not in label_map.names:
            if unknown_actions == "error":
                raise AmmaEdgeError(
                    f"{where}: action_id {action} is not in the label map ({len(label_map.names)} actions); "
                    "use the label map these annotations were made with"
                )
            skipped += 1
            continue
        persons = grouped.setdefault((video, timestamp), {})
        persons.setdefault((person, (x1, y1, x2, y2)), set()).add(action)
    keyframes = [
        AVAKeyframe(video, ts, [AVAPerson(pid, box, tuple(sorted(acts)))  # type: ignore[arg-type]
                                for (pid, box), acts in sorted(persons.items())])
        for (video, ts), persons in sorted(grouped.items())
    ]
    return AVAAnnotations(keyframes, label_map, excluded, skipped, excluded_rows)


def load_ava(
    csv_path: str | os.PathLike,
    label_map_path: str | os.PathLike | None = None,
    excluded_path: str | os.PathLike | None = None,
    *,
    unknown_actions: str = "skip",
) -> AVAAnnotations:
    """`load_ava_csv` with the label map and excluded timestamps read from their files."""
    label_map = load_ava_label_map(label_map_path) if label_map_path is not None else None
    excluded = load_ava_excluded(excluded_path) if excluded_path is not None else None
    return load_ava_csv(csv_path, label_map, excluded, unknown_actions=unknown_actions)
