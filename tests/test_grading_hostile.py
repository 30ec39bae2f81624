"""A hostile batch, handed in as an LMS would export it (a Canvas zip and a Moodle zip), with small limits.

Honest students are graded exactly; every attack (endless loop, fork bomb, 10 GB, reading the solutions,
writing into the course, a local port, 100 MB of output) is contained and scores 0 for its exercise;
odd files (not a notebook, empty, another assignment, renamed, duplicate, late) are graded where
possible and named where not; one feedback HTML per student and one CSV come out; the batch ends
within the bound it prints.
"""
from __future__ import annotations

import csv
import functools
import re
import socket
import zipfile

import grading_support
import nbformat
from grading_support import (
    CHECK1,
    CHECK2,
    EX1,
    EX2,
    NB00,
    NB01,
    RIGHT1,
    RIGHT2,
    ROOT,
    blocks,
    notebook,
    points,
    score,
    scratch,
)

NAME = NB00.name
HACKED = ROOT / "notebooks" / "hacked_by_a_student.txt"


def body(*lines: str) -> str:
    return "def to_device(model, batch, device):\n" + "".join(f"    {line}\n" for line in lines)


def ex1(source: str) -> str:
    return nbformat.writes(notebook({EX1: source, "nb00_run_on_model_device": RIGHT2}))


def ex2(*lines: str) -> str:
    return "def run_on_model_device(model, x):\n" + "".join(f"    {line}\n" for line in lines)


LISTENER: list[socket.socket] = []
RIGHT = "return model.to(device), batch.to(device)"
RIGHT_2 = "return model(x.to(next(model.parameters()).device))"


