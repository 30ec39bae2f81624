"""Prepare every dataset the notebooks need: ``python -m helpers.prepare`` (run by ``make run``/``make test``).

Prints which source each dataset came from; exits non-zero with the fix when one is missing.
"""
from __future__ import annotations

import sys

from . import data, door_data, files, photos


def _prepare_doggy_door() -> tuple[None, str]:
    """Build the doggy-door photos (05a) and the presidential doggy door's folders (05b), offline."""
    sample = photos.sample_photos()
    door = door_data.build_door_data(online=False)
    counts = door.counts()
    images = sum(sum(c.values()) for c in counts.values())
    return None, (f"{door.source} ({images} images in {door.root}; "
                  f"{len(sample)} photos for notebook 05a)")


def main() -> int:
    """Prepare each registered dataset in turn; return a process exit code (``make data``)."""
    steps = [("Fashion-MNIST", data.prepare_fashion_mnist),
             ("Presidential doggy door", _prepare_doggy_door)]
    failed = False
    for name, prepare in steps:
        try:
            _, source = prepare()
        except (data.DataNotFound, files.ChecksumMismatch, door_data.DoorDataError) as exc:
            print(f"{name}: NOT READY\n{exc}", file=sys.stderr)
            failed = True
            continue
        except OSError as exc:  # a read-only or full data folder: one line with the folder and the fix, no traceback
            if data.folder_error(exc) is None:
                raise
            print(f"{name}: NOT READY\n{data.folder_error(exc)}", file=sys.stderr)
            failed = True
            continue
        print(f"{name}: ready, from {source}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
