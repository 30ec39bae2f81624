"""The nbgrader course: folders and permissions, releasing assignments, and the teacher's autograde.
Autograde grades through the course's own command (`grading_command`, the one place to change),
not nbgrader's formgrader; feedback goes back through nbgrader's exchange (ARCHITECTURE.md)."""
from __future__ import annotations

import csv
import html
import io
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .env import user_environment
from .layout import COURSE_ID, REPO, Classroom, ClassroomError
from .users import as_user, chown_tree

NOTEBOOKS = REPO / "notebooks"
STUDENT_COPIES = REPO / "build" / "student"


@dataclass
class Graded:
    """One submission's grade as the grading command printed it."""
    exercises: list[tuple[str, float, float, str]] = field(default_factory=list)  # grade_id, points, max, line
    score: float = 0.0
    max_score: float = 0.0


def grading_command(submissions: list[Path]) -> str:
    """Grade `submissions` with the course's grading command; return what it printed. The seam for the
    grading that cannot be gamed (issue 24): its `--feedback`/`--csv`/sandbox options go here."""
    cmd = [sys.executable, str(REPO / "tools" / "notebooks.py"), "grade", *map(str, submissions)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise ClassroomError(f"grading failed ({' '.join(cmd)}):\n{done.stdout}{done.stderr}")
    return done.stdout


def parse_grades(text: str) -> dict[str, Graded]:
    """{submission path: Graded} from the grading command's `path:`, `  id: p / m  line`, `score: x / y` lines."""
    found: dict[str, Graded] = {}
    current = None
    for line in text.splitlines():
        exercise = re.match(r"^  (\S+): ([\d.]+) / ([\d.]+)  (.*)$", line)
        score = re.match(r"^score: ([\d.]+) / ([\d.]+)$", line)
        if exercise and current is not None:
            gid, pts, top, verdict = exercise.groups()
            current.exercises.append((gid, float(pts), float(top), verdict))
        elif score and current is not None:
            current.score, current.max_score = float(score.group(1)), float(score.group(2))
        elif line.endswith(":") and not line.startswith(" "):
            current = found.setdefault(line[:-1], Graded())
    return found


def teacher_nbgrader(room: Classroom, *args: str) -> str:
    """Run `nbgrader ARGS` as the teacher, in the course folder, with the teacher's config; return its output."""
    env = user_environment(room, room.teacher)
    env["HOME"] = str(room.home(room.teacher))
    cmd = ["env", "-i", *[f"{k}={v}" for k, v in env.items()], str(room.python), "-m", "nbgrader", *args]
    done = as_user(room.teacher, cmd, cwd=room.course)
    if done.returncode != 0:
        raise ClassroomError(f"nbgrader {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def setup_course(room: Classroom, new_students: list[str]) -> None:
    """The course folder (teacher, 700), the exchange (1777 root, 755/2733/711 inside) and the gradebook's students."""
    for sub in ("", "source", "release", "submitted", "autograded", "feedback", "grades"):
        (room.course / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(room.course / sub, room.teacher, room.teacher)
        os.chmod(room.course / sub, 0o700)
    course_ex = room.exchange / COURSE_ID
    for path, mode in ((room.exchange, 0o1777), (course_ex, 0o755), (course_ex / "outbound", 0o755),
                       (course_ex / "inbound", 0o2733), (course_ex / "feedback", 0o711)):
        path.mkdir(exist_ok=True)
        shutil.chown(path, room.teacher, room.teacher)
        os.chmod(path, mode)
    if new_students:
        gradebook_add(room, new_students, [])


def gradebook_add(room: Classroom, students: list[str], assignments: list[str]) -> None:
    """Add students and assignments to the course's gradebook (what the formgrader lists), in one process."""
    script = ("import sys\nfrom nbgrader.api import Gradebook\n"
              "kind = 'student'\n"
              "with Gradebook('sqlite:///gradebook.db') as gb:\n"
              "    for name in sys.argv[1:]:\n"
              "        if name == '--assignments':\n            kind = 'assignment'\n"
              "        elif kind == 'student':\n            gb.update_or_create_student(name)\n"
              "        else:\n            gb.update_or_create_assignment(name)\n")
    env = [f"{k}={v}" for k, v in user_environment(room, room.teacher).items()]
    done = as_user(room.teacher, ["env", "-i", f"HOME={room.home(room.teacher)}", *env, str(room.python), "-c",
                                  script, *students, "--assignments", *assignments], cwd=room.course)
    if done.returncode != 0:
        raise ClassroomError(f"could not update the gradebook {room.course / 'gradebook.db'}:\n{done.stderr}")


def notebook_name(short: str) -> str:
    """The notebook stem for '00', '05b' or a full stem; raise with the list when none matches."""
    names = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]*.ipynb"))
    match = [n for n in names if n == short or n.split("_", 1)[0] == short]
    if len(match) != 1:
        raise ClassroomError(f"no notebook {short!r}; choose among {', '.join(n.split('_', 1)[0] for n in names)}")
    return match[0]


def release(room: Classroom, assignment: str, copies: Path = STUDENT_COPIES) -> None:
    """Release the student copy of `assignment` (from `make student`, in `copies`) through nbgrader's exchange."""
    copy, teacher = copies / f"{assignment}.ipynb", NOTEBOOKS / f"{assignment}.ipynb"
    if not copy.exists() or copy.stat().st_mtime < teacher.stat().st_mtime:
        raise ClassroomError(f"{copy} is missing or older than {teacher}: run `make student` first")
    for kind, nb in (("source", teacher), ("release", copy)):
        folder = room.course / kind / assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copy(nb, folder / nb.name)
        if "scripts/" in nb.read_text(encoding="utf-8") and (nb.parent / "scripts").is_dir():
            shutil.copytree(nb.parent / "scripts", folder / "scripts",
                            ignore=shutil.ignore_patterns("__pycache__", "snapshots"))
        chown_tree(folder.parent, room.teacher, 0o700, 0o600)
    gradebook_add(room, [], [assignment])
    teacher_nbgrader(room, "release_assignment", assignment, "--force")


def collect(room: Classroom, assignment: str) -> dict[str, Path]:
    """Collect `assignment` from the exchange; return {student: submitted notebook}, folders 700 and files 600."""
    teacher_nbgrader(room, "collect", assignment, "--update")
    submitted = room.course / "submitted"
    chown_tree(submitted, room.teacher, 0o700, 0o600)
    found = {}
    for student in room.students:
        nb = submitted / student / assignment / f"{assignment}.ipynb"
        if nb.exists():
            found[student] = nb
    return found


def grade(room: Classroom, assignment: str) -> tuple[Path, dict[str, Graded], float]:
    """Collect, grade, write and release feedback, write the CSV; return (csv path, grades, seconds grading)."""
    submissions = collect(room, assignment)
    if not submissions:
        raise ClassroomError(f"no submissions of {assignment} to grade (nobody has submitted yet)")
    began = time.monotonic()
    by_path = parse_grades(grading_command(list(submissions.values())))
    seconds = time.monotonic() - began
    grades = {s: by_path[str(nb)] for s, nb in submissions.items() if str(nb) in by_path}
    missing = sorted(set(submissions) - set(grades))
    if missing:
        raise ClassroomError(f"the grading command printed no grade for {', '.join(missing)}")
    for student, graded in grades.items():
        write_feedback(room, assignment, student, graded)
    teacher_nbgrader(room, "release_feedback", assignment)
    return write_csv(room, assignment, grades), grades, seconds


def write_feedback(room: Classroom, assignment: str, student: str, graded: Graded) -> Path:
    """feedback/STUDENT/ASSIGNMENT/NB.html (each exercise's points and verdict line) with the submission's
    timestamp and secret beside it, as `nbgrader release_feedback` expects."""
    folder = room.course / "feedback" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"<tr><td>{html.escape(gid)}</td><td>{pts:g} / {top:g}</td><td>{html.escape(line)}</td></tr>"
                     for gid, pts, top, line in graded.exercises)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(assignment)}: feedback"
            f"</title></head><body>\n<h1>{html.escape(assignment)}: {graded.score:g} / {graded.max_score:g}</h1>\n"
            f"<p>Student: {html.escape(student)}</p>\n<table border='1'><tr><th>exercise</th><th>points</th>"
            f"<th>verdict</th></tr>\n{rows}\n</table>\n</body></html>\n")
    path = folder / f"{assignment}.html"
    path.write_text(page, encoding="utf-8")
    submitted = room.course / "submitted" / student / assignment
    for name in ("timestamp.txt", "submission_secret.txt"):
        shutil.copy(submitted / name, folder / name)
    chown_tree(room.course / "feedback" / student, room.teacher, 0o700, 0o600)
    os.chmod(path, 0o644)  # release_feedback copies the mode: the student reads their own file in the exchange
    return path


def write_csv(room: Classroom, assignment: str, grades: dict[str, Graded]) -> Path:
    """course/grades/ASSIGNMENT.csv: a row per student, a column per exercise, the score and the maximum."""
    ids = list(dict.fromkeys(gid for g in grades.values() for gid, *_ in g.exercises))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", *ids, "score", "max_score", "status"])
    for student in room.students:
        g = grades.get(student)
        if g is None:
            writer.writerow([student, *[""] * len(ids), "", "", "not submitted"])
            continue
        points = {gid: pts for gid, pts, _, _ in g.exercises}
        writer.writerow([student, *[f"{points.get(i, 0):g}" for i in ids], f"{g.score:g}", f"{g.max_score:g}",
                         "graded"])
    path = room.course / "grades" / f"{assignment}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    shutil.chown(path, room.teacher, room.teacher)
    os.chmod(path, 0o600)
    return path
