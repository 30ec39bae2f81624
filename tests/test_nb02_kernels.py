"""Notebook 02's plumbing, as a learner meets it: the kernel editor's layout, the progress bar's total.

The notebook's own behaviour is tested by nbval (its check-yourself cell); these tests fail when
the fixes for issue 14's items are undone.
"""
import ast
from pathlib import Path

import nbformat
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import helpers.train
from helpers.widgets import kernel_editor

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_image_kernels.ipynb"
PRESETS = {"identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]], "blur": [[1, 2, 1], [2, 4, 2], [1, 2, 1]]}


def test_the_preset_dropdown_is_not_squeezed():
    """A Dropdown squeezed by its HBox loses its border and arrow: it is sized and the editor does not shrink."""
    editor = kernel_editor(PRESETS, lambda k: None)
    assert editor.dropdown.layout.width and editor.dropdown.layout.min_width, "the dropdown needs a width"
    assert editor.widget.layout.flex == "0 0 auto", "the editor's column must not shrink beside the picture"
    assert editor.dropdown.style.description_width, "a narrow label leaves room for the choice itself"


def test_the_preset_callback_still_fills_the_grid_and_redraws():
    seen = []
    editor = kernel_editor(PRESETS, seen.append, initial="identity")
    editor.dropdown.value = "blur"
    assert torch.equal(editor.kernel(), torch.tensor(PRESETS["blur"], dtype=torch.float32)) and len(seen) == 1


@pytest.mark.parametrize("data, batch_size, expected", [
    (TensorDataset(torch.zeros(10, 2), torch.zeros(10)), 4, 3),
    (TensorDataset(torch.zeros(8, 2), torch.zeros(8)), 4, 2),
    (DataLoader(TensorDataset(torch.zeros(10, 2), torch.zeros(10)), batch_size=3), 32, 4),
    ([(torch.zeros(2, 2), torch.zeros(2))] * 5, 32, 5),
    (iter([(torch.zeros(2, 2), torch.zeros(2))]), 32, None),
], ids=["dataset", "dataset_exact", "loader", "list_of_batches", "generator"])
def test_batch_count_is_what_batches_yields(data, batch_size, expected):
    assert helpers.train._batch_count(data, batch_size) == expected


def test_fit_gives_its_progress_bar_a_total(monkeypatch):
    totals = []
    real_tqdm = helpers.train.tqdm

    def spy(iterable, **kwargs):
        totals.append(kwargs.get("total"))
        return real_tqdm(iterable, **kwargs)

    monkeypatch.setattr(helpers.train, "tqdm", spy)
    data = TensorDataset(torch.randn(20, 3), torch.randint(0, 2, (20,)))
    helpers.train.fit(torch.nn.Linear(3, 2), data, epochs=2, batch_size=8, progress=False)
    assert totals == [3, 3], "a bar without a total shows '48/?'"


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_the_32_stem_kernels_are_shown_with_their_indices(notebook):
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "stem_shown = " in c.source)
    calls = [n for n in ast.walk(ast.parse(cell.source))
             if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "show_images"]
    assert calls and len(calls[0].args) >= 2, "show_images(kernels, titles, ...): the text names kernels by index"


def test_no_typed_speed_claim_in_the_markdown(notebook):
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "hundreds of times" not in text and "About 30" not in text, "print run-dependent figures from code"
