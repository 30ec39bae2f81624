"""The verdict process: run inside the sandbox as ``python harness.py JOB.json``; writes one JSON line to stdout.
It runs the student copy's cells and forks a child per graded cell, which alone runs the learner's code
and writes the verdict on a pipe only it holds (the steps: docs/exercises.md, "What a grade trusts, and why")."""
from __future__ import annotations

import ast
import json
import os
import resource
import select
import signal
import sys
import time

import guard

OUTPUT_FILE = "exercise-output.txt"
_EXIT, _WRITE = os._exit, os.write  # kept before any learner code can replace them


def _status_vm_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    return 0


def learner_code(sources: list[str]):
    """Compile only the def statements and imports of the learner's exercise cells (IPython magics dropped)."""
    from IPython.core.inputtransformer2 import TransformerManager

    body = []
    for source in sources:
        tree = ast.parse(TransformerManager().transform_cell(source or ""))
        body += [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Import,
                                                         ast.ImportFrom))]
    return compile(ast.Module(body=body, type_ignores=[]), "<your exercise cell>", "exec")


def resolve_check(check_source: str, ns: dict):
    """Return (exercise, argument expressions) from the teacher's check cell; raise ValueError if it is not one."""
    from helpers.exercises import Exercise

    tree = ast.parse(check_source)
    call = tree.body[-1].value if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if not isinstance(call, ast.Call) or call.keywords:
        raise ValueError(f"the check cell is not one call of a check: {check_source!r}")
    check = eval(compile(ast.Expression(call.func), "<check cell>", "eval"), ns)  # noqa: S307 - teacher's code
    if not isinstance(check, Exercise):
        raise ValueError(f"{ast.unparse(call.func)} is not a helpers.exercises.Exercise")
    args = [compile(ast.Expression(a), "<check cell>", "eval") for a in call.args]
    return check, args


def _memory_words(text: str) -> bool:
    low = text.lower()
    return "memoryerror" in low or ("memory" in low and "alloc" in low)


def verdict(exercise: dict, ns: dict, limits: dict) -> dict:
    """In the forked child: the verdict of one exercise, as a dict (see module docstring, steps 1 to 5)."""
    from helpers.exercises import NOT_DONE, PASSED, WRONG, Exercise, Outcome

    check, arg_code = resolve_check(exercise["check"], ns)
    outcome_fn, line_fn, name = Exercise.outcome, Outcome.line.fget, check.name
    kept = guard.lock_down()
    record = guard.snapshot(check)
    start = time.perf_counter()
    try:
        code = learner_code(exercise["learner"])
    except SyntaxError as exc:
        outcome = Outcome(name, WRONG, f"your exercise cell does not run: SyntaxError: {exc.msg} (line {exc.lineno})")
    else:
        try:
            exec(code, ns)  # noqa: S102 - the learner's defs and imports, in the sandbox
            outcome = outcome_fn(check, *[eval(a, ns) for a in arg_code])  # noqa: S307
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, a failing import: all answers
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            outcome = Outcome(name, WRONG, f"your function raised {type(exc).__name__}: {first}")
    kept["setswitchinterval"](1000.0)  # no other thread of the learner runs again before the record is written
    seconds = time.perf_counter() - start
    changed = guard.changes(record)
    ok = type(outcome) is Outcome and type(outcome.status) is str and outcome.status in (PASSED, WRONG, NOT_DONE)
    if changed or not ok:
        what = ", ".join(changed) if changed else "the check's result"
        return {"status": "tampered", "line": f"✗ {name}: not graded: your code changed {what} while it was checked",
                "kind": "tampered", "seconds": seconds, "kept": kept}
    line = line_fn(outcome)
    kind = "memory" if outcome.status == WRONG and _memory_words(outcome.message) else ""
    if outcome.status == WRONG and "File too large" in outcome.message:
        kind = "output"
    return {"status": outcome.status, "line": line, "kind": kind, "seconds": seconds, "kept": kept}


