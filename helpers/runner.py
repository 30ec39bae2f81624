"""The one process runner behind ``launch`` and ``elastic`` (notebook 06): start, stream, stop.
One reader thread per process feeds one queue (lines arrive as they come, a deadline is checked
between them); a stop reaches every descendant (torchrun starts workers in their own sessions)."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import psutil


class DeadlinePassed(Exception):
    """:meth:`Output.next_line` waited past its deadline; the caller stops the processes and says why."""


def start(command: Sequence[str], env: Mapping[str, str] | None = None, cwd=None) -> subprocess.Popen:
    """Return the started ``command`` (notebook 06): its own session, stdout and stderr merged into
    one pipe. ``env`` entries are added to this process's environment, with
    ``PYTHONUNBUFFERED=1`` so that Python children print at once."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", bufsize=1, env=full_env, cwd=cwd,
                            start_new_session=True)


class Output:
    """The output lines of several processes, in the order they arrive (notebook 06, via ``launch``)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str | None]] = queue.Queue()  # (name, line); None: pipe closed
        self._open: set[str] = set()

    def follow(self, name: str, process: subprocess.Popen) -> None:
        """Read ``process``'s lines (under ``name``) on a thread of their own until its pipe closes."""
        self._open.add(name)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self._queue.put((name, line.rstrip("\n")))
            self._queue.put((name, None))

        threading.Thread(target=pump, daemon=True).start()

    def next_line(self, deadline: float, tick: Callable[[], object] | None = None) -> tuple[str, str] | None:
        """Return the next (name, line), or None once every pipe is closed; raise :class:`DeadlinePassed`
        when ``time.perf_counter()`` passes ``deadline`` first. ``tick`` is called at least every 0.2 s."""
        while self._open:
            if tick is not None:
                tick()
            try:
                name, line = self._queue.get(timeout=max(0.02, min(0.2, deadline - time.perf_counter())))
            except queue.Empty:
                if time.perf_counter() > deadline:
                    raise DeadlinePassed from None
                continue
            if line is None:
                self._open.discard(name)
            else:
                return name, line
        return None

    def rest(self, wait: float) -> list[tuple[str, str]]:
        """Return the lines still in the pipes of exited processes, waiting at most ``wait`` s for each."""
        lines = []
        while self._open:
            try:
                name, line = self._queue.get(timeout=wait)
            except queue.Empty:
                break
            if line is None:
                self._open.discard(name)
            else:
                lines.append((name, line))
        return lines


def descendants(pid: int) -> list[int]:
    """Return the pids of every process started by ``pid``, children first (notebook 06, via ``launch``).

    psutil reads the process table portably; a ``pid`` that has exited has no descendants left to find.
    """
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_tree(processes: Sequence[subprocess.Popen], grace: float, known: Iterable[int] = ()) -> None:
    """Stop ``processes`` and every process they started (notebook 06, via ``launch``, ``elastic``).
    SIGTERM to each group, descendant and ``known`` pid (an orphan has no one to pass it on),
    SIGKILL to what is left after ``grace`` seconds. Safe on processes that have exited."""
    pids = {*known, *(p.pid for p in processes), *(d for p in processes for d in descendants(p.pid))}
    family = []
    for pid in pids:
        try:
            family.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    groups = {p.pid for p in processes}
    _signal_groups(processes, signal.SIGTERM)
    for p in family:  # one SIGTERM each: a second could interrupt the handler of the first
        if _group_of(p.pid) not in groups:
            _quietly(p.terminate)
    _, still = psutil.wait_procs(family, timeout=grace)
    _signal_groups(processes, signal.SIGKILL)
    for p in still:
        _quietly(p.kill)
    psutil.wait_procs(still, timeout=5)
    for p in processes:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _signal_groups(processes: Sequence[subprocess.Popen], sig: signal.Signals) -> None:
    for p in processes:  # the group outlives its leader while members of it run
        _quietly(os.killpg, p.pid, sig)


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _quietly(call: Callable, *args: object) -> None:
    try:
        call(*args)
    except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
        pass
