"""tools/notebooks.py: `run` writes executed copies, a summary and results.json; `strip`; `readme`."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "notebooks.py"
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write(path, *sources):
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources], metadata=KERNELSPEC), path)


_spec = importlib.util.spec_from_file_location("notebook_tool", TOOL)
notebook_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_tool)


def test_run_reports_each_notebook_and_fails_after_running_all(tmp_path):
    import helpers

    write(tmp_path / "01_breaks.ipynb", "import helpers\nhelpers.record('before_the_error', 1)",
          "raise ValueError('broken on purpose')")
    write(tmp_path / "02_works.ipynb", "import os\nprint('mode', os.environ['COURSE_MODE'])",
          "import helpers, numpy\nhelpers.record('accuracy', numpy.float32(0.75))")
    build = tmp_path / "build"
    build.mkdir()
    earlier = {"status": "ok", "seconds": 3.0, "results": {"kept": True}}
    (build / "results.json").write_text(json.dumps({"mode": "fast", "device": str(helpers.pick_device()),
                                                    "torch": "old", "notebooks": {"00_earlier": earlier}}))
    result = subprocess.run([sys.executable, str(TOOL), "run", "--build", str(build),
                             str(tmp_path / "01_breaks.ipynb"), str(tmp_path / "02_works.ipynb")],
                            capture_output=True, text=True, timeout=180, env={**__import__("os").environ,
                                                                             "COURSE_MODE": "fast"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "without encryption" not in result.stderr, "the kernels should get CurveZMQ keys (KERNEL_CONFIG)"
    summary = (build / "summary.md").read_text()
    assert "| 01_breaks.ipynb | FAILED: ValueError: broken on purpose |" in summary
    assert "| 02_works.ipynb | ok |" in summary and "- mode: fast" in summary
    executed = nbformat.read(build / "02_works.ipynb", as_version=4)
    assert executed.cells[0].outputs[0].text == "mode fast\n"
    assert (build / "01_breaks.html").stat().st_size > 1000 and (build / "02_works.html").is_file()
    results = json.loads((build / "results.json").read_text())
    assert results["mode"] == "fast" and results["torch"] != "old" and results["device"]
    assert results["notebooks"]["00_earlier"] == earlier, "notebooks not run this time keep their entries"
    works, breaks = results["notebooks"]["02_works"], results["notebooks"]["01_breaks"]
    assert works["status"] == "ok" and works["results"] == {"accuracy": 0.75} and works["seconds"] > 0
    assert works["load_average"] >= 0
    assert breaks["status"] == "FAILED: ValueError: broken on purpose" and breaks["results"] == {"before_the_error": 1}


def test_readme_table_agrees_with_the_committed_results():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert notebook_tool.TABLE_BEGIN in text and notebook_tool.TABLE_END in text, "README.md lost its table markers"
    table = text.split(notebook_tool.TABLE_BEGIN, 1)[1].split(notebook_tool.TABLE_END, 1)[0].strip()
    assert table == notebook_tool.render_table(), \
        "README.md's notebook table disagrees with results/*.json: run `.venv/bin/python tools/notebooks.py readme`"


def test_readme_table_shows_the_listed_keys_of_each_run(tmp_path):
    run = {"mode": "fast", "device": "cpu", "torch": "2.x", "notebooks": {
        "00_setup_and_devices": {"status": "ok", "seconds": 4.4, "load_average": 0.5,
                                 "results": {"matmul_device_ms": 1.234, "cold_call_ratio": 2.0}},
        "01_softmax_stability": {"status": "FAILED: ValueError: x", "seconds": 1.0, "results": {}}}}
    (tmp_path / "cpu-fast.json").write_text(json.dumps(run))
    table = notebook_tool.render_table(tmp_path)
    row = "| 00_setup_and_devices | 4 | matmul median 1.23 ms; one cold call = 2.0× the median | — | not yet run |"
    assert row in table
    assert "| 01_softmax_stability | 1 | FAILED: ValueError: x |" in table
    assert "fast mode: cpu, torch 2.x, 1-minute load average 0.5–0.5" in table and "full mode: not yet run" in table
    del run["notebooks"]["00_setup_and_devices"]["results"]["cold_call_ratio"]
    (tmp_path / "cpu-fast.json").write_text(json.dumps(run))
    with pytest.raises(SystemExit, match="did not record"):
        notebook_tool.render_table(tmp_path)


def test_strip_keeps_only_golden_outputs(tmp_path):
    path = tmp_path / "03_mixed.ipynb"
    golden = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=1,
                           outputs=[new_output("stream", name="stdout", text="1\n")])
    plain = new_code_cell("print(2)", execution_count=2, outputs=[new_output("stream", name="stdout", text="2\n")])
    nbformat.write(new_notebook(cells=[golden, plain], metadata={**KERNELSPEC, "widgets": {"state": "big"}}), path)
    subprocess.run([sys.executable, str(TOOL), "strip", str(path)], check=True, timeout=60)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0].text == "1\n"
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert "widgets" not in nb.metadata


# --- tools/system_packages.sh (make data's Debian packages), against fake apt/dpkg/sudo/id on PATH ---
SYSTEM_PACKAGES = ROOT / "tools" / "system_packages.sh"
DEBIAN_DATA = ["dataset-fashion-mnist", "tuxpaint-stamps-default", "gcompris-qt-data", "bubblewrap"]


def fake_debian(tmp_path, *, installed=(), uid=0, sudo_ok=False, candidate="1.0-1", apt=True):
    """A bin folder with dpkg-query, apt-cache, apt-get, sudo and id stand-ins that log their calls."""
    import os
    import stat

    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    scripts = {
        "id": f'echo {uid}',
        "sudo": f'echo "sudo $*" >> {log}; [ "$1" = -n ] && shift; {"exec" if sudo_ok else "exit 1;"} "$@"',
        "dpkg-query": ('for p in ' + " ".join(installed) + '; do [ "$p" = "${@: -1}" ] && '
                       '{ printf "install ok installed"; exit 0; }; done; exit 1'),
    }
    if apt:
        scripts["apt-cache"] = f'printf "$2:\\n  Installed: (none)\\n  Candidate: {candidate}\\n"'
        scripts["apt-get"] = f'echo "apt-get $*" >> {log}'
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin" if apt else str(bin_dir)}
    env.pop("SYSTEM_PACKAGES", None)
    return env, log


def system_packages(env):
    return subprocess.run(["/bin/bash", str(SYSTEM_PACKAGES)], capture_output=True, text=True, env=env, timeout=30)


def calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_system_packages_installs_only_the_missing_ones_as_root_without_update(tmp_path):
    env, log = fake_debian(tmp_path, installed=DEBIAN_DATA[:2] + DEBIAN_DATA[3:])
    result = system_packages(env)
    assert result.returncode == 0, result.stderr
    assert calls(log) == ["apt-get install -y -q --no-install-recommends gcompris-qt-data"]


def test_system_packages_updates_only_when_apt_has_no_candidate(tmp_path):
    env, log = fake_debian(tmp_path, candidate="(none)")
    assert system_packages(env).returncode == 0
    assert calls(log) == ["apt-get update -q", "apt-get install -y -q --no-install-recommends " + " ".join(DEBIAN_DATA)]


def test_system_packages_does_nothing_when_all_are_installed(tmp_path):
    env, log = fake_debian(tmp_path, installed=DEBIAN_DATA, uid=1000)
    result = system_packages(env)
    assert result.returncode == 0 and "already installed" in result.stdout and calls(log) == []


def test_system_packages_uses_sudo_n_where_it_works(tmp_path):
    env, log = fake_debian(tmp_path, installed=DEBIAN_DATA[1:], uid=1000, sudo_ok=True)
    assert system_packages(env).returncode == 0
    assert calls(log) == ["sudo -n true", "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                          "--no-install-recommends dataset-fashion-mnist",
                          "apt-get install -y -q --no-install-recommends dataset-fashion-mnist"]


def test_system_packages_stops_with_one_line_naming_the_command_without_sudo(tmp_path):
    env, log = fake_debian(tmp_path, installed=DEBIAN_DATA[:1] + DEBIAN_DATA[3:], uid=1000, sudo_ok=False)
    result = system_packages(env)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert ("`sudo apt-get update && sudo apt-get install -y --no-install-recommends "
            "tuxpaint-stamps-default gcompris-qt-data`") in result.stderr
    assert not any(c.startswith("apt-get") for c in calls(log))


def test_system_packages_says_so_and_goes_on_without_apt(tmp_path):
    env, log = fake_debian(tmp_path, apt=False, uid=1000)
    result = system_packages(env)
    assert result.returncode == 0 and "not a Debian/Ubuntu system" in result.stdout
    assert "torchvision" in result.stdout and calls(log) == []


# --- tools/gpu_carry.py (what the offline GPU host is given) ---
def test_gpu_carry_reads_every_pin_and_flags_requirements_neither_carried_nor_on_the_host(tmp_path, monkeypatch):
    import zipfile

    sys.path.insert(0, str(ROOT / "tools"))
    import gpu_carry

    pins = gpu_carry.pins()
    assert pins["torch"] == "2.14.1" and pins["nbval"] == "0.11.0" and len(pins) >= 19
    monkeypatch.setattr(gpu_carry, "WHEELS", tmp_path)

    def wheel(name, *requires):
        with zipfile.ZipFile(tmp_path / f"{name}-1.0-py3-none-any.whl", "w") as zf:
            meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
            meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
            zf.writestr(f"{name}-1.0.dist-info/METADATA", meta)

    wheel("nbval", "pytest>=7", "ipykernel", "coverage", "jupyter-client")
    wheel("ipykernel", "comm>=0.1", "appnope; sys_platform == 'darwin'", "sphinx; extra == 'docs'")
    assert sorted(gpu_carry.check_requirements()) == ["ipykernel-1.0-py3-none-any.whl needs comm>=0.1",
                                                      "nbval-1.0-py3-none-any.whl needs jupyter-client"]
    # versions count where they are known: the host's (the device notes) and the carried wheels' own
    wheel("transformers", "tokenizers<0.24,>=0.23.1", "huggingface-hub>=1.31", "safetensors>=0.9", "nbval>=2")
    assert sorted(gpu_carry.check_requirements())[-2:] == [
        "transformers-1.0-py3-none-any.whl needs nbval>=2; found nbval 1.0",
        "transformers-1.0-py3-none-any.whl needs safetensors>=0.9; the host has safetensors 0.8.0"]
    # --verify: only what an environment has installed satisfies a requirement
    installed = {"pytest": "9.2.0", "coverage": "7.0", "jupyter-client": "8.0", "ipykernel": "1.0", "comm": "0.2",
                 "nbval": "1.0", "tokenizers": "0.22.0", "huggingface-hub": "2.4.0"}
    assert sorted(gpu_carry.check_requirements(installed)) == [
        "transformers-1.0-py3-none-any.whl needs nbval>=2; found nbval 1.0",
        "transformers-1.0-py3-none-any.whl needs safetensors>=0.9",
        "transformers-1.0-py3-none-any.whl needs tokenizers<0.24,>=0.23.1; found tokenizers 0.22.0"]


def test_gpu_carry_finds_imports_the_host_cannot_satisfy(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    import gpu_carry

    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("from . import own\nimport os\n")
    own = "import numpy\ndef f():\n    import nbgrader\n    import no_such_pkg\n"
    (tmp_path / "helpers" / "own.py").write_text(own)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("import helpers.own\nfrom own import f\nimport transformers.x\n")
    (tmp_path / "notebooks" / "scripts").mkdir(parents=True)
    cells = [{"cell_type": "code", "source": ["!pip install something\n", "import pandas, yet_another.sub\n"]},
             {"cell_type": "markdown", "source": ["import not_code"]}]
    (tmp_path / "notebooks" / "01_x.ipynb").write_text(json.dumps({"cells": cells}))
    assert gpu_carry.uncovered_imports(tmp_path) == ["no_such_pkg (no-such-pkg) imported by helpers/own.py",
                                                     "yet_another (yet-another) imported by notebooks/01_x.ipynb"]
    # the project itself: every import is carried, on the host, or not carried on purpose (nbgrader)
    assert gpu_carry.uncovered_imports() == []
    assert "nbgrader" in gpu_carry.NOT_CARRIED
    assert {"transformers", "python-etcd", "pillow-heif"} <= set(gpu_carry.CARRIED)


def test_gpu_carry_verify_takes_the_version_python_imports(monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    import gpu_carry

    class Dist:
        def __init__(self, name, version):
            self.metadata, self.version = {"Name": name}, version

    # /tmp/site's transformers comes first on sys.path, the image's own after it: the first is imported
    dists = [Dist("Transformers", "5.23.0"), Dist("transformers", "5.17.0"), Dist("tokenizers", "0.23.2")]
    monkeypatch.setattr(gpu_carry.md, "distributions", lambda: iter(dists))
    assert gpu_carry.installed_versions() == {"transformers": "5.23.0", "tokenizers": "0.23.2"}
