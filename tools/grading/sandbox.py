"""The sandbox a submission's verdict process runs in: bubblewrap namespaces plus an unprivileged user.
Why bubblewrap (no daemon, no image, milliseconds) and what each namespace, bind and uid gives:
docs/exercises.md. Time, memory and output limits: the harness (per exercise) and the batch."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SCRATCH_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")  # fresh and empty in the sandbox
NEVER_HIDDEN = {Path(p) for p in ("/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev", "/sys")}
HIDDEN = ("/root", "/home", "/srv", "/mnt", "/media", "/run", "/var/lib", "/var/spool", "/var/mail", "/opt/nbgrader")
FIRST_UID = 61000
UIDS_PER_BATCH = 64  # at most this many jobs; each batch takes its own block, by its process id


def batch_uids(jobs: int) -> list[int]:
    """Return ``jobs`` uids for one batch, a block no other running batch uses (limits such as the process
    count are per uid: two batches at once, e.g. the test suite's parallel workers, must not share one)."""
    if not 1 <= jobs <= UIDS_PER_BATCH:
        raise ValueError(f"--jobs must be 1 to {UIDS_PER_BATCH}, got {jobs}")
    base = FIRST_UID + (os.getpid() % 2048) * UIDS_PER_BATCH
    return list(range(base, base + jobs))
HARNESS_DIR = Path(__file__).resolve().parent


def unavailable() -> str | None:
    """Return why the sandbox cannot be built here, in one line, or None when it can."""
    if os.environ.get("COURSE_GRADE_NO_SANDBOX"):  # how the tests see the refusal on a machine that has one
        return "COURSE_GRADE_NO_SANDBOX is set"
    if os.geteuid() != 0:
        return "grading needs root to build its sandbox (a user per submission, namespaces)"
    for tool in ("bwrap", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install -y {'bubblewrap' if tool == 'bwrap' else 'util-linux'})"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev",
                            "--proc", "/proc", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here ({probe.stderr.strip()[:120]})"
    return None


def _keep(path: Path, hidden: list[Path]) -> list[str]:
    """bwrap arguments that make ``path`` (an existing file or folder) visible again, read-only, below a hidden one."""
    args: list[str] = []
    path = path.resolve()
    covering = [h for h in hidden if path == h or h in path.parents]
    if covering:
        top = min(covering, key=lambda h: len(h.parts))
        for parent in reversed(path.parents):
            if top in parent.parents:  # an intermediate folder inside the empty tmpfs: make it traversable
                args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(path), str(path)]


def venv_paths() -> list[Path]:
    """The interpreter's folders: the venv (sys.prefix) and the Python it was made from (sys.base_prefix)."""
    return [Path(p).resolve() for p in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix))]


def command(*, scratch: Path, job: Path, uid: int, hide: list[Path], keep: list[Path],
            env: dict[str, str]) -> list[str]:
    """Return the command that runs the harness on ``job`` in a sandbox whose only writable folder is ``scratch``."""
    hidden = sorted({Path(h).resolve() for h in [*SCRATCH_ROOTS, *HIDDEN, *hide] if Path(h).exists()} - NEVER_HIDDEN,
                    key=lambda p: len(p.parts))
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for gpu in sorted(Path("/dev").glob("nvidia*")):
        args += ["--dev-bind", str(gpu), str(gpu)]
    for path in hidden:
        args += ["--tmpfs", str(path)]
    for path in [*venv_paths(), HARNESS_DIR, *keep]:
        if Path(path).exists():
            args += _keep(Path(path), hidden)
    args += _keep(scratch, hidden)[:-3] + ["--bind", str(scratch), str(scratch)]
    args += ["--chdir", str(scratch), "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--new-session", "--die-with-parent", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
             "--bounding-set=-all", "--no-new-privs", "--"]
    return args + [sys.executable, str(HARNESS_DIR / "harness.py"), str(job)]


def unsandboxed(*, job: Path) -> list[str]:
    """The harness with only the limits it sets itself (time, memory, output): for --allow-unsandboxed."""
    return [sys.executable, str(HARNESS_DIR / "harness.py"), str(job)]


def prepare_scratch(scratch: Path, uid: int | None) -> None:
    """Give the sandbox's user its scratch folder (and nothing else)."""
    scratch.mkdir(parents=True, exist_ok=True)
    os.chmod(scratch, 0o700)
    if uid is not None:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