def build(folder):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    LISTENER.append(listener)
    port = listener.getsockname()[1]
    teacher, blank = NB00.read_text(encoding="utf-8"), nbformat.writes(notebook())
    half = nbformat.writes(notebook({EX1: RIGHT1}))
    canvas = {
        f"alice_101_1001_{NAME}": blank,
        f"alice_101_1002_{NAME[:-6]}-1.ipynb": teacher,        # a resubmission: the later one counts
        f"bob_102_1003_{NAME}": blank,
        f"dave_104_1005_{NAME}": ex1(body("while True:", "    pass")),
        f"erin_105_1006_{NAME}": ex1(body("import os", "while True:", "    try:", "        os.fork()",
                                          "    except OSError:", "        pass")),
        f"frank_106_1007_{NAME}": ex1(body("big = bytearray(10 * 2**30)", RIGHT)),
        f"gina_107_1008_{NAME}": nbformat.writes(notebook({   # reads the solutions, writes into the course
            EX1: body(f"src = open({str(NB00)!r}).read()", RIGHT),
            EX2: ex2(f"open({str(HACKED)!r}, 'w').write('x')", RIGHT_2)})),
        f"ivan_109_1010_{NAME}": nbformat.writes(notebook({   # a local port, then 100 MB of output
            EX1: body("import socket", f"socket.create_connection(('127.0.0.1', {port}), 2)", RIGHT),
            EX2: ex2("for _ in range(100):", "    print('x' * 2**20)", RIGHT_2)})),
        f"kate_111_1012_{NAME}": "these are my notes, not a notebook\n",
        f"leo_112_1013_{NB01.name}": NB01.read_text(encoding="utf-8"),   # another assignment's notebook
        f"mia_113_1014_{NAME}": "",
        f"nina_LATE_114_1015_{NAME}": half,
    }
    moodle = {
        "Olga Petrova_201_assignsubmission_file_/my notebook (1).ipynb": half,       # renamed
        "Paul Smith_202_assignsubmission_file_/" + NAME: (blank, (2026, 1, 1, 10, 0, 0)),
        "Paul Smith_202_assignsubmission_file_/copy of 00.ipynb": (teacher, (2026, 1, 2, 10, 0, 0)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for zip_name, files in (("canvas.zip", canvas), ("moodle.zip", moodle)):
        with zipfile.ZipFile(folder / zip_name, "w") as zf:
            for name, content in files.items():
                text, when = content if isinstance(content, tuple) else (content, (2026, 1, 1, 9, 0, 0))
                zf.writestr(zipfile.ZipInfo(name, when), text)
    return [folder / "canvas.zip", folder / "moodle.zip"]


grading_support.BUILDERS["hostile"] = build
STUDENTS = {"alice", "bob", "dave", "erin", "frank", "gina", "ivan", "kate", "leo", "mia", "nina", "Olga Petrova",
            "Paul Smith"}


@functools.cache
def batch():
    done = grading_support.batch()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    try:
        LISTENER[0].accept()
        connected = True
    except BlockingIOError:
        connected = False
    LISTENER[0].close()
    found = {label.split("!", 1)[1]: lines for label, lines in blocks(done.stdout).items() if "!" in label}
    by_student = {re.split(r"_\d|_LATE", k.split("/")[0])[0]: v for k, v in found.items()}
    return done, found, by_student, connected, scratch() / grading_support.OUT


def test_every_file_is_named_in_the_output():
    done, found, *_ = batch()
    assert len(found) == 15, sorted(found)


def test_honest_students_are_graded_exactly():
    _, found, s, *_ = batch()
    assert score(s["alice"]) == "score: 2 / 2", s["alice"]
    assert score(s["bob"]) == "score: 0 / 2" and score(s["nina"]) == "score: 1 / 2"
    assert score(s["Olga Petrova"]) == "score: 1 / 2", "a renamed notebook is known by its exercises"
    assert score(found["Paul Smith_202_assignsubmission_file_/copy of 00.ipynb"]) == "score: 2 / 2"


def test_earlier_duplicates_are_reported_not_graded():
    _, found, *_ = batch()
    assert "later submission" in found[f"alice_101_1001_{NAME}"][0]
    assert "later submission" in found[f"Paul Smith_202_assignsubmission_file_/{NAME}"][0]


def test_another_assignments_notebook_is_graded_as_that_assignment():
    _, _, s, *_ = batch()
    assert score(s["leo"]) == "score: 3 / 3" and any(line.startswith("  nb01_") for line in s["leo"]), s["leo"]


def test_endless_loop_is_stopped_at_the_cell_limit_and_the_other_exercise_still_counts():
    s = batch()[2]["dave"]
    assert points(s, CHECK1).startswith("0 / 1  stopped after 6 s") and points(s, CHECK2).startswith("1 / 1"), s


def test_fork_bomb_is_contained_and_the_next_exercise_still_counts():
    s = batch()[2]["erin"]
    assert points(s, CHECK1).startswith("0 / 1") and points(s, CHECK2).startswith("1 / 1"), s


def test_ten_gigabytes_hit_the_memory_cap():
    s = batch()[2]["frank"]
    assert points(s, CHECK1).startswith("0 / 1") and "MemoryError" in points(s, CHECK1), s


def test_the_solutions_cannot_be_read():
    s = batch()[2]["gina"]
    assert points(s, CHECK1).startswith("0 / 1") and "FileNotFoundError" in points(s, CHECK1), s


def test_nothing_is_written_into_the_course_folder():
    s = batch()[2]["gina"]
    assert not HACKED.exists() and points(s, CHECK2).startswith("0 / 1"), s


def test_a_local_port_cannot_be_reached():
    _, _, s, connected, _ = batch()
    assert not connected and points(s["ivan"], CHECK1).startswith("0 / 1"), s["ivan"]


def test_a_hundred_megabytes_of_output_hit_the_output_cap():
    s = batch()[2]["ivan"]
    assert points(s, CHECK2).startswith("0 / 1") and "File too large" in points(s, CHECK2), s


def test_non_notebook_and_empty_file_are_named():
    s = batch()[2]
    assert "not a notebook" in points(s["kate"], CHECK1) and "empty file" in points(s["mia"], CHECK1)


def test_batch_ends_within_its_printed_bound():
    done = batch()[0]
    match = re.search(r"graded in ([\d.]+) s .*: ([\d.]+) s set-up .*bound: (\d+) s", done.stdout)
    assert match, done.stdout[-500:]
    total, setup, bound = map(float, match.groups())
    assert total <= setup + bound + 10, done.stdout[-300:]


def test_feedback_per_student_and_csv_row_per_student():
    out = batch()[4]
    pages = {p.name for p in (out / "feedback").glob("*.html")}
    assert {f"{s.replace(' ', '_')}.html" for s in STUDENTS} <= pages, pages
    dave = (out / "feedback" / "dave.html").read_text(encoding="utf-8")
    assert "stopped at the time limit" in dave and "✓ run_on_model_device" in dave
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    assert STUDENTS <= set(rows) and rows["alice"]["total"] == "2" and rows["alice"]["lms_id"] == "101"
    assert rows["nina"][CHECK1] == "1" and rows["nina"][CHECK2] == "0" and rows["leo"]["total"] == "3"
    assert "late" in rows["nina"]["notes"] and "memory" in rows["frank"]["notes"]
