"""Notebook 01 keeps the names, signatures and golden figures that readers and issue 3 rely on.

The notebook's behaviour is tested by nbval (its own self-checks); this file only reads it.
"""
import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_softmax_stability.ipynb"
PROMISED = ("naive_softmax", "stable_softmax", "stable_log_softmax")
# McCaffrey's worked example: exponentials, their sum, the shifted exponentials; the probabilities.
MCCAFFREY_FIGURES = ("20.0855", "148.4132", "7.3891", "175.8878", "0.1353", "0.0498", "0.1142", "0.8438")


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _top_level_functions(notebook) -> dict[str, ast.FunctionDef]:
    found = {}
    for cell in _code_cells(notebook):
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = node
    return found


@pytest.mark.parametrize("name", PROMISED)
def test_defines_the_promised_function_with_its_signature(notebook, name):
    functions = _top_level_functions(notebook)
    assert name in functions, f"{NOTEBOOK.name} no longer defines {name}(logits, dim=-1)"
    fn = functions[name]
    assert [a.arg for a in fn.args.args] == ["logits", "dim"], f"{name} should take (logits, dim=-1)"
    assert ast.literal_eval(fn.args.defaults[-1]) == -1, f"{name}'s dim should default to -1"


def test_golden_outputs_show_mccaffreys_figures(notebook):
    golden = [c for c in _code_cells(notebook) if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    text = "".join(o.get("text", "") for c in golden for o in c.get("outputs", []))
    missing = [figure for figure in MCCAFFREY_FIGURES if figure not in text]
    assert not missing, (f"{NOTEBOOK.name}: the stored golden outputs lack McCaffrey's figures {missing}; "
                         "rerun `.venv/bin/python tools/notebooks.py golden notebooks/01_softmax_stability.ipynb`")


def test_the_temperature_chart_is_drawn_once_by_the_panel(notebook):
    """The T = 1 chart used to appear twice: drawn by a direct call, then again by the slider."""
    calls = [node.value for cell in _code_cells(notebook) for node in ast.parse(cell.source).body
             if isinstance(node, (ast.Expr, ast.Assign)) and isinstance(node.value, ast.Call)]
    names = [getattr(call.func, "id", None) for call in calls]
    assert "draw_temperature" not in names, "a direct draw_temperature(...) call draws the chart a second time"
    assert "temperature_panel" in names, "the slider is built with helpers.widgets.temperature_panel"


def test_temperature_panel_shows_one_chart_and_redraws_on_a_move():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.widgets import temperature_panel

    drawn = []

    def draw(t):
        drawn.append(t)
        fig, ax = plt.subplots()
        ax.set_title(f"T = {t}")
        return fig

    panel = temperature_panel(draw, value=1.0)
    assert drawn == [1.0] and len(panel.output.outputs) == 1
    panel.slider.value = 0.1
    assert drawn[-1] == pytest.approx(0.1) and len(drawn) == 2
    assert len(panel.output.outputs) == 1, "one chart, the new one (the old one replaced)"
    assert plt.get_fignums() == [], "the panel closes its figures (none shown again below the cell)"
    with pytest.raises(ValueError, match="0 < low <= value <= high"):
        temperature_panel(draw, value=1000.0)
