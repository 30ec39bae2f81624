"""Files on disk: atomic writes, sha256 checksums, download timeouts (notebooks 00, 05b, 06).
A crash never leaves a half-written file behind, a corrupt file is named and deleted, and a
download gives up instead of hanging."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Return ``path`` after ``write(tmp)`` filled a temporary file beside it, renamed over it at
    once (notebooks 00, 05b, 06): readers see the old file or the whole new one; a writer killed
    midway leaves the temporary file, for :func:`stale_partials` (ARCHITECTURE.md, "Files")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())  # on disk before the rename: a power cut leaves the old file or the new one
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def stale_partials(path: Path | str) -> list[Path]:
    """Return the temporary files that writers of ``path`` killed mid-write left beside it (notebook 06)."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.\d+\.partial")
    return sorted(p for p in path.parent.glob(f".{path.name}.*.partial") if pattern.fullmatch(p.name))


class ChecksumMismatch(ValueError):
    """A file's sha256 differs from the registry's; the message names the file and the fix."""


def sha256(path: Path | str) -> str:
    """Return the hex sha256 of a file's content (notebook 00)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path | str, expected_sha256: str, *, remove_bad: bool = True) -> Path:
    """Return ``path`` when its sha256 matches; otherwise delete it and raise (notebook 00). A
    corrupt or partial file is removed (when ``remove_bad``) so that the next run fetches it
    again."""
    path = Path(path)
    actual = sha256(path)
    if actual != expected_sha256:
        if remove_bad:
            path.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{path}: sha256 is {actual}, expected {expected_sha256}. The file is corrupt or "
            f"not the expected version{' and was deleted' if remove_bad else ''}; "
            "run `make data` (or the notebook cell) again to fetch it afresh."
        )
    return path


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Return a context in which every new socket times out after ``seconds`` (downloads in notebooks 00, 05b)."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)
