"""No answer in sight: a student copy shows no exercise's solution outside its (emptied) solution cell,
and in the teacher's notebook every exercise comes before any cell that shows or uses its answer.

What counts as "the solution": the statements between ``### BEGIN SOLUTION`` and ``### END
SOLUTION``, and the expression each of them returns or assigns, compared as ``ast`` trees with the
local names renamed in order of appearance (``exps / exps.sum(dim=dim)`` and ``e / e.sum(dim=d)``
are the same; reformatting and comments never hide a line). Modules (``torch``, ``F``), builtins and
attribute names are kept. Tiny statements (under ``MIN_STATEMENT`` nodes, e.g. ``return model,
batch``) and the few lines listed in ``SHARED`` are not counted: they say nothing an exercise asks.
Code cells are read whole; markdown cells (prompts, hints) by their code spans and blocks.

The mechanism that keeps a teacher's reference out of the student copy (a cell tagged
``student-import`` with a ``student_source`` line, the function in ``helpers/reference/nbNN.py``) is
checked here too: the tool replaces the cell, the line names an exercise that comes before it, and the
reference module's function is the teacher's cell's function (docstrings aside).
"""
from __future__ import annotations

import ast
import builtins
import copy
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*.ipynb"))
_spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebooks.py")
notebook_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_tool)

MIN_STATEMENT = 6   # nodes (expressions, statements, keywords, arguments) in a solution statement that counts
MIN_EXPRESSION = 5  # ... and in the expression it returns or assigns
SHARED = {  # solution lines that other cells may share, and why
    "kh, kw = kernel.shape": "02: reading a kernel's size, which every convolution in the notebook does",
}
EXERCISE_HEADING = re.compile(r"^#{2,4} Exercise (\d+)\b", re.M)
STUDENT_SOURCE = re.compile(r"^from helpers\.reference\.(nb\w+) import ([\w, ]+?)\s+#.*\bExercise (\d+)\b")
CODE_SPAN = re.compile(r"```(?:python)?\n(.*?)```|`([^`\n]+)`", re.S)


def _code(cell) -> str:
    return "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def _fixed_names(nb) -> set[str]:
    """Names never renamed: builtins and everything the notebook imports (torch, F, math, helpers, ...)."""
    fixed = set(dir(builtins))
    for cell in nb.cells:
        tree = _parse(_code(cell)) if cell.cell_type == "code" else None
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                fixed |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return fixed


def _size(node: ast.AST) -> int:
    return sum(isinstance(n, (ast.expr, ast.stmt, ast.keyword, ast.arg)) for n in ast.walk(node))


def _normal(node: ast.AST, fixed: set[str]) -> str:
    """The node as an ast dump with local names renamed v0, v1, ... in order of first appearance."""
    names: dict[str, str] = {}

    class Rename(ast.NodeTransformer):
        def visit_Name(self, n):
            if n.id not in fixed:
                n = ast.Name(id=names.setdefault(n.id, f"v{len(names)}"), ctx=ast.Load())
            return n

        def visit_arg(self, n):
            return ast.arg(arg=names.setdefault(n.arg, f"v{len(names)}"))

    return ast.dump(Rename().visit(copy.deepcopy(node)), annotate_fields=False)


def solution_keys(cell, fixed: set[str]) -> dict[str, str]:
    """normalised solution statement or expression -> its source, for one solution cell."""
    lines = cell.source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0].splitlines()
    body = "\n".join(line for line in lines if line.strip())
    indent = min(len(line) - len(line.lstrip()) for line in body.splitlines())
    tree = ast.parse("\n".join(line[indent:] for line in body.splitlines()))
    keys = {}
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt) or ast.unparse(stmt) in SHARED:
            continue
        if _size(stmt) >= MIN_STATEMENT:
            keys[_normal(stmt, fixed)] = ast.unparse(stmt)
        value = getattr(stmt, "value", None)
        if isinstance(value, ast.expr) and _size(value) >= MIN_EXPRESSION:
            keys[_normal(value, fixed)] = ast.unparse(value)
    return keys


def shown(cell, fixed: set[str]) -> set[str]:
    """Every normalised statement and expression a cell shows: its code, or its markdown's code spans."""
    if cell.cell_type == "code":
        trees = [_parse(_code(cell))]
    else:
        trees = [_parse(block or span) for block, span in CODE_SPAN.findall(cell.source)]
    found = set()
    for tree in filter(None, trees):
        for node in ast.walk(tree):
            if isinstance(node, (ast.stmt, ast.expr)) and not isinstance(node, ast.FunctionDef):
                found.add(_normal(node, fixed))
    return found


