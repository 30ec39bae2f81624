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
