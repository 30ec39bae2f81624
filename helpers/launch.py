"""Launching a training script on several processes from a notebook (notebook 06): how many, which
backend. A subprocess of the kernel's own Python, not `!torchrun`: a failed `!` command does not
fail the cell (nor the tests), and a stuck one would hang the notebook."""
from __future__ import annotations

import io
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import runner

CPU_PROCESSES = 2  # without a GPU: 2 processes show everything and fit a 2-core laptop


class LaunchFailed(RuntimeError):
    """A launched command exited with a non-zero code; the message holds the first error and the
    last lines. ``first_error``: with several processes the first failure is the cause; the last
    lines are often only the others giving up."""

    def __init__(self, message: str, *, returncode: int | None, lines: list[str],
                 first_error: str | None = None):
        super().__init__(message)
        self.returncode = returncode
        self.lines = lines
        self.first_error = first_error


_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:\s?")  # torchrun marks some worker lines "[rank1]: "
_TRACEBACK = "Traceback (most recent call last):"
_ERROR_LINE = re.compile(r"terminate called|Fatal Python error|Segmentation fault|\bSIG(?:ABRT|SEGV|KILL)\b"
                         r"|\b\w*(?:Error|Exception)\b:|^\s*ERROR\b")


def first_error(lines: Sequence[str], max_lines: int = 40) -> tuple[int, list[str]] | None:
    """Return (index, lines) of the first traceback in ``lines`` (to its exception line, torchrun's
    ``[rankN]:`` prefixes allowed), or of the first error line and the two after it; ``None`` when nothing
    looks like an error (notebook 06). At most ``max_lines`` lines.
    """
    bare = [_RANK_PREFIX.sub("", line) for line in lines]
    for i, line in enumerate(bare):
        if line.strip() == _TRACEBACK:
            end = i + 1
            while end < len(bare) and (bare[end].startswith((" ", "\t")) or not bare[end].strip()):
                end += 1
            block = list(lines[i:min(end + 1, len(lines))])
            return i, block[:max_lines]
    for i, line in enumerate(bare):
        if _ERROR_LINE.search(line):
            return i, list(lines[i:i + 3])
    return None


def _failure_report(lines: list[str], tail: int) -> tuple[str, str | None]:
    """Return (the text that a failure message shows, the first error as one string or None)."""
    last = "\n".join(lines[-tail:])
    found = first_error(lines)
    if found is None:
        return f"Last lines of output:\n{last}", None
    index, block = found
    text = "\n".join(block)
    if index >= len(lines) - tail:  # already among the last lines
        return f"Last lines of output:\n{last}", text
    return (f"First error in the output (line {index + 1} of {len(lines)}):\n{text}\n...\n"
            f"Last lines of output:\n{last}"), text


class LaunchTimeout(LaunchFailed):
    """A launched command ran past its timeout and was stopped (SIGTERM, then SIGKILL)."""


@dataclass(frozen=True)
class Plan:
    """How to run data-parallel training on this machine: processes, backend, device type."""

    nproc: int
    backend: str  # "nccl" (one process per GPU) or "gloo" (CPU processes)
    device: str   # "cuda" or "cpu"


@dataclass
class RunResult:
    """What a finished command left: the command, its exit code, seconds taken and output lines."""

    command: list[str]
    returncode: int
    seconds: float
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        """Return the whole output (stdout and stderr interleaved) as one string."""
        return "\n".join(self.lines)


def plan_processes(cpu_processes: int = CPU_PROCESSES) -> Plan:
    """Return how many processes to launch here, with which backend and device (notebook 06).
    One per visible GPU with nccl (counted without initialising CUDA), else ``cpu_processes``
    with gloo, never one per core (what ``--nproc-per-node=auto`` starts on a CPU)."""
    if cpu_processes < 1:
        raise ValueError(f"cpu_processes must be at least 1, got {cpu_processes}")
    gpus = torch.cuda.device_count()
    if gpus > 0:
        return Plan(nproc=gpus, backend="nccl", device="cuda")
    return Plan(nproc=cpu_processes, backend="gloo", device="cpu")


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that the operating system just reported free (notebook 06).
    Another program may take it first; torchrun's ``--standalone`` avoids that race by choosing
    its own, so this is for launchers that want one named (Accelerate)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _WholeLines(io.TextIOBase):
    """A text stream that hands ``stream`` whole lines only, in one write each (see :func:`fork_launch`)."""

    def __init__(self, stream):
        self.stream, self.pending = stream, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        if "\n" in self.pending:
            done, self.pending = self.pending.rsplit("\n", 1)
            self.stream.write(done + "\n")
            self.stream.flush()
        return len(text)

    def flush(self) -> None:  # a partial line waits for its end (or for finish)
        self.stream.flush()

    def finish(self) -> None:
        if self.pending:
            self.stream.write(self.pending)
            self.pending = ""
        self.stream.flush()


def fork_launch(function: Callable[..., object], args: Sequence[object] = (), *, nproc: int,
                max_restarts: int = 0) -> None:
    """Return None after running ``function(*args)`` in ``nproc`` forks of the kernel (notebook 06).
    Accelerate's ``notebook_launcher`` (torch's elastic agent): no Python start-up, but CUDA must
    be untouched in the kernel; each copy's output arrives in whole lines."""
    from accelerate import notebook_launcher  # heavy: only where a notebook forks

    def whole_lines(*call_args):
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _WholeLines(saved[0]), _WholeLines(saved[1])
        try:
            return function(*call_args)
        finally:
            sys.stdout.finish()
            sys.stderr.finish()
            sys.stdout, sys.stderr = saved  # one process: notebook_launcher ran it in this kernel

    notebook_launcher(whole_lines, args=tuple(args), num_processes=nproc, use_port=str(free_port()),
                      max_restarts=max_restarts)


