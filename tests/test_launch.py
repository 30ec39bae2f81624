"""helpers.launch (notebook 06): plan, ports, commands, the launcher; and real 2-process jobs.

The launcher tests run small Python commands (a few seconds in all). The last test trains
for real with 2 gloo processes, forked from this one (no start-up cost): identical parameters
on every rank, and DDP's gradient equal to the mean of the ranks' own. The torchrun and
``accelerate launch`` jobs, and the crash-and-restart checks, are in test_fault_tolerance.py.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from helpers import launch as dist_helpers
from helpers import runner
from helpers.launch import LaunchFailed, LaunchTimeout, first_error, run_command

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "notebooks" / "scripts"
FAST_JOB = ["--epochs", "3", "--train-size", "512", "--test-size", "200", "--hidden", "32"]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


# --- plan, ports, commands -------------------------------------------------------------

def test_plan_uses_two_gloo_processes_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert dist_helpers.plan_processes() == dist_helpers.Plan(nproc=2, backend="gloo", device="cpu")
    assert dist_helpers.plan_processes(cpu_processes=3).nproc == 3
    with pytest.raises(ValueError, match="at least 1"):
        dist_helpers.plan_processes(cpu_processes=0)


def test_plan_uses_every_gpu_with_nccl(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert dist_helpers.plan_processes() == dist_helpers.Plan(nproc=3, backend="nccl", device="cuda")


def test_plan_does_not_initialise_cuda():
    dist_helpers.plan_processes()
    assert not torch.cuda.is_initialized()


def test_free_port_can_be_bound():
    port = dist_helpers.free_port()
    assert 0 < port < 65536
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))  # raises if it was not free


def test_torchrun_command_names_processes_and_restarts():
    cmd = dist_helpers.torchrun_command("train.py", ["--epochs", 3], nproc=2, max_restarts=1)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in cmd and "--max-restarts=1" in cmd and "--standalone" in cmd
    assert cmd[-3:] == ["train.py", "--epochs", "3"]  # the script, then its own options, as strings
    assert not any("auto" in part for part in cmd)
    with pytest.raises(ValueError):
        dist_helpers.torchrun_command("train.py", nproc=0)
    with pytest.raises(ValueError):
        dist_helpers.torchrun_command("train.py", nproc=2, max_restarts=-1)


def test_accelerate_command_uses_multi_gpu_only_for_several_processes():
    two = dist_helpers.accelerate_command("train.py", ["--epochs", 1], nproc=2, max_restarts=1, port=29555)
    assert two[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in two and "--num_processes=2" in two and "--max_restarts=1" in two
    assert "--main_process_port=29555" in two and "--cpu" not in two
    assert two[-3:] == ["train.py", "--epochs", "1"]
    one = dist_helpers.accelerate_command("train.py", nproc=1)
    assert "--multi_gpu" not in one and "--num_processes=1" in one
    assert any(part.startswith("--main_process_port=") for part in one)
    with pytest.raises(ValueError):
        dist_helpers.accelerate_command("train.py", nproc=0)


# --- run_command ------------------------------------------------------------------------

def test_run_command_streams_every_line_in_order():
    seen: list[str] = []
    result = run_command(python("""
        import os, sys
        print("one"); print("two", file=sys.stderr); print("")
        print("env", os.environ["FOO"], os.environ["PYTHONUNBUFFERED"])
    """), echo=seen.append, env={"FOO": "bar"})
    assert seen == ["one", "two", "", "env bar 1"]  # stderr merged, empty lines kept
    assert result.lines == seen and result.output == "one\ntwo\n\nenv bar 1"
    assert result.returncode == 0 and result.seconds > 0


def test_run_command_prints_by_default(capsys):
    run_command(python('print("hello from the child")'))
    assert "hello from the child" in capsys.readouterr().out


def test_run_command_raises_with_the_last_lines_on_failure():
    with pytest.raises(LaunchFailed) as info:
        run_command(python("""
            import sys
            for i in range(50):
                print(f"line {i}")
            print("boom", file=sys.stderr)
            sys.exit(3)
        """), echo=False, tail=5)
    err = info.value
    assert not isinstance(err, LaunchTimeout)
    assert err.returncode == 3 and len(err.lines) == 51
    message = str(err)
    assert "exited with code 3" in message and "boom" in message and "line 49" in message
    assert "line 10" not in message  # only the last `tail` lines
    assert sys.executable in message  # the command that failed


def test_launch_failed_keeps_the_first_traceback_above_the_tail():
    with pytest.raises(LaunchFailed) as info:
        run_command(python("""
            import sys
            try:
                raise KeyError("the real cause")
            except KeyError:
                import traceback; traceback.print_exc()
            for i in range(60):
                print(f"other rank giving up {i}")
            sys.exit(1)
        """), echo=False, tail=5)
    err, message = info.value, str(info.value)
    assert "KeyError: 'the real cause'" in err.first_error and err.first_error.startswith("Traceback")
    assert "First error in the output (line 1 of " in message and "KeyError: 'the real cause'" in message
    assert "other rank giving up 59" in message and "other rank giving up 30" not in message


def test_launch_failed_keeps_the_first_error_line_without_a_traceback():
    with pytest.raises(LaunchFailed) as info:
        run_command(python("""
            import sys
            print("epoch 1 done")
            print("terminate called without an active exception", file=sys.stderr, flush=True)
            for i in range(40):
                print(f"noise {i}")
            sys.exit(134)
        """), echo=False, tail=3)
    assert info.value.first_error.startswith("terminate called without an active exception")
    assert "terminate called" in str(info.value) and "noise 39" in str(info.value)


def test_first_error_reads_torchrun_rank_prefixes_and_stops_at_the_exception():
    lines = ["starting", "[rank1]: Traceback (most recent call last):", '[rank1]:   File "x.py", line 3',
             "[rank1]:     boom()", "[rank1]: RuntimeError: gloo connection reset",
             "[rank0]: Traceback (most recent call last):",
             "later"]
    index, block = first_error(lines)
    assert index == 1 and block == lines[1:5]
    assert first_error(["all", "fine", "0 errors"]) is None
    bad = "ValueError: bad --train-size"
    assert first_error(["ok", bad, "a", "b", "c"]) == (1, [bad, "a", "b"])


def test_run_command_stops_a_command_past_its_timeout():
    start = time.perf_counter()
    with pytest.raises(LaunchTimeout, match="timeout of 1 s") as info:
        run_command(python('import time; print("started", flush=True); time.sleep(60)'), timeout=1, echo=False)
    assert time.perf_counter() - start < 10
    assert "started" in str(info.value)


def test_timeout_sends_sigterm_first():
    with pytest.raises(LaunchTimeout) as info:
        run_command(python("""
            import signal, sys, time
            def bye(*_):
                print("got SIGTERM", flush=True)
                sys.exit(0)
            signal.signal(signal.SIGTERM, bye)
            print("ready", flush=True)
            time.sleep(60)
        """), timeout=1.5, echo=False, grace=10)
    assert "got SIGTERM" in info.value.lines


def test_timeout_kills_what_ignores_sigterm_and_processes_in_other_sessions():
    """torchrun starts its workers in sessions of their own: a group signal alone would orphan them."""
    lines: list[str] = []
    start = time.perf_counter()
    with pytest.raises(LaunchTimeout):
        run_command(python("""
            import signal, subprocess, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            worker = subprocess.Popen([sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
                start_new_session=True)
            print("worker", worker.pid, flush=True)
            time.sleep(60)
        """), timeout=2, echo=lines.append, grace=1)
    assert time.perf_counter() - start < 15
    worker = int(next(line for line in lines if line.startswith("worker")).split()[1])
    deadline = time.time() + 5
    while alive(worker) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(worker), "the worker started in its own session survived the timeout"


def test_an_interrupted_kernel_leaves_no_job_behind():
    pids: list[int] = []

    def interrupt(line: str) -> None:  # as if the learner pressed Stop while the job ran
        pids.append(int(line))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_command(python("import os, time; print(os.getpid(), flush=True); time.sleep(60)"), echo=interrupt)
    deadline = time.time() + 5
    while alive(pids[0]) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(pids[0])


def test_descendants_finds_children_and_grandchildren():
    child = subprocess.Popen(python("""
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        print(grandchild.pid, flush=True)
        time.sleep(30)
    """), stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(child.stdout.readline())
        assert grandchild in runner.descendants(child.pid)
        assert runner.descendants(grandchild) == []
    finally:
        for pid in (grandchild, child.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        child.wait()


# --- a real job: 2 gloo processes on the CPU ----------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="forks this process: CPU-only machines (notebook 06 checks GPUs)")
def test_two_gloo_processes_train_identical_copies(tmp_path):
    """Two forked processes (launch.fork_launch, as in notebook 06) run train_ddp.main."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        import train_ddp
    finally:
        sys.path.remove(str(SCRIPTS))
    argv = [str(a) for a in FAST_JOB + ["--result", tmp_path / "result.json", "--check-grad"]]
    dist_helpers.fork_launch(train_ddp.main, (argv,), nproc=2)
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["world_size"], result["backend"], result["device"]) == (2, "gloo", "cpu")
    assert (result["attempt"], result["start_epoch"]) == (0, 0)
    assert result["params_identical"] and result["params_max_abs_diff"] == 0.0
    assert len(result["history"]) == 3 and result["history"][-1] < result["history"][0]
    # DDP's gradient is the mean of the ranks' own gradients, which really differ
    assert result["grad_max_abs_diff"] < 1e-6 < result["local_grads_max_abs_spread"]


def test_forked_output_reaches_the_notebook_as_whole_lines():
    """A forked child's print arrives in pieces (text, separator, newline); fork_launch's stream joins them."""
    class Recorder:
        def __init__(self):
            self.writes = []

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            pass

    sink = Recorder()
    lines = dist_helpers._WholeLines(sink)
    print("epoch", 1, "loss", 0.5, file=lines, flush=True)  # five writes and a flush
    lines.write("partial")
    assert sink.writes == ["epoch 1 loss 0.5\n"]
    lines.write(" line\nnext")
    assert sink.writes[-1] == "partial line\n"
    lines.finish()
    assert sink.writes[-1] == "next"
