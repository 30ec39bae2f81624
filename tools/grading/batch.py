"""Grade a batch: identify each handed-in file, run one sandboxed verdict process per submission, in parallel.
``--jobs`` at a time, one torch thread each; a job is capped at ``cell_timeout × (code cells + 2)``, so
N submissions end within ``ceil(N / jobs)`` times that."""
from __future__ import annotations

import json
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox
from .assignment import Assignment, identify, job_cells, learner_cells, read_submission
from .intake import Entry


@dataclass
class Options:
    jobs: int = os.cpu_count() or 1
    cell_timeout: float = 600.0
    memory_mb: int = 2048
    output_mb: float = 1.0
    pids: int = 128
    sandboxed: bool = True
    hide: list[Path] = field(default_factory=list)   # folders the sandbox must not show (inputs, outputs)
    keep: list[Path] = field(default_factory=list)   # what it must show read-only (helpers/, data/)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Graded:
    entry: Entry
    assignment: Assignment | None = None
    verdicts: dict[str, dict] = field(default_factory=dict)   # check grade_id -> status, line, kind, points
    problem: str | None = None                                # why it was not graded (then no verdicts)
    seconds: float = 0.0
    limit: float = 0.0                                        # its job's wall-clock cap
    cpu: float = 0.0                                          # CPU seconds of its verdict process and children
    warnings: list[str] = field(default_factory=list)
    nb: object = None

    @property
    def score(self) -> float:
        return sum(v["points"] for v in self.verdicts.values())


def triage(entries: list[Entry], assignments: dict[str, Assignment]) -> list[Graded]:
    """Read and identify every entry; of a student's several submissions of one assignment keep the latest."""
    items = []
    for entry in entries:
        nb, problem = read_submission(entry)
        item = Graded(entry, identify(entry, nb, assignments), problem=problem, nb=nb)
        if item.assignment is None and problem is None:
            item.problem = ("not a notebook of this course's assignments (no exercise of "
                            f"{', '.join(sorted(assignments))} in it)")
        items.append(item)
    latest: dict[tuple, Graded] = {}
    for item in items:
        if item.assignment is None:
            continue
        key = (item.entry.student, item.assignment.name)
        if key not in latest or item.entry.order > latest[key].entry.order:
            latest[key] = item
    for item in items:
        kept = latest.get((item.entry.student, item.assignment.name)) if item.assignment else None
        if kept is not None and kept is not item:
            item.problem = f"not graded: {kept.entry.label} is a later submission of {item.assignment.name}"
            item.assignment = None
            kept.entry.notes.append(f"{item.entry.label} (earlier, not graded)")
    return items


def _job(item: Graded, opts: Options) -> dict:
    assignment = item.assignment
    release_nb = nbformat.read(assignment.release / assignment.teacher.name, as_version=4)
    ids = [e.solution_id for e in assignment.exercises]
    sources = learner_cells(item.nb, ids)
    exercises, so_far = [], []
    for ex in assignment.exercises:
        if sources[ex.solution_id] is not None:
            so_far.append(sources[ex.solution_id])
        missing = None if sources[ex.solution_id] is not None else (
            f"✗ your exercise cell {ex.solution_id} is not in the notebook (deleted, or its nbgrader metadata "
            "was removed): start from a fresh student copy and paste your function into the exercise cell")
        exercises.append({"grade_id": ex.grade_id, "check": ex.check_source, "learner": list(so_far),
                          "missing": missing})
    limits = {"cell_timeout": opts.cell_timeout, "memory_mb": opts.memory_mb, "pids": opts.pids,
              "output_bytes": int(opts.output_mb * 2**20), "own_pid_namespace": opts.sandboxed}
    return {"cells": job_cells(release_nb), "exercises": exercises, "limits": limits}


def job_limit(job: dict, opts: Options) -> float:
    """Wall-clock cap of one submission's process: every code cell and the start-up at most one cell limit each."""
    return opts.cell_timeout * (len(job["cells"]) + 2)