def torchrun_command(script: str | Path, args: Sequence[str] = (), *, nproc: int,
                     max_restarts: int = 0) -> list[str]:
    """Return the arguments of ``python -m torch.distributed.run`` for one machine (notebook 06).
    ``--standalone``: the rendezvous on this machine, on a port of its own choosing;
    ``--max-restarts``: how many times torchrun restarts every worker after a failure."""
    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    if max_restarts < 0:
        raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", f"--max-restarts={max_restarts}",
            str(script), *map(str, args)]


def torchrun(script: str | Path, args: Sequence[str] = (), *, nproc: int | None = None,
             max_restarts: int = 0, timeout: float = 300.0, echo: bool | Callable[[str], None] = True,
             env: dict[str, str] | None = None) -> RunResult:
    """Run ``script`` under torchrun and return its :class:`RunResult` (notebook 06).

    ``nproc`` defaults to :func:`plan_processes`'s count; streaming, timeout and errors as :func:`run_command`.
    """
    nproc = plan_processes().nproc if nproc is None else nproc
    command = torchrun_command(script, args, nproc=nproc, max_restarts=max_restarts)
    return run_command(command, timeout=timeout, echo=echo, env=env)


def accelerate_command(script: str | Path, args: Sequence[str] = (), *, nproc: int,
                       max_restarts: int = 0, port: int | None = None) -> list[str]:
    """Return the arguments of ``accelerate launch`` for ``nproc`` local processes (notebook 06).
    ``--multi_gpu`` on a CPU too (the script asks for ``cpu=True``): ``--cpu --num_processes 2``
    silently starts ONE process; with one process it is refused, so left out."""
    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    if max_restarts < 0:
        raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
    return [sys.executable, "-m", "accelerate.commands.launch",
            *(["--multi_gpu"] if nproc > 1 else []), f"--num_processes={nproc}", "--num_machines=1",
            "--mixed_precision=no", "--dynamo_backend=no", f"--max_restarts={max_restarts}",
            f"--main_process_port={port if port is not None else free_port()}",
            str(script), *map(str, args)]


def accelerate_launch(script: str | Path, args: Sequence[str] = (), *, nproc: int | None = None,
                      max_restarts: int = 0, timeout: float = 300.0,
                      echo: bool | Callable[[str], None] = True, env: dict[str, str] | None = None) -> RunResult:
    """Run ``script`` under ``accelerate launch`` and return its :class:`RunResult` (notebook 06).
    Streaming, timeout and errors as :func:`torchrun`; the command is
    :func:`accelerate_command`'s."""
    nproc = plan_processes().nproc if nproc is None else nproc
    command = accelerate_command(script, args, nproc=nproc, max_restarts=max_restarts)
    return run_command(command, timeout=timeout, echo=echo, env=env)


def run_command(command: Sequence[str], *, timeout: float = 300.0, echo: bool | Callable[[str], None] = True,
                env: dict[str, str] | None = None, cwd: str | Path | None = None,
                grace: float = 15.0, tail: int = 25) -> RunResult:
    """Run ``command``, streaming its merged output; return a :class:`RunResult` (notebook 06).
    ``echo``: True prints, a callable gets each line, False keeps quiet. Past ``timeout`` or on
    an interrupt all it started is stopped (``runner.stop_tree``); errors carry the first error."""
    command = [str(c) for c in command]
    say = print if echo is True else (echo or (lambda line: None))
    start = time.perf_counter()
    proc = runner.start(command, env=env, cwd=cwd)
    output, lines, timed_out = runner.Output(), [], False
    output.follow("command", proc)
    try:
        while (got := output.next_line(start + timeout)) is not None:
            lines.append(got[1])
            say(got[1])
    except runner.DeadlinePassed:
        timed_out = True
        runner.stop_tree([proc], grace)
    except BaseException:  # the kernel was interrupted (or echo failed): leave no job behind
        runner.stop_tree([proc], grace=min(grace, 5.0))
        raise
    returncode = proc.wait()
    for _, line in output.rest(wait=0.01 if timed_out else 0.2):  # whatever was still in the pipe
        lines.append(line)
        say(line)
    seconds = time.perf_counter() - start
    if timed_out or returncode != 0:
        raise _failure(command, lines, tail, returncode, seconds, timeout if timed_out else None, grace)
    return RunResult(command=command, returncode=returncode, seconds=seconds, lines=lines)


def _failure(command: list[str], lines: list[str], tail: int, returncode: int, seconds: float,
             timeout: float | None, grace: float) -> LaunchFailed:
    """Return the :class:`LaunchTimeout` (``timeout`` given) or :class:`LaunchFailed` that says what happened."""
    report, error = _failure_report(lines, tail)
    if timeout is not None:
        return LaunchTimeout(f"{' '.join(command)}\nran past its timeout of {timeout:g} s and was stopped "
                             f"(SIGTERM, then SIGKILL after {grace:g} s). {report}\n"
                             "Fix: look for a rank stuck in a collective above, or raise timeout=.",
                             returncode=returncode, lines=lines, first_error=error)
    return LaunchFailed(f"{' '.join(command)}\nexited with code {returncode} after {seconds:.1f} s. "
                        f"{report}\nFix: the first error (the process that failed first) names the "
                        "cause; the whole output is in the exception's .lines.",
                        returncode=returncode, lines=lines, first_error=error)
