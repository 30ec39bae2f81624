"""helpers.door_data and its parts: the Qt bundle reader (_qt_resources), the photo sources (photos),
the group-aware dataset builder (door_data), safe uploads (uploads) and the panel (widgets.UploadPanel)."""
import io
import json
import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import _qt_resources, door_data, photos, uploads, widgets
from helpers.data import DataFolderError
from helpers.images import load_rgb


def png_bytes(seed=0, size=(64, 64), mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def fake_image(seed=0, size=(80, 60)) -> Image.Image:
    return Image.open(io.BytesIO(png_bytes(seed, size))).convert("RGB")


# ---------------------------------------------------------------------------------------------
# Qt resource bundles
# ---------------------------------------------------------------------------------------------

def write_rcc(path: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Write a version-1 Qt resource bundle with one folder 'pics' holding ``files`` (name -> (data, flags))."""
    names_blob, name_offsets = b"", {}
    for name in ["pics", *files]:
        name_offsets[name] = len(names_blob)
        names_blob += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
    data_blob, data_offsets = b"", {}
    for name, (payload, flags) in files.items():
        if flags & 1:
            payload = struct.pack(">I", len(payload)) + zlib.compress(payload)
        data_offsets[name] = len(data_blob)
        data_blob += struct.pack(">I", len(payload)) + payload
    nodes = [struct.pack(">IHII", 0, 2, 1, 1),                       # root: 1 child at index 1
             struct.pack(">IHII", name_offsets["pics"], 2, len(files), 2)]  # pics/: children from index 2
    for name, (_, flags) in files.items():
        nodes.append(struct.pack(">IHHHI", name_offsets[name], flags, 0, 0, data_offsets[name]))
    tree = b"".join(nodes)
    tree_off = 20
    data_off = tree_off + len(tree)
    names_off = data_off + len(data_blob)
    path.write_bytes(b"qres" + struct.pack(">IIII", 1, tree_off, data_off, names_off) + tree + data_blob + names_blob)


def test_read_qt_resources_plain_zlib_and_zstd(tmp_path):
    dog = png_bytes(1)
    write_rcc(tmp_path / "a.rcc", {"dog.png": (dog, 0), "readme.txt": (b"hello " * 50, 1), "new.webp": (b"xx", 4)})
    files = _qt_resources.read_qt_resources(tmp_path / "a.rcc")
    assert files == {"/pics/dog.png": dog, "/pics/readme.txt": b"hello " * 50}  # zstd (flag 4) left out


def test_read_qt_resources_rejects_other_files(tmp_path):
    (tmp_path / "x.rcc").write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(ValueError, match="not a Qt resource bundle"):
        _qt_resources.read_qt_resources(tmp_path / "x.rcc")


@pytest.mark.skipif(not (photos.GCOMPRIS_DIR / "explore_farm_animals.rcc").is_file(),
                    reason="gcompris-qt-data not installed")
def test_read_qt_resources_on_gcompris_finds_the_german_shepherd():
    files = _qt_resources.read_qt_resources(photos.GCOMPRIS_DIR / "explore_farm_animals.rcc")
    dog = files["/gcompris/src/activities/explore_farm_animals/resource/animals/dog.webp"]
    assert Image.open(io.BytesIO(dog)).size == (1024, 768)


# ---------------------------------------------------------------------------------------------
# Views and the offline sources
# ---------------------------------------------------------------------------------------------

def test_make_views_are_repeatable_and_sized():
    big = fake_image(3, (600, 400))
    a = door_data.make_views(big, 4, seed="dog", side=128)
    b = door_data.make_views(big, 4, seed="dog", side=128)
    c = door_data.make_views(big, 4, seed="cat", side=128)
    assert len(a) == 4 and all(min(v.size) == 128 and v.mode == "RGB" for v in a)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    assert not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a[1:], c[1:]))
    assert a[0].size == (192, 128)  # view 0 is the whole photo, shrunk
    small = fake_image(4, (50, 40))
    assert door_data.make_views(small, 1, seed=0)[0].size == (50, 40)  # never enlarged
    with pytest.raises(ValueError):
        door_data.make_views(big, 0, seed=0)


def test_offline_sources_from_a_fake_tuxpaint(tmp_path):
    tux = tmp_path / "animals"
    for rel in ("mammals/dogs/dog.png", "mammals/dogs/dingo.png", "mammals/dogs/fox.png",
                "mammals/cats/lion.png", "mammals/cats/cartoon/lion.png", "mammals/bears/toys/teddy.png"):
        (tux / rel).parent.mkdir(parents=True, exist_ok=True)
        (tux / rel).write_bytes(png_bytes(len(rel), mode="RGBA"))
    sources = photos.offline_sources(tuxpaint_dir=tux, gcompris_dir=tmp_path / "none", dog_views=(5, 4, 3, 2))
    by_id = {s.id: s for s in sources}
    dingo, husky = by_id["tuxpaint_dingo"], by_id["tuxpaint_dog"]
    assert (dingo.label, dingo.split, dingo.views) == ("not_bo", "train", 4)  # other dogs are not Bo
    assert (husky.label, husky.split, husky.views) == ("not_bo", "valid", 3)
    assert by_id["tuxpaint_dogs_fox"].label == "not_bo" and by_id["tuxpaint_cats_lion"].label == "not_bo"
    assert not any("cartoon" in s.origin or "toys" in s.origin for s in sources)
    assert not any(s.label == "bo" for s in sources), "without GCompris there is no Lock, so no Bo"
    with pytest.raises(door_data.DoorDataError, match="gcompris-qt-data"):
        door_data.build_door_data(tmp_path / "door", offline=lambda: sources)
    assert all(s.split in door_data.SPLITS for s in sources)
    assert by_id["tuxpaint_cats_lion"].load().mode == "RGB"


@pytest.mark.skipif(not (photos.TUXPAINT_DIR.is_dir() and photos.GCOMPRIS_DIR.is_dir()),
                    reason="tuxpaint-stamps-default or gcompris-qt-data not installed")
def test_the_real_offline_default_is_one_dog_cut_in_two_among_other_dogs():
    sources = photos.offline_sources()
    by_id = {s.id: s for s in sources}
    bo = {(s.id, s.split) for s in sources if s.label == "bo"}
    assert bo == {("lock_front", "train"), ("lock_back", "valid")}
    front, back = by_id["lock_front"].load(), by_id["lock_back"].load()
    assert front.width + back.width == 701 and front.height == back.height == 442  # the two parts tile the photo
    dogs = {(s.id, s.split) for s in sources if s.label == "not_bo" and s.views > 1}
    assert dogs == {("german_shepherd", "train"), ("tuxpaint_dingo", "train"), ("tuxpaint_dog", "valid"),
                    ("gauguin_dog", "valid")}
    not_bo = [s for s in sources if s.label == "not_bo"]
    assert len(not_bo) > 100 and {s.split for s in not_bo} == {"train", "valid"}
    assert len({s.id for s in sources}) == len(sources), "source ids must be unique (they are the groups)"


# ---------------------------------------------------------------------------------------------
# presidential_doggy_door: sources in order, groups, manifest, your photos
# ---------------------------------------------------------------------------------------------

def tiny_sources():
    def src(i, label, split, views=1):
        return photos.SourcePhoto(f"p{i}", label, split, f"photo {i}", "test",
                                  lambda i=i: fake_image(i, (90, 70)), views)
    return [src(0, "bo", "train", 3), src(1, "bo", "valid", 2), src(2, "not_bo", "train"),
            src(3, "not_bo", "train"), src(4, "not_bo", "valid")]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to reach the network")
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_builds_offline_with_groups_on_one_side(tmp_path, no_network):
    data = door_data.build_door_data(tmp_path / "door", offline=tiny_sources)
    assert data.source == "offline"
    assert data.counts() == {"train": {"bo": 3, "not_bo": 2}, "valid": {"bo": 2, "not_bo": 1}}
    assert data.photo_counts() == {"train": {"bo": 1, "not_bo": 2}, "valid": {"bo": 1, "not_bo": 1}}
    sides = {}
    for split in door_data.SPLITS:
        for path, label in data.items[split]:
            assert path.parent.name == door_data.LABELS[label] and path.parent.parent.name == split
            sides.setdefault(data.groups[path], set()).add(split)
    assert all(len(s) == 1 for s in sides.values()), f"a source photo is on both sides: {sides}"
    manifest = json.loads((tmp_path / "door" / door_data.MANIFEST).read_text())
    assert manifest["source"] == "offline" and len(manifest["files"]) == 8
    assert "source: offline" in data.report() and "3 bo images from 1 photos" in data.report()
    assert "photo 0 for training; photo 1 for validation" in data.story and "never share a pixel" in data.story


def test_reuses_a_complete_build_and_rebuilds_on_request(tmp_path, no_network):
    door_data.build_door_data(tmp_path, offline=tiny_sources)

    def must_not_build():
        raise AssertionError("rebuilt although the build was complete")
    again = door_data.build_door_data(tmp_path, offline=must_not_build)
    assert again.source == "offline" and sum(len(v) for v in again.items.values()) == 8
    victim = next(iter(again.items["train"]))[0]
    victim.unlink()  # an incomplete build is rebuilt
    rebuilt = door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert victim.is_file() and rebuilt.source == "offline"


def test_your_photos_come_first_and_are_never_deleted(tmp_path, no_network):
    for i, (split, label) in enumerate([(s, lab) for s in door_data.SPLITS for lab in door_data.LABELS]):
        folder = tmp_path / split / label
        folder.mkdir(parents=True)
        (folder / f"mine{i}.png").write_bytes(png_bytes(i))

    def must_not_build():
        raise AssertionError("built a default although your photos fill every folder")
    data = door_data.build_door_data(tmp_path, offline=must_not_build)
    assert data.source == "yours" and len(data.yours) == 4
    assert not (tmp_path / door_data.MANIFEST).exists()


def test_your_extra_photos_join_a_build_and_survive_a_rebuild(tmp_path, no_network):
    (tmp_path / "train" / "bo").mkdir(parents=True)
    mine = tmp_path / "train" / "bo" / "my_dog.png"
    mine.write_bytes(png_bytes(42))
    (tmp_path / "train" / "bo" / "broken.jpg").write_text("oops")
    data = door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert data.source == "offline" and data.yours == [mine]
    assert (mine, 0) in data.items["train"] and data.groups[mine].startswith("yours:")
    assert [p.name for p, _ in data.problems] == ["broken.jpg"]
    assert "plus 1 photos of yours" in data.report() and "broken.jpg" in data.report()
    door_data.build_door_data(tmp_path, offline=tiny_sources, rebuild=True)
    assert mine.is_file()


def test_no_source_raises_with_the_fix(tmp_path, no_network):
    with pytest.raises(door_data.DoorDataError, match="apt-get install tuxpaint-stamps-default gcompris-qt-data"):
        door_data.build_door_data(tmp_path, offline=lambda: tiny_sources()[2:])


def test_online_but_unreachable_falls_back_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    asked = []
    monkeypatch.setattr(door_data, "_reachable", lambda host, timeout: asked.append((host, timeout)) or False)
    data = door_data.build_door_data(tmp_path / "door", online=True, timeout=0.5, offline=tiny_sources)
    assert data.source == "offline" and "not reachable within 0.5 s" in data.story
    assert asked == [(door_data.OXFORD_PET_HOST, 0.5)]  # asked once, with the short timeout


def fake_oxford_pet(root: Path) -> None:
    base = root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations").mkdir()
    lines = {"trainval.txt": [], "test.txt": []}
    for breed, label, species in (("newfoundland", 23, 2), ("Abyssinian", 1, 1), ("pug", 28, 2)):
        for i in range(1, 5):
            image_id = f"{breed}_{i}"
            Image.open(io.BytesIO(png_bytes(label * 10 + i))).save(base / "images" / f"{image_id}.jpg")
            lines["trainval.txt" if i <= 3 else "test.txt"].append(f"{image_id} {label} {species} 1")
    for name, rows in lines.items():
        (base / "annotations" / name).write_text("\n".join(rows) + "\n")


def test_oxford_pet_when_cached_needs_no_network(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    fake_oxford_pet(tmp_path / "data")

    def must_not_build():
        raise AssertionError("used the offline default although Oxford-IIIT Pet is cached")
    data = door_data.build_door_data(tmp_path / "door", online=True, offline=must_not_build)
    assert data.source == "oxford-iiit-pet" and "Newfoundland" in data.story
    assert {p.name for p, y in data.items["train"] if y == 0} == {f"newfoundland_{i}.jpg" for i in (1, 2, 3)}
    assert {p.name for p, y in data.items["valid"] if y == 0} == {"newfoundland_4.jpg"}
    assert all(not p.name.startswith("newfoundland") for p, y in data.items["train"] if y == 1)
    train = {data.groups[p] for p, _ in data.items["train"]}
    valid = {data.groups[p] for p, _ in data.items["valid"]}
    assert not train & valid


def test_offline_default_does_not_touch_the_network(tmp_path, no_network):
    assert door_data.build_door_data(tmp_path, online=False, offline=tiny_sources).source == "offline"


# ---------------------------------------------------------------------------------------------
# Uploads
# ---------------------------------------------------------------------------------------------

def upload(name, content, type_="image/png"):
    return {"name": name, "type": type_, "size": len(content), "content": memoryview(content), "last_modified": 0}


@pytest.mark.parametrize("name, expected", [("../../x.jpg", "x.jpg"), ("..\\..\\evil.png", "evil.png"),
                                            ("/etc/passwd.jpg", "passwd.jpg"), (".bashrc.png", "bashrc.png"),
                                            ("my dog (1).JPG", "my_dog_1_.JPG"), ("..", "photo"), ("", "photo"),
                                            ("a..b...png", "a.b.png")])
def test_safe_filename(name, expected):
    assert uploads.safe_filename(name) == expected


def test_save_uploads_never_writes_outside_the_folder(tmp_path):
    root = tmp_path / "door"
    value = (upload("../../x.jpg", png_bytes(1)), upload("..\\..\\..\\y.png", png_bytes(2)),
             upload("/tmp/abs.png", png_bytes(3)), upload("../x.jpg", png_bytes(4)))
    saved, problems = uploads.save_uploads(value, "bo", root)
    assert problems == []
    assert [p.name for p in saved] == ["x.jpg", "y.png", "abs.png", "x_1.jpg"]
    assert all(p.parent == (root / "train" / "bo").resolve() for p in saved)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.parents]
    assert outside == []
    assert load_rgb(saved[0]).size == (64, 64)


def test_save_uploads_rejects_bad_files_and_says_why(tmp_path):
    value = (upload("big.png", png_bytes(1, size=(90, 90))), upload("note.jpg", b"just text"), upload("empty.png", b""),
             upload("ok.png", png_bytes(2)))
    saved, problems = uploads.save_uploads(value, "not_bo", tmp_path, split="valid", max_bytes=len(png_bytes(2)))
    assert [p.name for p in saved] == ["ok.png"] and saved[0].parent.name == "not_bo"
    reasons = dict(problems)
    assert set(reasons) == {"big.png", "note.jpg", "empty.png"}
    assert reasons["big.png"].startswith("too large")
    assert reasons["note.jpg"].startswith("not an image")
    assert reasons["empty.png"].startswith("empty file")
    assert sorted(p.name for p in (tmp_path / "valid" / "not_bo").iterdir()) == ["ok.png"]


def test_save_uploads_accepts_ipywidgets7_dicts_and_names_without_extension(tmp_path):
    value = {"snap": {"metadata": {"name": "snap"}, "name": "snap", "content": png_bytes(5)}}
    saved, problems = uploads.save_uploads(value, "bo", tmp_path)
    assert problems == [] and saved[0].name == "snap.jpg" and load_rgb(saved[0]).mode == "RGB"


def test_save_uploads_checks_label_and_split(tmp_path):
    with pytest.raises(ValueError, match="label"):
        uploads.save_uploads((), "cat", tmp_path)
    with pytest.raises(ValueError, match="split"):
        uploads.save_uploads((), "bo", tmp_path, split="test")


def test_upload_panel_handlers_run_without_a_browser(tmp_path):
    calls = []
    panel = widgets.UploadPanel(tmp_path, lambda: calls.append("retrained") or "retrained: fine")
    panel.label.value, panel.split.value = "not_bo", "valid"
    report = panel.add((upload("../cat.png", png_bytes(7)), upload("x.jpg", b"nope")))
    assert "added 1 photo(s) to valid/not_bo" in report and "x.jpg: not an image" in report
    assert panel.last_saved == [(tmp_path / "valid" / "not_bo" / "cat.png").resolve()]
    assert panel.retrain() == "retrained: fine" and calls == ["retrained"]
    shown = "".join(o["text"] for o in panel.output.outputs)
    assert "added 1 photo(s)" in shown and "retrained: fine" in shown  # the panel shows what it returned
    assert panel.add().startswith("added 0 photo(s)")  # the widget's own (empty) value


def test_upload_panel_retrain_shows_progress_refuses_a_second_click_and_resets(tmp_path):
    seen = []

    def retrain():
        button = panel.retrain_button
        seen.append((button.disabled, button.description, panel.retrain()))  # a second click while running
        return "retrained: fine"
    panel = widgets.UploadPanel(tmp_path, retrain)
    assert panel.retrain() == "retrained: fine"
    assert seen == [(True, "Retraining…", "already retraining: wait until it has finished")]
    assert not panel.retrain_button.disabled and panel.retrain_button.description == "Retrain"
    assert "retraining: features" in "".join(o["text"] for o in panel.output.outputs)
    panel.label.value, panel.split.value, panel.last_saved = "not_bo", "valid", [tmp_path / "x.png"]
    panel.reset()
    assert (panel.label.value, panel.split.value, panel.last_saved, panel.output.outputs) == ("bo", "train", [], ())
    assert panel.upload.layout.width == "auto" and panel.upload.layout.min_width == "220px"  # room for the count


# ---------------------------------------------------------------------------------------------
# An interrupted or failed build is never taken for your photos (issue 13)
# ---------------------------------------------------------------------------------------------

def fail_after(n, exc):
    """Return a stand-in for door_data._save_jpeg that writes ``n`` views, then raises ``exc``."""
    real, calls = door_data._save_jpeg, []

    def save(image, path):
        calls.append(path)
        if len(calls) > n:
            raise exc
        real(image, path)
    return save


def all_yours(root):
    for i, (split, label) in enumerate([(s, lab) for s in door_data.SPLITS for lab in door_data.LABELS]):
        (root / split / label).mkdir(parents=True, exist_ok=True)
        (root / split / label / f"mine{i}.png").write_bytes(png_bytes(100 + i))


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_a_build_interrupted_while_writing_is_rebuilt_not_taken_for_yours(tmp_path, no_network, monkeypatch, exc):
    monkeypatch.setattr(door_data, "_save_jpeg", fail_after(6, exc))  # dies in valid/, as in the audit
    with pytest.raises((KeyboardInterrupt, DataFolderError)):
        door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert not any(tmp_path.glob("*/*/*.jpg")), "a half-finished build must not reach the four folders"
    assert not (tmp_path / door_data.STAGING).exists()
    monkeypatch.undo()
    data = door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert data.source == "offline" and data.yours == []
    assert data.counts() == {"train": {"bo": 3, "not_bo": 2}, "valid": {"bo": 2, "not_bo": 1}}


def test_disk_full_names_the_folder_and_the_fix(tmp_path, no_network, monkeypatch):
    monkeypatch.setattr(door_data, "_save_jpeg", fail_after(2, OSError(28, "No space left on device")))
    with pytest.raises(DataFolderError, match="full disk.*COURSE_DATA"):
        door_data.build_door_data(tmp_path, offline=tiny_sources)


def test_a_build_interrupted_while_moving_in_is_undone_and_rebuilt(tmp_path, no_network, monkeypatch):
    real, moved = door_data.os.replace, []

    def replace(src, dst):
        if str(src).endswith(".jpg") and len(moved) >= 3:
            raise KeyboardInterrupt
        moved.append(dst)
        real(src, dst)
    monkeypatch.setattr(door_data.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert (tmp_path / door_data.PENDING).is_file() and not (tmp_path / door_data.MANIFEST).exists()
    monkeypatch.undo()
    data = door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert data.source == "offline" and data.yours == [] and sum(len(v) for v in data.items.values()) == 8
    assert not (tmp_path / door_data.PENDING).exists()


def test_your_photos_survive_an_interrupted_build_and_stay_yours(tmp_path, no_network, monkeypatch):
    mine = tmp_path / "train" / "bo" / "my_dog.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(png_bytes(7))
    monkeypatch.setattr(door_data, "_save_jpeg", fail_after(4, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        door_data.build_door_data(tmp_path, offline=tiny_sources)
    monkeypatch.undo()
    data = door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert mine.read_bytes() == png_bytes(7) and data.yours == [mine] and data.source == "offline"


def test_views_an_old_interrupted_build_left_without_a_manifest_are_rebuilt(tmp_path, no_network):
    door_data.build_door_data(tmp_path, offline=tiny_sources)
    (tmp_path / door_data.MANIFEST).unlink()  # what the version before the staging folder left when killed
    data = door_data.build_door_data(tmp_path, offline=tiny_sources)
    assert data.source == "offline" and data.yours == [] and sum(len(v) for v in data.items.values()) == 8


def test_rebuild_over_your_photos_keeps_them_and_an_old_offline_build_is_rebuilt(tmp_path, no_network):
    all_yours(tmp_path)
    data = door_data.build_door_data(tmp_path, offline=tiny_sources, rebuild=True)
    assert data.source == "offline" and len(data.yours) == 4 and all(p.is_file() for p in data.yours)
    manifest = json.loads((tmp_path / door_data.MANIFEST).read_text())
    manifest.pop("version")  # version 1: Bo was four different dogs
    (tmp_path / door_data.MANIFEST).write_text(json.dumps(manifest))
    built = []
    door_data.build_door_data(tmp_path, offline=lambda: built.append(1) or tiny_sources())
    assert built and json.loads((tmp_path / door_data.MANIFEST).read_text())["version"] == door_data.OFFLINE_VERSION
