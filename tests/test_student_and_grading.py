"""Student copies (nbgrader generate_assignment) on notebook 00, and what grade does with a notebook of no assignment.

The grading of real submissions is in tests/test_grading_*.py.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "notebooks.py"
NB00 = ROOT / "notebooks" / "00_setup_and_devices.ipynb"
_spec = importlib.util.spec_from_file_location("notebook_tool", TOOL)
notebook_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_tool)


def solution_lines(nb) -> list[str]:
    """The non-blank lines between ### BEGIN SOLUTION and ### END SOLUTION in a notebook's solution cells."""
    found = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip():
                found.append(line.strip())
    return found


def assert_no_solution_left(student_path: Path, teacher_path: Path) -> None:
    text = student_path.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, f"{student_path}: solution markers left"
    # The student's exercise cells (nbgrader solution cells) must hold none of the teacher's solution lines.
    # The notebook's own reference code elsewhere is part of the lesson (later cells use it), so a line it
    # shares with a solution is not a leak.
    cells = nbformat.read(student_path, as_version=4).cells
    exercise_cells = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert exercise_cells, f"{student_path}: no exercise cells (nbgrader solution cells) in the student copy"
    student_code = {line.strip() for c in exercise_cells for line in c.source.splitlines()}
    leaked = [line for line in solution_lines(nbformat.read(teacher_path, as_version=4)) if line in student_code]
    assert not leaked, f"{student_path}: solution lines left in the student copy's exercise cells: {leaked}"


@pytest.fixture(scope="module")
def student00(tmp_path_factory):
    # the offline GPU host gets no nbgrader (tools/gpu_carry.py's NOT_CARRIED): skip there, run everywhere else
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (the offline GPU host: too big to carry)")
    out = tmp_path_factory.mktemp("student")
    subprocess.run([sys.executable, str(TOOL), "student", "--out", str(out), str(NB00)], check=True, timeout=300,
                   capture_output=True)
    return out / NB00.name


def test_student_copy_has_stubs_no_solutions_and_keeps_golden_outputs(student00):
    assert_no_solution_left(student00, NB00)
    student, teacher = nbformat.read(student00, as_version=4), nbformat.read(NB00, as_version=4)
    assert len(student.cells) == len(teacher.cells)
    solutions = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solutions and all("raise NotImplementedError()" in c.source and c.source.startswith("def ")
                             for c in solutions), "each exercise should become a function whose body is the stub"
    golden = [(s, t) for s, t in zip(student.cells, teacher.cells) if notebook_tool.is_golden(t)]
    assert golden and all(s.outputs == t.outputs and s.outputs for s, t in golden), \
        "golden cells must keep their stored outputs so nbval still compares them"
    assert (student00.parent / "scripts" / "train_ddp.py").is_file(), "notebook 06's scripts must travel along"


def test_build_student_copies_hold_no_solution():
    copies = sorted((ROOT / "build" / "student").glob("*.ipynb"))
    if not copies:
        pytest.skip("no build/student/ yet (`make student`; `make test` makes it first)")
    for copy in copies:
        assert_no_solution_left(copy, ROOT / "notebooks" / copy.name)


def test_grade_names_a_notebook_of_no_assignment_and_grades_nothing(tmp_path):
    # The grading itself (teacher full marks, blank 0, half done 1 / 2, cheats, hostile batches) is tested in
    # tests/test_grading_cheats.py and tests/test_grading_hostile.py, one cached batch each.
    stray = tmp_path / "99_unknown.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stray)
    done = subprocess.run([sys.executable, str(TOOL), "grade", str(stray)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{stray}:\n  not graded: not a notebook of this course's assignments" in done.stdout, done.stdout
    assert "batch: 0 of 1 files graded" in done.stdout
