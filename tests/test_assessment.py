"""Notebook 08's grader and data: every bad hand-in gets one message and 0, and the held-out set cannot be edited."""
import json
import os
import shutil

import pytest
import timm
import torch
from torch import nn

from helpers import assessment
from helpers.assessment import evaluate_saved_model, run_assessment
from helpers.assessment_data import CLASSES, HELDOUT_FOLDER, MANIFEST, build_assessment_data, file_name, plan
from helpers.exercises import ExerciseNotPassed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A private data folder holding a copy of the built held-out set (so tests may damage it)."""
    built = build_assessment_data()
    root = tmp_path_factory.mktemp("data")
    shutil.copytree(built.heldout_root, root / HELDOUT_FOLDER)
    return root


@pytest.fixture(scope="module")
def right_file(tmp_path_factory):
    torch.manual_seed(0)
    model = nn.Sequential(timm.create_model("tf_efficientnet_lite0", pretrained=False), nn.Linear(1000, 6))
    path = tmp_path_factory.mktemp("model") / "model.pt"
    torch.save(model.state_dict(), path)
    return path


def refused(path, data, words):
    outcome = evaluate_saved_model(path, data, "fast")
    assert not outcome["ok"] and words in outcome["message"], outcome
    return outcome


def test_split_is_by_source_and_every_class_is_held_out():
    sources = plan()
    assert {s.label for s in sources if s.split == "heldout"} == set(CLASSES)
    by_id = {}
    for s in sources:
        assert by_id.setdefault(s.sid, s.split) == s.split
    assert len({s.sid for s in sources}) == len(sources), "one split per source photo"


def test_the_learner_folder_holds_no_held_out_photo():
    built = build_assessment_data()
    held = {s.sid for s in plan() if s.split == "heldout"}
    assert held and not held & set(built.groups.values())
    manifest = json.loads((built.root / MANIFEST).read_text())
    assert all(entry["split"] in ("train", "valid") for entry in manifest["files"].values())


def test_missing_file(data, tmp_path):
    refused(tmp_path / "nothing.pt", data, "no file at")


def test_not_a_state_dict(data, tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(3)], path)
    refused(path, data, "is not a state dict")
    (tmp_path / "text.pt").write_text("not a model")
    refused(tmp_path / "text.pt", data, "is not a file torch.save wrote")


def test_whole_pickled_model(data, tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(nn.Sequential(nn.Linear(1000, 6)), path)
    refused(path, data, "holds a whole pickled model")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_runs_code_is_refused_and_does_not_run(data, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"1.weight": _Evil(marker)}, path)
    refused(path, data, "asks to run code when loaded")
    assert not marker.exists()


def test_two_outputs(data, tmp_path):
    path = tmp_path / "two.pt"
    torch.save(nn.Sequential(timm.create_model("tf_efficientnet_lite0", pretrained=False),
                             nn.Linear(1000, 2)).state_dict(), path)
    refused(path, data, "your head has 2 outputs")


def test_wrong_architecture(data, tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save(nn.Sequential(timm.create_model("resnet18", pretrained=False), nn.Linear(1000, 6)).state_dict(), path)
    refused(path, data, "does not fit the task's architecture")


def test_metadata_added_to_the_file_is_refused(data, tmp_path, right_file):
    state = torch.load(right_file, weights_only=True)
    state["accuracy"] = torch.tensor(1.0)
    path = tmp_path / "meta.pt"
    torch.save(state, path)
    refused(path, data, "unexpected 1")


def test_an_edited_or_relabelled_held_out_photo_is_caught(data, tmp_path, right_file):
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    source = next(s for s in plan() if s.split == "heldout")
    photo = copy / HELDOUT_FOLDER / "heldout" / file_name(source, 0)
    photo.write_bytes(photo.read_bytes()[:-1] + b"\0")
    refused(right_file, copy, "differs from what its source")
    other = next(c for c in CLASSES if c != source.label)    # move it to another class: a relabelling
    shutil.rmtree(copy)
    shutil.copytree(data, copy)
    photo = copy / HELDOUT_FOLDER / "heldout" / file_name(source, 0)
    (photo.parent.parent / other).mkdir(exist_ok=True)
    photo.rename(photo.parent.parent / other / photo.name)
    refused(right_file, copy, "is missing or differs")


def test_labels_come_from_the_sources_not_the_manifest(data, tmp_path, right_file):
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    manifest = copy / HELDOUT_FOLDER / MANIFEST
    entries = json.loads(manifest.read_text())
    for entry in entries["files"].values():
        entry["class"] = CLASSES[0]
    manifest.write_text(json.dumps(entries))
    edited = evaluate_saved_model(right_file, copy, "fast")
    honest = evaluate_saved_model(right_file, data, "fast")
    assert edited == honest and edited["ok"] and list(edited["per_class"]) == list(CLASSES)


def test_run_assessment_evaluates_in_a_fresh_process(right_file, monkeypatch):
    # a kernel that rebinds the in-process evaluation cannot change what the fresh process computes
    monkeypatch.setattr(assessment, "evaluate_saved_model", lambda *a, **k: {"ok": True, "accuracy": 1.0,
                                                                              "per_class": {}, "n": 1})
    result = run_assessment(right_file)
    assert result.accuracy is not None and result.accuracy < 0.9, result.report()   # an untrained head
    assert not result.passed and result.score == 0 and list(result.per_class) == list(CLASSES)
    assert "FAIL" in result.report() and "pass mark" in result.report()


def test_under_grading_a_failed_assessment_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(ExerciseNotPassed, match="no file at"):
        run_assessment(tmp_path / "missing.pt")
