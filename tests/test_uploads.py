"""Issue 13: a learner's uploads (helpers.uploads) under faults: a full or read-only disk, the same photo
in training and validation, ipywidgets 7's value shape, broken entries and Unicode names."""
from __future__ import annotations

import errno
import io
import pathlib
import unicodedata

import numpy as np
import pytest
from PIL import Image

from helpers import uploads
from helpers.images import load_rgb


def png_bytes(seed=0, size=(64, 64)) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name, content):
    return {"name": name, "type": "image/png", "size": len(content), "content": memoryview(content), "last_modified": 0}


def files_under(root: pathlib.Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def failing_writes(monkeypatch, code: int, *, after: int):
    """Let ``after`` files be written whole, then write half of each next file and fail with ``code``."""
    real = pathlib.Path.write_bytes
    done = []

    def write_bytes(self, data):
        if len(done) >= after:
            real(self, bytes(data)[: len(data) // 2])  # what a full disk leaves: the start of the file
            raise OSError(code, "simulated", str(self))
        done.append(self)
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "full disk"), (errno.EROFS, "read-only")])
def test_a_full_or_read_only_disk_is_a_problem_not_a_crash_and_keeps_what_was_saved(tmp_path, monkeypatch,
                                                                                    code, words):
    failing_writes(monkeypatch, code, after=1)
    value = (upload("a.png", png_bytes(1)), upload("b.png", png_bytes(2)), upload("c.png", png_bytes(3)))
    saved, problems = uploads.save_uploads(value, "bo", tmp_path)
    assert [p.name for p in saved] == ["a.png"]  # what was saved before the disk failed is still reported
    reasons = dict(problems)
    assert set(reasons) == {"b.png", "c.png"}  # every file not saved is named, none silently dropped
    assert words in reasons["b.png"] and str(tmp_path / "train" / "bo") in reasons["b.png"]
    assert "Fix:" in reasons["b.png"] and "not saved" in reasons["c.png"]
    assert files_under(tmp_path) == ["train/bo/a.png"]  # no truncated PNG, no temporary file left behind


