"""The presidential doggy door's data: the course's folders, filled from the first source there is.

Introduced in notebook 05b. The course trains on photos of Bo, the Obamas' dog, in
``data/presidential_doggy_door/{train,valid}/{bo,not_bo}/`` (Bo is label 0: ``bo`` sorts
before ``not_bo``). Those photos are not redistributable, so :func:`presidential_doggy_door`
fills the same folders from the first of these sources that is there:

1. **your photos**, already in the four folders (nothing is added to them);
2. **Oxford-IIIT Pet**, when asked for (``online=True``) and cached or reachable: the
   Newfoundland breed plays Bo, the other 36 breeds (dogs and cats) are not Bo;
3. **the offline default**, built from photos that Debian packages ship (GCompris,
   Tux Paint) plus scikit-image and matplotlib. No package ships dozens of photos of one
   dog, so here Bo is played by *the dogs there are*; :data:`OFFLINE_STORY` says so.

A ``SOURCE.json`` in the folder records which files were built and from which source
photo each came; any other photo in the folders is yours and is always used too.
The upload panel (:class:`UploadPanel`) adds your photos safely.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import socket
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Callable, Mapping, Sequence

from PIL import Image

from . import config
from .files import atomic_write
from .images import IMAGE_EXTENSIONS, ImageProblem, load_rgb, scan_images, to_rgb

LABELS = ("bo", "not_bo")  # index 0 is Bo, as ImageFolder sorts the folder names
SPLITS = ("train", "valid")
MANIFEST = "SOURCE.json"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
VIEW_SIDE = 256  # built photos are saved with this shorter side (the network's preprocessing crops 224)
TUXPAINT_DIR = Path("/usr/share/tuxpaint/stamps/animals")
GCOMPRIS_DIR = Path("/usr/share/gcompris-qt/rcc")
OXFORD_PET_HOST = ("www.robots.ox.ac.uk", 443)
OXFORD_PET_BO_BREED = "newfoundland"  # black, big and curly-coated: the nearest of the 37 breeds to Bo

OFFLINE_STORY = (
    "No package ships dozens of photos of one dog, so the offline default cannot be Bo. "
    "Here 'Bo' is played by every dog photo the installed packages ship: {train_bo} for training; "
    "{valid_bo} for validation. Each appears as several views (crops, flips, small turns) of its "
    "one photo, so 'Bo' rests on {bo} photos and the door learns 'a dog' rather than one particular "
    "dog. 'Not Bo' is {not_bo} other photos, one view each: cats, lions, tigers, a fox, farm and wild "
    "animals, people, a cup of coffee. Every view of a photo sits on the same side of the "
    "train/valid split."
)


class DoorDataError(RuntimeError):
    """The doggy-door folders cannot be filled or used; the message says why and what to do."""


# ----------------------------------------------------------------------------------------------
# Qt resource bundles (GCompris stores its photos in .rcc files)
# ----------------------------------------------------------------------------------------------

def read_qt_resources(path: Path | str) -> dict[str, bytes]:
    """Return ``{resource path: file bytes}`` for every file in a Qt ``.rcc`` bundle (notebook 05b).

    A plain-Python reader of Qt's binary resource format (versions 1 to 3): a header
    ``qres``, a tree of nodes, a table of UTF-16 names and the data. zlib-compressed files
    are unpacked; zstd-compressed ones (flag 4, Qt 5.13+) are left out, as Python has no
    zstd reader built in. Raises ``ValueError`` for a file that is not a Qt resource bundle.
    """
    blob = Path(path).read_bytes()
    if blob[:4] != b"qres" or len(blob) < 20:
        raise ValueError(f"{path} is not a Qt resource bundle (it does not start with 'qres')")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: Qt resource format version {version} is not supported (1 to 3 are)")
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset:names + offset + 2])
        start = names + offset + 6  # 2 bytes length, 4 bytes hash
        return blob[start:start + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[node:node + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:  # a directory: child count, first child index
            count, first = struct.unpack(">II", blob[node + 6:node + 14])
            stack.extend((child, f"{prefix}{name}/" if index else "/") for child in range(first, first + count))
            continue
        (data_offset,) = struct.unpack(">I", blob[node + 10:node + 14])
        start = data + data_offset
        (size,) = struct.unpack(">I", blob[start:start + 4])
        payload = blob[start + 4:start + 4 + size]
        if flags & 4:  # zstd: no reader in the standard library
            continue
        if flags & 1:  # zlib, preceded by the uncompressed size
            payload = zlib.decompress(payload[4:])
        files[prefix + name] = payload
    return files


# ----------------------------------------------------------------------------------------------
# The offline default: which photos exist, and what each one plays
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourcePhoto:
    """One source photo of the offline default: what it shows, where it comes from, its side."""

    id: str
    label: str  # "bo" or "not_bo"
    split: str  # "train" or "valid": every view of this photo goes there
    what: str
    origin: str
    load: Callable[[], Image.Image] = field(repr=False, compare=False)
    views: int = 1


def _stable_split(key: str, valid_fraction: float = 0.2) -> str:
    """Return "valid" for about ``valid_fraction`` of keys, "train" for the rest, the same on every machine."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "valid" if bucket < valid_fraction else "train"