def child(exercise: dict, ns: dict, limits: dict, write_fd: int, result_fd: int) -> None:
    """The forked child: limits, verdict, one record on ``write_fd``; never returns."""
    exit_ = os._exit
    try:
        os.close(result_fd)
        os.setpgid(0, 0)
        limit_as = (_status_vm_kb() * 1024) + limits["memory_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"], limits["output_bytes"]))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        out = os.open(OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        result = verdict(exercise, ns, limits)
        kept = result.pop("kept")
        kept["write"](write_fd, (json.dumps(result) + "\n").encode())
        kept["_exit"](0)
    except BaseException as exc:  # noqa: BLE001 - the harness's own failure: say it, score 0
        try:
            _WRITE(write_fd, (json.dumps({"status": "error", "kind": "error", "seconds": 0.0,
                                          "line": f"grading failed: {type(exc).__name__}: {exc}"}) + "\n").encode())
        finally:
            exit_(3)
    exit_(3)


def _reap_all(own_pid_namespace: bool) -> None:
    """Kill every process of this sandbox's user except this one, and wait until none is left.
    Orphans belong to bubblewrap's init, so "no children left" is not enough: a fork bomb's last processes
    would hold RLIMIT_NPROC. Unsandboxed the user's other processes are the teacher's: children only."""
    if not own_pid_namespace:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        return
    for _ in range(250):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if not _others_alive():
            return
        time.sleep(0.02)


def _others_alive() -> bool:
    """Whether any process of this user, other than this one, is still in the pid namespace (zombies too)."""
    me, uid = os.getpid(), os.getuid()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != me:
            try:
                if entry.stat().st_uid == uid:
                    return True
            except FileNotFoundError:  # gone while looking
                continue
    return False


def judge(exercise: dict, ns: dict, limits: dict, result_fd: int) -> dict:
    """Fork a child for one exercise, wait for it within the time limit, and return its checked record."""
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    try:
        pid = os.fork()
    except OSError as exc:
        return {"status": "error", "kind": "pids", "line": f"could not start the check: {exc.strerror}"}
    if pid == 0:
        try:
            os.close(read_fd)
            child(exercise, ns, limits, write_fd, result_fd)
        finally:
            _EXIT(4)  # a child never returns into the harness's loop
    os.close(write_fd)
    data, deadline, status = b"", start + limits["cell_timeout"], None
    while status is None:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
        if ready:
            chunk = os.read(read_fd, 65536)
            data += chunk[: max(0, (1 << 20) - len(data))]
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
        elif time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
            os.close(read_fd)
            _reap_all(limits["own_pid_namespace"])
            return {"status": "timeout", "kind": "timeout", "line": f"stopped after {limits['cell_timeout']:g} s: "
                    "the time limit for one exercise (an endless loop, or far too slow)"}
    while True:
        ready, _, _ = select.select([read_fd], [], [], 0.5)
        chunk = os.read(read_fd, 65536) if ready else b""
        if not chunk:
            break
        data += chunk[: max(0, (1 << 20) - len(data))]
    os.close(read_fd)
    _reap_all(limits["own_pid_namespace"])
    return checked(data, status, limits)


def checked(data: bytes, status: int, limits: dict) -> dict:
    records = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        kind = "memory" if sig in ("SIGSEGV", "SIGABRT", "SIGBUS") else "crash"
        return {"status": "crash", "kind": kind, "line": f"the check's process was killed by {sig} (memory limit "
                f"{limits['memory_mb']} MB, a crash, or a process limit)"}
    if os.WEXITSTATUS(status) != 0 or len(records) != 1:
        return {"status": "exit", "kind": "exit", "line": f"the check did not finish: the process ended with status "
                f"{os.WEXITSTATUS(status)} and {len(records)} results (sys.exit, os._exit or a second writer)"}
    try:
        record = json.loads(records[0])
    except json.JSONDecodeError:
        return {"status": "exit", "kind": "exit", "line": "the check's result was unreadable"}
    return record


def main() -> None:
    job = json.load(open(sys.argv[1], encoding="utf-8"))
    limits = job["limits"]
    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    log = os.open("harness-log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["pids"], limits["pids"]))
    import torch._dynamo  # noqa: F401 - once, before the forks (1.3 s each); it rewraps torch.manual_seed on import
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401 - imported once, before the forks
    from IPython.core.interactiveshell import InteractiveShell

    import helpers.exercises  # noqa: F401

    shell = InteractiveShell.instance()
    verdicts, warnings = {}, []
    exercises = {e["grade_id"]: e for e in job["exercises"]}
    for cell in job["cells"]:
        if "exercise" in cell:
            found = exercises.get(cell["exercise"])
            if found is not None and found.get("missing"):
                verdicts[cell["exercise"]] = {"status": "missing", "kind": "missing", "line": found["missing"]}
            elif found is not None:
                sys.stdout.flush()
                verdicts[cell["exercise"]] = judge(found, shell.user_ns, limits, result.fileno())
            continue
        outcome = shell.run_cell(cell["source"], store_history=False)
        if not outcome.success:
            warnings.append(f"a cell of the student copy failed in the sandbox: {outcome.error_in_exec!r:.200}")
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    result.write(json.dumps({"verdicts": verdicts, "warnings": warnings, "cpu_seconds": cpu}) + "\n")
    result.flush()


if __name__ == "__main__":
    main()
