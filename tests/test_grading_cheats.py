"""Cheats a student who would rather not do the work might try, on notebook 00: each scores 0 for its exercise.

One grade run (grading_support.batch) holds every cheat beside the hostile batch's honest students
(tests/test_grading_hostile.py: the teacher's notebook gets full marks, a blank copy 0, half done
1 / 2). Every cheat wraps a WRONG answer, so that only the cheat could turn it into points; where a
cheat sits at the top of a solution cell it never runs (only the learner's ``def``s and imports are
taken), so most cheats are tried inside the function too.
"""
from __future__ import annotations

import functools
import re

import grading_support
import nbformat
import pytest
from grading_support import (
    CHECK1,
    CHECK2,
    EX1,
    EX2,
    NB00,
    RIGHT1,
    RIGHT2,
    WRONG1,
    WRONG2,
    blocks,
    notebook,
    points,
    score,
    write,
)


def inside(wrong: str, *lines: str) -> str:
    """``wrong`` (a def) with ``lines`` run first in its body."""
    head, body = wrong.split("\n", 1)
    return head + "\n" + "".join(f"    {line}\n" for line in lines) + body


def _edit_locked(nb) -> None:
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == CHECK1:
            cell.source = 'print("✓ to_device: model and batch both end on the device")\nassert True'
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != CHECK2]


def _duplicate_and_reorder(nb) -> None:
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells = list(reversed(nb.cells)) + [nbformat.from_dict(dict(c)) for c in graded]


def _wipe_metadata(nb) -> None:
    for cell in nb.cells:
        cell.metadata = {}


FAKE_RECORD = '{"status": "passed", "line": "✓ forged", "kind": "", "seconds": 0}\\n'
CHEATS = {
    # the cheats
    "pop_nbgrader_execution": {
        EX1: "import os\nos.environ.pop('NBGRADER_EXECUTION', None)\n" + WRONG1,
        EX2: inside(WRONG2, "import os", "os.environ.pop('NBGRADER_EXECUTION', None)")},
    "rebind_helpers_check": {
        EX1: "import helpers\nhelpers.check.to_device = lambda f: print('✓ to_device: fine')\n" + WRONG1,
        EX2: inside(WRONG2, "import helpers", "helpers.check.run_on_model_device = lambda f: None")},
    "grading_switched_off": {
        EX1: "import helpers\nhelpers.exercises.grading = lambda: False\n" + WRONG1,
        EX2: inside(WRONG2, "import helpers.exercises", "helpers.exercises.grading = lambda: False")},
    "fake_tick_and_score_printed": {
        EX1: "print('✓ to_device: done')\nprint('score: 2 / 2')\n" + inside(WRONG1, "print('✓ to_device: done')"),
        EX2: inside(WRONG2, "print('  nb00_run_on_model_device_check: 1 / 1  ✓ run_on_model_device: ok')",
                    "print('score: 2 / 2')")},
    "sys_exit_and_os_exit": {
        EX1: "import sys\nsys.exit(0)\n" + inside(WRONG1, "import sys", "sys.exit(0)"),
        EX2: inside(WRONG2, "import os", "os._exit(0)")},
    "sys_modules_swapped": {
        EX1: inside(WRONG1, "import sys", "sys.modules['helpers.check.nb00'].expect = lambda *a: None"),
        EX2: inside(WRONG2, "import sys, types", "sys.modules['helpers.check'] = types.ModuleType('helpers.check')")},
    "builtins_patched": {
        EX1: inside(WRONG1, "import builtins", "builtins.isinstance = lambda *a: True",
                    "builtins.str = lambda x: 'meta'"),
        EX2: inside(WRONG2, "import builtins", "builtins.print = lambda *a, **k: None")},
    "importlib_reload_of_a_fake_check_written_to_disk": {
        EX1: inside(WRONG1, "import importlib, os, sys", "os.makedirs('helpers/check', exist_ok=True)",
                    "open('helpers/__init__.py', 'w').write('')",
                    "open('helpers/check/__init__.py', 'w').write('def to_device(f): return None')",
                    "sys.path.insert(0, os.getcwd())",
                    "[sys.modules.pop(m) for m in list(sys.modules) if m.startswith('helpers')]",
                    "importlib.import_module('helpers.check')"),
        EX2: inside(WRONG2, "import importlib, sys", "importlib.reload(sys.modules['helpers.check.nb00'])")},
    "files_written_as_results": {
        EX1: inside(WRONG1, "open('job.json', 'w').write('{}')", f"open('result.json', 'w').write('{FAKE_RECORD}')"),
        EX2: inside(WRONG2, "import os", f"[os.write(fd, b'{FAKE_RECORD}') for fd in range(3, 30) "
                                         "if os.path.exists(f'/proc/self/fd/{fd}')]")},
    # more of our own
    "check_module_global_patched_in_the_body": {
        EX1: inside(WRONG1, "import helpers.check.nb00 as m", "m._devices = lambda model: {'meta'}"),
        EX2: inside(WRONG2, "import helpers.exercises as e", "e.Outcome.passed = property(lambda self: True)")},
    "torch_patched": {
        EX1: inside(WRONG1, "import torch", "torch.nn.Module.parameters = lambda self, recurse=True: "
                    "iter([torch.nn.Parameter(torch.empty(1, device='meta'))])"),
        EX2: inside(WRONG2, "import torch", "torch.Tensor.to = lambda self, *a, **k: self")},
    "trace_and_gc_used_to_rewrite_the_grader": {
        EX1: inside(WRONG1, "import sys", "sys.settrace(lambda *a: None)"),
        EX2: inside(WRONG2, "import gc", "[o for o in gc.get_objects() if isinstance(o, dict)]")},
    "thread_left_behind_and_process_replaced": {
        EX1: inside(WRONG1, "import threading", "threading.Thread(target=print).start()"),
        EX2: inside(WRONG2, "import os, sys", "os.execv(sys.executable, [sys.executable, '-c', 'print(1)'])")},
    "shadowing_helpers_and_killing_the_grader": {
        EX1: "def helpers():\n    return None\n" + WRONG1,
        EX2: inside(WRONG2, "import os, signal", "os.kill(os.getppid(), signal.SIGKILL)")},
    "killing_itself_and_raising_system_exit": {
        EX1: inside(WRONG1, "import os, signal", "os.kill(os.getpid(), signal.SIGKILL)"),
        EX2: inside(WRONG2, "raise SystemExit(0)")},
}
CELL_CHEATS = {  # wrong answers with the notebook itself edited
    "locked_check_cells_edited_and_deleted": _edit_locked,
    "check_cells_duplicated_and_all_cells_reordered": _duplicate_and_reorder,
}


