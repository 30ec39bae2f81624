"""Notebook 06's promise: a job whose worker crashes is restarted and ends exactly like a clean one.

Each test launches a real job of 2 gloo processes in which rank 1 crashes at the start of
epoch 1 on the first attempt, with one restart allowed: with torchrun
(``python -m torch.distributed.run``) and with ``accelerate launch``. The reference clean run
of the same script is forked from this process (accelerate's ``notebook_launcher``), which
costs no start-up. Every launched job pays Python and torch start-up: 10-15 s each on 2 cores.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from helpers import launch as dist_helpers

SCRIPTS = Path(__file__).resolve().parent.parent / "notebooks" / "scripts"
JOB = ["--epochs", "3", "--train-size", "512", "--test-size", "200", "--hidden", "32"]
CRASH = ["--fail-at-epoch", "1", "--fail-rank", "1"]
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}  # launched jobs use gloo on every machine, as the reference does

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason="forks this process for the reference runs: CPU-only machines "
                                       "(notebook 06 checks the GPU path in full mode)")


def import_script(name: str):
    sys.path.insert(0, str(SCRIPTS))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(SCRIPTS))


def resumed_args(tmp_path):
    return JOB + CRASH + ["--snapshot", tmp_path / "snap.pt", "--result", tmp_path / "resumed.json"]


def forked_clean_run(name: str, out: Path) -> dict:
    from accelerate import notebook_launcher

    argv = [str(a) for a in JOB + ["--snapshot", out / "clean.pt", "--result", out / "clean.json"]]
    notebook_launcher(import_script(name).main, args=(argv,), num_processes=2,
                      use_port=str(dist_helpers.free_port()))
    return json.loads((out / "clean.json").read_text())


def check_resumed_exactly(resumed: dict, clean: dict, output: str) -> None:
    assert "injecting a crash" in output, "the injected crash did not happen"
    assert resumed["world_size"] == clean["world_size"] == 2
    assert (resumed["attempt"], resumed["start_epoch"]) == (1, 1)
    assert resumed["params_identical"] and clean["params_identical"]
    assert resumed["history"] == clean["history"], "an epoch was lost or trained differently"
    assert resumed["final_loss"] == clean["final_loss"]
    assert resumed["params_sha256"] == clean["params_sha256"]


def test_torchrun_restart_resumes_exactly(tmp_path):
    clean = forked_clean_run("train_ddp", tmp_path)
    job = dist_helpers.torchrun(SCRIPTS / "train_ddp.py",
                                resumed_args(tmp_path),
                                nproc=2, max_restarts=1, timeout=240, echo=False, env=CPU_ONLY)
    check_resumed_exactly(json.loads((tmp_path / "resumed.json").read_text()), clean, job.output)


def test_accelerate_launch_restart_resumes_exactly(tmp_path):
    clean = forked_clean_run("train_accelerate", tmp_path)
    job = dist_helpers.accelerate_launch(SCRIPTS / "train_accelerate.py",
                                         resumed_args(tmp_path),
                                         nproc=2, max_restarts=1, timeout=240, echo=False, env=CPU_ONLY)
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed["distributed_type"] == "DistributedType.MULTI_CPU" and resumed["accelerate_processes"] == 2
    check_resumed_exactly(resumed, clean, job.output)