def test_an_unwritable_folder_is_reported_for_every_file(tmp_path, monkeypatch):
    def mkdir(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    saved, problems = uploads.save_uploads((upload("a.png", png_bytes(1)), upload("b.png", png_bytes(2))),
                                           "bo", tmp_path)
    assert saved == [] and [name for name, _ in problems] == ["a.png", "b.png"]
    assert all("read-only" in why for _, why in problems)


def test_the_same_photo_in_training_and_validation_is_refused(tmp_path):
    photo = png_bytes(7)
    saved, problems = uploads.save_uploads((upload("bo1.png", photo),), "bo", tmp_path, split="train")
    assert problems == [] and len(saved) == 1
    saved, problems = uploads.save_uploads((upload("renamed.png", photo), upload("other.png", png_bytes(8))),
                                           "not_bo", tmp_path, split="valid")
    assert [p.name for p in saved] == ["other.png"]
    (name, why), = problems
    assert name == "renamed.png" and "train/bo/bo1.png" in why and "validation" in why
    assert files_under(tmp_path) == ["train/bo/bo1.png", "valid/not_bo/other.png"]


def test_the_same_photo_twice_is_saved_once(tmp_path):
    photo = png_bytes(9)
    saved, problems = uploads.save_uploads((upload("x.png", photo), upload("y.png", photo)), "bo", tmp_path)
    assert [p.name for p in saved] == ["x.png"]
    assert problems and problems[0][0] == "y.png" and "train/bo/x.png" in problems[0][1]
    saved, problems = uploads.save_uploads((upload("z.png", photo),), "bo", tmp_path)  # again, in a later call
    assert saved == [] and "already" in problems[0][1]


def test_ipywidgets7_value_keeps_the_file_names(tmp_path):
    # ipywidgets 7: {file name: {"metadata": {"name", "type", "size", "lastModified"}, "content": bytes}}
    value = {name: {"metadata": {"name": name, "type": "image/png", "size": len(data), "lastModified": 0},
                    "content": data}
             for name, data in (("first.png", png_bytes(1)), ("second.png", png_bytes(2)))}
    saved, problems = uploads.save_uploads(value, "bo", tmp_path)
    assert problems == [] and [p.name for p in saved] == ["first.png", "second.png"]
    bare = {"third.png": {"content": png_bytes(3)}}  # no metadata at all: the key is the name
    saved, _ = uploads.save_uploads(bare, "bo", tmp_path)
    assert [p.name for p in saved] == ["third.png"]


def test_broken_entries_are_problems_not_errors(tmp_path):
    value = ({"name": "none.png", "content": None}, "not a dict", 42, {"name": "text.png", "content": "abc"},
             upload("good.png", png_bytes(4)))
    saved, problems = uploads.save_uploads(value, "bo", tmp_path)
    assert [p.name for p in saved] == ["good.png"]
    reasons = dict(problems)
    assert len(problems) == 4
    assert "no content" in reasons["none.png"]
    assert "text.png" in reasons and "bytes" in reasons["text.png"]
    assert sum("not an upload" in why for why in reasons.values()) == 2


@pytest.mark.parametrize("name, expected", [
    ("狗.jpg", "狗.jpg"), ("ñçđ.png", "ñçđ.png"), ("Bö's Hündchen.JPG", "Bö_s_Hündchen.JPG"),
    (unicodedata.normalize("NFD", "Bö.jpg"), "Bö.jpg"),  # macOS writes names decomposed: o + combining diaeresis
    ("фото собаки.jpeg", "фото_собаки.jpeg"), ("evil\u202egnp.jpg", "evil_gnp.jpg"),  # no right-to-left override
    ("a／b.png", "a_b.png"), ("../../狗.jpg", "狗.jpg"),
])
def test_safe_filename_keeps_letters_that_are_letters(name, expected):
    assert uploads.safe_filename(name) == expected


def test_safe_filename_keeps_the_extension_of_a_long_name_and_fits_the_file_system():
    clean = uploads.safe_filename("犬" * 300 + ".png")
    assert clean.endswith("犬.png") and len(clean.encode("utf-8")) <= 200


def test_unicode_names_are_saved_under_their_letters(tmp_path):
    saved, problems = uploads.save_uploads((upload("狗.png", png_bytes(5)), upload("ñçđ.png", png_bytes(6))),
                                           "bo", tmp_path)
    assert problems == [] and [p.name for p in saved] == ["狗.png", "ñçđ.png"]
    assert load_rgb(saved[0]).size == (64, 64)


# ---------------------------------------------------------------------------------------------
# 05b's retrain path: features keyed by content, and every file not used reported
# ---------------------------------------------------------------------------------------------

def mean_colour(paths):
    """A stand-in for the frozen base: one 3-number feature per photo (its mean colour), counting its calls."""
    mean_colour.calls.append(list(paths))
    import torch
    return torch.stack([torch.tensor(np.asarray(load_rgb(p), dtype=np.float32).mean(axis=(0, 1))) for p in paths])


def test_feature_cache_is_keyed_by_content_not_by_path(tmp_path):
    mean_colour.calls = []
    cache = uploads.FeatureCache(mean_colour)
    photo = tmp_path / "dog.png"
    photo.write_bytes(png_bytes(1))
    first = cache([photo])
    assert cache([photo]).equal(first) and len(mean_colour.calls) == 1  # computed once
    photo.write_bytes(png_bytes(2, size=(64, 64)))  # another photo under the same name
    second = cache([photo])
    assert not second.equal(first), "a replaced photo must not keep the old photo's features"
    copy = tmp_path / "copy.png"
    copy.write_bytes(png_bytes(2))
    assert cache([copy, photo]).equal(second.repeat(2, 1)) and len(mean_colour.calls) == 2  # same content: reused
    cache.add([tmp_path / "copy.png"], first)  # features computed elsewhere (the notebook's first pass)
    assert cache([copy]).equal(first) and len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def door_folders(root, *, bad=()):
    for i, rel in enumerate(["train/bo/a.png", "train/not_bo/b.png", "valid/bo/c.png", "valid/not_bo/d.png"]):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(png_bytes(10 + i))
    for rel, content in bad:
        (root / rel).write_bytes(content)


def test_panel_retrain_reports_every_file_it_did_not_use(tmp_path):
    from helpers import widgets
    from helpers.door_data import build_door_data

    door_folders(tmp_path, bad=[("train/bo/broken.jpg", b"not a photo"), ("valid/not_bo/notes.txt", b"x")])
    mean_colour.calls = []
    trained = []

    def train_head(train_set, valid_set):
        trained.append((len(train_set), len(valid_set), train_set.tensors[0].shape[1]))
        return "valid accuracy 1.000"

    panel = widgets.UploadPanel(tmp_path, train_head, build=lambda: build_door_data(tmp_path),
                                features=mean_colour)
    report = panel.retrain()
    assert trained == [(2, 2, 3)]
    assert "valid accuracy 1.000" in report and "2 files not used" in report
    assert "2 training and 2 validation photos (4 of them yours)" in report
    assert "broken.jpg: not an image" in report and "notes.txt: skipped" in report
    calls = len(mean_colour.calls)
    assert panel.retrain() and len(mean_colour.calls) == calls  # the second retrain computes no feature again
