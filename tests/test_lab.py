"""tools/lab.py and `make lab`: the learner's copies in work/ are made once, kept, reset on request,
find notebook 06's scripts, and never reach the test suite."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import lab  # noqa: E402


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    for name in ("05a_doggy_door", "05b_presidential_doggy_door", "06_multi_gpu_training"):
        nbformat.write(new_notebook(cells=[new_code_cell(f"print('{name}')")]), src / f"{name}.ipynb")
    (src / "not_numbered.ipynb").write_text("{}")
    return src


def test_copies_are_made_once_and_never_overwritten(source, tmp_path):
    work = tmp_path / "work"
    made, kept = lab.make_copies(source, work)
    assert [p.name for p in made] == sorted(p.name for p in source.glob("0*.ipynb")) and kept == []
    assert not (work / "not_numbered.ipynb").exists()
    mine = work / "05b_presidential_doggy_door.ipynb"
    mine.write_text("my own work")
    (source / "07_new.ipynb").write_text("{}")
    made, kept = lab.make_copies(source, work)
    assert [p.name for p in made] == ["07_new.ipynb"] and len(kept) == 3
    assert mine.read_text() == "my own work"


def test_scripts_resolve_from_work_as_from_notebooks(source, tmp_path):
    work = tmp_path / "work"
    lab.make_copies(source, work)
    # notebook 06 reads Path("scripts").resolve() from its own folder
    assert (work / "scripts").resolve() == (ROOT / "notebooks" / "scripts").resolve()
    assert (work / "scripts" / "train_ddp.py").is_file()


def test_reset_keeps_the_old_copy_and_copies_the_original(source, tmp_path):
    work = tmp_path / "work"
    lab.make_copies(source, work)
    mine = work / "05b_presidential_doggy_door.ipynb"
    mine.write_text("my own work")
    copy, moved = lab.reset("05b", source, work)
    assert copy == mine and copy.read_bytes() == (source / mine.name).read_bytes()
    assert moved.parent == work / ".old" and moved.read_text() == "my own work"
    assert lab.reset("06_multi_gpu_training.ipynb", source, work)[0].name == "06_multi_gpu_training.ipynb"


@pytest.mark.parametrize("name, why", [("05", "matches several notebooks"), ("09", "matches no notebook")])
def test_reset_names_the_choices_when_the_notebook_is_unclear(source, tmp_path, name, why):
    with pytest.raises(SystemExit, match=f"'{name}' {why}.*one of 05a, 05b, 06"):
        lab.reset(name, source, tmp_path / "work")


def test_an_empty_source_says_how_to_fix_it(tmp_path):
    with pytest.raises(SystemExit, match="LAB_SOURCE"):
        lab.make_copies(tmp_path, tmp_path / "work")


def test_work_is_git_ignored():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", "work/05b_presidential_doggy_door.ipynb"], cwd=ROOT)
    assert result.returncode == 0, "work/ must be in .gitignore: it holds the learner's notebooks"


def test_a_saved_notebook_in_work_is_never_collected(tmp_path):
    """A copy in work/ with 3 MB of outputs and a failing cell, as autosave leaves it: the suite's
    own settings (pyproject's testpaths, the root conftest) collect notebooks/ and tests/ only."""
    repo = tmp_path / "repo"
    for name in ("pyproject.toml", "conftest.py", "tests/sanitize.cfg"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, repo / name)
    (repo / "notebooks").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), repo / "notebooks" / "01_ok.ipynb")
    saved = new_code_cell("raise RuntimeError('learner was here')", execution_count=1,
                          outputs=[new_output("stream", name="stdout", text="x" * 3_000_000)])
    (repo / "work").mkdir()
    nbformat.write(new_notebook(cells=[saved]), repo / "work" / "01_ok.ipynb")
    (repo / "work" / "test_mine.py").write_text("def test_fails():\n    assert False\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q"], cwd=repo,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notebooks/01_ok.ipynb::Cell 0" in result.stdout
    assert "work/" not in result.stdout
    # and the hygiene checks read notebooks/ only
    from test_hygiene import NOTEBOOKS
    assert NOTEBOOKS and {p.parent for p in NOTEBOOKS} == {ROOT / "notebooks"}
