"""The shape of helpers/ (ARCHITECTURE.md): small modules, no cycles, one import path per name,
every public helper named after and used by a notebook, and ``import helpers`` kept light."""
import ast
import importlib
import inspect
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

import helpers

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCRIPTS = sorted((ROOT / "notebooks" / "scripts").glob("*.py"))
MAX_LINES = 400
COMMAND_LINE = {"prepare"}  # run by `make data`, not by a notebook
NOTEBOOK_REF = re.compile(r"notebooks? ((?:\d\d[ab]?(?:, | and | to |-|–)?)+)")
MODULES = sorted(p.stem for p in HELPERS.glob("*.py") if p.stem != "__init__")
CHECK_MODULES = sorted((HELPERS / "check").glob("nb*.py"))  # exercise checks: notebooks call helpers.check.NAME
# Reference answers (helpers/reference/nbNN.py): the STUDENT copies import them in place of a teacher's cell tagged
# student-import (docs/exercises.md), while the teacher's notebook shows the same code in that cell. So the rule
# "used by the notebook its docstring names" reads, for them: imported by that notebook's student_source line.
REFERENCE_MODULES = sorted((HELPERS / "reference").glob("nb*.py"))


def _code(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join("\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                     for c in nb.cells if c.cell_type == "code")


def _names(tree: ast.AST) -> set[str]:
    """Every bare name and attribute name that ``tree`` mentions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name.split(".")[-1])
            if node.asname:
                found.add(node.asname)
    return found


def _definitions() -> dict[str, list[tuple[str, ast.AST]]]:
    """name -> [(module, definition)] for every function, class and constant at the top of a helpers module."""
    defs: dict[str, list[tuple[str, ast.AST]]] = {}
    sources = [(m, HELPERS / f"{m}.py") for m in MODULES] + [(f"check.{p.stem}", p) for p in CHECK_MODULES]
    for module, path in sources:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs.setdefault(node.name, []).append((module, node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        defs.setdefault(target.id, []).append((module, node))
    return defs


DEFS = _definitions()


def _used_by(path: Path) -> set[str]:
    """Helper names the notebook uses: those its code (and its scripts, for 06) names, and what they use in turn."""
    sources = [_code(path)] + ([p.read_text() for p in SCRIPTS] if path.name.startswith("06") else [])
    todo = set().union(*(_names(ast.parse(s)) for s in sources))
    used: set[str] = set()
    while todo:
        name = todo.pop()
        if name in used:
            continue
        used.add(name)
        for _, node in DEFS.get(name, []):
            todo |= _names(node) - used
    return used


USED = {p.name[:3].rstrip("_"): _used_by(p) for p in NOTEBOOKS}


def _notebooks_named(doc: str) -> set[str]:
    named = set()
    for group in NOTEBOOK_REF.findall(doc):
        named |= set(re.findall(r"\d\d[ab]?", group))
    return named


def _public_definitions():
    for module in MODULES:
        if module.startswith("_") or module in COMMAND_LINE:
            continue
        mod = importlib.import_module(f"helpers.{module}")
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{module}.{name}", name, obj


def _id(x):
    return x if isinstance(x, str) and "." in x else ""


@pytest.mark.parametrize("qualname, name, obj", list(_public_definitions()), ids=_id)
def test_every_public_helper_names_a_notebook_that_uses_it(qualname, name, obj):
    if inspect.isclass(obj):  # exceptions and records: used (raised, returned) by a notebook's helpers
        users = sorted(nb for nb, used in USED.items() if name in used)
        assert users, f"helpers.{qualname} is used by no notebook, not even through another helper: remove it"
        return
    doc = inspect.getdoc(obj) or ""
    named = _notebooks_named(doc.split("\n\n")[0])
    assert named, f"helpers.{qualname}: the docstring's first paragraph should name the notebook that uses it"
    unused = sorted(nb for nb in named if nb not in USED or name not in USED[nb])
    assert not unused, (f"helpers.{qualname}: the docstring names notebook(s) {unused}, which do not use it "
                        f"(users: {sorted(nb for nb, used in USED.items() if name in used) or 'none'})")
    if inspect.isfunction(obj):
        assert "return" in obj.__annotations__, f"helpers.{qualname} has no return type hint"


def test_the_docstring_check_can_fail():
    assert _notebooks_named("Return x (notebooks 02, 05a and 06).") == {"02", "05a", "06"}
    assert "fit" in USED["02"] and "batches" in USED["02"], "fit, and batches through fit"
    assert "sample_photos" not in USED["00"]


def _student_imports(stem: str) -> set[str]:
    """Names the student copy of notebook ``stem`` imports from helpers.reference (its student_source lines)."""
    path = next(p for p in NOTEBOOKS if p.name.split("_")[0] == stem)
    names = set()
    for cell in nbformat.read(path, as_version=4).cells:
        line = cell.get("metadata", {}).get("student_source", "")
        match = re.match(rf"from helpers\.reference\.nb{stem} import ([\w, ]+)", line)
        if "student-import" in cell.get("metadata", {}).get("tags", []) and match:
            names |= {n.strip() for n in match.group(1).split(",")}
    return names


@pytest.mark.parametrize("path", REFERENCE_MODULES, ids=lambda p: p.name)
def test_every_reference_answer_names_the_notebook_whose_student_copy_imports_it(path):
    stem = path.stem.removeprefix("nb")
    module = importlib.import_module(f"helpers.reference.{path.stem}")
    public = [(n, f) for n, f in vars(module).items() if inspect.isfunction(f) and not n.startswith("_")
              and f.__module__ == module.__name__]
    assert public, f"helpers/reference/{path.name} defines no reference answer: remove it"
    imported = _student_imports(stem)
    for name, fn in public:
        named = _notebooks_named((inspect.getdoc(fn) or "").split("\n\n")[0])
        assert named == {stem}, f"helpers.reference.{path.stem}.{name}: the docstring should name notebook {stem}"
        assert name in imported, (f"helpers.reference.{path.stem}.{name} is imported by no student-import cell of "
                                  f"notebook {stem}: remove it, or tag the teacher's cell (docs/exercises.md)")
        assert "return" in fn.__annotations__, f"helpers.reference.{path.stem}.{name} has no return type hint"


@pytest.mark.parametrize("path", sorted(HELPERS.glob("*.py")) + REFERENCE_MODULES + SCRIPTS, ids=lambda p: p.name)
def test_no_module_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it along its seams (ARCHITECTURE.md)"


# helpers/check/, helpers/reference/ and helpers/exercises.py are being rewritten elsewhere (issue 22's note)
UNIT_CHECKED = [p for p in sorted(HELPERS.glob("*.py")) if p.name != "exercises.py"] + SCRIPTS
MAX_FUNCTION_LINES, MAX_CLASS_LINES, WRAP = 60, 150, 100


def _too_long(source: str) -> list[str]:
    """Every function over MAX_FUNCTION_LINES and class over MAX_CLASS_LINES lines in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > (MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES):
                found.append(f"{node.name} ({lines} lines)")
    return found


def _wrapped_lines(source: str) -> int:
    """How many lines ``source`` would have with every line wrapped at WRAP characters."""
    return sum(max(1, math.ceil(len(line) / WRAP)) for line in source.splitlines())


@pytest.mark.parametrize("path", UNIT_CHECKED, ids=lambda p: p.name)
def test_no_function_over_60_lines_and_no_class_over_150(path):
    too_long = _too_long(path.read_text())
    assert not too_long, (f"{path.relative_to(ROOT)}: {', '.join(too_long)}; a unit should fit in one's head: "
                          "give its parts names of their own (ARCHITECTURE.md)")


@pytest.mark.parametrize("path", sorted(HELPERS.glob("*.py")) + SCRIPTS, ids=lambda p: p.name)
def test_no_module_stays_under_the_line_cap_by_packing_lines(path):
    wrapped = _wrapped_lines(path.read_text())
    assert wrapped <= MAX_LINES, (f"{path.relative_to(ROOT)} would have {wrapped} lines wrapped at {WRAP} "
                                  f"columns: it meets the {MAX_LINES}-line cap only with long lines; split it")


def test_the_length_checks_can_fail():
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert _too_long(f"def f():\n{body}\n") == ["f (61 lines)"]
    assert _too_long(f"def f():\n{body[:-len('    x59 = 59')].rstrip()}\n") == []
    methods = "\n".join(f"    def m{i}(self):\n        return {i}\n" for i in range(51))
    assert _too_long(f"class C:\n{methods}") == ["C (153 lines)"]
    assert _wrapped_lines("a" * 100 + "\n" + "b" * 101 + "\n\n") == 4


# Docstrings keep to 1-3 lines (issue 22): the summary and the why; details go to ARCHITECTURE.md's
# "Units the docstrings point to", docs/exercises.md or a comment at the line they explain.
MAX_DOCSTRING_LINES = 3
DOCSTRING_CHECKED = sorted(HELPERS.rglob("*.py")) + sorted((ROOT / "tools").rglob("*.py")) + SCRIPTS


def _long_docstrings(source: str) -> list[str]:
    """'line NAME (N lines)' for every module, class and function docstring over MAX_DOCSTRING_LINES."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node, clean=False)
            lines = len(doc.strip().splitlines()) if doc else 0
            if lines > MAX_DOCSTRING_LINES:
                found.append(f"{getattr(node, 'lineno', 1)} {getattr(node, 'name', '(module)')} ({lines} lines)")
    return found


@pytest.mark.parametrize("path", DOCSTRING_CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_docstring_over_3_lines(path):
    long = _long_docstrings(path.read_text())
    where = ", ".join(f"{path.relative_to(ROOT)}:{entry}" for entry in long)
    assert not long, (f"{where}: keep a docstring to {MAX_DOCSTRING_LINES} lines (what it returns or is for, "
                      "and why); move the details to ARCHITECTURE.md ('Units the docstrings point to') or to "
                      "comments at the lines they explain")


def test_the_docstring_length_check_can_fail():
    four = 'def f():\n    """One.\n\n    Two.\n    Three."""\n'
    assert _long_docstrings(four) == ["1 f (4 lines)"]
    assert _long_docstrings(four.replace("\n    Three.", " Three.")) == []
    assert _long_docstrings('"""A\nB\nC\nD"""\nclass C:\n    """x"""\n') == ["1 (module) (4 lines)"]
    method = 'class C:\n    def m(self):\n        """a\n        b\n        c\n        d\n        """\n'
    assert _long_docstrings(method) == ["2 m (4 lines)"], "a closing quote on its own line is no line of text"


def _package_imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported helpers module, line, at top level?) for each relative import in ``module``."""
    tree = ast.parse((HELPERS / f"{module}.py").read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            targets = [node.module] if node.module else [a.name for a in node.names]
            found += [(t.split(".")[0], node.lineno, id(node) in top) for t in targets]
    return found


def test_no_import_cycle_among_helpers_modules():
    graph = {m: {t for t, _, _ in _package_imports(m) if t in MODULES} for m in MODULES + ["__init__"]}

    def visit(module, path):
        for target in sorted(graph.get(module, ())):
            assert target not in path, f"import cycle: {' -> '.join(path[path.index(target):] + [target])}"
            visit(target, path + [target])

    for module in MODULES:
        visit(module, [module])


def test_imports_between_helpers_modules_sit_at_the_top():
    late = [f"helpers/{m}.py:{line} imports .{t}" for m in MODULES + ["__init__"]
            for t, line, at_top in _package_imports(m) if not at_top]
    assert not late, f"move these imports to the top of the module: {late}"


def test_import_helpers_loads_neither_pil_nor_the_doggy_door_code():
    probe = textwrap.dedent("""
        import sys
        import helpers
        print(" ".join(sorted(sys.modules)))
    """)
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())
    assert "helpers.config" in loaded, "the probe did not import this checkout's helpers"
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("PIL", "matplotlib", "ipywidgets")
                   or m in {"helpers.door_data", "helpers.photos", "helpers.uploads", "helpers.widgets",
                            "helpers._qt_resources", "helpers.images", "helpers.plots"})
    assert not heavy, f"`import helpers` (notebooks 00 and 01) loaded {heavy}"


def test_lazy_top_level_names_resolve():
    for name in helpers._LAZY:
        assert callable(getattr(helpers, name)), name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        helpers.nope  # noqa: B018


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_import_path_per_name(path):
    """A name re-exported at the top is used as helpers.NAME, never imported from its module."""
    tree = ast.parse(_code(path))
    twice = [(node.module, a.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and (node.module or "").startswith("helpers.") for a in node.names if a.name in helpers.__all__]
    assert not twice, f"{path.name}: use helpers.NAME for {twice} (they are re-exported at the top)"


def test_every_top_level_export_is_used_by_a_notebook():
    used = set().union(*(_names(ast.parse(_code(p))) for p in NOTEBOOKS))
    exceptions = {n for n in helpers.__all__ if isinstance(getattr(helpers, n), type)
                  and issubclass(getattr(helpers, n), Exception)}  # what a learner catches; messages name them
    unused = sorted(set(helpers.__all__) - used - exceptions)
    assert not unused, f"helpers re-exports {unused}, which no notebook uses: drop them from helpers/__init__.py"