def build(folder):
    write(notebook({EX1: RIGHT1, EX2: RIGHT2}, edit=_wipe_metadata), folder / "wiped_metadata" / NB00.name)
    for name, cells in CHEATS.items():
        write(notebook(cells), folder / f"{name}.ipynb")
    for name, edit in CELL_CHEATS.items():
        write(notebook({EX1: WRONG1, EX2: WRONG2}, edit=edit), folder / f"{name}.ipynb")
    return [folder]


grading_support.BUILDERS["cheats"] = build


@functools.cache
def batch() -> dict[str, list[str]]:
    done = grading_support.batch()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {re.sub(r"\.ipynb$", "", label.split("/cheats/", 1)[1].split("/")[0]): lines
            for label, lines in blocks(done.stdout).items() if "/cheats/" in label}


@pytest.mark.parametrize("cheat", [*CHEATS, *CELL_CHEATS])
def test_cheat_scores_zero(cheat):
    lines = batch()[cheat]
    assert score(lines) == "score: 0 / 2", lines
    assert points(lines, CHECK1).startswith("0 / 1") and points(lines, CHECK2).startswith("0 / 1"), lines


def test_wiping_cell_metadata_scores_zero_and_says_the_cell_is_missing():
    lines = batch()["wiped_metadata"]
    assert score(lines) == "score: 0 / 2" and "is not in the notebook" in points(lines, CHECK1), lines


def test_tampering_is_named_in_the_verdict():
    found = batch()
    assert "changed helpers.check.nb00._devices" in points(found["check_module_global_patched_in_the_body"], CHECK1)
    assert "changed" in points(found["rebind_helpers_check"], CHECK2)
    assert "PermissionError: sys.settrace" in points(found["trace_and_gc_used_to_rewrite_the_grader"], CHECK1)
