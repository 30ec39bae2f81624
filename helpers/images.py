"""Photos from anywhere (notebooks 05a, 05b): find every image in a folder, load it as 8-bit RGB.
Learners bring sideways phone photos, 108-megapixel JPEGs, HEIC, 16-bit scans and text files
named ``.jpg``: each bad file is named with its reason, never a crash half-way nor a silent drop."""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

HEIF_REQUIREMENT = "pillow-heif==1.8.1"  # the pin in pyproject.toml (tests/test_images.py checks they agree)
try:
    import pillow_heif
except ImportError:  # HEIC photos then get a message that says how to install it or convert them
    pillow_heif = None
else:
    pillow_heif.register_heif_opener()  # Image.open reads HEIC/HEIF, the iPhone camera's default format

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                              ".heic", ".heif", ".avif"})
MIN_SIDE = 32  # pixels; smaller pictures carry too little to classify (the network sees 224 × 224)
MAX_SIDE = 2048  # pixels on the longer side after loading: phone photos are shrunk on load, the network sees 224
# phone cameras make up to 200 megapixels; a bigger image is a decompression bomb or a giant scan
MAX_PIXELS = 250_000_000
WHITE = (255, 255, 255)


class ImageProblem(ValueError):
    """A file could not be used as a photo; the message names the file, the reason and the fix."""

    def __init__(self, path: Path | str, reason: str, *,
                 fix: str = "replace or delete this file (helpers.images.scan_images(folder) lists "
                            "every bad file in a folder)"):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}. Fix: {fix}.")


def _white_level(mode: str, arr: np.ndarray) -> float:
    """Return the value that means white for a 16-bit, 32-bit or float image: its format's range,
    not its brightest pixel (``I;16``: 65535; ``I``: 65535 while every value fits 16 bits, else
    2**31 - 1; ``F``: 1.0 for data in 0..1, else the 8- or 16-bit range its values fit)."""
    top = float(arr.max(initial=0))
    if mode.startswith("I;16"):
        return 65535.0
    if mode == "I":
        return 65535.0 if top <= 65535 else float(2**31 - 1)
    if arr.min(initial=0) >= 0.0 and top <= 1.0:
        return 1.0
    return 255.0 if top <= 255 else 65535.0


