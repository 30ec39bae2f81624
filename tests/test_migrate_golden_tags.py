"""tools/migrate_golden_tags.py: the ``# NBVAL_CHECK_OUTPUT`` comment becomes nbval's cell tag, once."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbval.plugin import find_comment_markers, find_metadata_tags

ROOT = Path(__file__).resolve().parent.parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


migrate_golden_tags, notebook_tool = load("migrate_golden_tags"), load("notebooks")


def test_the_comment_becomes_the_tag_and_a_second_run_changes_nothing(tmp_path):
    golden = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=1,
                           outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")])
    plain = new_code_cell("x = 2  # NBVAL_CHECK_OUTPUT is only a mark on a line of its own")
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# NBVAL_CHECK_OUTPUT"), golden, plain]), path)
    assert notebook_tool.is_golden(nbformat.read(path, as_version=4).cells[1])

    assert migrate_golden_tags.main([str(path)]) == 0
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].source == "print(1)" and cells[1].metadata["tags"] == ["nbval-check-output"]
    assert cells[1].outputs[0]["text"] == "1\n", "the golden output is kept"
    assert dict(find_metadata_tags(cells[1].metadata)) == {"check": True}, "nbval reads the tag"
    assert not dict(find_comment_markers(cells[1].source))
    assert notebook_tool.is_golden(cells[1]) and not notebook_tool.is_golden(cells[2])
    assert cells[0].source == "# NBVAL_CHECK_OUTPUT", "markdown is left alone"

    before = path.read_text()
    assert migrate_golden_tags.main([str(path)]) == 0
    assert path.read_text() == before, "re-running changes nothing"
