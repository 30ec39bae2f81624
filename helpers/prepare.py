"""Prepare every dataset the notebooks need: ``python -m helpers.prepare`` (run by ``make run``/``make test``).

Prints which source each dataset came from; exits non-zero with the fix when one is missing.
"""
from __future__ import annotations

import sys

from . import data


def main() -> int:
    """Prepare each registered dataset in turn; return a process exit code (``make data``)."""
    steps = [("Fashion-MNIST", data.prepare_fashion_mnist)]
    failed = False
    for name, prepare in steps:
        try:
            _, source = prepare()
        except (data.DataNotFound, data.ChecksumMismatch) as exc:
            print(f"{name}: NOT READY\n{exc}", file=sys.stderr)
            failed = True
            continue
        print(f"{name}: ready, from {source}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