def _run(item: Graded, work: Path, index: int, opts: Options, uids: queue.Queue) -> None:
    job = _job(item, opts)
    scratch = work / f"submission{index}"
    scripts = item.assignment.release / "scripts"
    if scripts.is_dir():
        shutil.copytree(scripts, scratch / "scripts")
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
    uid = uids.get()
    start = time.perf_counter()
    try:
        sandbox.prepare_scratch(scratch, uid if opts.sandboxed else None)
        env = {**opts.env, "HOME": str(scratch), "TMPDIR": str(scratch), "MPLCONFIGDIR": str(scratch)}
        if opts.sandboxed:
            cmd = sandbox.command(scratch=scratch, job=scratch / "job.json", uid=uid, hide=[work, *opts.hide],
                                  keep=opts.keep, env=env)
        else:
            cmd = sandbox.unsandboxed(job=scratch / "job.json")
        limit = item.limit = job_limit(job, opts)
        try:
            stdout, stderr = _run_process(cmd, scratch, env if not opts.sandboxed else None, limit)
            _collect(item, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))
        except subprocess.TimeoutExpired:
            item.warnings.append(f"the whole notebook took over {limit:g} s (the job's limit); stopped")
    finally:
        uids.put(uid)
        item.seconds = time.perf_counter() - start
    _score(item)


RUNNING: set[subprocess.Popen] = set()  # killed as whole process groups by stop_all (on SIGTERM)


def _run_process(cmd: list[str], cwd: Path, env: dict | None, limit: float) -> tuple[bytes, bytes]:
    """Run one verdict process in its own process group; kill the group when it passes ``limit`` seconds."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    RUNNING.add(proc)
    try:
        return proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise
    finally:
        RUNNING.discard(proc)


def stop_all(*_args) -> None:
    """Kill every running verdict process (their sandboxes die with them), then end the batch."""
    for proc in list(RUNNING):
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
    raise SystemExit(143)


def _collect(item: Graded, stdout: str, stderr: str) -> None:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        item.warnings.append(f"the verdict process failed: {stderr.strip()[-300:] or 'no output'}")
        return
    item.verdicts = result["verdicts"]
    item.warnings += result["warnings"]
    item.cpu = float(result.get("cpu_seconds", 0.0))


def _score(item: Graded) -> None:
    """Points from the teacher's metadata for each exercise whose verdict is 'passed', else 0 with the reason."""
    verdicts = {}
    for ex in item.assignment.exercises:
        found = item.verdicts.get(ex.grade_id) or {
            "status": "error", "kind": "timeout" if item.warnings else "error",
            "line": "no verdict: " + ("; ".join(item.warnings) or "the verdict process ended early")}
        found["points"] = ex.points if found.get("status") == "passed" else 0.0
        found["max"] = ex.points
        verdicts[ex.grade_id] = found
    item.verdicts = verdicts


def releases(items: list[Graded], make_release, work: Path) -> None:
    """Make the student copies (nbgrader generate_assignment, once for the batch) of every assignment handed in."""
    needed = {item.assignment.name: item.assignment for item in items if item.assignment}
    if not needed:
        return
    release = make_release(sorted(a.teacher for a in needed.values()), work / "course")
    for assignment in needed.values():
        assignment.release = release


def grade(entries: list[Entry], assignments: dict[str, Assignment], opts: Options, make_release,
          work: Path | None = None) -> tuple[list[Graded], float, float]:
    """Grade every entry; return the graded items (in the order given), the batch's and the set-up's wall seconds."""
    start = time.perf_counter()
    owned = work is None
    work = Path(tempfile.mkdtemp(prefix="grade-")) if owned else work
    try:
        items = triage(entries, assignments)
        releases(items, make_release, work)
        setup = time.perf_counter() - start
        runnable = [item for item in items if item.assignment and item.problem is None]
        for item in items:
            if item.assignment and item.problem is not None:  # e.g. an empty file named after the assignment
                item.verdicts = {e.grade_id: {"status": "missing", "kind": "unreadable", "line": f"✗ {item.problem}"}
                                 for e in item.assignment.exercises}
                _score(item)
        uids: queue.Queue = queue.Queue()
        for uid in sandbox.batch_uids(max(1, opts.jobs)):
            uids.put(uid)
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            list(pool.map(lambda pair: _run(pair[1], work, pair[0], opts, uids), enumerate(runnable)))
    finally:
        if owned:
            shutil.rmtree(work, ignore_errors=True)
    return items, time.perf_counter() - start, setup


def bound(items: list[Graded], opts: Options) -> float:
    """The batch's worst case in seconds: ceil(N / jobs) rounds of the longest job limit."""
    limits = [i.limit for i in items if i.limit]
    return math.ceil(len(limits) / max(1, opts.jobs)) * max(limits) if limits else 0.0


def python_env() -> dict[str, str]:
    """The environment of a verdict process: this Python's paths, fast mode, one thread, no display."""
    root = Path(__file__).resolve().parents[2]
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(root),
            "COURSE_MODE": os.environ.get("COURSE_MODE", "fast"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
            **({"COURSE_DATA": os.environ["COURSE_DATA"]} if "COURSE_DATA" in os.environ else {})}
