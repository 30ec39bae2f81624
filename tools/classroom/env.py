"""The students' Python: a venv of its own with the course's `helpers` installed from a wheel, and the
Jupyter config each role sees. Why not the project's .venv, and how torch is shared without a second
copy: ARCHITECTURE.md, "The classroom"."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from .layout import COURSE_ID, REPO, Classroom, ClassroomError

NBGRADER_SERVER = ("formgrader", "assignment_list", "course_list", "validate_assignment")
TEACHER_ONLY_LAB = ("formgrader", "create-assignment", "course-list", "validate-assignment")


def usable_by_others(path: Path, mode: int = 0o005) -> bool:
    """True when users other than the owner can reach `path` (o+x on every folder above) and have `mode` on it."""
    path = Path(path).resolve()
    if not path.exists() or os.stat(path).st_mode & mode != mode:
        return False
    return all(os.stat(p).st_mode & 0o001 for p in path.parents)


def base_python() -> Path:
    """An interpreter of this Python's version that every user can execute: this one, else /usr/bin/python3.X."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.executable).resolve(), Path(f"/usr/bin/python{version}")):
        if usable_by_others(candidate):
            return candidate
    raise ClassroomError(f"no Python {version} that students can execute: {Path(sys.executable).resolve()} is "
                         f"not executable by other users (its folder is private) and /usr/bin/python{version} is "
                         f"missing; install it (`apt-get install python{version}`) or build .venv from a "
                         f"Python outside your home")


def shared_site_packages(room_root: Path | None = None) -> tuple[Path, bool]:
    """(the project venv's site-packages, True when students can read it where it is). False: it is private
    (e.g. under /root) but on the classroom's filesystem, so env/ gets hard links to its files instead."""
    site = Path(sysconfig.get_paths()["purelib"])
    if usable_by_others(site):
        return site, True
    anchor = Path(room_root) if room_root else None
    while anchor is not None and not anchor.exists():
        anchor = anchor.parent
    if anchor is not None and os.stat(anchor).st_dev == os.stat(site).st_dev:
        return site, False
    raise ClassroomError(f"students cannot read {site} (a folder above it is private) and the classroom is on "
                         "another filesystem (no hard links): put the project or CLASSROOM_DIR elsewhere")


SKIP_LINKING = ("__editable__", "fdl_companion", "helpers", "__pycache__")


def link_packages(site: Path, env_site: Path) -> int:
    """Hard-link every package of `site` into `env_site` (no copy: the same files), except the editable install
    of this project; return how many entries were linked."""
    entries = [str(p) for p in sorted(site.iterdir()) if not p.name.startswith(SKIP_LINKING)]
    if entries:
        subprocess.run(["cp", "-al", *entries, str(env_site)], check=True, capture_output=True)
    return len(entries)


