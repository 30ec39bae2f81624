"""The presidential doggy door's folders (notebook 05b), filled from the first source there is: your
photos, Oxford-IIIT Pet, the offline default. Builds are staged and moved in whole, so an interrupted
one is never taken for your photos (ARCHITECTURE.md, "The doggy door")."""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from . import config
from .data import folder_error
from .files import atomic_write
from .images import scan_images, to_rgb
from .oxford_pet import build_oxford_pet
from .photos import SourcePhoto, offline_sources

LABELS = ("bo", "not_bo")  # index 0 is Bo, as ImageFolder sorts the folder names
SPLITS = ("train", "valid")
MANIFEST = "SOURCE.json"
PENDING = ".SOURCE.pending.json"  # written before a finished build is moved in: lists the files arriving
STAGING = ".building"  # hidden folder inside the root where a build is written before it is moved in
OFFLINE_VERSION = 2  # version 1 (before December 2026): "Bo" was four different dogs; rebuilt on sight
_VIEW_NAME = re.compile(r"^(?P<id>.+)__v\d{2}\.jpg$")  # how built views are named
VIEW_SIDE = 256  # built photos are saved with this shorter side (the network's preprocessing crops 224)
OXFORD_PET_HOST = ("www.robots.ox.ac.uk", 443)

OFFLINE_STORY = (
    "No package ships dozens of photos of one dog, so the offline default has one dog in one photo play Bo: "
    "{bo}. The photo is cut in two: {train_bo} for training; {valid_bo} for validation. Each part appears "
    "as several views (crops, flips, small turns), so training and validation never share a pixel of him: "
    "validation asks whether the door knows Bo from a part of him it has never seen. 'Not Bo' is {not_bo} "
    "other photos: other dogs ({dogs}, several views each) and, one view each, cats, lions, tigers, a fox, "
    "farm and wild animals, people, a cup of coffee. Every view of a photo sits on the same side of the "
    "train/valid split. What it cannot test: Bo on another day, in another pose, or beside another dog of his "
    "breed (there is no other golden retriever offline), so the door may have learnt 'a golden retriever'. "
    "Your own photos and Oxford-IIIT Pet are the real-size tests."
)


class DoorDataError(RuntimeError):
    """The doggy-door folders cannot be filled or used; the message says why and what to do."""


def _resize_short_side(image: Image.Image, side: int) -> Image.Image:
    scale = side / min(image.size)
    if scale >= 1:
        return image
    return image.resize((max(side, round(image.width * scale)), max(side, round(image.height * scale))),
                        Image.Resampling.BICUBIC)


def make_views(image: Image.Image, count: int, *, seed: int | str, side: int = VIEW_SIDE) -> list[Image.Image]:
    """Return ``count`` views of a photo: itself, then seeded crops, flips, turns (notebook 05b). A
    view keeps at least 55 % of the area (the animal stays in) and is shrunk, never enlarged, to
    ``side`` pixels on its shorter side; the same ``seed`` gives the same views everywhere."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    image = to_rgb(image)
    rng = random.Random(str(seed))
    views = [_resize_short_side(image, side)]
    width, height = image.size
    while len(views) < count:
        area = rng.uniform(0.55, 1.0) * width * height
        aspect = rng.uniform(0.8, 1.25)
        w = min(width, round((area * aspect) ** 0.5))
        h = min(height, round((area / aspect) ** 0.5))
        left, top = rng.randint(0, width - w), rng.randint(0, height - h)
        view = image.crop((left, top, left + w, top + h))
        if rng.random() < 0.5:
            view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        view = view.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
        views.append(_resize_short_side(view, side))
    return views


# ----------------------------------------------------------------------------------------------
# The folders, the manifest and the sources in order
# ----------------------------------------------------------------------------------------------

@dataclass
class DoorData:
    """What :func:`build_door_data` found and built: the folder, the source, every photo."""

    root: Path
    source: str  # "yours", "oxford-iiit-pet" or "offline"
    story: str
    items: dict[str, list[tuple[Path, int]]]  # split -> [(path, label index)], Bo = 0
    groups: dict[Path, str]  # path -> the source photo it was made from (yours: the file itself)
    yours: list[Path]
    problems: list[tuple[Path, str]]
    origins: dict[str, str] = field(default_factory=dict)  # group -> where that photo comes from

    def counts(self) -> dict[str, dict[str, int]]:
        """Return ``{split: {label: number of images}}``."""
        return {split: {label: sum(1 for _, y in self.items[split] if y == i) for i, label in enumerate(LABELS)}
                for split in SPLITS}

    def photo_counts(self) -> dict[str, dict[str, int]]:
        """Return ``{split: {label: number of distinct source photos}}`` (views of one photo count once)."""
        return {split: {label: len({self.groups[p] for p, y in self.items[split] if y == i})
                        for i, label in enumerate(LABELS)} for split in SPLITS}

    def report(self) -> str:
        """Return a few lines saying which source filled the folders and what is in them."""
        c, g = self.counts(), self.photo_counts()
        lines = [f"source: {self.source} ({self.root})", self.story]
        for split in SPLITS:
            lines.append(f"{split}: " + ", ".join(f"{c[split][lab]} {lab} images from {g[split][lab]} photos"
                                                  for lab in LABELS))
        if self.yours and self.source != "yours":
            lines.append(f"plus {len(self.yours)} photos of yours (not built by this function), used as well")
        if self.problems:
            lines.append(f"{len(self.problems)} files not used:")
            lines += [f"  {p}: {why}" for p, why in self.problems]
        return "\n".join(lines)


def _read_manifest(root: Path, name: str = MANIFEST) -> dict | None:
    path = root / name
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def _write_manifest(root: Path, manifest: dict, name: str = MANIFEST) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True)
    atomic_write(root / name, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _clean_interrupted(root: Path) -> bool:
    """Remove what an interrupted build left (staging folder, files a pending list names); return whether any."""
    found = (root / STAGING).exists() or (root / PENDING).exists()
    shutil.rmtree(root / STAGING, ignore_errors=True)
    pending = _read_manifest(root, PENDING)
    for rel in pending["files"] if pending else ():
        (root / rel).unlink(missing_ok=True)
    (root / PENDING).unlink(missing_ok=True)
    return found


def _move_in(root: Path, staging: Path, manifest: dict) -> dict:
    """Move a finished build from ``staging`` into ``root``, the manifest last; return the manifest
    as written. The pending list is written first, so :func:`_clean_interrupted` can undo an
    interrupted move; a file of yours with a built file's name is kept and the built one dropped."""
    files = {rel: src for rel, src in manifest["files"].items() if not (root / rel).exists()}
    manifest = {**manifest, "files": files}
    _write_manifest(root, manifest, PENDING)
    (root / MANIFEST).unlink(missing_ok=True)
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, root / rel)
    _write_manifest(root, manifest)
    (root / PENDING).unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _save_jpeg(image: Image.Image, path: Path) -> None:
    atomic_write(path, lambda tmp: image.save(tmp, format="JPEG", quality=90))


