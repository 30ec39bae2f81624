"""Execute, store and clean the course notebooks.

    python tools/notebooks.py run [NB ...]     execute into build/ (.ipynb + .html) and write build/summary.md
    python tools/notebooks.py golden NB ...    execute in fast mode, keep only golden cells' outputs, save
    python tools/notebooks.py strip [NB ...]   drop every output except golden cells' (no execution)

A golden cell holds a line ``# NBVAL_CHECK_OUTPUT`` (or the tag ``nbval-check-output``):
nbval compares its stored output with a fresh run, so it may only show facts that depend
on neither the mode nor the device. Every other cell is stored without output.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
GOLDEN_MARK = "# NBVAL_CHECK_OUTPUT"
GOLDEN_TAG = "nbval-check-output"


def notebook_paths(names: list[str]) -> list[Path]:
    if names:
        return [Path(n).resolve() for n in names]
    return sorted(NOTEBOOKS.glob("[0-9][0-9]*.ipynb"))


def is_golden(cell) -> bool:
    if cell.cell_type != "code":
        return False
    lines = [line.strip() for line in cell.source.splitlines()]
    return GOLDEN_MARK in lines or GOLDEN_TAG in cell.get("metadata", {}).get("tags", [])


def strip(nb) -> None:
    """Remove outputs and execution counts from every code cell that is not golden, and saved widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if is_golden(cell):
            continue
        cell.outputs = []
        cell.execution_count = None


def execute(path: Path, *, mode: str | None, timeout: int = 900):
    """Execute a notebook from a fresh kernel in its own folder; return (nb, seconds, error)."""
    nb = nbformat.read(path, as_version=4)
    env_mode = os.environ.get("COURSE_MODE")
    if mode is not None:
        os.environ["COURSE_MODE"] = mode
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, timeout
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if mode is not None:
            if env_mode is None:
                os.environ.pop("COURSE_MODE", None)
            else:
                os.environ["COURSE_MODE"] = env_mode
    return nb, time.perf_counter() - start, error


def cmd_golden(paths: list[Path]) -> int:
    failed = 0
    for path in paths:
        nb, seconds, error = execute(path, mode="fast")
        if error:
            print(f"{path.name}: FAILED after {seconds:.1f} s: {error}", file=sys.stderr)
            failed += 1
            continue
        strip(nb)
        nbformat.write(nb, path)
        print(f"{path.name}: executed in {seconds:.1f} s (fast), golden outputs stored")
    return 1 if failed else 0


def cmd_strip(paths: list[Path]) -> int:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        strip(nb)
        nbformat.write(nb, path)
    return 0


def cmd_run(paths: list[Path], build: Path = BUILD) -> int:
    import torch
    from nbconvert import HTMLExporter

    sys.path.insert(0, str(ROOT))
    import helpers

    build.mkdir(parents=True, exist_ok=True)
    mode = helpers.mode()
    device = str(helpers.pick_device())
    rows = []
    for path in paths:
        print(f"running {path.name} ({mode} mode on {device}) ...", flush=True)
        nb, seconds, error = execute(path, mode=mode)
        nbformat.write(nb, build / path.name)
        html, _ = HTMLExporter().from_notebook_node(nb)
        (build / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
        status = "ok" if error is None else f"FAILED: {error}"
        print(f"  {status} in {seconds:.1f} s", flush=True)
        rows.append((path.name, status, seconds))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        "# Notebook run summary", "",
        f"- mode: {mode}", f"- device: {device} (GPU: {gpu})",
        f"- torch {torch.__version__}, Python {sys.version.split()[0]}",
        f"- finished: {time.strftime('%Y-%m-%d %H:%M:%S')}", "",
        "| notebook | status | seconds | mode | device |", "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {status} | {seconds:.1f} | {mode} | {device} |" for name, status, seconds in rows]
    (build / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {build / 'summary.md'}")
    return 1 if any(status != "ok" for _, status, _ in rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "golden", "strip"))
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--build", type=Path, default=BUILD, help="output folder for `run` (default: build/)")
    args = parser.parse_intermixed_args(argv)
    paths = notebook_paths(args.notebooks)
    if not paths:
        print("no notebooks found in notebooks/", file=sys.stderr)
        return 1
    if args.command == "run":
        return cmd_run(paths, args.build)
    return {"golden": cmd_golden, "strip": cmd_strip}[args.command](paths)


if __name__ == "__main__":
    sys.exit(main())
