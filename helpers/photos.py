"""Real photos that installed packages ship (notebooks 05a, 05b): one table of sources, and their
roles. GCompris (inside Qt ``.rcc`` bundles), Tux Paint cut-outs, scikit-image, matplotlib's
Grace Hopper; a photo whose package is missing is left out, so callers check what came back."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from PIL import Image

from . import config
from ._qt_resources import read_qt_resources
from .files import atomic_write
from .images import IMAGE_EXTENSIONS, load_rgb, to_rgb

TUXPAINT_DIR = Path("/usr/share/tuxpaint/stamps/animals")
GCOMPRIS_DIR = Path("/usr/share/gcompris-qt/rcc")
_FARM = "/gcompris/src/activities/explore_farm_animals/resource/animals/"
_LOCK = "/gcompris/src/activities/babyshapes/resource/dog2/"
SHEPHERD = _FARM + "dog.webp"

# scikit-image sample images: name -> what it shows (the first three are also sample photos for 05a)
SKIMAGE_PHOTOS = {"chelsea": "Chelsea the cat", "astronaut": "astronaut Eileen Collins",
                  "coffee": "a cup of coffee", "rocket": "a rocket on its launch pad"}
# Tux Paint photo cut-outs that notebook 05a tries the door on: name -> path under TUXPAINT_DIR
TUXPAINT_SAMPLES = {"husky": "mammals/dogs/dog.png", "dingo": "mammals/dogs/dingo.png",
                    "fox": "mammals/dogs/fox.png", "lion": "mammals/cats/lion.png",
                    "lion_2": "mammals/cats/lion-2.png", "tiger": "mammals/cats/tiger.png",
                    "sumatran_tiger": "mammals/cats/tiger_sumatran.png", "ostrich": "birds/ostrich.png"}
# GCompris photos that notebook 05a tries the door on: name -> (bundle, how to get it from the bundle)
_GCOMPRIS_SAMPLES: dict[str, tuple[str, Callable[[Mapping[str, bytes]], bytes | Image.Image | None]]] = {
    "german_shepherd": ("explore_farm_animals.rcc", lambda b: b.get(SHEPHERD)),
    "farm_cat": ("explore_farm_animals.rcc", lambda b: b.get(_FARM + "cat.webp")),
    "kitten": ("erase.rcc", lambda b: b.get("/gcompris/src/activities/erase/resource/kitten.webp")),
    "lock_golden_retriever": ("babyshapes.rcc", lambda b: _lock_golden_retriever(b)),
    "lock_paw": ("babyshapes.rcc", lambda b: b.get(_LOCK + "dog1.webp")),  # one puzzle piece: a paw on grass
}


def _skimage_photo(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import skimage.data

        return to_rgb(Image.fromarray(getattr(skimage.data, name)()))
    return load


def _hopper_path() -> Path | None:
    """Return matplotlib's Grace Hopper photo, or None when matplotlib's sample data is missing."""
    try:
        import matplotlib.cbook

        return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except (ImportError, OSError, ValueError):
        return None


def _has_skimage() -> bool:
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        return False
    return True


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
    """Return GCompris's photo of Lock the golden retriever, put back together from its puzzle
    pieces. The "babyshapes" activity (board 6, "Lock with colored shapes") shows it with six
    holes and six pieces that fit them; the piece centres are in its board file."""
    base = _LOCK
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
    "explore_farm_animals.rcc": _FARM,
    "explore_world_animals.rcc": "/gcompris/src/activities/explore_world_animals/resource/animals/",
    "erase.rcc": "/gcompris/src/activities/erase/resource/",
}


_GAUGUIN_DOG = "/gcompris/src/activities/babyshapes/resource/image/Paul_Gauguin_006_chien.webp"
LOCK_SPLIT = 0.52  # Lock's photo is cut here (fraction of its width): his head and forelegs left, back and tail right


def _part(load: Callable[[], Image.Image], left: float, right: float) -> Callable[[], Image.Image]:
    """Return a loader of the vertical strip ``left``..``right`` (fractions of the width) of a photo."""
    def strip() -> Image.Image:
        image = load()
        return image.crop((round(left * image.width), 0, round(right * image.width), image.height))
    return strip


def offline_sources(*, tuxpaint_dir: Path | str = TUXPAINT_DIR, gcompris_dir: Path | str = GCOMPRIS_DIR,
                    bo_views: tuple[int, int] = (30, 12),
                    dog_views: tuple[int, int, int, int] = (48, 12, 12, 8)) -> list[SourcePhoto]:
    """Return the offline default's source photos installed here, Bo's first (notebook 05b).
    Bo is ONE dog, Lock of GCompris, cut in two at :data:`LOCK_SPLIT` so that no validation pixel
    is seen in training; the others are Not Bo (ARCHITECTURE.md, "The doggy door")."""
    tuxpaint_dir, gcompris_dir = Path(tuxpaint_dir), Path(gcompris_dir)
    bundles: dict[str, dict[str, bytes]] = {}
    for bundle in ("explore_farm_animals.rcc", "babyshapes.rcc", "explore_world_animals.rcc", "erase.rcc"):
        if (gcompris_dir / bundle).is_file():
            bundles[bundle] = read_qt_resources(gcompris_dir / bundle)
    return [*_bo(bundles.get("babyshapes.rcc", {}), bo_views),
            *_named_dogs(bundles, tuxpaint_dir, dog_views), *_other_animals(bundles, tuxpaint_dir)]


def _bo(pieces: dict[str, bytes], bo_views: tuple[int, int]) -> list[SourcePhoto]:
    """Return Lock's two halves (training, validation), or nothing when GCompris's puzzle is missing."""
    if _lock_golden_retriever(pieces) is None:
        return []
    lock = "Lock the golden retriever (GCompris photo, rebuilt from its puzzle pieces)"
    origin = "GCompris (gcompris-qt-data) babyshapes.rcc: dog2/*.webp, board 6"
    whole = lambda: _lock_golden_retriever(pieces)  # noqa: E731
    return [SourcePhoto("lock_front", "bo", "train", f"{lock}: head and forelegs",
                        origin, _part(whole, 0, LOCK_SPLIT), bo_views[0]),
            SourcePhoto("lock_back", "bo", "valid", f"{lock}: back, hind leg and tail",
                        origin, _part(whole, LOCK_SPLIT, 1), bo_views[1])]


def _named_dogs(bundles: dict[str, dict[str, bytes]], tuxpaint_dir: Path,
                dog_views: tuple[int, int, int, int]) -> list[SourcePhoto]:
    """Return the other dogs, several views each: GCompris's German shepherd and Tux Paint's dingo for
    training, Tux Paint's husky and the dog of Gauguin's painting for validation."""
    farm = bundles.get("explore_farm_animals.rcc", {})
    dogs = []  # (id, split, what, origin, loader)
    if SHEPHERD in farm:
        dogs.append(("german_shepherd", "train", "a German shepherd on grass (GCompris photo)",
                     f"GCompris (gcompris-qt-data) explore_farm_animals.rcc:{SHEPHERD}",
                     _from_bytes(farm[SHEPHERD], "dog.webp")))
    for stem, what, split in (("dingo", "a dingo (Tux Paint photo cut-out, on white)", "train"),
                              ("dog", "a husky (Tux Paint photo cut-out, on white)", "valid")):
        path = tuxpaint_dir / "mammals" / "dogs" / f"{stem}.png"
        if path.is_file():
            dogs.append((f"tuxpaint_{stem}", split, what, f"Tux Paint (tuxpaint-stamps-default) {path}",
                         lambda p=path: load_rgb(p)))
    pieces = bundles.get("babyshapes.rcc", {})
    if _GAUGUIN_DOG in pieces:
        dogs.append(("gauguin_dog", "valid", "the dog in Gauguin's painting (GCompris, a detail)",
                     f"GCompris (gcompris-qt-data) babyshapes.rcc:{_GAUGUIN_DOG}",
                     _from_bytes(pieces[_GAUGUIN_DOG], "chien.webp")))
    views = dict(zip(("german_shepherd", "tuxpaint_dingo", "tuxpaint_dog", "gauguin_dog"), dog_views))
    return [SourcePhoto(sid, "not_bo", split, what, origin, load, views[sid])
            for sid, split, what, origin, load in dogs]


def _other_animals(bundles: dict[str, dict[str, bytes]], tuxpaint_dir: Path) -> list[SourcePhoto]:
    """Return one view each (split about 80/20 by a hash of the name) of Tux Paint's other photo cut-outs
    (no cartoons or toys), GCompris's animal photos, scikit-image's and matplotlib's sample photos."""
    sources: list[SourcePhoto] = []
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
            if not name.startswith(folder) or name == SHEPHERD or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            sid = f"gcompris_{bundle[:-4]}_{Path(name).stem}"
            sources.append(SourcePhoto(sid, "not_bo", _stable_split(sid),
                                       f"{Path(name).stem.replace('_', ' ')} (photo)",
                                       f"GCompris (gcompris-qt-data) {bundle}:{name}", _from_bytes(blob, name)))

    if _has_skimage():
        for name, what in SKIMAGE_PHOTOS.items():
            sid = f"skimage_{name}"
            sources.append(SourcePhoto(sid, "not_bo", _stable_split(sid), f"{what} (photo)",
                                       f"scikit-image skimage.data.{name}()", _skimage_photo(name)))
    hopper = _hopper_path()
    if hopper is not None:
        sources.append(SourcePhoto("matplotlib_grace_hopper", "not_bo", _stable_split("matplotlib_grace_hopper"),
                                   "Grace Hopper (photo)", f"matplotlib sample data {hopper}",
                                   lambda: load_rgb(hopper)))
    return sources