def exercises(nb) -> list[dict]:
    """Each exercise: number, prompt index, solution index, check index, grade_id, solution keys."""
    fixed = _fixed_names(nb)
    found = []
    for i, cell in enumerate(nb.cells):
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        prompt = next(j for j in range(i - 1, -1, -1) if nb.cells[j].cell_type == "markdown")
        heading = EXERCISE_HEADING.search(nb.cells[prompt].source)
        check = next(j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code")
        found.append({"number": int(heading.group(1)) if heading else None, "prompt": prompt, "solution": i,
                      "check": check, "grade_id": cell.metadata["nbgrader"]["grade_id"],
                      "keys": solution_keys(cell, fixed)})
    return found


# ---- the student copies --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def student_copies(tmp_path_factory) -> Path:
    built = ROOT / "build" / "student"   # `make test` writes them first: use them when none is stale
    makers = max(p.stat().st_mtime for p in [*NOTEBOOKS, ROOT / "tools" / "notebooks.py"])
    if all((built / p.name).exists() and (built / p.name).stat().st_mtime >= makers for p in NOTEBOOKS):
        return built
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (the offline GPU host: too big to carry)")
    out = tmp_path_factory.mktemp("student")
    subprocess.run([sys.executable, str(ROOT / "tools" / "notebooks.py"), "student", "--out", str(out)]
                   + [str(p) for p in NOTEBOOKS], check=True, timeout=600, capture_output=True)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_student_copy_shows_a_solution_outside_its_cell(student_copies, path):
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(student_copies / path.name, as_version=4)
    fixed = _fixed_names(teacher)
    leaks = []
    for exercise in exercises(teacher):
        for i, cell in enumerate(student.cells):
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == exercise["grade_id"]:
                continue
            for key in exercise["keys"].keys() & shown(cell, fixed):
                leaks.append(f"{exercise['grade_id']}: `{exercise['keys'][key]}` in student cell {i} "
                             f"({cell.cell_type}: {cell.source.strip().splitlines()[0][:60]!r})")
    assert not leaks, (f"{path.name}: the student copy shows exercise solutions outside their cells; move the "
                       "reference to helpers/reference and tag its cell student-import (docs/exercises.md):\n  "
                       + "\n  ".join(leaks))


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if any(
    notebook_tool.STUDENT_IMPORT_TAG in c.get("metadata", {}).get("tags", [])
    for c in nbformat.read(p, as_version=4).cells)], ids=lambda p: p.stem)
def test_student_import_cells_are_replaced_in_the_student_copy(student_copies, path):
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(student_copies / path.name, as_version=4)
    assert len(student.cells) == len(teacher.cells)
    for t, s in zip(teacher.cells, student.cells):
        if notebook_tool.STUDENT_IMPORT_TAG in t.get("metadata", {}).get("tags", []):
            assert s.source == t.metadata[notebook_tool.STUDENT_SOURCE_KEY], s.source
            assert notebook_tool.STUDENT_SOURCE_KEY not in s.metadata


