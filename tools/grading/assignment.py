"""The teacher's side of a grade: each assignment's exercises, read from nbgrader cell metadata only.
An exercise is a graded cell (``grade: true``, ``points``) and the nearest solution cell above it; the
teacher's ``grade_id``s and ``points`` decide, never a check's name or a cell's position."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .intake import COPY_SUFFIX, Entry


@dataclass
class Exercise:
    solution_id: str      # grade_id of the learner's cell
    grade_id: str         # grade_id of the graded (check) cell: the CSV's column, the output's line
    points: float
    check_source: str     # the teacher's check cell, e.g. helpers.check.to_device(to_device)


@dataclass
class Assignment:
    name: str             # the notebook's stem, e.g. 00_setup_and_devices
    teacher: Path
    exercises: list[Exercise]
    release: Path | None = None   # the student copy (nbgrader generate_assignment), set by the batch
    ids: set[str] = field(default_factory=set)

    @property
    def max_score(self) -> float:
        return sum(e.points for e in self.exercises)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def exercises_of(nb) -> list[Exercise]:
    """Return the exercises of a teacher notebook: each graded cell with the solution cell above it."""
    found, solution = [], None
    for cell in nb.cells:
        meta = _meta(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            solution = meta.get("grade_id")
        if cell.cell_type == "code" and meta.get("grade") and solution:
            found.append(Exercise(solution, meta["grade_id"], float(meta.get("points", 0)), cell.source))
            solution = None
    return found


def load(notebooks: Path) -> dict[str, Assignment]:
    """Return every notebook in ``notebooks`` that has exercises, by stem."""
    assignments = {}
    for path in sorted(notebooks.glob("*.ipynb")):
        exercises = exercises_of(nbformat.read(path, as_version=4))
        if exercises:
            ids = {e.solution_id for e in exercises} | {e.grade_id for e in exercises}
            assignments[path.stem] = Assignment(path.stem, path, exercises, ids=ids)
    return assignments


def read_submission(entry: Entry):
    """Return (notebook, problem): the parsed notebook, or None and why it cannot be read as one."""
    try:
        raw = entry.path.read_bytes()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if not raw.strip():
        return None, "empty file"
    try:
        return nbformat.reads(raw.decode("utf-8"), as_version=4), None
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        return None, f"not a notebook ({type(exc).__name__}); hand in the .ipynb file itself"
    except Exception as exc:  # noqa: BLE001 - nbformat's validation errors are many kinds
        return None, f"not a valid notebook ({type(exc).__name__}: {str(exc)[:120]})"


def identify(entry: Entry, nb, assignments: dict[str, Assignment]) -> Assignment | None:
    """Return the assignment ``nb`` answers: by its exercises' grade_ids, else by its original file name."""
    if nb is not None:
        ids = {_meta(c).get("grade_id") for c in nb.cells} - {None}
        best = max(assignments.values(), key=lambda a: len(a.ids & ids), default=None)
        if best is not None and best.ids & ids:
            return best
    stem = COPY_SUFFIX.sub("", entry.original)
    stem = stem[:-len(".ipynb")] if stem.endswith(".ipynb") else stem
    return assignments.get(stem)


def learner_cells(nb, exercise_ids: list[str]) -> dict[str, str | None]:
    """Return the source of the learner's cell for each solution grade_id (the last one when duplicated)."""
    found: dict[str, str | None] = dict.fromkeys(exercise_ids)
    for cell in nb.cells if nb is not None else []:
        grade_id = _meta(cell).get("grade_id")
        if cell.cell_type == "code" and grade_id in found:
            found[grade_id] = cell.source
    return found


def job_cells(release_nb) -> list[dict]:
    """The student copy's code cells up to the last graded cell: trusted code the verdict process runs.

    A graded cell becomes a marker ``{"exercise": grade_id}``; its source is never run as such.
    """
    cells = []
    for cell in release_nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        cells.append({"exercise": meta["grade_id"]} if meta.get("grade") else {"source": cell.source})
    while cells and "exercise" not in cells[-1]:
        cells.pop()
    return cells
