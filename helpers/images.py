"""Photos from anywhere: find every image in a folder, report the bad ones, load the rest as RGB.

Introduced in notebook 05a (the doggy door) and used by 05b, whose learners bring their own
photos: phone pictures turned sideways, PNGs with transparency, grayscale scans, a text file
that someone named ``.jpg``. :func:`scan_images` opens every file and says what is wrong
with each bad one instead of crashing half-way or dropping it silently; :func:`load_rgb`
turns every decodable image into 8-bit RGB.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
MIN_SIDE = 32  # pixels; smaller pictures carry too little to classify (the network sees 224 × 224)
WHITE = (255, 255, 255)


class ImageProblem(ValueError):
    """A file could not be used as a photo; the message names the file, the reason and the fix."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}. Fix: replace or delete this file "
                         "(helpers.images.scan_images(folder) lists every bad file in a folder).")


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Return a 2-D integer or float array scaled into 0..255 as uint8 (16-bit, 32-bit and float modes)."""
    is_float = arr.dtype.kind == "f"
    arr = arr.astype(np.float64)
    top = 65535.0 if arr.max(initial=0) > 255 else 255.0
    if is_float and arr.min(initial=0) >= 0.0 and arr.max(initial=0) <= 1.0:
        top = 1.0
    return np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_rgb(image: Image.Image, *, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Return ``image`` as an 8-bit RGB PIL image (notebook 05a).

    Grayscale (``1``, ``L``), palette (``P``), CMYK, YCbCr, LAB and HSV are converted;
    transparency (``RGBA``, ``LA``, ``PA``, a palette with a transparent colour) is composited
    on ``background`` (white, so a cut-out animal stands on a white page, not on black);
    16-bit, 32-bit and float grayscale (``I;16``, ``I``, ``F``) are scaled to 0..255.
    A mode Pillow cannot turn into RGB raises :class:`ValueError` naming the mode.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(image)), mode="L").convert("RGB")
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


def _sniff(header: bytes) -> str | None:
    """Return the image format that ``header`` (a file's first bytes) announces, or None."""
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _MAGIC if header.startswith(magic)), None)


def _decode(source, *, min_side: int, name: Path | str) -> Image.Image:
    """Open, fully decode, orient and convert one image; raise :class:`ImageProblem` with the reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                img.load()  # decodes every byte: truncated data fails here, not later in training
                img = ImageOps.exif_transpose(img)  # phone photos store "turn me" in EXIF
                if img.width < min_side or img.height < min_side:
                    raise ImageProblem(name, f"too small: {img.width}×{img.height} pixels, "
                                             f"need at least {min_side} on each side")
                return to_rgb(img)
    except ImageProblem:
        raise
    except UnidentifiedImageError:
        if hasattr(source, "seek"):
            source.seek(0)
            header = source.read(16)
        else:
            with open(source, "rb") as fh:
                header = fh.read(16)
        fmt = _sniff(header)
        if fmt is not None:
            raise ImageProblem(name, f"unreadable mode: a {fmt} file whose pixel layout (bit depth, "
                                     "channels) Pillow cannot decode; re-save it as 8-bit RGB") from None
        raise ImageProblem(name, "not an image: its content is in no image format Pillow knows "
                                 "(a text or other file with an image name?)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(name, f"too large to decode safely ({exc})") from None
    except ValueError as exc:  # to_rgb: a mode with no RGB conversion
        raise ImageProblem(name, str(exc)) from None
    except (OSError, SyntaxError, EOFError) as exc:  # truncated or corrupt data
        raise ImageProblem(name, f"truncated or corrupt image data ({type(exc).__name__}: {exc})") from None


def load_rgb(path: Path | str, *, min_side: int = MIN_SIDE) -> Image.Image:
    """Return the image at ``path`` as an 8-bit RGB PIL image, turned upright (notebook 05a).

    Converts like :func:`to_rgb` and applies the EXIF orientation. A file that is empty,
    not an image, truncated, too small (``min_side`` pixels) or in an unreadable mode raises
    :class:`ImageProblem` naming the file and the reason.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file). Check the name, or list "
                                "a folder's photos with helpers.images.scan_images(folder).")
    if path.stat().st_size == 0:
        raise ImageProblem(path, "empty file (0 bytes)")
    return _decode(path, min_side=min_side, name=path)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def scan_images(folder: Path | str, *, min_side: int = MIN_SIDE) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Return ``(good_paths, problems)`` for every file under ``folder``, recursively (notebooks 05a, 05b).

    Every file is opened and fully decoded. ``good_paths`` (sorted) are the images
    :func:`load_rgb` can load. ``problems`` lists ``(path, reason)`` for all the others,
    so nothing is dropped unnamed: zero bytes, not an image (a text file named ``.jpg``),
    truncated or corrupt data, too small, an unreadable mode, and, as ``"skipped: ..."``,
    hidden files and folders (names starting with ``.``) and files whose extension is not
    an image's (``.txt``). Never raises for a bad file; a missing folder raises
    ``FileNotFoundError``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder. Create it and put photos in it, "
                                "or pass the folder that holds them.")
    good: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames.sort()
        for d in [d for d in dirnames if _is_hidden(d)]:
            count = sum(len(files) for _, _, files in os.walk(here / d))
            problems.append((here / d, f"skipped: hidden folder ({count} files inside not scanned)"))
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
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
                except OSError as exc:  # unreadable: permissions, a broken link
                    problems.append((path, f"unreadable file ({type(exc).__name__}: {exc})"))
                else:
                    good.append(path)
    return sorted(good), problems

