"""The assessment's photos (notebook 08): six classes of Tux Paint photo cut-outs, several views
each. Split by source photo, so no view of a training photo is held out; seeded, staged, and
checked byte for byte by the grader (ARCHITECTURE.md, "The assessment")."""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from . import config
from .files import atomic_write, sha256

TUXPAINT_STAMPS = Path("/usr/share/tuxpaint/stamps")
CLASS_FOLDERS = {  # class -> Tux Paint folder; sorted, so the class index is ImageFolder's
    "birds": "animals/birds", "flowers": "plants/flowers", "fruit": "food/fruit",
    "insects": "animals/insects", "mammals": "animals/mammals", "vegetables": "food/vegetables",
}
CLASSES = tuple(sorted(CLASS_FOLDERS))
SPLIT_SHARES = {"heldout": 0.25, "valid": 0.15}  # of each class's source photos; the rest trains
VIEWS = {"train": 8, "valid": 3, "heldout": 3}    # views per source photo
SIDE = 256                                        # views are SIDE x SIDE (the network's preprocessing crops 224)
VERSION = 1
MANIFEST = "MANIFEST.json"
FOLDER, HELDOUT_FOLDER = "assessment", "assessment_heldout"
STORY = ("Six classes of Tux Paint photo cut-outs (tuxpaint-stamps-default, GPL-2): birds, flowers, fruit, "
         "insects (Tux Paint's folder: a slug and a woodlouse included), mammals, vegetables. Each source photo "
         "is a real photo with its background removed; the builder places it, scaled, flipped and turned, on "
         "solid, gradient, noise and texture backgrounds. Every view of a photo is in one split only.")


class AssessmentDataError(RuntimeError):
    """The assessment's photos cannot be built or found; the message says why and what to do."""


@dataclass(frozen=True)
class Source:
    """One Tux Paint photo cut-out: its id (path under the stamps folder), class and split."""

    sid: str
    label: str
    split: str
    path: Path


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan(stamps: Path | str = TUXPAINT_STAMPS) -> list[Source]:
    """Return every source photo with its class and split, the same on every machine (notebook 08).
    Cartoons, toys and mirrored copies are left out. Per class, sources are ordered by a hash of
    their path; the first quarter is held out, the next 15 % validates, the rest trains."""
    stamps = Path(stamps)
    if not stamps.is_dir():
        raise AssessmentDataError(f"{stamps} is missing: the assessment's photos come from the Debian package "
                                  "tuxpaint-stamps-default. Install it (`sudo apt-get install tuxpaint-stamps-default`,"
                                  " or `make data`, which runs tools/system_packages.sh).")
    sources = []
    for label in CLASSES:
        folder = stamps / CLASS_FOLDERS[label]
        paths = [p for p in sorted(folder.rglob("*.png"))
                 if not {"cartoon", "toys"} & set(p.relative_to(folder).parts)
                 and not p.stem.endswith(("_mirror", "_flip"))]
        if len(paths) < 4:
            raise AssessmentDataError(f"{folder} holds {len(paths)} photo cut-outs, too few for class {label!r}; "
                                      "reinstall tuxpaint-stamps-default")
        ordered = sorted(paths, key=lambda p: _key(str(p.relative_to(stamps))))
        n_held = math.ceil(SPLIT_SHARES["heldout"] * len(ordered))
        n_valid = math.ceil(SPLIT_SHARES["valid"] * len(ordered))
        for i, path in enumerate(ordered):
            split = "heldout" if i < n_held else "valid" if i < n_held + n_valid else "train"
            sources.append(Source(str(path.relative_to(stamps)), label, split, path))
    return sources


