"""The single-user image's Dockerfile (README, Teaching a class: TLJH and Zero to JupyterHub).

Where docker can build (a daemon, and FDL_DOCKER_BUILD=1: the build downloads about 6 GB), it builds the
image and runs a student's import in it; everywhere else a dry run checks what the build would do:
the base image pinned, the environment from environment.yml (whose pins tests/test_hygiene.py holds
equal to pyproject.toml's), the data packages those of tools/system_packages.sh, every COPY source
present and let through by .dockerignore, the data baked at COURSE_DATA, nbgrader's config written by
the same code as the local classroom's, and an unprivileged user.
"""
from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each line of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def allowed_by_dockerignore(path: str) -> bool:
    """Docker's rule: the last matching pattern of .dockerignore wins ('!' lets a path back in)."""
    allowed = True
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_base_image_is_pinned_and_the_image_runs_as_an_unprivileged_user():
    steps = instructions()
    base = steps[0][1]
    assert steps[0][0] == "FROM" and re.search(r":\d+\.\d+\.\d+-", base), f"unpinned base image {base}"
    users = [arg for word, arg in steps if word == "USER"]
    assert users[-1] == "1000", "the image must end as the unprivileged user (uid 1000, what Zero to JupyterHub runs)"
    assert steps[-1] == ("CMD", '["jupyterhub-singleuser"]')


def test_environment_and_data_packages_are_the_projects():
    runs = " ".join(arg for word, arg in instructions() if word == "RUN")
    assert "micromamba install -y -n base -f /tmp/environment.yml" in runs
    assert ("COPY", "environment.yml /tmp/environment.yml") in instructions()
    script = (ROOT / "tools" / "system_packages.sh").read_text()
    packages = re.search(r"^PACKAGES=\(([^)]*)\)", script, re.M).group(1).split()
    apt = re.search(r"apt-get install -y --no-install-recommends ((?:[a-z0-9.+-]+ )+)&&", runs).group(1).split()
    assert apt == packages, f"the Dockerfile installs {apt}, tools/system_packages.sh {packages}"
    pins = (ROOT / "environment.yml").read_text()
    try:
        hub_version = metadata.version("jupyterhub")
    except metadata.PackageNotFoundError:
        pytest.skip("jupyterhub is not installed here (the offline GPU host): nothing to compare the image's pin with")
    assert f"jupyterhub=={hub_version}" in pins, "the image's jupyterhub must be the hub's version"


def test_every_copied_path_exists_and_passes_dockerignore():
    sources = []
    for word, arg in instructions():
        if word == "COPY":
            sources += [s for s in arg.split()[:-1] if not s.startswith("--")]
    assert sources
    missing = [s for s in sources if not (ROOT / s).exists() and s != "build/student"]
    assert not missing, f"the Dockerfile copies paths that are not in the repository: {missing}"
    blocked = [s for s in sources if not allowed_by_dockerignore(s)]
    assert not blocked, f".dockerignore keeps these out of the build context: {blocked}"
    assert not allowed_by_dockerignore(".venv") and not allowed_by_dockerignore("notebooks"), \
        "the build context must not carry the virtual environment or the teacher's notebooks (solutions)"


def test_data_is_baked_where_course_data_points():
    steps = instructions()
    env = [i for i, (w, a) in enumerate(steps) if w == "ENV" and a.startswith("COURSE_DATA=")]
    prepare = [i for i, (w, a) in enumerate(steps) if w == "RUN" and "python -m helpers.prepare" in a]
    assert env and prepare and env[0] < prepare[0], "ENV COURSE_DATA must come before helpers.prepare"


def test_image_config_gives_students_the_assignments_tab_and_the_teacher_everything(tmp_path):
    step = next(a for w, a in instructions() if w == "RUN" and "image-config" in a)
    args = step.split("image-config", 1)[1].replace("/opt/conda", str(tmp_path)).split()
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "classroom"), "image-config", *args],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    student = json.loads((tmp_path / "etc/jupyter/jupyter_server_config.d/nbgrader.json").read_text())
    teacher = json.loads((tmp_path / "etc/jupyter-teacher/jupyter_server_config.d/nbgrader.json").read_text())
    on = {k for k, v in student["ServerApp"]["jpserver_extensions"].items() if v}
    assert on == {"nbgrader.server_extensions.assignment_list"}
    assert all(teacher["ServerApp"]["jpserver_extensions"].values())
    assert "/srv/nbgrader/exchange" in (tmp_path / "etc/jupyter/nbgrader_config.py").read_text()


@functools.cache
def _docker_can_build() -> str | None:
    if not shutil.which("docker"):
        return "docker is not installed"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "docker has no daemon here"
    if os.environ.get("FDL_DOCKER_BUILD") != "1":
        return "set FDL_DOCKER_BUILD=1 to build (downloads about 6 GB)"
    return None


@pytest.mark.skipif(_docker_can_build() is not None, reason=f"image not built: {_docker_can_build()}")
def test_the_image_builds_and_a_student_imports_the_installed_helpers():
    tag = "fdl-companion-singleuser:test"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=3600)
    done = subprocess.run(["docker", "run", "--rm", "--network=none", tag, "python", "-c",
                           "import helpers, helpers.check, torch, nbgrader; print(helpers.__file__)"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "site-packages/helpers" in done.stdout, done.stderr
