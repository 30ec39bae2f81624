"""Grading that cannot be gamed or harmed: ``python tools/notebooks.py grade [options] SUBMISSION...``.
Modules: ``intake``, ``assignment``, ``batch``, ``sandbox``, ``harness`` and ``guard`` (inside the
sandbox), ``report``. What a grade trusts and why: docs/exercises.md."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

from . import batch, report, sandbox
from .assignment import load
from .intake import IntakeError, collect

ROOT = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="notebooks.py grade", description=__doc__.splitlines()[0])
    p.add_argument("submissions", nargs="+", type=Path, help="notebooks, folders of submissions, or LMS zips")
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 64),
                   help="submissions graded at a time (default: the cores, at most 64)")
    p.add_argument("--feedback", type=Path, help="write one feedback HTML per student into this folder")
    p.add_argument("--csv", type=Path, help="write one row per student (a column per exercise, the total)")
    p.add_argument("--cell-timeout", type=float, default=600.0, help="seconds one exercise's check may take")
    p.add_argument("--memory-mb", type=int, default=2048, help="memory one exercise's check may add, in MB")
    p.add_argument("--output-mb", type=float, default=1.0, help="output one exercise's check may print, in MB")
    p.add_argument("--pids", type=int, default=128, help="processes and threads of one submission at most")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="where the sandbox cannot be built, grade anyway with only the time, memory and output limits")
    return p


def options(args, sandboxed: bool) -> batch.Options:
    hide = [ROOT, Path(sys.prefix).resolve().parent]
    for given in args.submissions:
        hide.append(given.resolve() if given.is_dir() else given.resolve().parent)
    for out in (args.feedback, args.csv.parent if args.csv else None):
        if out is not None:
            hide.append(out.resolve())
    data = Path(os.environ.get("COURSE_DATA", ROOT / "data")).resolve()
    return batch.Options(jobs=max(1, args.jobs), cell_timeout=args.cell_timeout, memory_mb=args.memory_mb,
                         output_mb=args.output_mb, pids=args.pids, sandboxed=sandboxed, hide=hide,
                         keep=[ROOT / "helpers", data], env=batch.python_env())


def main(argv: list[str], notebooks: Path, make_release) -> int:
    """Grade the submissions in ``argv`` against the teacher notebooks in ``notebooks``; return the exit status."""
    args = parser().parse_args(argv)
    why = sandbox.unavailable()
    if why and not args.allow_unsandboxed:
        print(f"grade: refusing to run students' code without a sandbox: {why}; pass --allow-unsandboxed to grade "
              "with only the time, memory and output limits", file=sys.stderr)
        return 2
    if why:
        print(f"grade: UNSANDBOXED ({why}): students' code runs as you, with network and your files; only the "
              "time, memory and output limits apply", file=sys.stderr)
    signal.signal(signal.SIGTERM, batch.stop_all)  # a stopped batch leaves no sandbox and no work folder
    assignments = load(notebooks)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        work = Path(tmp)
        (work / "intake").mkdir()
        (work / "jobs").mkdir()
        try:
            entries = collect([p.resolve() for p in args.submissions], work / "intake")
        except IntakeError as exc:
            print(f"grade: {exc}", file=sys.stderr)
            return 1
        opts = options(args, sandboxed=why is None)
        opts.hide.append(work)
        items, seconds, setup = batch.grade(entries, assignments, opts, make_release, work=work / "jobs")
    report.print_results(items, seconds, setup, batch.bound(items, opts), opts.jobs)
    if args.feedback:
        report.write_feedback(items, args.feedback)
    if args.csv:
        report.write_csv(items, args.csv)
    sys.stdout.flush()
    return 0