def sample_photos(folder: Path | str | None = None, *, tuxpaint_dir: Path | str = TUXPAINT_DIR,
                  gcompris_dir: Path | str = GCOMPRIS_DIR) -> dict[str, Path]:
    """Return ``{name: path}`` of the real photos the doggy door is tried on (notebook 05a).
    Files are used where they are; scikit-image's arrays and GCompris's photos are written once
    into ``folder`` (``data/doggy_door_photos/``). A missing package's photos are left out."""
    folder = Path(folder) if folder is not None else config.data_dir() / "doggy_door_photos"
    folder.mkdir(parents=True, exist_ok=True)
    tuxpaint_dir, gcompris_dir = Path(tuxpaint_dir), Path(gcompris_dir)
    photos: dict[str, Path] = {}

    def written(name: str, make: Callable[[], Image.Image]) -> Path:
        path = folder / f"{name}.png"
        if not path.is_file():
            atomic_write(path, lambda tmp: make().save(tmp, format="PNG"))
        return path

    if _has_skimage():
        for name in ("chelsea", "astronaut", "coffee"):
            photos[name] = written(name, _skimage_photo(name))
    hopper = _hopper_path()
    if hopper is not None:
        photos["grace_hopper"] = hopper
    for name, rel in TUXPAINT_SAMPLES.items():
        if (tuxpaint_dir / rel).is_file():
            photos[name] = tuxpaint_dir / rel
    bundles: dict[str, dict[str, bytes]] = {}

    def bundle(name: str) -> dict[str, bytes]:  # read a .rcc only when a photo from it is not written yet
        if name not in bundles:
            bundles[name] = read_qt_resources(gcompris_dir / name) if (gcompris_dir / name).is_file() else {}
        return bundles[name]

    for name, (bundle_name, pick) in _GCOMPRIS_SAMPLES.items():
        path = folder / f"{name}.png"
        if not path.is_file():
            found = pick(bundle(bundle_name))
            if found is None:
                continue
            image = found if isinstance(found, Image.Image) else _from_bytes(found, name)()
            written(name, lambda image=image: image)
        photos[name] = path
    return photos
