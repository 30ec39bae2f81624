"""helpers.data: the registry, Fashion-MNIST's sources in order, checksums, as_tensors."""
import errno
import gzip
import hashlib
import os
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from helpers import data


@pytest.fixture
def fake_fashion(monkeypatch, tmp_path):
    """A fake Debian folder of four .gz files whose contents the registry expects."""
    system = tmp_path / "system"
    system.mkdir()
    files = {}
    for name in data.REGISTRY["fashion-mnist"].files:
        content = f"content of {name}".encode()
        with gzip.open(system / f"{name}.gz", "wb") as fh:
            fh.write(content)
        files[name] = hashlib.sha256(content).hexdigest()
    entry = data.REGISTRY["fashion-mnist"]
    monkeypatch.setitem(data.REGISTRY, "fashion-mnist",
                        data.DatasetEntry(entry.name, entry.licence, entry.homepage, entry.sources, files))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    return system


def test_registry_entries_name_licence_and_checksums():
    for entry in data.REGISTRY.values():
        assert entry.licence and entry.homepage.startswith("https://") and entry.sources
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in entry.files.values())


def test_system_copy_is_unpacked_then_cached(fake_fashion, tmp_path):
    root, source = data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    assert "Debian" in source
    raw = root / "FashionMNIST" / "raw"
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == b"content of t10k-labels-idx1-ubyte"
    assert not list(raw.glob("*.partial"))
    _, source = data.prepare_fashion_mnist(system_dir=tmp_path / "gone", download=False)
    assert source.startswith("cache")


def test_corrupt_cache_is_repaired_from_the_debian_copy_in_the_same_run(fake_fashion):
    root, _ = data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    bad = root / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte"
    bad.write_bytes(b"truncated")
    _, source = data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    assert "Debian" in source and "replaced a corrupt cached train-labels-idx1-ubyte" in source
    assert bad.read_bytes() == b"content of train-labels-idx1-ubyte"
    _, source = data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    assert source.startswith("cache")


def test_corrupt_cache_with_no_other_source_is_deleted_and_named(fake_fashion, tmp_path):
    root, _ = data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    bad = root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    bad.write_bytes(b"truncated")
    with pytest.raises(data.DataNotFound) as info:
        data.prepare_fashion_mnist(system_dir=tmp_path / "nothing", download=False)
    assert not bad.exists()
    assert f"{bad} was corrupt" in str(info.value) and "apt-get install dataset-fashion-mnist" in str(info.value)


def test_a_corrupt_debian_copy_says_reinstall_the_package(fake_fashion):
    with gzip.open(fake_fashion / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(b"bit rot")
    with pytest.raises(data.ChecksumMismatch) as info:
        data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    message = str(info.value)
    assert str(fake_fashion / "t10k-labels-idx1-ubyte.gz") in message
    assert "apt-get install --reinstall dataset-fashion-mnist" in message


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.ENOSPC, "full")])
def test_read_only_or_full_disk_is_one_line_with_the_folder_and_the_fix(fake_fashion, monkeypatch, code, words):
    def fail(src, dst):
        Path(dst).write_bytes(b"half")
        raise OSError(code, os.strerror(code))  # as a write() raises it: no file name

    monkeypatch.setattr(data, "_gunzip", fail)
    with pytest.raises(data.DataFolderError) as info:
        data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)
    message = str(info.value)
    raw = data.config.data_dir() / "FashionMNIST" / "raw"
    assert "\n" not in message and words in message and f"{raw} " in message and "COURSE_DATA" in message
    assert not list(raw.iterdir())  # no partial file left behind


def test_read_only_data_folder_itself(fake_fashion, monkeypatch, tmp_path):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "ro"))
    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(data.DataFolderError, match=f"{tmp_path / 'ro'} .*read-only.*COURSE_DATA"):
        data.prepare_fashion_mnist(system_dir=fake_fashion, download=False)


def test_make_data_reports_a_read_only_disk_in_one_line(monkeypatch, capsys):
    from helpers import prepare

    def doggy_door_on_a_read_only_disk(**_):
        raise OSError(errno.EROFS, "Read-only file system", "/ro/data/presidential_doggy_door/.build/train")

    monkeypatch.setattr(data, "prepare_fashion_mnist", lambda: (None, "cache (somewhere)"))
    monkeypatch.setattr(prepare, "_prepare_doggy_door", doggy_door_on_a_read_only_disk)
    assert prepare.main() == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "Presidential doggy door: NOT READY"
    assert len(err.splitlines()) == 2 and "/ro/data/presidential_doggy_door/.build/train" in err
    assert "read-only" in err and "COURSE_DATA" in err


def test_missing_everywhere_names_the_fix(fake_fashion, tmp_path):
    with pytest.raises(data.DataNotFound, match="apt-get install dataset-fashion-mnist"):
        data.prepare_fashion_mnist(system_dir=tmp_path / "nothing", download=False)


def test_failed_download_is_reported_not_raised_raw(fake_fashion, tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    with pytest.raises(data.DataNotFound, match="download failed: OSError: Network is unreachable"):
        data.prepare_fashion_mnist(system_dir=tmp_path / "nothing", download=True, timeout=1)


def test_real_fashion_mnist_loads():
    test_set = data.fashion_mnist(train=False)
    assert len(test_set) == 10_000
    assert list(test_set.classes) == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_as_tensors_from_the_real_dataset():
    ds = data.as_tensors(data.fashion_mnist(train=False), limit=100)
    x, y = ds.tensors
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.max()) > 0.5
    assert y.dtype == torch.int64 and y.tolist() == data.fashion_mnist(train=False).targets[:100].tolist()


class PilPairs(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return Image.new("L", (4, 3), color=i * 10), i % 2


def test_as_tensors_from_pil_items():
    x, y = data.as_tensors(PilPairs(5)).tensors
    assert x.shape == (5, 1, 3, 4)
    assert torch.allclose(x[:, 0, 0, 0], torch.tensor([0, 10, 20, 30, 40]) / 255)
    assert y.tolist() == [0, 1, 0, 1, 0]


def test_as_tensors_refuses_empty():
    with pytest.raises(ValueError, match="empty"):
        data.as_tensors(PilPairs(0))


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    from helpers.files import atomic_write

    target = tmp_path / "f.txt"
    target.write_text("old")
    assert atomic_write(target, lambda tmp: tmp.write_text("new")) == target
    assert target.read_text() == "new"

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
