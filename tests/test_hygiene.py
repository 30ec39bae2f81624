"""Repository hygiene: notebook names, kernels, stored outputs, pins, helper docstrings."""
import ast
import importlib.util
import inspect
import re
from pathlib import Path

import ipykernel.kernelspec
import nbformat
import pytest

import helpers

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAME = re.compile(r"^\d\d[a-z]?_[a-z0-9]+(_[a-z0-9]+)*\.ipynb$")

# the same rule for "golden cell" as tools/notebooks.py, which stores and strips outputs
_spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebooks.py")
notebook_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_tool)
is_golden = notebook_tool.is_golden


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    assert NAME.match(path.name), f"{path.name}: name must look like NN_snake_case.ipynb or NNa_snake_case.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernelspec must be python3"
    installed = ipykernel.kernelspec.get_kernel_dict()["display_name"]
    assert nb.metadata["kernelspec"].get("display_name") == installed, (
        f"{path.name}: kernelspec display name {nb.metadata['kernelspec'].get('display_name')!r} differs from the "
        f"installed kernel's {installed!r}, so JupyterLab opens it modified; run `.venv/bin/python tools/notebooks.py "
        "strip`")
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{path.name}: code cell {i} stores an error output"
        assert "# NBVAL_CHECK_OUTPUT" not in cell.source, (
            f"{path.name}: code cell {i} marks itself golden with a comment in the learner's code; tag it "
            "nbval-check-output instead (`.venv/bin/python tools/migrate_golden_tags.py notebooks/*.ipynb`)")
        if not is_golden(cell):
            assert not cell.get("outputs"), (f"{path.name}: code cell {i} stores outputs but is not golden; "
                                             "run `.venv/bin/python tools/notebooks.py strip`")
        else:
            assert cell.get("outputs"), f"{path.name}: golden cell {i} has no stored output to compare"
    assert "import helpers" in code[0].source, \
        f"{path.name}: the first code cell should import helpers and set the knobs"
    tail = "\n".join(c.source for c in code[-3:])
    assert "assert" in tail, f"{path.name}: should end with a check-yourself cell of assertions"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    assert "check yourself" in text, f"{path.name}: no 'Check yourself' section"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_do_not_redefine_helpers(path):
    nb = nbformat.read(path, as_version=4)
    public = set(helpers.__all__)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.name not in public, f"{path.name} redefines helpers.{node.name}"


def test_environment_yml_pins_match_pyproject():
    pyproject = set(re.findall(r'^\s+"([A-Za-z0-9_.\-]+==[^"]+)",$', (ROOT / "pyproject.toml").read_text(), re.M))
    conda = set(re.findall(r"^\s+- ([A-Za-z0-9_.\-]+==\S+)$", (ROOT / "environment.yml").read_text(), re.M))
    assert pyproject, "no pins found in pyproject.toml"
    assert pyproject == conda, f"only in pyproject: {pyproject - conda}; only in environment.yml: {conda - pyproject}"


def _public_functions():
    for name in helpers.__all__:
        obj = getattr(helpers, name)
        if inspect.isfunction(obj):
            yield name, obj


@pytest.mark.parametrize("name, fn", list(_public_functions()), ids=lambda x: x if isinstance(x, str) else "")
def test_public_helpers_have_hints_and_a_docstring_naming_a_notebook(name, fn):
    doc = inspect.getdoc(fn) or ""
    assert re.search(r"notebooks? \d\d", doc.splitlines()[0] if doc else ""), \
        f"helpers.{name}: the docstring's first line should say what it returns and name its notebook"
    assert "return" in fn.__annotations__, f"helpers.{name} has no return type hint"


def test_library_code_does_not_print():
    allowed = {"prepare.py", "exercises.py"}  # their job is to report (exercises: the check's verdict line)
    for path in (ROOT / "helpers").glob("*.py"):
        if path.name in allowed:
            continue
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert not calls, f"helpers/{path.name} calls print() at line {calls[0].lineno}; return values instead"


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_follow_the_convention(path):
    """docs/exercises.md: a solution cell defines a function and is followed by its locked, pointed check cell."""
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    for i, cell in enumerate(cells):
        meta = _nbgrader(cell)
        if meta.get("solution"):
            where = f"{path.name}: solution cell {meta.get('grade_id')!r} (cell {i})"
            assert cell.cell_type == "code" and meta.get("grade_id"), f"{where} needs a grade_id"
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, \
                f"{where} must mark its answer with ### BEGIN SOLUTION / ### END SOLUTION"
            assert cell.source.lstrip().startswith("def "), \
                f"{where}: an exercise is a function the learner completes (the stub then never breaks Run All)"
            after = next((c for c in cells[i + 1:] if c.cell_type == "code"), None)
            assert after is not None and _nbgrader(after).get("grade"), f"{where} has no check cell right after it"
            assert "helpers.check." in after.source, \
                f"{where}: its check cell should call helpers.check.<exercise>(...)"
        if meta.get("grade"):
            where = f"{path.name}: grade cell {meta.get('grade_id')!r} (cell {i})"
            assert meta.get("points", 0) > 0, f"{where} has no points"
            assert meta.get("locked"), f"{where} must be locked (the learner must not edit the check)"
        if "BEGIN SOLUTION" in cell.source:
            assert meta.get("solution"), \
                f"{path.name}: cell {i} has a solution region but no nbgrader solution metadata"


