"""Writing user artifacts so that a crash or Ctrl-C never leaves a half-written file behind."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from amma_edge.errors import AmmaEdgeError


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call `write(f)` on a temp file beside `path`, fsync it, then rename it over `path`.

    The rename is atomic on POSIX file systems, so readers see either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the permissions an ordinary open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode()))


def commit_directory(tmp: str | os.PathLike, out: str | os.PathLike, force: bool) -> Path:
    """Move the finished folder `tmp` (made by mkdtemp beside `out`) to `out`, replacing an existing folder only
    as a whole, so readers never see a half-written one.

    A non-empty `out` is replaced only when `force` is set (it may have filled up while `tmp` was written).
    """
    tmp, out = Path(tmp), Path(out)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it private; give it the permissions mkdir would
    if not out.exists():
        os.rename(tmp, out)
        return out
    if any(out.iterdir()) and not force:
        raise AmmaEdgeError(f"--out {out} is not empty any more: pass --force to replace it")
    backup = out.parent / f".{out.name}.replaced-{uuid.uuid4().hex[:8]}"
    os.rename(out, backup)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(backup, out)
        raise
    shutil.rmtree(backup, ignore_errors=True)
    return out


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (checkpoints and engines run to hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
