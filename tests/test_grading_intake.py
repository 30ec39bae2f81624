"""The grading intake and reports without running anything: LMS naming rules, safe unzipping, sandbox refusal."""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from grading import sandbox  # noqa: E402
from grading.assignment import exercises_of, job_cells, load  # noqa: E402
from grading.intake import collect, unzip  # noqa: E402
from grading.report import safe_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, student, lms_id, late, original", [
    ("smithjane_4321_98765_00_setup_and_devices.ipynb", "smithjane", "4321", False, "00_setup_and_devices.ipynb"),
    ("smithjane_LATE_4321_98765_00_setup_and_devices.ipynb", "smithjane", "4321", True, "00_setup_and_devices.ipynb"),
    ("smithjane_4321_98766_00_setup_and_devices-2.ipynb", "smithjane", "4321", False, "00_setup_and_devices.ipynb"),
    ("my_work.ipynb", "my_work", "", False, "my_work.ipynb"),
])
def test_canvas_names_give_student_id_lateness_and_original_name(tmp_path, name, student, lms_id, late, original):
    (tmp_path / name).write_text("{}")
    [entry] = collect([tmp_path], tmp_path)
    assert (entry.student, entry.lms_id, entry.late, entry.original) == (student, lms_id, late, original)


def test_moodle_folders_and_plain_subfolders_name_the_student(tmp_path):
    for rel in ("Jane Smith_4321_assignsubmission_file_/anything.ipynb", "bob/00_setup_and_devices.ipynb",
                "__MACOSX/._junk.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    entries = {e.student: e for e in collect([tmp_path], tmp_path)}
    assert set(entries) == {"Jane Smith", "bob"}
    assert entries["Jane Smith"].lms_id == "4321" and entries["Jane Smith"].original == "anything.ipynb"


def test_unzip_skips_paths_outside_and_links_and_keeps_the_lms_times(tmp_path):
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("../escape.ipynb"), "x")
        zf.writestr(zipfile.ZipInfo("/abs.ipynb"), "x")
        link = zipfile.ZipInfo("link.ipynb")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(zipfile.ZipInfo("ok_1_2_00.ipynb", (2025, 5, 6, 7, 8, 10)), "{}")
    folder = unzip(archive, tmp_path)
    assert [p.name for p in folder.rglob("*")] == ["ok_1_2_00.ipynb"] and not (tmp_path / "escape.ipynb").exists()
    assert (folder / "ok_1_2_00.ipynb").stat().st_mtime == pytest.approx(
        __import__("time").mktime((2025, 5, 6, 7, 8, 10, 0, 0, -1)))


def test_exercises_come_from_metadata_not_names_or_positions():
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "00_setup_and_devices.ipynb", as_version=4)
    before = [(e.solution_id, e.grade_id, e.points) for e in exercises_of(nb)]
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = cell.source.replace("helpers.check.", "helpers.check.renamed_")
    nb.cells.insert(3, nbformat.v4.new_code_cell("x = 1"))
    assert [(e.solution_id, e.grade_id, e.points) for e in exercises_of(nb)] == before
    assert before == [("nb00_to_device", "nb00_to_device_check", 1.0),
                      ("nb00_run_on_model_device", "nb00_run_on_model_device_check", 1.0)]
    cells = job_cells(nb)
    assert cells[-1] == {"exercise": "nb00_run_on_model_device_check"}
    assert not any("helpers.check." in c.get("source", "") for c in cells), "check cells never run as code"


def test_every_notebook_with_exercises_is_an_assignment():
    assert {"00_setup_and_devices", "01_softmax_stability"} <= set(load(ROOT / "notebooks"))


def test_feedback_file_names_are_safe():
    assert safe_name("../../etc/passwd") == "passwd" and safe_name("Jane Smith <x>") == "Jane_Smith_x"


def test_grading_refuses_without_a_sandbox_in_one_line(monkeypatch):
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    assert "needs root" in sandbox.unavailable()


def test_grade_refuses_in_one_line_where_there_is_no_sandbox(tmp_path):
    import os
    import subprocess

    stray = tmp_path / "00_setup_and_devices.ipynb"
    stray.write_text("{}")
    env = {**os.environ, "COURSE_GRADE_NO_SANDBOX": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "notebooks.py"), "grade", str(stray)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and "--allow-unsandboxed" in done.stderr, done.stderr
