"""tools/notebooks.py: `run` writes executed copies and a summary; `strip` keeps only golden outputs."""
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "notebooks.py"
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write(path, *sources):
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources], metadata=KERNELSPEC), path)


def test_run_reports_each_notebook_and_fails_after_running_all(tmp_path):
    write(tmp_path / "01_breaks.ipynb", "raise ValueError('broken on purpose')")
    write(tmp_path / "02_works.ipynb", "import os\nprint('mode', os.environ['COURSE_MODE'])")
    build = tmp_path / "build"
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
