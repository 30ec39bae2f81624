"""Issue 13: notebook 06's training scripts under faults, run in this process as a group of one
(``train_ddp.main``), plus one real 2-process job for what rank 1 does.

Snapshots: temporary files left by a writer killed mid-write are removed on start; an empty,
truncated or foreign snapshot, one from another ``--hidden`` and one with more finished epochs
than ``--epochs`` each stop the job with one message naming the file and the fix. Data: the
Fashion-MNIST files are checked against helpers' registry (sha256) before training, and ``~``
in ``--data-dir`` is expanded.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from helpers import config
from helpers import launch as dist_helpers

SCRIPTS = Path(__file__).resolve().parent.parent / "notebooks" / "scripts"
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason="runs the scripts in this process as a gloo group of one: CPU-only machines")


sys.path.insert(0, str(SCRIPTS))  # the scripts import their siblings by name, as torchrun runs them
train_ddp, ddp_faults = __import__("train_ddp"), __import__("ddp_faults")
sys.path.remove(str(SCRIPTS))


def real_raw() -> Path:
    raw = config.data_path() / "FashionMNIST" / "raw"
    if not all((raw / name).is_file() for name in RAW_FILES):
        pytest.skip("Fashion-MNIST is not prepared: run `make data`")
    return raw


def data_copy(tmp_path: Path, *, copy: str | None = None) -> Path:
    """A data folder whose raw files link to the real ones; ``copy`` is a real copy, to be damaged."""
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        if name == copy:
            shutil.copyfile(real_raw() / name, raw / name)
        else:
            (raw / name).symlink_to(real_raw() / name)
    return tmp_path / "data"


def job(tmp_path: Path, *extra: str, hidden: int = 8, epochs: int = 1) -> list[str]:
    return ["--epochs", str(epochs), "--train-size", "64", "--test-size", "32", "--batch-size", "32",
            "--hidden", str(hidden), "--data-dir", str(real_raw().parent.parent), *extra]


def write_snapshot(path: Path, *, hidden: int = 8, next_epoch: int = 1) -> None:
    model = train_ddp.make_model(hidden, 0)
    train_ddp.save_snapshot(path, model, torch.optim.Adam(model.parameters()), next_epoch, [2.0] * next_epoch)


def run_fails(argv: list[str]) -> str:
    with pytest.raises(ddp_faults.JobError) as info:
        train_ddp.main(argv)
    return str(info.value)


def test_temporary_files_of_a_killed_writer_are_removed_on_start(tmp_path):
    snap, result = tmp_path / "snap.pt", tmp_path / "result.json"
    stale = [tmp_path / ".snap.pt.4242.partial", tmp_path / ".snap.pt.17.partial", tmp_path / ".result.json.99.partial"]
    for path in stale:
        path.write_bytes(b"half a snapshot")
    keep = [tmp_path / ".other.pt.5.partial", tmp_path / ".snap.pt.x.partial", tmp_path / "notes.tmp"]
    for path in keep:
        path.write_bytes(b"not ours")
    out = train_ddp.main(job(tmp_path, "--snapshot", str(snap), "--result", str(result)))
    assert out["epochs"] == 1 and snap.is_file() and result.is_file()
    assert not any(p.exists() for p in stale), "temporary files of a killed writer must not pile up"
    assert all(p.exists() for p in keep), "only this snapshot's and this result's temporary files are removed"


@pytest.mark.parametrize("damage, words", [("empty", "empty (0 bytes)"), ("truncated", "truncated or corrupt"),
                                           ("garbage", "truncated or corrupt"), ("foreign", "not a snapshot")])
def test_a_broken_snapshot_names_the_file_and_the_fix(tmp_path, damage, words):
    snap = tmp_path / "snap.pt"
    write_snapshot(snap)
    if damage == "empty":
        snap.write_bytes(b"")
    elif damage == "truncated":
        snap.write_bytes(snap.read_bytes()[: snap.stat().st_size // 2])
    elif damage == "garbage":
        snap.write_bytes(b"\x00" * 100)
    else:
        torch.save({"weights": torch.zeros(3)}, snap)
    message = run_fails(job(tmp_path, "--snapshot", str(snap)))
    assert str(snap) in message and words in message
    assert "delete it" in message and f"rm '{snap}'" in message


def test_a_snapshot_of_another_hidden_size_says_which(tmp_path):
    snap = tmp_path / "snap.pt"
    write_snapshot(snap, hidden=16)
    message = run_fails(job(tmp_path, "--snapshot", str(snap), hidden=8))
    assert str(snap) in message and "--hidden 16" in message and "--hidden 8" in message
    assert "delete it" in message


def test_a_snapshot_with_more_epochs_than_asked_is_refused(tmp_path):
    snap = tmp_path / "snap.pt"
    write_snapshot(snap, next_epoch=3)
    message = run_fails(job(tmp_path, "--snapshot", str(snap), epochs=1))
    assert str(snap) in message and "3 finished epochs" in message and "--epochs 1" in message
    assert "--epochs 3" in message and "delete it" in message


def test_a_finished_snapshot_with_the_same_epochs_trains_nothing_and_says_so(tmp_path, capsys):
    snap = tmp_path / "snap.pt"
    write_snapshot(snap, next_epoch=1)
    out = train_ddp.main(job(tmp_path, "--snapshot", str(snap), epochs=1))
    assert out["start_epoch"] == 1 and out["epoch_seconds"] == []
    assert "nothing left to train" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncated", "bad label"])
def test_damaged_data_is_refused_before_training(tmp_path, damage):
    name = "train-labels-idx1-ubyte"
    data = data_copy(tmp_path, copy=name)
    path = data / "FashionMNIST" / "raw" / name
    content = bytearray(path.read_bytes())
    if damage == "truncated":
        content = content[: len(content) // 2]  # the first --train-size labels are still there
    else:
        content[8] = 200  # the first label: classes are 0..9
    path.write_bytes(bytes(content))
    argv = job(tmp_path)
    argv[argv.index("--data-dir") + 1] = str(data)
    message = run_fails(argv)
    assert str(path) in message and "sha256" in message and "make data" in message


def test_missing_data_names_the_folder_and_the_fix(tmp_path):
    argv = job(tmp_path)
    argv[argv.index("--data-dir") + 1] = str(tmp_path / "nowhere")
    message = run_fails(argv)
    assert str(tmp_path / "nowhere" / "FashionMNIST" / "raw") in message and "make data" in message


def test_data_dir_expands_the_home_folder(tmp_path, monkeypatch):
    data_copy(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    argv = job(tmp_path)
    argv[argv.index("--data-dir") + 1] = "~/data"
    assert train_ddp.main(argv)["epochs"] == 1


def test_on_two_ranks_rank_0_explains_once_and_rank_1_stops_cleanly(tmp_path):
    snap = tmp_path / "snap.pt"
    snap.write_bytes(b"")
    with pytest.raises(dist_helpers.LaunchFailed) as info:
        dist_helpers.torchrun(SCRIPTS / "train_ddp.py", job(tmp_path, "--snapshot", str(snap)), nproc=2,
                              timeout=120, echo=False, env={"CUDA_VISIBLE_DEVICES": ""})
    output = "\n".join(info.value.lines)
    assert output.count("is empty (0 bytes)") == 1, output
    assert "rank 1: stopped" in output, output
    assert str(SCRIPTS / "ddp_faults.py") not in output, "no worker traceback: one message says it all"
