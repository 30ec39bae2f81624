"""Turn ``# NBVAL_CHECK_OUTPUT`` comment lines into nbval's ``nbval-check-output`` cell tag (re-runnable).

    python tools/migrate_golden_tags.py notebooks/*.ipynb"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

MARK = "# NBVAL_CHECK_OUTPUT"
TAG = "nbval-check-output"


def migrate(nb) -> int:
    """Move the mark of every marked code cell of ``nb`` into its tags; return how many cells changed."""
    changed = 0
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type != "code" or MARK not in (line.strip() for line in lines):
            continue
        cell.source = "\n".join(line for line in lines if line.strip() != MARK).strip("\n")
        tags = cell.metadata.setdefault("tags", [])
        if TAG not in tags:
            tags.append(TAG)
        changed += 1
    return changed


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        changed = migrate(nb)
        if changed:
            nbformat.write(nb, path)
        print(f"{path}: {changed} golden cell(s) tagged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
