"""What a batch tells: the lines on stdout, one feedback HTML per student, one CSV for the LMS gradebook."""
from __future__ import annotations

import csv
import html
import re
from collections import defaultdict
from pathlib import Path

from .batch import Graded

KIND_WORDS = {
    "timeout": "stopped at the time limit",
    "memory": "ran out of its memory limit",
    "output": "printed more than the output limit",
    "crash": "the process crashed",
    "exit": "ended the process before the check finished",
    "tampered": "changed the grader's code or state: not graded",
    "missing": "exercise cell not found",
    "unreadable": "the file is not a readable notebook",
    "pids": "too many processes",
    "error": "grading failed",
}


def _num(x: float) -> str:
    return f"{x:g}"


def print_results(items: list[Graded], seconds: float, setup: float, bound: float, jobs: int, out=print) -> None:
    """Print per submission ``label:``, ``  grade_id: points / max  line`` lines, ``score: X / Y``, ``time: S s``."""
    for item in items:
        out(f"{item.entry.label}:")
        if item.assignment is None:
            out(f"  not graded: {item.problem}")
            continue
        for grade_id, v in item.verdicts.items():
            out(f"  {grade_id}: {_num(v['points'])} / {_num(v['max'])}  {v['line']}")
        for note in item.entry.notes:
            out(f"  note: {note}")
        for warning in item.warnings:
            out(f"  warning: {warning}")
        out(f"score: {_num(item.score)} / {_num(item.assignment.max_score)}")
        out(f"time: {item.seconds:.1f} s" + (f" ({item.cpu:.1f} s CPU)" if item.cpu else ""))
    graded = sum(1 for i in items if i.seconds)
    out(f"batch: {graded} of {len(items)} files graded in {seconds:.1f} s with {jobs} job(s) at a time: "
        f"{setup:.1f} s set-up (student copies), then the jobs (bound: {bound:.0f} s)")


def safe_name(student: str) -> str:
    """A file name for a student's feedback: letters, digits, dot, dash, underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(student).name).strip("._") or "student"


def by_student(items: list[Graded]) -> dict[str, list[Graded]]:
    grouped: dict[str, list[Graded]] = defaultdict(list)
    for item in items:
        grouped[item.entry.student].append(item)
    return dict(sorted(grouped.items()))


def _feedback_html(student: str, items: list[Graded]) -> str:
    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>Feedback: {e(student)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em}td,th{border:1px solid #ccc;padding:4px;"
             "vertical-align:top}table{border-collapse:collapse}pre{white-space:pre-wrap;margin:0}</style>",
             f"<h1>Feedback for {e(student)}</h1>"]
    for item in items:
        parts.append(f"<h2>{e(item.entry.original)}</h2>")
        if item.assignment is None:
            parts.append(f"<p>Not graded: {e(item.problem or '')}</p>")
            continue
        parts.append(f"<p>Assignment {e(item.assignment.name)}: <b>{_num(item.score)} / "
                     f"{_num(item.assignment.max_score)}</b> points.</p>")
        parts.append("<table><tr><th>exercise</th><th>points</th><th>verdict (as the check says it in the "
                     "notebook)</th></tr>")
        for grade_id, v in item.verdicts.items():
            why = f"<br><i>{e(KIND_WORDS[v['kind']])}</i>" if v.get("kind") in KIND_WORDS else ""
            parts.append(f"<tr><td>{e(grade_id)}</td><td>{_num(v['points'])} / {_num(v['max'])}</td>"
                         f"<td><pre>{e(v['line'])}</pre>{why}</td></tr>")
        parts.append("</table>")
        for text in [*item.entry.notes, *item.warnings]:
            parts.append(f"<p><i>{e(text)}</i></p>")
    return "\n".join(parts) + "\n"


def write_feedback(items: list[Graded], folder: Path) -> list[Path]:
    """Write ``folder/<student>.html`` for every student; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for student, graded in by_student(items).items():
        path = folder / f"{safe_name(student)}.html"
        path.write_text(_feedback_html(student, graded), encoding="utf-8")
        written.append(path)
    return written


def write_csv(items: list[Graded], path: Path) -> None:
    """Write one row per student: student, lms_id, a column per exercise (grade_id), total, notes."""
    columns: list[str] = []
    for item in items:
        for ex in item.assignment.exercises if item.assignment else []:
            if ex.grade_id not in columns:
                columns.append(ex.grade_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lms_id", *columns, "total", "notes"])
        for student, graded in by_student(items).items():
            row = dict.fromkeys(columns, "")
            notes, total = [], 0.0
            for item in graded:
                if item.assignment is None:
                    notes.append(f"{item.entry.original}: {item.problem}")
                    continue
                for grade_id, v in item.verdicts.items():
                    row[grade_id] = _num(v["points"])
                total += item.score
                notes += [f"{grade_id}: {KIND_WORDS[v['kind']]}" for grade_id, v in item.verdicts.items()
                          if v.get("kind") in KIND_WORDS]
                notes += item.entry.notes + (["late"] if item.entry.late else [])
            lms_id = next((i.entry.lms_id for i in graded if i.entry.lms_id), "")
            writer.writerow([student, lms_id, *row.values(), _num(total), "; ".join(notes)])
