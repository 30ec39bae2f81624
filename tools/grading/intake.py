"""What was handed in: notebooks, folders and LMS zips, turned into one entry per file, named after the student.
Canvas and Moodle layouts, and anything else (a top-level file is its own student, a subfolder's
files belong to that subfolder's student): docs/exercises.md, "Grading a class without a hub"."""
from __future__ import annotations

import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<original>.+)$")
MOODLE = re.compile(r"^(?P<name>.+)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_?$")
COPY_SUFFIX = re.compile(r"-\d+(?=\.ipynb$)")  # Canvas's "-1" on a resubmitted file
MAX_MEMBERS, MAX_UNZIPPED = 5000, 2 * 2**30    # a zip bigger than this is refused, not unpacked
SKIPPED = ("__MACOSX/", ".DS_Store", "Thumbs.db")


class IntakeError(Exception):
    """A submission path that cannot be read at all (missing, a broken or oversized zip)."""


@dataclass
class Entry:
    """One handed-in file: who handed it in, where it is, the name it had before the LMS renamed it."""

    student: str
    path: Path
    label: str                 # how the batch names it in its output (the path given, or zip!member)
    original: str              # the file name the student gave it
    lms_id: str = ""
    late: bool = False
    order: tuple = ()          # larger = handed in later (Canvas submission id, then file time)
    notes: list[str] = field(default_factory=list)


def _canvas(name: str) -> dict | None:
    match = CANVAS.match(name)
    if not match:
        return None
    found = match.groupdict()
    found["original"] = COPY_SUFFIX.sub("", found["original"])
    return found


def _entry(path: Path, rel: Path, label: str) -> Entry:
    """Name the student of the file at ``rel`` (relative to the folder or zip it came from)."""
    if len(rel.parts) > 1:
        moodle = MOODLE.match(rel.parts[0])
        if moodle:
            return Entry(moodle["name"], path, label, rel.name, lms_id=moodle["uid"], order=(0, path.stat().st_mtime))
        return Entry(rel.parts[0], path, label, rel.name, order=(0, path.stat().st_mtime))
    canvas = _canvas(rel.name)
    if canvas:
        return Entry(canvas["name"], path, label, canvas["original"], lms_id=canvas["uid"], late=bool(canvas["late"]),
                     order=(int(canvas["sid"]), path.stat().st_mtime))
    stem = rel.name[:-len(".ipynb")] if rel.name.endswith(".ipynb") else rel.name
    return Entry(stem, path, label, rel.name, order=(0, path.stat().st_mtime))


def _walk(folder: Path, shown: str) -> list[Entry]:
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or any(s in rel.as_posix() for s in SKIPPED):
            continue
        entries.append(_entry(path, rel, f"{shown}/{rel.as_posix()}" if shown else rel.as_posix()))
    return entries


def unzip(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` into a new folder under ``into``: no absolute or ``..`` paths, no links, capped size."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise IntakeError(f"{archive}: more than {MAX_MEMBERS} files or {MAX_UNZIPPED >> 30} GiB unpacked; "
                                  "split the batch")
            target = Path(tempfile.mkdtemp(prefix="zip-", dir=into))
            for member in members:
                rel = Path(member.filename)
                if rel.is_absolute() or ".." in rel.parts or (member.external_attr >> 16) & 0o170000 == 0o120000:
                    continue  # a path outside the folder, or a symbolic link: never unpacked
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as out:
                    out.write(src.read(MAX_UNZIPPED))
                stamp = time.mktime((*member.date_time, 0, 0, -1))  # the LMS's time: which file came later
                os.utime(dest, (stamp, stamp))
            return target
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(f"{archive}: not a readable zip ({exc}); export the submissions again from the LMS") from exc


def collect(paths: list[Path], scratch: Path) -> list[Entry]:
    """Return an Entry per handed-in file in ``paths`` (notebooks, folders, zips); zips unpack into ``scratch``."""
    entries: list[Entry] = []
    for given in paths:
        if not given.exists():
            raise IntakeError(f"{given}: no such file or folder")
        if given.is_dir():
            entries += _walk(given, str(given))
        elif zipfile.is_zipfile(given):
            entries += [_relabel(e, given) for e in _walk(unzip(given, scratch), "")]
        else:
            entry = _entry(given, Path(given.name), str(given))
            if not _canvas(given.name):
                entry.student = str(given)  # a notebook named on the command line: the path names it
            entries.append(entry)
    return entries


def _relabel(entry: Entry, archive: Path) -> Entry:
    entry.label = f"{archive}!{entry.label}"
    return entry
