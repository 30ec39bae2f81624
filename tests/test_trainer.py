"""Notebook 06's Trainer promise: a worker killed mid-run, the job restarted with
``resume_from_checkpoint``, and the final model equal bit for bit to an uninterrupted run's.

Both runs are real 2-process gloo jobs of ``train_trainer.main``, forked from this process by
``helpers.launch.fork_launch`` (accelerate's ``notebook_launcher``: torch's elastic agent, the
one inside torchrun, with the fork start method). No Python start-up, so seconds instead of the
30-60 s that two torchrun starts with transformers imports cost on 2 cores; notebook 06 runs
the script under torchrun in full mode. In the second run rank 1 is SIGKILLed after step 5 on
the first attempt; checkpoints come every 3 steps and an epoch is 4 steps, so the restart
resumes from ``checkpoint-3`` in the middle of the first epoch: the Trainer must skip the 3
batches already trained.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import helpers
from helpers import launch

SCRIPTS = Path(__file__).resolve().parent.parent / "notebooks" / "scripts"
JOB = ["--epochs", "2", "--train-size", "512", "--test-size", "200", "--hidden", "32", "--batch-size", "64",
       "--save-steps", "3"]
CRASH = ["--fail-at-step", "5", "--fail-rank", "1"]


def import_trainer_script():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import train_trainer
    finally:
        sys.path.remove(str(SCRIPTS))
    return train_trainer


def forked_run(out: Path, name: str, extra: list[str] = (), max_restarts: int = 0) -> dict:
    argv = [str(a) for a in JOB + ["--output-dir", out / name, "--result", out / f"{name}.json",
                                   "--data-dir", helpers.data_dir(), *extra]]
    launch.fork_launch(import_trainer_script().main, (argv,), nproc=2, max_restarts=max_restarts)
    return json.loads((out / f"{name}.json").read_text())


@pytest.mark.skipif(torch.cuda.is_available(), reason="forks this process: CPU-only machines "
                                                      "(notebook 06 runs the GPU path in full mode)")
def test_trainer_resume_from_checkpoint_ends_exactly_like_a_clean_run(tmp_path, capfd):
    helpers.prepare_fashion_mnist()
    clean = forked_run(tmp_path, "clean")
    resumed = forked_run(tmp_path, "resumed", CRASH, max_restarts=1)

    assert "injecting a crash after step 5" in capfd.readouterr().out, "the injected crash did not happen"
    assert (clean["world_size"], resumed["world_size"]) == (2, 2)
    assert clean["parallel_mode"] == resumed["parallel_mode"] == "DISTRIBUTED"
    assert (clean["attempt"], clean["resumed_from"]) == (0, None)
    assert (resumed["attempt"], resumed["resumed_from"]) == (1, "checkpoint-3"), "should resume mid-epoch"
    assert resumed["global_step"] == clean["global_step"] == 8
    assert resumed["params_identical"] and clean["params_identical"]
    assert resumed["final_loss"] == clean["final_loss"], "the resumed run trained differently"
    assert resumed["params_sha256"] == clean["params_sha256"]
    assert clean["sampler"] == "SeedableRandomSampler"
    assert {"model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json",
            "rng_state_0.pth", "rng_state_1.pth"} <= set(resumed["checkpoint_files"])


def test_an_incomplete_checkpoint_is_skipped(tmp_path, capsys):
    train_trainer = import_trainer_script()
    for step, files in ((3, train_trainer.CHECKPOINT_FILES + ("rng_state_0.pth", "rng_state_1.pth")),
                        (6, train_trainer.CHECKPOINT_FILES + ("rng_state_0.pth",)),  # rank 1's RNG file missing
                        (9, ("model.safetensors",))):                                 # died while saving
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in files:
            (folder / name).write_bytes(b"x")
    assert train_trainer.complete_checkpoint(tmp_path, world_size=2) == tmp_path / "checkpoint-3"
    assert "skipping" in capsys.readouterr().out
    assert train_trainer.complete_checkpoint(tmp_path, world_size=1) is None  # one process writes rng_state.pth
    assert train_trainer.complete_checkpoint(tmp_path / "checkpoint-3", world_size=2) is None


def test_train_ddp_snapshot_options_are_refused(tmp_path, capsys):
    train_trainer = import_trainer_script()
    args = train_trainer.parse_args(["--output-dir", str(tmp_path), "--epochs", "2", "--save-steps", "5"])
    assert (args.epochs, args.save_steps, args.fail_at_step) == (2, 5, None)
    with pytest.raises(SystemExit):
        train_trainer.parse_args(["--output-dir", str(tmp_path), "--snapshot", "s.pt"])
    assert "--fail-at-step" in capsys.readouterr().err
