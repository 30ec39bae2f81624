"""Stress the exit path of notebook 06's training scripts: N torchrun jobs and M Accelerate jobs; exits 1 if any failed.

    python tools/stress_distributed.py [--torchrun 50] [--accelerate 30] [--nproc 2]   (not in make test: ~15 min)"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from helpers import launch  # noqa: E402
from helpers.config import data_dir  # noqa: E402

SCRIPTS = REPO_ROOT / "notebooks" / "scripts"


def classify(exc: launch.LaunchFailed) -> str:
    """Return a short name for why a job failed."""
    text = "\n".join(exc.lines)
    if isinstance(exc, launch.LaunchTimeout):
        return "timeout"
    if "terminate called" in text or "SIGABRT" in text or "Signals.SIGABRT" in text:
        return "abort at exit (SIGABRT)"
    return f"exit code {exc.returncode}"


def run_jobs(kind: str, count: int, nproc: int, job_args: list[str], workdir: Path,
             timeout: float) -> Counter:
    """Run ``count`` jobs of ``kind`` ("torchrun" or "accelerate"); return failures by kind."""
    failures: Counter = Counter()
    script = SCRIPTS / ("train_ddp.py" if kind == "torchrun" else "train_accelerate.py")
    start = launch.torchrun if kind == "torchrun" else launch.accelerate_launch
    for i in range(count):
        result = workdir / f"{kind}-{i}.json"
        t0 = time.perf_counter()
        try:
            start(script, [*job_args, "--result", str(result)], nproc=nproc, timeout=timeout, echo=False)
            if not json.loads(result.read_text())["params_identical"]:
                failures["parameters differ"] += 1
                status = "FAILED: parameters differ"
            else:
                status = "ok"
        except launch.LaunchFailed as exc:
            why = classify(exc)
            failures[why] += 1
            status = f"FAILED: {why}"
            (workdir / f"{kind}-{i}.log").write_text("\n".join(exc.lines) + "\n", encoding="utf-8")
        print(f"{kind} job {i + 1}/{count}: {status} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torchrun", type=int, default=50, help="torchrun jobs (default 50)")
    parser.add_argument("--accelerate", type=int, default=30, help="accelerate launch jobs (default 30)")
    parser.add_argument("--nproc", type=int, default=2, help="processes per job (default 2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per job before it is stopped")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder for results and the logs of failed jobs (default: a temporary one)")
    args = parser.parse_args(argv)
    job_args = ["--epochs", "2", "--train-size", "1024", "--test-size", "256", "--hidden", "32",
                "--data-dir", str(data_dir())]
    with tempfile.TemporaryDirectory(prefix="stress-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        torchrun_failures = run_jobs("torchrun", args.torchrun, args.nproc, job_args, workdir, args.timeout)
        accelerate_failures = run_jobs("accelerate", args.accelerate, args.nproc, job_args, workdir, args.timeout)
        minutes = (time.perf_counter() - started) / 60
    for kind, total, failures in (("torchrun", args.torchrun, torchrun_failures),
                                  ("accelerate", args.accelerate, accelerate_failures)):
        detail = ", ".join(f"{n} {why}" for why, n in failures.items()) or "none"
        print(f"{kind}: {sum(failures.values())} of {total} jobs failed ({detail})")
    print(f"{args.torchrun + args.accelerate} jobs of {args.nproc} processes in {minutes:.1f} min")
    if args.keep:
        print(f"results and logs of failed jobs: {workdir}")
    return 1 if torchrun_failures or accelerate_failures else 0


if __name__ == "__main__":
    sys.exit(main())