# ---- the teacher's notebooks: order, numbering, the reference modules -------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_comes_before_its_answer(path):
    nb = nbformat.read(path, as_version=4)
    fixed = _fixed_names(nb)
    problems = []
    found = exercises(nb)
    earlier: set = set()   # statements an earlier exercise already asked for (04: AdamW repeats Adam's moments)
    for exercise in found:
        own = exercise["keys"].keys() - earlier
        earlier |= exercise["keys"].keys()
        for i, cell in enumerate(nb.cells[:exercise["prompt"]]):
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                continue  # an earlier exercise's answer: emptied in the student copy
            for key in own & shown(cell, fixed):
                problems.append(f"{exercise['grade_id']}: cell {i} shows `{exercise['keys'][key]}` before the "
                                f"exercise (cell {exercise['prompt']})")
        assert exercise["prompt"] == exercise["solution"] - 1, \
            f"{path.name}: {exercise['grade_id']}'s prompt should be the markdown cell right above its solution cell"
        assert exercise["number"] is not None, f"{path.name}: {exercise['grade_id']}'s prompt has no '### Exercise N'"
    numbers = [e["number"] for e in found]
    assert numbers == list(range(1, len(found) + 1)), \
        f"{path.name}: exercises numbered {numbers}, not 1, 2, ... in order"
    by_number = {e["number"]: e for e in found}
    for i, cell in enumerate(nb.cells):
        if notebook_tool.STUDENT_IMPORT_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        line = cell.metadata.get(notebook_tool.STUDENT_SOURCE_KEY, "")
        match = STUDENT_SOURCE.match(line)
        assert match, (f"{path.name}: cell {i}'s student_source should read 'from helpers.reference.nbNN import "
                       f"NAME  # ... Exercise N', got {line!r}")
        module, names, number = match.group(1), [n.strip() for n in match.group(2).split(",")], int(match.group(3))
        assert module == "nb" + path.stem.split("_")[0], \
            f"{path.name}: cell {i} imports from helpers.reference.{module}, another notebook's module"
        assert number in by_number, f"{path.name}: cell {i} names Exercise {number}, which does not exist"
        check = by_number[number]["check"]
        assert i > check, f"{path.name}: the reference for Exercise {number} (cell {i}) comes before its check"
        for j, other in enumerate(nb.cells[:check]):
            tree = _parse(_code(other)) if other.cell_type == "code" else None
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} if tree else set()
            problems += [f"cell {j} uses {name} before Exercise {number}" for name in names if name in used]
        reference = importlib.import_module(f"helpers.reference.{module}")
        defined = {n.name: n for n in ast.parse(_code(cell)).body if isinstance(n, ast.FunctionDef)}
        for name in names:
            assert name in defined, f"{path.name}: cell {i} imports {name} in the student copy but does not define it"
            ours = ast.parse(Path(reference.__file__).read_text())
            theirs = next(n for n in ours.body if isinstance(n, ast.FunctionDef) and n.name == name)
            assert _without_docstring(defined[name]) == _without_docstring(theirs), \
                (f"{path.name}: cell {i}'s {name} differs from helpers/reference/{module}.py's: the student copy "
                 "would run other code than the teacher's; make them the same (docstrings may differ)")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def _without_docstring(fn: ast.FunctionDef) -> str:
    """The function's code without its docstring and type hints (helpers carry hints, notebook cells need not)."""
    body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) \
        else fn.body
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return (ast.dump(ast.Module(body=body, type_ignores=[])) + repr(names)
            + ast.dump(ast.Tuple(elts=list(args.defaults), ctx=ast.Load())))


def test_the_leak_finder_sees_a_reformatted_renamed_answer():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("### Exercise 1 · size\n\nHint: `(m + 2*q - r)//t + 1`"),
                nbformat.v4.new_code_cell("def f(n, k, p, s):\n    ### BEGIN SOLUTION\n    return (n + 2 * p - k) // s"
                                          " + 1\n    ### END SOLUTION")]
    nb.cells[1].metadata["nbgrader"] = {"solution": True, "grade_id": "x"}
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb.cells.append(nbformat.v4.new_code_cell("def g(a, b, c, d):\n    return ((a+2*c-b)  //d) +1  # reformatted"))
    keys = exercises(nb)[0]["keys"]
    fixed = _fixed_names(nb)
    assert keys.keys() & shown(nb.cells[3], fixed), "the renamed, reformatted reference is the same answer"
    assert keys.keys() & shown(nb.cells[0], fixed), "a hint's code span showing the answer counts"
    assert not keys.keys() & shown(nb.cells[2], fixed)


def test_student_source_replaces_tagged_cells_and_refuses_a_golden_one():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("def h():\n    return 1")
    cell.metadata.update(tags=["student-import"], student_source="from helpers.reference.nb99 import h")
    nb.cells = [cell]
    notebook_tool.student_source(nb)
    assert nb.cells[0].source == "from helpers.reference.nb99 import h" and "student_source" not in nb.cells[0].metadata
    golden = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    golden.metadata.update(tags=["student-import"], student_source="x = 1")
    with pytest.raises(SystemExit, match="golden"):
        notebook_tool.student_source(nbformat.v4.new_notebook(cells=[golden]))
    bare = nbformat.v4.new_code_cell("y = 2")
    bare.metadata.update(tags=["student-import"])
    with pytest.raises(SystemExit, match="student_source"):
        notebook_tool.student_source(nbformat.v4.new_notebook(cells=[bare]))