def _scale_to_uint8(arr: np.ndarray, white: float) -> np.ndarray:
    """Return a 2-D array scaled so that ``white`` becomes 255, as uint8 (negative values become 0)."""
    return np.clip(arr.astype(np.float64) / white * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_rgb(image: Image.Image, *, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Return ``image`` as an 8-bit RGB PIL image (notebook 05a).
    Transparency lands on ``background`` (white: a cut-out on a white page); 16-bit and float
    greys are scaled from their format's range (a dark scan stays dark). Else ``ValueError``."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(image)
        return Image.fromarray(_scale_to_uint8(arr, _white_level(mode, arr)), mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa"):
        rgba = image.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(page, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ValueError(f"unreadable mode {mode!r}: Pillow cannot convert it to RGB ({exc})") from None


_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
          (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
_PLUGIN = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "BMP": "BMP", "TIFF": "TIFF", "WebP": "WEBP",
           "HEIC": "HEIF", "AVIF": "AVIF"}  # the name Pillow registers each format's reader under
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "I", "F"})  # the modes Image.reduce accepts
# Pillow's words for a damaged header (from fuzzing: bad checksums, mangled chunk and marker names, bare numbers)
_DAMAGED = re.compile(r"broken|checksum|crc|not an? |truncat|missing|invalid|bad |no marker|not identified|"
                      r"unknown filter|end of file|^[\W\d]*$", re.IGNORECASE)


def _sniff(header: bytes) -> str | None:
    """Return the image format that ``header`` (a file's first bytes) announces, or None."""
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "WebP"
    if header[4:8] == b"ftyp":
        if header[8:12] in (b"avif", b"avis"):
            return "AVIF"
        if header[8:12] in _HEIC_BRANDS:
            return "HEIC"
    return next((fmt for magic, fmt in _MAGIC if header.startswith(magic)), None)


def _unidentified(path: Path) -> ImageProblem:
    """Return the problem with a file that Pillow could not identify.

    Not an image, a damaged header, an unsupported layout, or HEIC without pillow-heif.
    """
    name = path
    with open(path, "rb") as fh:
        header = fh.read(16)
    fmt = _sniff(header)
    if fmt is None:
        return ImageProblem(name, "not an image: its content is in no image format Pillow knows "
                                  "(a text or other file with an image name?)")
    plugin = _PLUGIN[fmt]
    if plugin not in Image.OPEN:
        if fmt == "HEIC":
            return ImageProblem(
                name, f"HEIC photo (the iPhone camera's default format), but pillow-heif, which reads HEIC, "
                      f"is not installed: run `pip install {HEIF_REQUIREMENT}` and restart the kernel, or convert "
                      "it to JPEG (iPhone: Settings > Camera > Formats > Most Compatible; Mac: open it in Preview, "
                      "File > Export, JPEG)", fix="install pillow-heif, or convert the photo to JPEG")
        return ImageProblem(name, f"{fmt} image, but this Pillow build cannot read {fmt}; convert it to JPEG or PNG",
                            fix="convert the image to JPEG or PNG")
    factory, _ = Image.OPEN[plugin]
    try:  # ask the format's own reader why: Image.open hides its reason behind "cannot identify"
        with open(path, "rb") as fh, factory(fh, str(path)):
            why = "its reader accepts the header but Pillow does not recognise the file"
    except Exception as exc:  # noqa: BLE001 (any reason is worth showing)
        why = str(exc) or type(exc).__name__
    if _DAMAGED.search(why):
        return ImageProblem(name, f"corrupt {fmt} file: its header is damaged (Pillow: {why})")
    return ImageProblem(name, f"unsupported {fmt} layout or a damaged header (Pillow: {why}); if other programs "
                              "show it, re-save it as 8-bit RGB JPEG or PNG",
                        fix="re-save it as 8-bit RGB JPEG or PNG, or replace or delete it")


@contextlib.contextmanager
def _own_pixel_limit() -> Iterator[None]:
    """Switch Pillow's decompression-bomb check off while opening.

    :func:`_check_size` applies :data:`MAX_PIXELS` instead, with a better message.
    """
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _check_size(size: tuple[int, int], *, min_side: int, name: Path | str) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageProblem(name, f"too large: {width}×{height} pixels ({width * height / 1e6:.0f} megapixels), more "
                                 f"than the {MAX_PIXELS // 1_000_000} megapixels allowed; phone cameras make at most "
                                 "200, so this is a decompression bomb or a giant scan",
                           fix="shrink it (4000 pixels on the long side is plenty), or delete it")
    if width < min_side or height < min_side:
        raise ImageProblem(name, f"too small: {width}×{height} pixels, need at least {min_side} on each side")


def _decode(path: Path, *, min_side: int, max_side: int | None) -> Image.Image:
    """Open, check, decode, orient, convert and shrink one image; raise :class:`ImageProblem` with the reason."""
    name = path
    try:
        with _own_pixel_limit():
            img = Image.open(path)
        with img:
            _check_size(img.size, min_side=min_side, name=name)  # from the header, before any pixel is decoded
            if max_side is not None and img.format in ("JPEG", "MPO"):  # MPO: a phone's JPEG with extra frames
                img.draft(None, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 size: fast and small
            img.load()  # decodes every byte: truncated data fails here, not later in training
            if max_side is not None and max(img.size) >= 2 * max_side and img.mode in _REDUCIBLE:
                img = img.reduce(max(img.size) // max_side)  # averages k×k blocks: a cheap first shrink
            img = ImageOps.exif_transpose(img)  # phone photos store "turn me" in EXIF
    except ImageProblem:
        raise
    except UnidentifiedImageError:
        raise _unidentified(path) from None
    except PermissionError:
        raise ImageProblem(name, "permission denied: this user may not read the file",
                           fix=f"make it readable (`chmod a+r '{name}'`, or ask its owner), "
                               "or copy the photo into a folder of your own") from None
    except (OSError, SyntaxError, EOFError, ValueError, IndexError) as exc:  # truncated or corrupt data
        raise ImageProblem(name, f"truncated or corrupt image data ({type(exc).__name__}: {exc})") from None
    try:
        rgb = to_rgb(img)
    except ValueError as exc:  # a mode with no RGB conversion
        raise ImageProblem(name, str(exc)) from None
    if max_side is not None and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb


def load_rgb(path: Path | str, *, min_side: int = MIN_SIDE, max_side: int | None = MAX_SIDE) -> Image.Image:
    """Return the image at ``path`` as 8-bit RGB, upright, at most ``max_side`` long (notebook 05a).
    JPEGs decode shrunk (a 108-megapixel photo in a fraction of a second), HEIC via pillow-heif;
    a bad file raises :class:`ImageProblem` naming the file, the reason and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file). Check the name, or list "
                                "a folder's photos with helpers.images.scan_images(folder).")
    if path.stat().st_size == 0:
        raise ImageProblem(path, "empty file (0 bytes)")
    return _decode(path, min_side=min_side, max_side=max_side)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _identity(path: Path) -> tuple[int, int]:
    """Return what makes a folder itself, whatever path leads to it: its device and inode."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def scan_images(folder: Path | str, *, min_side: int = MIN_SIDE) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Return ``(good_paths, problems)`` for every file under ``folder`` (notebooks 05a, 05b).
    Every file is fully decoded; each bad or skipped one is listed with its reason
    (ARCHITECTURE.md, "Reading photos"). A missing folder raises ``FileNotFoundError``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder. Create it and put photos in it, "
                                "or pass the folder that holds them.")
    scanned: dict[tuple[int, int], Path] = {}  # every folder's identity -> the path it is scanned under
    for dirpath, dirnames, _ in os.walk(folder):  # first the real (unlinked) folders, so that they keep their names
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        scanned[_identity(Path(dirpath))] = Path(dirpath)
    good: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        here = Path(dirpath)
        dirnames.sort()
        keep = []
        for d in dirnames:
            sub = here / d
            if _is_hidden(d):
                count = sum(len(files) for _, _, files in os.walk(sub))
                problems.append((sub, f"skipped: hidden folder ({count} files inside not scanned)"))
                continue
            identity = _identity(sub)
            first = scanned.setdefault(identity, sub)
            if first != sub:
                shown = "the scanned folder itself" if first == folder else first.relative_to(folder).as_posix()
                kind = "link to a folder" if sub.is_symlink() else "folder"
                problems.append((sub, f"skipped: {kind} already scanned ({shown})"))
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = here / name
            suffix = path.suffix.lower()
            if _is_hidden(name):
                problems.append((path, "skipped: hidden file"))
            elif suffix not in IMAGE_EXTENSIONS:
                problems.append((path, f"skipped: {suffix or 'no'} extension is not an image's "
                                       f"(expected one of {', '.join(sorted(IMAGE_EXTENSIONS))})"))
            else:
                try:
                    load_rgb(path, min_side=min_side)
                except ImageProblem as exc:
                    problems.append((path, exc.reason))
                except OSError as exc:  # unreadable: a broken link, a file gone since the folder was listed
                    problems.append((path, f"unreadable file ({type(exc).__name__}: {exc})"))
                else:
                    good.append(path)
    return sorted(good), problems
