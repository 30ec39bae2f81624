"""Student copies (nbgrader generate_assignment) and grading (nbgrader autograde), on notebook 00.

One student copy and one grading run (three submissions: the teacher's notebook, a blank student
copy, a copy with one exercise done) keep this to about three executions of notebook 00.
"""
import importlib.util
import re
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


def fill(student_path: Path, grade_id: str, body: str, dest: Path) -> Path:
    nb = nbformat.read(student_path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = re.sub(r"    # YOUR CODE HERE\n    raise NotImplementedError\(\)", body, cell.source)
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / student_path.name)
    return dest / student_path.name


def test_grade_gives_full_zero_and_partial_marks(student00, tmp_path):
    partial = fill(student00, "nb00_to_device", "    return model.to(device), batch.to(device)", tmp_path / "partial")
    done = subprocess.run([sys.executable, str(TOOL), "grade", str(NB00), str(student00), str(partial)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    blocks = re.split(r"(?m)^(?=\S.*\.ipynb:$)", done.stdout.strip())
    blocks = [b for b in blocks if b.strip()]
    assert [b.strip().splitlines()[-1] for b in blocks] == ["score: 2 / 2", "score: 0 / 2", "score: 1 / 2"], done.stdout
    teacher, blank, part = blocks
    assert teacher.count("✓ ") == 2
    assert blank.count("not done yet") == 2
    assert "nb00_to_device_check: 1 / 1  ✓ to_device" in part
    assert "nb00_run_on_model_device_check: 0 / 1  … run_on_model_device: not done yet" in part


def test_grade_refuses_a_notebook_without_a_teacher_copy(tmp_path):
    stray = tmp_path / "99_unknown.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stray)
    done = subprocess.run([sys.executable, str(TOOL), "grade", str(stray)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "no teacher notebook notebooks/99_unknown.ipynb" in done.stderr