def _build_offline(root: Path, sources: Sequence[SourcePhoto]) -> dict:
    """Write every view of every source photo into the folders; return the manifest."""
    bo = {s.split for s in sources if s.label == "bo"}
    not_bo = {s.split for s in sources if s.label == "not_bo"}
    if bo != set(SPLITS) or not_bo != set(SPLITS):
        found = sorted(s.id for s in sources if s.label == "bo")
        raise DoorDataError(
            "The offline default needs dog photos for both training and validation, and other photos "
            f"for both; found Bo photos {found} and {len(sources) - len(found)} others.\n"
            "Fix: `apt-get install tuxpaint-stamps-default gcompris-qt-data` (Debian packages, offline "
            "from a mirror), or put your own photos in train/bo, train/not_bo, valid/bo and valid/not_bo.")
    files, origins = {}, {}
    for src in sources:
        folder = root / src.split / src.label
        folder.mkdir(parents=True, exist_ok=True)
        for k, view in enumerate(make_views(src.load(), src.views, seed=src.id)):
            rel = f"{src.split}/{src.label}/{src.id}__v{k:02d}.jpg"
            _save_jpeg(view, root / rel)
            files[rel] = src.id
        origins[src.id] = f"{src.what}; {src.origin}"

    def part(src: SourcePhoto) -> tuple[str, str]:  # "Lock ...: head and forelegs" -> (the dog, the part)
        dog, _, piece = src.what.partition(": ")
        return dog, piece or src.what
    bo = [s for s in sources if s.label == "bo"]
    story = OFFLINE_STORY.format(
        bo=" and ".join(dict.fromkeys(part(s)[0] for s in bo)),
        train_bo=" and ".join(part(s)[1] for s in bo if s.split == "train"),
        valid_bo=" and ".join(part(s)[1] for s in bo if s.split == "valid"),
        not_bo=sum(s.label == "not_bo" for s in sources),
        dogs=", ".join(s.what for s in sources if s.label == "not_bo" and s.views > 1) or "none found")
    if not any(s.origin.startswith("GCompris") for s in sources):
        story += (" GCompris's photos were not found (Debian package gcompris-qt-data), so Bo is not one dog "
                  "and the door is weaker: `apt-get install gcompris-qt-data`, then rebuild.")
    return {"source": "offline", "version": OFFLINE_VERSION, "story": story, "files": files, "origins": origins}


def _reachable(host: tuple[str, int], timeout: float) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _scan_folders(root: Path) -> tuple[dict[str, list[Path]], list[tuple[Path, str]]]:
    good: dict[str, list[Path]] = {}
    problems: list[tuple[Path, str]] = []
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            g, p = scan_images(folder)
            good[f"{split}/{label}"] = g
            problems += p
    return good, problems


def _leftovers(root: Path, own: dict[str, list[Path]], offline: Callable[[], list[SourcePhoto]]) -> set[Path]:
    """Return the views an interrupted build of an earlier version left without a manifest (named like built views)."""
    named = {p for paths in own.values() for p in paths if _VIEW_NAME.match(p.name)}
    if not named:
        return set()
    ids = {s.id for s in offline()} | {"german_shepherd", "lock_golden_retriever", "tuxpaint_dingo", "tuxpaint_dog"}
    return {p for p in named if _VIEW_NAME.match(p.name)["id"] in ids}