def env_stamp(room: Classroom) -> str:
    """A hash of what env/ is made from: helpers, pyproject.toml, this module, the interpreters, the classroom."""
    digest = hashlib.sha256(f"{sys.prefix}|{base_python()}|{room.root}|{room.teacher}".encode())
    for path in sorted([*(REPO / "helpers").rglob("*.py"), REPO / "pyproject.toml", Path(__file__)]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_env(room: Classroom) -> bool:
    """(Re)create env/ (the venv, the helpers wheel, the .pth to the shared packages, the students' Jupyter
    config) unless it was made from the same sources; return True when it was rebuilt."""
    stamp = room.env / ".fdl-stamp"
    if stamp.exists() and stamp.read_text() == env_stamp(room):
        return False
    site, reachable = shared_site_packages(room.root)
    subprocess.run([str(base_python()), "-m", "venv", "--without-pip", "--clear", str(room.env)],
                   check=True, capture_output=True)
    env_site = Path(subprocess.run([str(room.python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                    "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="fdl-wheel-") as tmp:
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp, str(REPO)],
                       check=True, capture_output=True, cwd=tmp)
        wheel = next(Path(tmp).glob("*.whl"))
        subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(env_site), str(wheel)],
                       check=True, capture_output=True)
    # nbgrader runs `alembic` from PATH when it creates a gradebook: the project venv's script would start
    # the project's interpreter, which other users may not be able to execute
    (room.env / "bin" / "alembic").write_text(f"#!{room.python}\nfrom alembic.config import main\nmain()\n")
    os.chmod(room.env / "bin" / "alembic", 0o755)
    (room.env / "share").mkdir(exist_ok=True)
    student_config(room.env / "etc" / "jupyter", room.exchange, Path(sys.prefix) / "etc" / "jupyter")
    teacher_config(room.teacher_config, room.exchange, room.course)
    for folder, _, files in os.walk(room.env):
        os.chmod(folder, 0o755)
        for f in files:
            p = os.path.join(folder, f)
            if not os.path.islink(p):
                os.chmod(p, 0o755 if os.access(p, os.X_OK) else 0o644)
    shared_share = Path(sys.prefix) / "share" / "jupyter"
    if reachable:
        (env_site / "_fdl_shared_packages.pth").write_text(f"{site}\n", encoding="utf-8")
        os.chmod(env_site / "_fdl_shared_packages.pth", 0o644)
        (room.env / "share" / "jupyter").symlink_to(shared_share)
    else:  # after the chmod walk: hard links share their modes with the project's own files
        link_packages(site, env_site)
        subprocess.run(["cp", "-al", str(shared_share), str(room.env / "share")], check=True, capture_output=True)
    stamp.write_text(env_stamp(room))
    os.chmod(stamp, 0o644)
    return True


def student_config(etc: Path, exchange: Path, copy_from: Path | None = None) -> None:
    """Write the students' Jupyter config into `etc`: server extensions (copied from `copy_from`'s
    jupyter_server_config.d, nbgrader's reduced to the Assignments tab), page_config.json, nbgrader_config.py."""
    confd = etc / "jupyter_server_config.d"
    confd.mkdir(parents=True, exist_ok=True)
    for src in (copy_from / "jupyter_server_config.d").glob("*.json") if copy_from else []:
        if src.name != "nbgrader.json":
            shutil.copy(src, confd / src.name)
    students = {f"nbgrader.server_extensions.{ext}": ext == "assignment_list" for ext in NBGRADER_SERVER}
    _write_config(etc, students, {f"@jupyter/nbgrader:{ext}": True for ext in TEACHER_ONLY_LAB},
                  {"course_id": COURSE_ID}, exchange)


def teacher_config(etc: Path, exchange: Path, course: Path) -> None:
    """Write the teacher's extra Jupyter config into `etc` (first on their JUPYTER_CONFIG_PATH): all of nbgrader."""
    everything = {f"nbgrader.server_extensions.{ext}": True for ext in NBGRADER_SERVER}
    _write_config(etc, everything, {f"@jupyter/nbgrader:{ext}": False for ext in TEACHER_ONLY_LAB},
                  {"course_id": COURSE_ID, "root": str(course)}, exchange)


def learner_config(etc: Path) -> None:
    """Write into `etc` (for JUPYTER_CONFIG_PATH) the config of `make lab`'s single learner: no nbgrader at all
    (no teacher's toolbars, no Assignments tab without an exchange)."""
    (etc / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    (etc / "labconfig").mkdir(exist_ok=True)
    off = {f"nbgrader.server_extensions.{ext}": False for ext in NBGRADER_SERVER}
    (etc / "jupyter_server_config.d" / "nbgrader.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": off}}, indent=1), encoding="utf-8")
    plugins = (*TEACHER_ONLY_LAB, "assignment-list", "menu")
    (etc / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {f"@jupyter/nbgrader:{p}": True for p in plugins}}, indent=1))


def _write_config(etc: Path, server: dict, lab: dict, course_dir: dict, exchange: Path) -> None:
    (etc / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    (etc / "labconfig").mkdir(exist_ok=True)
    (etc / "jupyter_server_config.d" / "nbgrader.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": server}}, indent=1), encoding="utf-8")
    (etc / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": lab}, indent=1))
    lines = ["c = get_config()  # noqa: F821", *[f"c.CourseDirectory.{k} = {v!r}" for k, v in course_dir.items()],
             f"c.Exchange.root = {str(exchange)!r}"]
    (etc / "nbgrader_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for folder, _, files in os.walk(etc):
        os.chmod(folder, 0o755)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)


def user_environment(room: Classroom, user: str) -> dict[str, str]:
    """The environment a user's server (and every nbgrader command run for them) gets: no PYTHONPATH, ever."""
    env = {
        "PATH": f"{room.env / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "COURSE_DATA": os.environ.get("COURSE_DATA") or str(REPO / "data"),
        "OMP_NUM_THREADS": os.environ.get("CLASSROOM_THREADS", "1"),
        "MKL_NUM_THREADS": os.environ.get("CLASSROOM_THREADS", "1"),
    }
    if user == room.teacher:
        env["JUPYTER_CONFIG_PATH"] = str(room.teacher_config)
    return env
