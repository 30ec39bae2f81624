"""helpers.exercises: the verdict lines, 'not done yet', and raising only under nbgrader."""
import pytest

from helpers.exercises import ExerciseNotPassed, Wrong, exercise, expect, grading


@exercise
def double(answer):
    expect(answer(2) == 4, f"double(2) should be 4, got {answer(2)!r}")
    return "doubles a number"


def stub(x):
    raise NotImplementedError()


@pytest.mark.parametrize("value, expected", [("autograde", True), ("validate", True), ("", False), ("other", False)])
def test_grading_follows_nbgraders_variable(monkeypatch, value, expected):
    monkeypatch.setenv("NBGRADER_EXECUTION", value)
    assert grading() is expected


@pytest.mark.parametrize("answer, status, words", [
    (lambda x: 2 * x, "passed", "✓ double: doubles a number"),
    (lambda x: x + 1, "wrong", "✗ double: double(2) should be 4, got 3"),
    (stub, "not done", "… double: not done yet"),
    (lambda x: 1 / 0, "wrong", "your function raised ZeroDivisionError: division by zero"),
    (lambda x: (_ for _ in ()).throw(NotImplementedError("Cannot copy out of meta tensor")), "wrong",
     "raised NotImplementedError: Cannot copy out of meta tensor"),
    (42, "wrong", "expected your function, got int"),
])
def test_outcome_says_in_words_what_happened(answer, status, words):
    result = double.outcome(answer)
    assert result.status == status and words in result.line


def test_interactively_a_check_prints_and_does_not_raise(monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert double(stub) is None and double(lambda x: x) is None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("… double: not done yet") and out[1].startswith("✗ double:")


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_under_nbgrader_a_wrong_or_unfinished_answer_raises(monkeypatch, mode):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    for answer in (stub, lambda x: x):
        with pytest.raises(ExerciseNotPassed):
            double(answer)
    double(lambda x: 2 * x)  # a right answer passes silently apart from its line


def test_wrong_is_what_expect_raises():
    with pytest.raises(Wrong, match="why"):
        expect(False, "why")
    expect(True, "never shown")


def test_in_a_kernel_the_verdict_is_coloured_html_that_wraps_between_words(tmp_path):
    """JupyterLab wraps plain output mid-word; the verdict is HTML (word-break: normal) with the line as text."""
    import nbformat
    from nbclient import NotebookClient

    source = ("from helpers.exercises import exercise, expect\n"
              "@exercise\ndef doubling(answer):\n"
              "    expect(answer(2) == 4, 'twice two is four, not <b>' + str(answer(2)))\n"
              "    return 'doubles'\n"
              "doubling(lambda x: 2 * x)\ndoubling(lambda x: x)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                           "language": "python"}})
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data", "display_data"], outputs
    passed, wrong = (o.data for o in outputs)
    assert passed["text/plain"] == "✓ doubling: doubles" and "#1a7f37" in passed["text/html"]
    assert wrong["text/plain"] == "✗ doubling: twice two is four, not <b>2"
    assert "#cf222e" in wrong["text/html"] and "&lt;b&gt;2" in wrong["text/html"]
    assert "word-break: normal" in wrong["text/html"]


def test_a_check_leaves_the_notebooks_random_numbers_alone():
    """A check that seeds and draws (e.g. to build a test model) must not change what the notebook draws next."""
    import random

    import numpy as np
    import torch

    @exercise
    def seeds_and_draws(answer):
        torch.manual_seed(0), random.seed(0), np.random.seed(0)
        torch.rand(3), random.random(), np.random.rand()
        return "drew"

    def draws():
        return torch.rand(2).tolist(), random.random(), np.random.rand()

    torch.manual_seed(123), random.seed(123), np.random.seed(123)
    expected = draws()
    torch.manual_seed(123), random.seed(123), np.random.seed(123)
    assert seeds_and_draws.outcome(lambda: None).passed
    assert draws() == expected
    torch.manual_seed(123)
    seeds_and_draws.checker(lambda: None)  # without the protection, the draws change: the test can fail
    assert torch.rand(2).tolist() != expected[0]
