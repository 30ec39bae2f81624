"""helpers.record / helpers.recorded: JSON values only, numpy/torch scalars converted, the results file rewritten."""
import json

import numpy as np
import pytest
import torch

import helpers
from helpers import results


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(results, "_recorded", {})
    monkeypatch.delenv(results.RESULTS_FILE_ENV, raising=False)


def test_record_converts_numpy_and_torch_scalars_and_keeps_plain_values():
    assert helpers.record("acc", np.float32(0.5)) is None, "record returns nothing (no stray cell output)"
    helpers.record("steps", np.int64(3))
    helpers.record("loss", torch.tensor(1.25))
    helpers.record("table", {"b128": [np.float64(1.5), None, True, "x"]})
    got = helpers.recorded()
    assert got == {"acc": 0.5, "steps": 3, "loss": 1.25, "table": {"b128": [1.5, None, True, "x"]}}
    assert type(got["acc"]) is float and type(got["steps"]) is int


def test_recorded_returns_a_copy():
    helpers.record("xs", [1, 2])
    helpers.recorded()["xs"].append(3)
    assert helpers.recorded()["xs"] == [1, 2]


@pytest.mark.parametrize("value, words", [
    (torch.ones(3), "torch.Tensor"), (object(), "builtins.object"), (float("nan"), "no inf or nan"),
    ({1: 2}, "JSON keys are strings"), ([1, {2}], "builtins.set"),
])
def test_record_rejects_what_json_cannot_hold_with_a_clear_message(value, words):
    with pytest.raises(helpers.RecordError, match=words):
        helpers.record("bad", value)
    assert "bad" not in helpers.recorded()


@pytest.mark.parametrize("name", ["Accuracy", "1st", "with space", ""])
def test_record_rejects_names_that_are_not_snake_case(name):
    with pytest.raises(helpers.RecordError, match="snake_case"):
        helpers.record(name, 1)


def test_record_rewrites_the_results_file_when_the_runner_asks(tmp_path, monkeypatch):
    target = tmp_path / "00.json"
    helpers.record("before", 1)  # recorded before the variable was set: still written with the next one
    monkeypatch.setenv(results.RESULTS_FILE_ENV, str(target))
    helpers.record("after", 2.5)
    assert json.loads(target.read_text()) == {"before": 1, "after": 2.5}
    assert not list(tmp_path.glob(".*partial")), "the write must be atomic (no temporary file left)"