def _background(rng: random.Random, side: int) -> Image.Image:
    kind = rng.choice(("solid", "gradient", "noise", "texture"))
    a = tuple(rng.randrange(256) for _ in range(3))
    b = tuple(rng.randrange(256) for _ in range(3))
    if kind == "solid":
        return Image.new("RGB", (side, side), a)
    if kind == "gradient":
        t = np.linspace(0, 1, side)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, side)[:, None, None]
        arr = (1 - t) * np.array(a) + t * np.array(b)
        return Image.fromarray(np.broadcast_to(arr, (side, side, 3)).astype(np.uint8))
    np_rng = np.random.default_rng(rng.randrange(2**32))
    if kind == "noise":
        small = np_rng.random((side // 16, side // 16, 1))
        noise = Image.fromarray((small[..., 0] * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC)
        t = np.asarray(noise, dtype=np.float64)[..., None] / 255
        return Image.fromarray(((1 - t) * np.array(a) + t * np.array(b)).astype(np.uint8))
    fine = np_rng.integers(0, 256, (side, side), dtype=np.uint8)   # a fine grain, blurred: paper, sand, fabric
    grain = Image.fromarray(fine).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    t = np.asarray(grain, dtype=np.float64)[..., None] / 255
    return Image.fromarray(((1 - t) * np.array(a) + t * np.array(b)).astype(np.uint8))


def render(source: Source, view: int, side: int = SIDE) -> Image.Image:
    """Return view number ``view`` of ``source``: the cut-out scaled, flipped, turned, on a background (notebook 08)."""
    rng = random.Random(f"{source.sid}#{view}")
    cutout = Image.open(source.path).convert("RGBA")
    if rng.random() < 0.5:
        cutout = cutout.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    cutout = cutout.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BICUBIC, expand=True)
    box = cutout.getbbox() or (0, 0, *cutout.size)
    cutout = cutout.crop(box)
    scale = rng.uniform(0.55, 0.95) * side / max(cutout.size)
    cutout = cutout.resize((max(1, round(cutout.width * scale)), max(1, round(cutout.height * scale))),
                           Image.Resampling.BICUBIC)
    page = _background(rng, side)
    left, top = rng.randint(0, side - cutout.width), rng.randint(0, side - cutout.height)
    page.paste(cutout, (left, top), cutout)
    return page


def render_bytes(source: Source, view: int) -> bytes:
    """Return view ``view`` of ``source`` as the PNG bytes the build writes, to compare byte for byte (notebook 08)."""
    buffer = io.BytesIO()
    render(source, view).save(buffer, format="PNG")
    return buffer.getvalue()


def file_name(source: Source, view: int) -> str:
    """Return a view's path in its split: ``<class>/<source>__vNN.png`` (.jpg if not held out) (notebook 08)."""
    suffix = "png" if source.split == "heldout" else "jpg"
    return f"{source.label}/{source.sid.removesuffix('.png').replace('/', '__')}__v{view:02d}.{suffix}"


@dataclass
class AssessmentData:
    """What :func:`build_assessment_data` built: the folders and every file of the learner's splits."""

    root: Path
    heldout_root: Path
    items: dict[str, list[tuple[Path, int]]]  # "train" / "valid" -> [(path, class index)]
    groups: dict[Path, str]                   # path -> source photo id
    story: str = STORY

    def counts(self) -> dict[str, dict[str, int]]:
        """Return ``{split: {class: number of images}}`` for train and valid."""
        return {s: {c: sum(1 for _, y in items if y == i) for i, c in enumerate(CLASSES)}
                for s, items in self.items.items()}


def _manifest_ok(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("version") != VERSION or not all((folder / f).is_file() for f in manifest.get("files", {})):
        return None
    return manifest


def _build(folder: Path, sources: list[Source], splits: tuple[str, ...]) -> dict:
    staging = folder.parent / f".{folder.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    files = {}
    for source in sources:
        if source.split not in splits:
            continue
        for view in range(VIEWS[source.split]):
            rel = f"{source.split}/{file_name(source, view)}"
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            if source.split == "heldout":   # lossless, so that the assessment can re-render and compare
                (staging / rel).write_bytes(render_bytes(source, view))
            else:
                render(source, view).save(staging / rel, format="JPEG", quality=90)
            files[rel] = {"sha256": sha256(staging / rel), "source": source.sid, "class": source.label,
                          "split": source.split}
    manifest = {"version": VERSION, "classes": list(CLASSES), "story": STORY, "stamps": str(TUXPAINT_STAMPS),
                "licence": "GPL-2 (Tux Paint stamps)", "files": files}
    old = folder.parent / f".{folder.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)
    atomic_write(folder / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True)))
    return manifest


def build_assessment_data(data: Path | str | None = None) -> AssessmentData:
    """Return the assessment's folders, built first when missing or incomplete (notebook 08).
    ``data/assessment/{train,valid}/<class>/`` for the learner, ``data/assessment_heldout/`` for
    the grader alone (``data`` defaults to :func:`helpers.config.data_dir`)."""
    data = Path(data) if data is not None else config.data_dir()
    root, heldout = data / FOLDER, data / HELDOUT_FOLDER
    sources = None
    for folder, splits in ((root, ("train", "valid")), (heldout, ("heldout",))):
        if _manifest_ok(folder) is None:
            sources = sources or plan()
            _build(folder, sources, splits)
    manifest = _manifest_ok(root)
    if manifest is None:
        raise AssessmentDataError(f"{root / MANIFEST} is missing or incomplete after a build; delete {root} and "
                                  "run `make data` again")
    items: dict[str, list[tuple[Path, int]]] = {"train": [], "valid": []}
    groups = {}
    for rel, entry in sorted(manifest["files"].items()):
        path = root / rel
        items[entry["split"]].append((path, CLASSES.index(entry["class"])))
        groups[path] = entry["source"]
    return AssessmentData(root, heldout, items, groups)
