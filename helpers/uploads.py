"""Your own photos for the doggy door (notebook 05b): safe file names, checked uploads, cached
features. Uploads are size-checked, decoded, refused when already there, written atomically
inside the data folder, never elsewhere (ARCHITECTURE.md, "Uploads")."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from .data import folder_error
from .door_data import LABELS, SPLITS
from .files import atomic_write, sha256
from .images import IMAGE_EXTENSIONS, ImageProblem, load_rgb

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_NAME_BYTES = 200  # file systems allow 255 bytes a name; room is left for "_12" and a temporary prefix
SPLIT_WORDS = {"train": "training", "valid": "validation"}


def safe_filename(name: str) -> str:
    """Return ``name`` reduced to a plain file name (notebook 05b): no folders, no ``..``, not
    hidden. Letters and digits of any script and ``._-`` stay, the rest becomes ``_``; NFC (macOS
    splits ``ö``); cut to :data:`MAX_NAME_BYTES` of UTF-8, extension kept; empty: ``photo``."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", str(name)))[-1]
    base = re.sub(r"[^\w.-]+", "_", base).lstrip("._-")
    base = re.sub(r"\.{2,}", ".", base)
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, suffix = base.rpartition(".")
        suffix = dot + suffix if dot and len(suffix) <= 10 else ""
        stem = base[: len(base) - len(suffix)]
        while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
            stem = stem[:-1]
        base = stem + suffix
    return base or "photo"


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate


def _entries(value: Sequence[Mapping] | Mapping) -> list[tuple[str, object]]:
    """Return ``(name, entry)`` for every uploaded file, in ipywidgets 8's shape or 7's (a dict keyed by name)."""
    if isinstance(value, Mapping):
        return [(str(key), entry) for key, entry in value.items()]
    return [("", entry) for entry in value]


def _name_and_content(key: str, entry: object) -> tuple[str, bytes | None, str | None]:
    """Return ``(uploaded name, content, problem)``; the problem is None for a usable entry."""
    if not isinstance(entry, Mapping):
        return key or repr(entry)[:40], None, f"not an upload entry (a {type(entry).__name__}, not a dict)"
    metadata = entry.get("metadata") if isinstance(entry.get("metadata"), Mapping) else {}
    name = str(entry.get("name") or metadata.get("name") or key or "photo")
    content = entry.get("content")
    if content is None:
        return name, None, "no content: the upload did not arrive (choose the file again)"
    if not isinstance(content, (bytes, bytearray, memoryview)):
        return name, None, f"content is a {type(content).__name__}, not the bytes of a file"
    return name, bytes(content), None


def _known_photos(root: Path) -> dict[str, Path]:
    """Return ``{sha256 of content: path}`` for every photo already in the four folders."""
    known: dict[str, Path] = {}
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS:
                        known.setdefault(sha256(path), path)
    return known


def _save_checked(data: bytes, target: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)
        load_rgb(tmp)  # raises ImageProblem: then atomic_write removes the file and nothing is saved

    atomic_write(target, write)


def save_uploads(value: Sequence[Mapping] | Mapping, label: str, root: Path | str, *, split: str = "train",
                 max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[list[Path], list[tuple[str, str]]]:
    """Return ``(saved, problems)`` after saving uploads in ``root/split/label`` (notebook 05b).
    Each is checked, cleaned of path tricks, refused when its content is already in a folder (a
    leak into training), written atomically (ARCHITECTURE.md, "Uploads")."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root).resolve()
    folder = root / split / label
    saved: list[Path] = []
    problems: list[tuple[str, str]] = []
    entries = [_name_and_content(key, entry) for key, entry in _entries(value)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = folder_error(exc, folder=folder)
        if problem is None:
            raise
        return [], [(name, str(problem)) for name, _, _ in entries]
    known = _known_photos(root)
    for i, (name, content, problem) in enumerate(entries):
        problem = problem or _refusal(content, max_bytes, known, root, split)
        target = None if problem else _unique(folder / _image_name(name)).resolve()
        if target is not None and not target.is_relative_to(root):  # cannot happen after safe_filename
            problem = f"refused: {target} is outside {root}"
        if problem:
            problems.append((name, problem))
            continue
        try:
            _save_checked(content, target)
        except ImageProblem as exc:
            problems.append((name, exc.reason))
            continue
        except OSError as exc:
            stop = folder_error(exc, folder=folder, need=f"{len(content) / 2**20:.1f} MB")
            if stop is None:
                raise
            problems.append((name, str(stop)))
            problems += [(rest, f"not saved: the upload stopped at {name} ({stop.args[0].split(',')[0]})")
                         for rest, _, _ in entries[i + 1:]]
            break
        saved.append(target)
        known[hashlib.sha256(content).hexdigest()] = target
    return saved, problems


def _refusal(content: bytes, max_bytes: int, known: dict[str, Path], root: Path, split: str) -> str | None:
    """Return why ``content`` is refused (too large, already in the folders), or None."""
    if len(content) > max_bytes:
        return f"too large: {len(content) / 2**20:.1f} MB, the limit is {max_bytes / 2**20:.0f} MB"
    there = known.get(hashlib.sha256(content).hexdigest())
    if there is None:
        return None
    there = there.relative_to(root)
    why = f"already in the folders as {there.as_posix()} (the same content)"
    if there.parts[0] != split:
        why += (f": the same photo in {SPLIT_WORDS[there.parts[0]]} and {SPLIT_WORDS[split]} would let "
                "validation measure memory, not recognition; keep each photo on one side")
    return why


def _image_name(name: str) -> str:
    """Return ``name`` cleaned by :func:`safe_filename`, with ``.jpg`` added when it has no image suffix."""
    clean = safe_filename(name)
    return clean if Path(clean).suffix.lower() in IMAGE_EXTENSIONS else clean + ".jpg"  # Pillow reads the content


class FeatureCache:
    """The frozen base's features of photos, keyed by the sha256 of their content (notebook 05b).
    ``cache(paths)`` computes only unseen contents (a replaced photo gets new features, a renamed
    copy reuses them); ``add`` stores features made elsewhere; ``clear()`` when the base changes."""

    def __init__(self, compute: Callable[[list[Path]], torch.Tensor]):
        self.compute = compute
        self._features: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._features)

    def add(self, paths: Sequence[Path], features: torch.Tensor) -> None:
        """Store ``features[i]`` as the features of the photo at ``paths[i]``."""
        if len(paths) != len(features):
            raise ValueError(f"{len(paths)} paths but {len(features)} rows of features")
        self._features.update(zip((sha256(p) for p in paths), features))

    def clear(self) -> None:
        """Forget every photo's features."""
        self._features.clear()

    def __call__(self, paths: Sequence[Path]) -> torch.Tensor:
        digests = [sha256(p) for p in paths]
        new = {d: p for d, p in zip(digests, paths) if d not in self._features}
        if new:
            self._features.update(zip(new, self.compute(list(new.values()))))
        return torch.stack([self._features[d] for d in digests])
