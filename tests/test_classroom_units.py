"""The classroom's pieces that need no root and no hub: the grading command's output read back, passwords,
hard-linked packages, user names (tests/test_classroom.py runs the whole classroom, as root)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from classroom.course import parse_grades  # noqa: E402
from classroom.env import link_packages  # noqa: E402
from classroom.layout import ClassroomError, check_names  # noqa: E402
from classroom.users import hash_password, verify_password  # noqa: E402

GRADE_OUTPUT = """\
/c/submitted/ana/00_setup_and_devices/00_setup_and_devices.ipynb:
  nb00_to_device_check: 1 / 1  ✓ to_device: model and batch both end on the device you asked for
  nb00_run_on_model_device_check: 0 / 1  ✗ run_on_model_device: the input stayed on cpu: score: 9 / 9
score: 1 / 2
/c/submitted/ben/00_setup_and_devices/00_setup_and_devices.ipynb:
  nb00_to_device_check: 0 / 1  … to_device: not done yet
  nb00_run_on_model_device_check: 0 / 1  … run_on_model_device: not done yet
score: 0 / 2
"""


def test_grades_are_read_back_per_submission_with_each_verdict_line():
    grades = parse_grades(GRADE_OUTPUT)
    ana = grades["/c/submitted/ana/00_setup_and_devices/00_setup_and_devices.ipynb"]
    assert (ana.score, ana.max_score) == (1, 2)
    assert ana.exercises[1] == ("nb00_run_on_model_device_check", 0, 1,
                                "✗ run_on_model_device: the input stayed on cpu: score: 9 / 9")
    ben = grades["/c/submitted/ben/00_setup_and_devices/00_setup_and_devices.ipynb"]
    assert (ben.score, [e[1] for e in ben.exercises]) == (0, [0, 0])


def test_a_password_matches_only_its_own_hash():
    stored = hash_password("right horse")
    assert verify_password("right horse", stored)
    assert not verify_password("right hors", stored)
    assert not verify_password("right horse", "garbage")
    assert hash_password("same") != hash_password("same"), "each hash has its own salt"


def test_packages_are_hard_linked_without_the_editable_install(tmp_path):
    site, env_site = tmp_path / "site", tmp_path / "env"
    for name in ("torch/__init__.py", "helpers/__init__.py", "fdl_companion-0.1.0.dist-info/METADATA",
                 "__editable__.fdl_companion-0.1.0.pth", "numpy/core.py"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(name)
    env_site.mkdir()
    assert link_packages(site, env_site) == 2
    assert sorted(p.name for p in env_site.iterdir()) == ["numpy", "torch"]
    assert os.stat(env_site / "torch/__init__.py").st_ino == os.stat(site / "torch/__init__.py").st_ino


@pytest.mark.parametrize("names", [["Ana"], ["ana", "ana"], ["1ana"], ["ana;rm"], ["a" * 32]])
def test_user_names_that_are_not_plain_logins_are_refused(names):
    with pytest.raises(ClassroomError):
        check_names(names)


def test_make_labs_learner_sees_no_nbgrader_teacher_tools(tmp_path):
    """`make lab` starts JupyterLab with JUPYTER_CONFIG_PATH=build/lab-config (tools/classroom learner-config)."""
    import json
    import socket
    import subprocess
    import time
    import urllib.request

    pytest.importorskip("nbgrader", reason="nbgrader is not installed (the offline GPU host)")
    config = tmp_path / "lab-config"
    subprocess.run([sys.executable, str(ROOT / "tools" / "classroom"), "learner-config", "--out", str(config)],
                   check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(config)}
    lab = subprocess.Popen([str(jupyter), "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                            "--IdentityProvider.token=t", f"--ServerApp.root_dir={tmp_path}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        began = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(f"{base}/api?token=t", timeout=2)
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() - began < 120, "JupyterLab did not start"
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as formgrader:
            urllib.request.urlopen(f"{base}/formgrader?token=t", timeout=30)
        assert formgrader.value.code == 404
        page = urllib.request.urlopen(f"{base}/lab?token=t", timeout=30).read().decode()
        disabled = json.loads(page.split('"disabledExtensions": ', 1)[1].split("]", 1)[0] + "]")
        assert {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:validate-assignment",
                "@jupyter/nbgrader:formgrader"} <= set(disabled)
    finally:
        lab.terminate()
        lab.wait(timeout=30)