class _Pet:
    """Oxford-IIIT Pet as a source: cached in ``data/`` or reachable; the network is asked at most once."""

    def __init__(self, timeout: float):
        self.root, self.timeout, self.why_not = config.data_dir(), timeout, ""
        self.cached = (self.root / "oxford-iiit-pet" / "annotations" / "trainval.txt").is_file()
        self._answer: bool | None = None

    def available(self) -> bool:
        if self._answer is None:
            self._answer = self.cached or _reachable(OXFORD_PET_HOST, self.timeout)
            if not self._answer:
                self.why_not = f" (Oxford-IIIT Pet: {OXFORD_PET_HOST[0]} not reachable within {self.timeout:g} s)"
        return self._answer


def build_door_data(root: Path | str | None = None, *, online: bool = False, timeout: float = 5.0,
                    rebuild: bool = False,
                    offline: Callable[[], list[SourcePhoto]] = offline_sources) -> DoorData:
    """Return the doggy-door photos, filling ``presidential_doggy_door/`` if needed (notebook 05b).
    Sources: your photos, Oxford-IIIT Pet (``online`` only), the offline default; staged and
    moved in whole; your photos are never deleted (ARCHITECTURE.md, "The doggy door")."""
    root = Path(root) if root is not None else config.data_dir() / "presidential_doggy_door"
    root.mkdir(parents=True, exist_ok=True)
    interrupted = _clean_interrupted(root)
    manifest = _read_manifest(root)
    good, _ = _scan_folders(root)
    built = set(manifest["files"]) if manifest else set()
    own = {key: [p for p in paths if p.relative_to(root).as_posix() not in built] for key, paths in good.items()}
    stale = _leftovers(root, own, offline) if manifest is None else set()
    own = {key: [p for p in paths if p not in stale] for key, paths in own.items()}
    complete = manifest is not None and all((root / rel).is_file() for rel in manifest["files"])
    outdated = bool(manifest) and manifest["source"] == "offline" and manifest.get("version") != OFFLINE_VERSION
    pet = _Pet(timeout)
    if manifest is None and not rebuild and not interrupted and not stale and all(own.values()):
        manifest = {"source": "yours", "story": "Your own photos, as you put them in the four folders.",
                    "files": {}, "origins": {}}
    elif (not complete or rebuild or outdated
          or (online and manifest.get("source") == "offline" and pet.available())):
        manifest = _rebuild(root, manifest, stale, pet if online else None, offline)
    return _door_data(root, manifest)


def _rebuild(root: Path, manifest: dict | None, stale: set[Path], pet: _Pet | None,
             offline: Callable[[], list[SourcePhoto]]) -> dict:
    """Remove what an earlier build wrote, build into the staging folder (Oxford-IIIT Pet when ``pet``
    is given and available, else offline) and move it in; return the new manifest."""
    for rel in manifest["files"] if manifest else []:  # only what an earlier build wrote: your photos stay
        (root / rel).unlink(missing_ok=True)
    for path in stale:
        path.unlink(missing_ok=True)
    (root / MANIFEST).unlink(missing_ok=True)
    staging, manifest, why_not = root / STAGING, None, ""
    try:
        if pet is not None and pet.available():
            try:
                manifest = build_oxford_pet(staging, pet.root, download=not pet.cached, timeout=pet.timeout)
            except Exception as exc:  # network dropped, checksum failed: fall back, and say so
                why_not = f" (Oxford-IIIT Pet failed: {type(exc).__name__}: {exc})"
                shutil.rmtree(staging, ignore_errors=True)
        if manifest is None:
            manifest = _build_offline(staging, offline())
            manifest["story"] += why_not or (pet.why_not if pet is not None else "")
        return _move_in(root, staging, manifest)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and folder_error(exc, folder=root) is not None:
            raise folder_error(exc, folder=root) from exc
        raise


def _door_data(root: Path, manifest: dict) -> DoorData:
    """Return the :class:`DoorData` of the folders under ``root``; raise when a folder has no usable image."""
    good, problems = _scan_folders(root)
    built = manifest["files"]
    items: dict[str, list[tuple[Path, int]]] = {split: [] for split in SPLITS}
    groups: dict[Path, str] = {}
    yours: list[Path] = []
    for split in SPLITS:
        for index, label in enumerate(LABELS):
            for path in good[f"{split}/{label}"]:
                rel = path.relative_to(root).as_posix()
                items[split].append((path, index))
                groups[path] = built.get(rel, f"yours:{rel}")
                if rel not in built:
                    yours.append(path)
            if not good[f"{split}/{label}"]:
                raise DoorDataError(f"{root / split / label} holds no usable image. Put photos there "
                                    "(or delete SOURCE.json and call again to rebuild the default).")
    return DoorData(root=root, source=manifest["source"], story=manifest["story"], items=items, groups=groups,
                    yours=yours, problems=problems, origins=dict(manifest.get("origins", {})))
