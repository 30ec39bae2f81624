"""Writing files so that a crash never leaves a half-written one behind.

Used by the data preparation of notebooks 00 and 05b.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Return ``path`` after ``write(tmp)`` filled a hidden temporary file beside it, renamed over it in one step (notebooks 00, 05b).

    Readers see the old file or the complete new one, never a partial one. When ``write``
    raises, the temporary file is removed, ``path`` is left as it was and the error propagates.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
