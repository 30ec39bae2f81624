"""The learner's own working copies of the notebooks, for ``make lab`` (work/; README, "The two commands").
Copies are made once and never overwritten, since JupyterLab autosaves outputs into the open notebook;
``reset NB`` moves the old copy to ``work/.old/``. Standard library only: it runs before the venv exists."""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def originals(source: Path) -> list[Path]:
    """Return the numbered notebooks in ``source``, sorted; raise ``SystemExit`` naming the fix when none."""
    found = sorted(source.glob("[0-9][0-9]*.ipynb"))
    if not found:
        raise SystemExit(f"{source} holds no numbered notebooks (NN_name.ipynb). Fix: point LAB_SOURCE at the "
                         "folder of the course notebooks (default: notebooks), e.g. `make lab LAB_SOURCE=notebooks`.")
    return found


def link_scripts(work: Path) -> None:
    """Make ``work/scripts`` point at ``notebooks/scripts`` (a copy where links are not allowed)."""
    target, link = ROOT / "notebooks" / "scripts", work / "scripts"
    if link.is_symlink() or link.exists():
        return
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError:  # e.g. Windows without the right to make links: a copy, refreshed by `reset`
        shutil.copytree(target, link)


def make_copies(source: Path, work: Path) -> tuple[list[Path], list[Path]]:
    """Copy every notebook of ``source`` that ``work`` lacks; return (new copies, copies kept as they were)."""
    work.mkdir(parents=True, exist_ok=True)
    link_scripts(work)
    made, kept = [], []
    for original in originals(source):
        copy = work / original.name
        if copy.exists():
            kept.append(copy)
        else:
            shutil.copy2(original, copy)
            made.append(copy)
    return made, kept


def reset(name: str, source: Path, work: Path) -> tuple[Path, Path | None]:
    """Copy notebook ``name`` (``05b``, ``05b_presidential_doggy_door`` or the file name) afresh into ``work``.

    Return (the fresh copy, where the old copy was moved, or None when there was none).
    """
    candidates = originals(source)
    stem = name.removesuffix(".ipynb")
    number = {p: p.stem.split("_", 1)[0] for p in candidates}  # 05b_presidential_doggy_door -> 05b
    matches = ([p for p in candidates if p.stem == stem] or [p for p in candidates if number[p] == stem]
               or [p for p in candidates if number[p].startswith(stem)])
    if len(matches) != 1:
        choices = ", ".join(number.values())
        what = "matches several notebooks" if matches else "matches no notebook"
        raise SystemExit(f"'{name}' {what} in {source}. Fix: `make reset NB=XX` with XX one of {choices}.")
    original = matches[0]
    work.mkdir(parents=True, exist_ok=True)
    link_scripts(work)
    copy, moved = work / original.name, None
    if copy.exists():
        old = work / ".old"
        old.mkdir(exist_ok=True)
        moved = old / f"{original.stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
        shutil.move(copy, moved)
    shutil.copy2(original, copy)
    return copy, moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["copies", "reset"])
    parser.add_argument("notebook", nargs="?", help="for reset: 05b, 03, ... or a notebook's file name")
    parser.add_argument("--source", type=Path, default=ROOT / "notebooks", help="originals (default notebooks/)")
    parser.add_argument("--work", type=Path, default=ROOT / "work", help="working copies (default work/)")
    args = parser.parse_args(argv)
    source, work = args.source.resolve(), args.work.resolve()
    if args.command == "copies":
        made, kept = make_copies(source, work)
        print(f"Your working copies are in {work}/ ({len(made)} new from {source}, {len(kept)} kept as you "
              f"left them). JupyterLab saves your changes there; notebooks/ stays as tested. "
              "A fresh copy of one notebook: `make reset NB=05b` (or `make reset-05b`).")
    else:
        if not args.notebook:
            parser.error("reset needs a notebook, e.g. `python tools/lab.py reset 05b`")
        copy, moved = reset(args.notebook, source, work)
        print(f"Fresh copy: {copy}" + (f" (your previous copy is now {moved})" if moved else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
