"""Your own photos for the doggy door: safe file names and checked uploads.

Introduced in notebook 05b, whose upload panel (:class:`helpers.widgets.UploadPanel`) calls
:func:`save_uploads`: every file is size-checked, decoded (:func:`helpers.images.scan_images`)
and written under a cleaned name inside the data folder, never elsewhere.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .door_data import LABELS, SPLITS
from .images import IMAGE_EXTENSIONS, scan_images

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def safe_filename(name: str) -> str:
    """Return ``name`` reduced to a plain file name (notebook 05b).

    No folders, no ``..``, only letters, digits and ``._-``.

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