def _from_bytes(data: bytes, name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        with Image.open(BytesIO(data)) as img:
            img.load()
            return to_rgb(img)
    load.__qualname__ = f"load({name})"
    return load


def _lock_golden_retriever(files: Mapping[str, bytes]) -> Image.Image | None:
    """Return GCompris's photo of Lock the golden retriever, put back together from its puzzle pieces.

    GCompris's "babyshapes" activity (board 6, "Lock with colored shapes") shows the photo
    with six holes and six pieces that fit them; the piece centres are in its board file.
    """
    base = "/gcompris/src/activities/babyshapes/resource/dog2/"
    pieces = ((1, 0.74, 0.771), (2, 0.199, 0.726), (3, 0.28, 0.303), (4, 0.859, 0.301),
              (5, 0.568, 0.206), (6, 0.473, 0.692))
    needed = [f"{base}dog.webp"] + [f"{base}dog{i}.webp" for i, _, _ in pieces]
    if not all(name in files for name in needed):
        return None
    canvas = Image.open(BytesIO(files[f"{base}dog.webp"])).convert("RGBA")
    for i, x, y in pieces:
        piece = Image.open(BytesIO(files[f"{base}dog{i}.webp"])).convert("RGBA")
        canvas.alpha_composite(piece, (round(x * canvas.width - piece.width / 2),
                                       round(y * canvas.height - piece.height / 2)))
    return canvas.convert("RGB")


_GCOMPRIS_NOT_BO = {  # bundle -> folder inside it whose photos are "not Bo"
    "explore_farm_animals.rcc": "/gcompris/src/activities/explore_farm_animals/resource/animals/",
    "explore_world_animals.rcc": "/gcompris/src/activities/explore_world_animals/resource/animals/",
    "erase.rcc": "/gcompris/src/activities/erase/resource/",
}


def offline_sources(*, tuxpaint_dir: Path | str = TUXPAINT_DIR,
                    gcompris_dir: Path | str = GCOMPRIS_DIR, bo_views: tuple[int, int] = (20, 6)) -> list[SourcePhoto]:
    """Return the source photos of the offline default that are installed here, Bo's first (notebook 05b).

    Bo's photos (each as ``bo_views`` = (train, valid) views): GCompris's German shepherd and
    Tux Paint's dingo go to training; GCompris's Lock the golden retriever and Tux Paint's
    husky to validation.
    Not Bo (one view each, split about 80/20 by a hash of the name): Tux Paint's other photo
    cut-outs (cartoons and toys left out), GCompris's farm, world and "erase" animal photos,
    scikit-image's chelsea, astronaut and coffee, matplotlib's Grace Hopper.
    """
    tuxpaint_dir, gcompris_dir = Path(tuxpaint_dir), Path(gcompris_dir)
    train_views, valid_views = bo_views
    sources: list[SourcePhoto] = []

    bundles: dict[str, dict[str, bytes]] = {}
    for bundle in ("explore_farm_animals.rcc", "babyshapes.rcc", "explore_world_animals.rcc", "erase.rcc"):
        if (gcompris_dir / bundle).is_file():
            bundles[bundle] = read_qt_resources(gcompris_dir / bundle)
    farm = bundles.get("explore_farm_animals.rcc", {})
    shepherd = "/gcompris/src/activities/explore_farm_animals/resource/animals/dog.webp"
    if shepherd in farm:
        sources.append(SourcePhoto("german_shepherd", "bo", "train", "a German shepherd on grass (GCompris photo)",
                                   f"GCompris (gcompris-qt-data) explore_farm_animals.rcc:{shepherd}",
                                   _from_bytes(farm[shepherd], "dog.webp"), train_views))
    if "babyshapes.rcc" in bundles and _lock_golden_retriever(bundles["babyshapes.rcc"]) is not None:
        pieces = bundles["babyshapes.rcc"]
        sources.append(SourcePhoto("lock_golden_retriever", "bo", "valid",
                                   "Lock, a golden retriever lying on grass (GCompris photo, rebuilt from its puzzle pieces)",
                                   "GCompris (gcompris-qt-data) babyshapes.rcc: dog2/*.webp, board 6",
                                   lambda: _lock_golden_retriever(pieces), valid_views))
    for stem, what, split in (("dingo", "a dingo (Tux Paint photo cut-out, on white)", "train"),
                              ("dog", "a husky (Tux Paint photo cut-out, on white)", "valid")):
        path = tuxpaint_dir / "mammals" / "dogs" / f"{stem}.png"
        if path.is_file():
            sources.append(SourcePhoto(f"tuxpaint_{stem}", "bo", split, what,
                                       f"Tux Paint (tuxpaint-stamps-default) {path}",
                                       lambda p=path: load_rgb(p), train_views if split == "train" else valid_views))

    if tuxpaint_dir.is_dir():
        for path in sorted(tuxpaint_dir.rglob("*.png")):
            rel = path.relative_to(tuxpaint_dir)
            if {"cartoon", "toys"} & set(rel.parts) or path.stem.endswith(("_mirror", "_flip")):
                continue
            if rel.parts[:2] == ("mammals", "dogs") and path.stem in ("dog", "dingo"):
                continue
            sid = "tuxpaint_" + "_".join(rel.with_suffix("").parts[-2:])
            sources.append(SourcePhoto(sid, "not_bo", _stable_split(sid),
                                       f"{path.stem.replace('_', ' ').replace('-', ' ')} (photo cut-out, on white)",
                                       f"Tux Paint (tuxpaint-stamps-default) {path}", lambda p=path: load_rgb(p)))
    for bundle, folder in _GCOMPRIS_NOT_BO.items():
        for name, blob in sorted(bundles.get(bundle, {}).items()):
            if not name.startswith(folder) or name == shepherd or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            sid = f"gcompris_{bundle[:-4]}_{Path(name).stem}"
            sources.append(SourcePhoto(sid, "not_bo", _stable_split(sid),
                                       f"{Path(name).stem.replace('_', ' ')} (photo)",
                                       f"GCompris (gcompris-qt-data) {bundle}:{name}", _from_bytes(blob, name)))

    try:
        import skimage.data as skd

        for name, what in (("chelsea", "Chelsea the cat"), ("astronaut", "astronaut Eileen Collins"),
                           ("coffee", "a cup of coffee"), ("rocket", "a rocket on its launch pad")):
            sid = f"skimage_{name}"
            sources.append(SourcePhoto(sid, "not_bo", _stable_split(sid), f"{what} (photo)",
                                       f"scikit-image skimage.data.{name}()",
                                       lambda f=getattr(skd, name): to_rgb(Image.fromarray(f()))))
    except ImportError:
        pass
    try:
        import matplotlib.cbook

        hopper = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        sources.append(SourcePhoto("matplotlib_grace_hopper", "not_bo", _stable_split("matplotlib_grace_hopper"),
                                   "Grace Hopper (photo)", f"matplotlib sample data {hopper}",
                                   lambda: load_rgb(hopper)))
    except (ImportError, OSError, ValueError):
        pass
    return sources


def door_photos(folder: Path | str | None = None, *, tuxpaint_dir: Path | str = TUXPAINT_DIR,
                gcompris_dir: Path | str = GCOMPRIS_DIR) -> dict[str, Path]:
    """Return ``{name: path}`` of the real photos notebook 05a tries the doggy door on (notebook 05a).

    Files that exist as files are used where they are (Tux Paint's cut-outs, matplotlib's
    Grace Hopper); scikit-image's arrays and GCompris's bundled photos are written once
    into ``folder`` (default ``data/doggy_door_photos/``). Photos whose package is not
    installed are left out, so check which names came back.
    """
    folder = Path(folder) if folder is not None else config.data_dir() / "doggy_door_photos"
    folder.mkdir(parents=True, exist_ok=True)
    tuxpaint_dir, gcompris_dir = Path(tuxpaint_dir), Path(gcompris_dir)
    photos: dict[str, Path] = {}

    def written(name: str, make: Callable[[], Image.Image]) -> Path:
        path = folder / f"{name}.png"
        if not path.is_file():
            atomic_write(path, lambda tmp: make().save(tmp, format="PNG"))
        return path

    try:
        import skimage.data as skd

        for name in ("chelsea", "astronaut", "coffee"):
            photos[name] = written(name, lambda f=getattr(skd, name): to_rgb(Image.fromarray(f())))
    except ImportError:
        pass
    try:
        import matplotlib.cbook

        photos["grace_hopper"] = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except (ImportError, OSError, ValueError):
        pass
    for name, rel in (("husky", "mammals/dogs/dog.png"), ("dingo", "mammals/dogs/dingo.png"),
                      ("fox", "mammals/dogs/fox.png"), ("lion", "mammals/cats/lion.png"),
                      ("lion_2", "mammals/cats/lion-2.png"), ("tiger", "mammals/cats/tiger.png"),
                      ("sumatran_tiger", "mammals/cats/tiger_sumatran.png"), ("ostrich", "birds/ostrich.png")):
        if (tuxpaint_dir / rel).is_file():
            photos[name] = tuxpaint_dir / rel
    bundles: dict[str, dict[str, bytes]] = {}

    def bundle(name: str) -> dict[str, bytes]:  # read a .rcc only when a photo from it is not written yet
        if name not in bundles:
            bundles[name] = read_qt_resources(gcompris_dir / name) if (gcompris_dir / name).is_file() else {}
        return bundles[name]

    farm = "/gcompris/src/activities/explore_farm_animals/resource/animals/"
    lock = "/gcompris/src/activities/babyshapes/resource/dog2/"
    wanted = {
        "german_shepherd": ("explore_farm_animals.rcc", lambda b: b.get(farm + "dog.webp")),
        "farm_cat": ("explore_farm_animals.rcc", lambda b: b.get(farm + "cat.webp")),
        "kitten": ("erase.rcc", lambda b: b.get("/gcompris/src/activities/erase/resource/kitten.webp")),
        "lock_golden_retriever": ("babyshapes.rcc", _lock_golden_retriever),
        "lock_paw": ("babyshapes.rcc", lambda b: b.get(lock + "dog1.webp")),  # one puzzle piece: a paw on grass
    }
    for name, (bundle_name, pick) in wanted.items():
        path = folder / f"{name}.png"
        if not path.is_file():
            found = pick(bundle(bundle_name))
            if found is None:
                continue
            image = found if isinstance(found, Image.Image) else _from_bytes(found, name)()
            written(name, lambda image=image: image)
        photos[name] = path
    return photos


def _resize_short_side(image: Image.Image, side: int) -> Image.Image:
    scale = side / min(image.size)
    if scale >= 1:
        return image
    return image.resize((max(side, round(image.width * scale)), max(side, round(image.height * scale))),
                        Image.Resampling.BICUBIC)


def make_views(image: Image.Image, count: int, *, seed: int | str, side: int = VIEW_SIDE) -> list[Image.Image]:
    """Return ``count`` views of one photo: the photo itself, then seeded crops, flips and small turns (notebook 05b).

    The same ``seed`` gives the same views on every machine. Views keep at least 55 % of the
    photo's area so the animal stays in the picture; each is shrunk to ``side`` pixels on its
    shorter side (never enlarged).
    """
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
    """What :func:`presidential_doggy_door` found and built: the folder, the source, every photo."""

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


def _read_manifest(root: Path) -> dict | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def _write_manifest(root: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True)
    atomic_write(root / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


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
    dogs = {split: " and ".join(s.what for s in sources if s.label == "bo" and s.split == split) for split in SPLITS}
    story = OFFLINE_STORY.format(train_bo=dogs["train"], valid_bo=dogs["valid"],
                                 bo=sum(s.label == "bo" for s in sources),
                                 not_bo=sum(s.label == "not_bo" for s in sources))
    if not any(s.origin.startswith("GCompris") for s in sources):
        story += (" GCompris's photos were not found (Debian package gcompris-qt-data), so fewer dogs play Bo "
                  "and the door is weaker: `apt-get install gcompris-qt-data`, then rebuild.")
    return {"source": "offline", "story": story, "files": files, "origins": origins}


def _reachable(host: tuple[str, int], timeout: float) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _build_oxford_pet(root: Path, pet_root: Path, *, download: bool, timeout: float,
                      per_class: tuple[int, int] = (100, 30)) -> dict:
    """Copy Oxford-IIIT Pet photos into the folders (Newfoundland = Bo); return the manifest."""
    from torchvision.datasets import OxfordIIITPet

    from .data import _socket_timeout

    with _socket_timeout(timeout):
        OxfordIIITPet(str(pet_root), split="trainval", download=download)  # md5-checked by torchvision
    base = pet_root / "oxford-iiit-pet"
    files, origins = {}, {}
    rng = random.Random(0)
    for split, listing, n in (("train", "trainval.txt", per_class[0]), ("valid", "test.txt", per_class[1])):
        lines = (base / "annotations" / listing).read_text().split("\n")
        ids = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
        bo = [i for i in ids if i.rsplit("_", 1)[0].lower() == OXFORD_PET_BO_BREED][:n]
        others = [i for i in ids if i.rsplit("_", 1)[0].lower() != OXFORD_PET_BO_BREED]
        not_bo = sorted(rng.sample(others, min(n, len(others))))
        for label, chosen in (("bo", bo), ("not_bo", not_bo)):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for image_id in chosen:
                rel = f"{split}/{label}/{image_id}.jpg"
                shutil.copyfile(base / "images" / f"{image_id}.jpg", root / rel)
                files[rel] = image_id
                origins[image_id] = f"Oxford-IIIT Pet {image_id}.jpg ({image_id.rsplit('_', 1)[0]})"
    story = ("Oxford-IIIT Pet (Parkhi et al. 2012, CC BY-SA 4.0): the Newfoundland breed plays Bo "
             f"(a big black dog, the nearest of 37 breeds to Bo, a Portuguese water dog); {per_class[0]} "
             "training and up to {0} validation photos per class; not Bo is a random sample of the other "
             "breeds, dogs and cats. Every photo is its own source; the dataset's own trainval/test split "
             "keeps them apart.").replace("{0}", str(per_class[1]))
    return {"source": "oxford-iiit-pet", "story": story, "files": files, "origins": origins}


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


def presidential_doggy_door(root: Path | str | None = None, *, online: bool = False, timeout: float = 5.0,
                            rebuild: bool = False,
                            offline: Callable[[], list[SourcePhoto]] = offline_sources) -> DoorData:
    """Return the doggy-door photos, filling ``data/presidential_doggy_door/`` first if needed (notebook 05b).

    Sources in order: (1) your photos, when all four folders ``{train,valid}/{bo,not_bo}``
    already hold images and no ``SOURCE.json`` says they were built; (2) Oxford-IIIT Pet,
    only when ``online`` and either cached in ``data/`` or reachable within ``timeout``
    seconds (downloaded by torchvision, md5-checked); (3) the offline default
    (:func:`offline_sources`, :data:`OFFLINE_STORY`). A complete earlier build is reused
    (``rebuild=True`` builds afresh). Photos that are not in ``SOURCE.json`` are yours:
    they are never deleted and always used. Every file is checked with :func:`scan_images`;
    bad ones are listed in ``problems``, not used. Raises :class:`DoorDataError` when no
    source can fill all four folders.
    """
    root = Path(root) if root is not None else config.data_dir() / "presidential_doggy_door"
    root.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(root)
    good, _ = _scan_folders(root)
    built = set(manifest["files"]) if manifest else set()
    own = {key: [p for p in paths if p.relative_to(root).as_posix() not in built] for key, paths in good.items()}
    complete = manifest is not None and all((root / rel).is_file() for rel in manifest["files"])
    pet_root = config.data_dir()
    pet_cached = (pet_root / "oxford-iiit-pet" / "annotations" / "trainval.txt").is_file()
    why_not_pet = ""
    checked: list[bool] = []  # ask the network at most once

    def pet_available() -> bool:
        nonlocal why_not_pet
        if not checked:
            checked.append(pet_cached or _reachable(OXFORD_PET_HOST, timeout))
            if not checked[0]:
                why_not_pet = f" (Oxford-IIIT Pet: {OXFORD_PET_HOST[0]} not reachable within {timeout:g} s)"
        return checked[0]

    if manifest is None and all(own.values()):
        manifest = {"source": "yours", "story": "Your own photos, as you put them in the four folders.",
                    "files": {}, "origins": {}}
    elif (not complete or rebuild
          or (online and manifest.get("source") == "offline" and pet_available())):
        if manifest:  # remove only what an earlier build wrote; your photos stay
            for rel in manifest["files"]:
                (root / rel).unlink(missing_ok=True)
        (root / MANIFEST).unlink(missing_ok=True)
        manifest = None
        if online and pet_available():
            try:
                manifest = _build_oxford_pet(root, pet_root, download=not pet_cached, timeout=timeout)
            except Exception as exc:  # network dropped, checksum failed: fall back, and say so
                why_not_pet = f" (Oxford-IIIT Pet failed: {type(exc).__name__}: {exc})"
        if manifest is None:
            manifest = _build_offline(root, offline())
            manifest["story"] += why_not_pet
        _write_manifest(root, manifest)

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
    for split in SPLITS:
        for index, label in enumerate(LABELS):
            if not any(y == index for _, y in items[split]):
                raise DoorDataError(f"{root / split / label} holds no usable image. Put photos there "
                                    "(or delete SOURCE.json and call again to rebuild the default).")
    return DoorData(root=root, source=manifest["source"], story=manifest["story"], items=items, groups=groups,
                    yours=yours, problems=problems, origins=dict(manifest.get("origins", {})))


# ----------------------------------------------------------------------------------------------
# Your own photos: safe uploads and the panel
# ----------------------------------------------------------------------------------------------

def safe_filename(name: str) -> str:
    """Return ``name`` reduced to a plain file name: no folders, no ``..``, only letters, digits, ``._-`` (notebook 05b).

    ``'../../x.jpg'`` becomes ``'x.jpg'``; ``'C:\\\\evil\\\\a b.png'`` becomes ``'a_b.png'``; a name
    left empty becomes ``'photo'``. Leading dots are removed, so the result is never hidden.
    """
    base = re.split(r"[\\/]", str(name))[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")
    base = re.sub(r"\.{2,}", ".", base)[:100]
    return base or "photo"


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate


def save_uploads(value: Sequence[Mapping] | Mapping, label: str, root: Path | str, *, split: str = "train",
                 max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[list[Path], list[tuple[str, str]]]:
    """Return ``(saved paths, problems)`` after adding uploaded photos to ``root/split/label`` (notebook 05b).

    ``value`` is an ipywidgets 8 ``FileUpload.value``: a tuple of dicts with ``name``,
    ``type``, ``size``, ``content`` (a memoryview) and ``last_modified`` (a dict of such
    dicts, ipywidgets 7's shape, works too). Each file must be at most ``max_bytes`` (20 MB)
    and pass :func:`scan_images` (it is written to a temporary folder first); its name is
    cleaned by :func:`safe_filename` and made unique, and the result must lie inside
    ``root``, so a name like ``'../../x.jpg'`` can never write elsewhere. ``problems``
    holds ``(uploaded name, reason)`` for every file not saved.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root).resolve()
    folder = root / split / label
    folder.mkdir(parents=True, exist_ok=True)
    entries = list(value.values()) if isinstance(value, Mapping) else list(value)
    saved: list[Path] = []
    problems: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="doggy-upload-") as staging:
        for entry in entries:
            name = str(entry.get("name", "photo"))
            content = entry.get("content", b"")
            size = len(content) if content is not None else 0
            if size > max_bytes:
                problems.append((name, f"too large: {size / 2**20:.1f} MB, the limit is {max_bytes / 2**20:.0f} MB"))
                continue
            clean = safe_filename(name)
            if Path(clean).suffix.lower() not in IMAGE_EXTENSIONS:
                clean += ".jpg"  # Pillow reads the content, whatever the name says
            staged = Path(staging) / clean
            staged.write_bytes(bytes(content))
            good, bad = scan_images(staging)
            staged_ok = staged in good
            if not staged_ok:
                reason = next((why for p, why in bad if p == staged), "not readable as an image")
                problems.append((name, reason))
                staged.unlink(missing_ok=True)
                continue
            target = _unique(folder / clean).resolve()
            if not target.is_relative_to(root):  # cannot happen after safe_filename; checked all the same
                problems.append((name, f"refused: {target} is outside {root}"))
                staged.unlink(missing_ok=True)
                continue
            shutil.move(str(staged), str(target))
            saved.append(target)
    return saved, problems


class UploadPanel:
    """An ipywidgets panel: upload photos into ``bo`` or ``not_bo``, then retrain (notebook 05b).

    ``panel.widget`` is what a notebook displays. The handlers are plain methods, so they
    also run without a browser: ``panel.add(value)`` takes a ``FileUpload.value``-shaped
    tuple, ``panel.retrain()`` calls the ``retrain`` function given. Both return the text
    they also print into the panel's output area.
    """

    def __init__(self, root: Path | str, retrain: Callable[[], str]):
        import ipywidgets as widgets

        self.root = Path(root)
        self._retrain = retrain
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description="Choose photos")
        self.label = widgets.ToggleButtons(options=[("Bo", "bo"), ("not Bo", "not_bo")], value="bo",
                                           description="These are:")
        self.split = widgets.ToggleButtons(options=[("training", "train"), ("validation", "valid")],
                                           value="train", description="Use for:")
        self.add_button = widgets.Button(description="Add photos", icon="plus")
        self.retrain_button = widgets.Button(description="Retrain", icon="refresh", button_style="primary")
        self.output = widgets.Output()
        self.last_saved: list[Path] = []
        self.add_button.on_click(lambda _: self.add())
        self.retrain_button.on_click(lambda _: self.retrain())
        self.widget = widgets.VBox([self.upload, self.label, self.split,
                                    widgets.HBox([self.add_button, self.retrain_button]), self.output])

    def _say(self, text: str) -> str:
        self.output.append_stdout(text + "\n")
        return text

    def add(self, value: Sequence[Mapping] | Mapping | None = None) -> str:
        """Save the uploaded files (``value``, default: the upload widget's) and return a report."""
        value = self.upload.value if value is None else value
        saved, problems = save_uploads(value, self.label.value, self.root, split=self.split.value)
        lines = [f"added {len(saved)} photo(s) to {self.split.value}/{self.label.value}"]
        lines += [f"  + {p.name}" for p in saved]
        lines += [f"  ✗ {name}: {why}" for name, why in problems]
        self.last_saved = saved
        if value is self.upload.value:
            self.upload.value = ()
        return self._say("\n".join(lines))

    def retrain(self) -> str:
        """Call the ``retrain`` function and return (and show) what it reports."""
        return self._say(str(self._retrain()))