def test_grade_ids_are_unique_across_the_collection():
    seen = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = _nbgrader(cell).get("grade_id")
            if grade_id:
                assert grade_id not in seen, f"grade_id {grade_id!r} is used in {seen[grade_id]} and {path.name}"
                seen[grade_id] = path.name
    assert seen, "no exercise anywhere: notebook 00 should have two"


# The layout every notebook follows (ARCHITECTURE.md, "A notebook's layout"): the first code cell sets up
# (imports, mode, device, seed, paths); each section's settings sit in the first code cell of that section;
# what the notebook records for results/*.json is gathered where it concludes, after its "## Summary" heading.
SETUP_NAMES = {"MODE", "DEVICE", "SEED", "STARTED", "PLAN"}
PATH_SUFFIXES = ("DIR", "ROOT", "PATH", "SCRIPTS", "FILE")


def _sections(nb):
    """(heading, [code cells]) for each ``## `` section, the cells above the first heading under ""."""
    sections = [("", [])]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next((line for line in cell.source.splitlines() if line.startswith("## ")), None)
            if heading:
                sections.append((heading, []))
        elif cell.cell_type == "code":
            sections[-1][1].append(cell)
    return sections


def _tree(cell) -> ast.Module:
    return ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))


def _settings(tree: ast.AST) -> set[str]:
    """UPPER_CASE names that ``tree`` assigns at its top level (a cell's settings)."""
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and name.id.isupper() and len(name.id) > 1:
                    names.add(name.id)
    return names


def _picks(tree: ast.AST) -> int:
    return sum(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "fast_or_full"
               for n in ast.walk(tree))


def _records(tree: ast.AST) -> int:
    return sum(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "record"
               and isinstance(n.func.value, ast.Name) and n.func.value.id == "helpers" for n in ast.walk(tree))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_layout_setup_first_settings_per_section_records_at_the_end(path):
    nb = nbformat.read(path, as_version=4)
    sections = _sections(nb)
    code = [c for _, cells in sections for c in cells]
    setup = _tree(code[0])
    extra = {n for n in _settings(setup) - SETUP_NAMES if not n.endswith(PATH_SUFFIXES)}
    assert not extra and not _picks(setup), (
        f"{path.name}: the first code cell should hold imports, mode, device, seed and paths only; move "
        f"{sorted(extra) or 'its helpers.fast_or_full settings'} to the top of the section that uses them")
    summary = next((i for i, (heading, _) in enumerate(sections) if heading.startswith("## Summary")), None)
    assert summary is not None, f"{path.name}: no '## Summary' section to gather the recorded results in"
    for i, (heading, cells) in enumerate(sections):
        for j, cell in enumerate(cells):
            tree = _tree(cell)
            if j > 0:  # a section's first code cell holds its settings (the notebook's first: checked above)
                late = _settings(tree)
                assert not _picks(tree) and (not late or i >= summary), (
                    f"{path.name}: section {heading or 'introduction'!r}, code cell {j + 1} sets "
                    f"{sorted(late) or 'helpers.fast_or_full settings'}; a section's settings belong in its first "
                    "code cell")
            assert i >= summary or not _records(tree), (
                f"{path.name}: section {heading or 'introduction'!r} calls helpers.record; gather the recorded "
                "results in the conclusion, after '## Summary'")


def test_the_layout_check_can_fail(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import helpers\nMODE = helpers.mode()\nLR = helpers.fast_or_full(fast=1, full=2)"),
        nbformat.v4.new_markdown_cell("## 1. A section"),
        nbformat.v4.new_code_cell("STEPS = 3"),
        nbformat.v4.new_code_cell("EPOCHS = 2\nhelpers.record('x', 1)"),
        nbformat.v4.new_markdown_cell("## Summary"),
        nbformat.v4.new_code_cell("helpers.record('y', 2)"),
    ])
    path = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match=r"LR"):
        test_notebook_layout_setup_first_settings_per_section_records_at_the_end(path)
    nb.cells[0].source = "import helpers\nMODE = helpers.mode()\nDATA_DIR = 'data'"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match=r"EPOCHS"):
        test_notebook_layout_setup_first_settings_per_section_records_at_the_end(path)
    nb.cells[3].source = "helpers.record('x', 1)"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match=r"gather the recorded"):
        test_notebook_layout_setup_first_settings_per_section_records_at_the_end(path)
    nb.cells[3].source = "x = 1"
    nbformat.write(nb, path)
    test_notebook_layout_setup_first_settings_per_section_records_at_the_end(path)
