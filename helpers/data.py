"""Datasets: one registry of sources with checksums and licences, and loaders (notebook 00:
Fashion-MNIST). Everything lives under :func:`helpers.config.data_dir`; the doggy-door photos
(05a, 05b) are built by :mod:`helpers.photos` and :mod:`helpers.door_data` instead."""
from __future__ import annotations

import errno
import gzip
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset, TensorDataset

from . import config
from .files import ChecksumMismatch, atomic_write, socket_timeout, verify

if TYPE_CHECKING:
    from torchvision.datasets import FashionMNIST


class DataNotFound(FileNotFoundError):
    """No source of a dataset could be used; the message says what to install or do."""


class DataFolderError(OSError):
    """The data folder cannot be written (read-only, full, no permission); one line naming the folder and the fix."""


_UNWRITABLE = {errno.EROFS: "is on a read-only file system",
               errno.ENOSPC: "is on a full disk (no space left on device)",
               errno.EDQUOT: "is over its disk quota", errno.EACCES: "is not writable by this user",
               errno.EPERM: "is not writable by this user"}


def folder_error(exc: OSError, *, folder: Path | None = None, need: str = "") -> DataFolderError | None:
    """Return ``exc`` as a ``DataFolderError`` if a folder is unwritable, else None (notebook 00).
    Read-only, full or forbidden: one line naming the folder and the fix (another
    ``COURSE_DATA``, or the room ``need`` to free). ``make data`` uses it too."""
    if isinstance(exc, DataFolderError):
        return exc
    what = _UNWRITABLE.get(exc.errno)
    if what is None:
        return None
    where = Path(exc.filename) if exc.filename else folder or config.data_path()
    if where.name.endswith(".partial") or where.is_file():
        where = where.parent  # name the folder, not the temporary file being written into it
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = (f"free {need or 'some space'} on that disk, or point COURSE_DATA at a folder on a disk with room "
               "(`COURSE_DATA=/path/with/room make data`, and the same COURSE_DATA for the notebooks)")
    else:
        fix = ("point COURSE_DATA at a writable folder (`COURSE_DATA=$HOME/fdl-data make data`, and the same "
               "COURSE_DATA for the notebooks), or make that folder writable")
    return DataFolderError(f"{where} {what}, so the data cannot be written there. Fix: {fix}.")


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset: where it may come from, in order, and what it must contain."""

    name: str
    licence: str
    homepage: str
    sources: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256 of its content


# Downloaded or unpacked files with checksums. The doggy-door photos are built, not fetched: their
# sources and licences are in helpers/photos.py, helpers/door_data.py and data/README.md.
REGISTRY: dict[str, DatasetEntry] = {
    "fashion-mnist": DatasetEntry(
        name="Fashion-MNIST",
        licence="MIT (Zalando Research)",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        sources=(
            "cache: data/FashionMNIST/raw/ (unpacked idx files)",
            "system: /usr/share/datasets/fashion-mnist/*.gz (Debian package dataset-fashion-mnist)",
            "download: torchvision.datasets.FashionMNIST(download=True)",
        ),
        files={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ),
}

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def _gunzip(src: Path, dst: Path) -> None:
    with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)


FASHION_MNIST_SIZE = "about 55 MB"  # the four unpacked files


def prepare_fashion_mnist(*, system_dir: Path | str = FASHION_MNIST_SYSTEM_DIR,
                          download: bool = True, timeout: float = 30.0) -> tuple[Path, str]:
    """Return ``(root, source)`` once Fashion-MNIST is in ``data/FashionMNIST/raw/`` (notebook 00).
    Sources: the cache, the Debian copy, torchvision's download; a file failing its sha256 is
    deleted, the next source tried. Raises DataNotFound, ChecksumMismatch or DataFolderError."""
    raw = config.data_path() / "FashionMNIST" / "raw"
    try:
        return _fetch_fashion_mnist(config.data_dir(), Path(system_dir), download=download, timeout=timeout)
    except OSError as exc:
        problem = folder_error(exc, folder=raw, need=FASHION_MNIST_SIZE)
        if problem is None:
            raise
        raise problem from None


def _fetch_fashion_mnist(root: Path, system_dir: Path, *, download: bool, timeout: float) -> tuple[Path, str]:
    entry = REGISTRY["fashion-mnist"]
    raw = root / "FashionMNIST" / "raw"
    corrupt = []
    for name, digest in entry.files.items():
        if (raw / name).is_file():
            try:
                verify(raw / name, digest)  # deletes a corrupt file: the sources below replace it
            except ChecksumMismatch:
                corrupt.append(raw / name)
    repaired = f"; replaced a corrupt cached {', '.join(p.name for p in corrupt)}" if corrupt else ""
    if all((raw / name).is_file() for name in entry.files):
        return root, f"cache ({raw})"

    gz_files = {name: system_dir / f"{name}.gz" for name in entry.files}
    if all(p.is_file() for p in gz_files.values()):
        raw.mkdir(parents=True, exist_ok=True)
        for name, gz in gz_files.items():
            if not (raw / name).is_file():
                atomic_write(raw / name, lambda tmp, gz=gz: _gunzip(gz, tmp))
                try:
                    verify(raw / name, entry.files[name])
                except ChecksumMismatch:
                    raise ChecksumMismatch(
                        f"{gz}: the Debian copy is corrupt (what it unpacks to does not have the registry's "
                        "sha256). Fix: `sudo apt-get install --reinstall dataset-fashion-mnist`, then run "
                        "`make data` again.") from None
        return root, f"Debian package dataset-fashion-mnist ({system_dir}){repaired}"

    errors = [f"{p} was corrupt and has been deleted" for p in corrupt]
    if download:
        from torchvision.datasets import FashionMNIST

        try:
            with socket_timeout(timeout):
                FashionMNIST(str(root), train=True, download=True)
                FashionMNIST(str(root), train=False, download=True)
            for name, digest in entry.files.items():
                verify(raw / name, digest)
            return root, f"download (torchvision){repaired}"
        except ChecksumMismatch:
            raise
        except Exception as exc:  # offline, DNS failure, timeout, HTTP error
            if isinstance(exc, OSError) and folder_error(exc) is not None:
                raise  # read-only or full: prepare_fashion_mnist says so in one line
            errors.append(f"download failed: {type(exc).__name__}: {exc}")
    raise DataNotFound(
        "Fashion-MNIST was not found.\n"
        f"  looked in: {raw} (cache), {system_dir} (Debian package)\n"
        + "".join(f"  {e}\n" for e in errors)
        + "Fix: `sudo apt-get install dataset-fashion-mnist` (works offline from a Debian mirror), "
        "or connect to the internet and run again so torchvision can download it."
    )


def fashion_mnist(train: bool = True, transform=None) -> FashionMNIST:
    """Return torchvision's ``FashionMNIST`` split, preparing the files first (notebook 00).
    Sources: :func:`prepare_fashion_mnist`. Default transform: none (PIL images);
    :func:`as_tensors` holds the whole split as tensors instead."""
    from torchvision.datasets import FashionMNIST

    root, _ = prepare_fashion_mnist()
    return FashionMNIST(str(root), train=train, download=False, transform=transform)


def as_tensors(dataset: Dataset, device: torch.device | str = "cpu", *,
               limit: int | None = None) -> TensorDataset:
    """Return a small dataset as one ``TensorDataset`` (images, labels) on ``device`` (notebook 00).
    float32 images in [0, 1] with a channel axis, int64 labels, the first ``limit`` items: on the
    device, training is not starved by per-item Python work (the course's ``MyDataset`` idea)."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise ValueError("as_tensors got an empty dataset: nothing to train on.")
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if isinstance(data, torch.Tensor) and getattr(dataset, "transform", None) is None and targets is not None:
        x = data[:n].float().div_(255.0)
        if x.ndim == 3:
            x = x.unsqueeze(1)
        y = torch.as_tensor(targets[:n], dtype=torch.long)
    else:
        from torchvision.transforms.functional import pil_to_tensor

        xs, ys = [], []
        for i in range(n):
            img, label = dataset[i]
            if not isinstance(img, torch.Tensor):
                img = pil_to_tensor(img).float().div_(255.0)
            xs.append(img.float())
            ys.append(int(label))
        x = torch.stack(xs)
        y = torch.tensor(ys, dtype=torch.long)
    return TensorDataset(x.to(device), y.to(device))

