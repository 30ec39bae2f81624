"""Key results a notebook records as it runs, for its check-yourself cell and build/results.json.
``helpers.record(name, value)``: snake_case names, JSON values (numpy, torch scalars converted);
read with ``helpers.recorded()``; where they go: the comment at tools/notebooks.py's README_KEYS."""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from .files import atomic_write

RESULTS_FILE_ENV = "COURSE_RESULTS_FILE"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_recorded: dict[str, Any] = {}


class RecordError(TypeError):
    """A value ``helpers.record`` cannot store as JSON, or a badly formed name."""


def _plain(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"{where} is {value}: JSON has no inf or nan. Record None, or a string saying why.")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise RecordError(f"{where} has the key {key!r} ({type(key).__name__}); JSON keys are strings")
            out[key] = _plain(v, f"{where}[{key!r}]")
        return out
    # numpy and torch scalars, 0-d arrays and one-element tensors: .item() gives a Python number
    item = getattr(value, "item", None)
    shape = getattr(value, "shape", None)
    if callable(item) and (shape is None or tuple(shape) in ((), (1,))):
        return _plain(item(), where)
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    raise RecordError(f"{where} is a {kind}, which JSON cannot hold: "
                      "record a number, a string, a bool, None, or a list/dict of those (e.g. tensor.tolist()).")


def record(name: str, value: Any) -> None:
    """Return None after keeping ``value`` as the key result ``name`` (notebooks 00 to 06).
    None: a last-line ``record`` shows no output; ``recorded()[name]`` reads it back. Rewrites
    ``COURSE_RESULTS_FILE`` atomically when set; ``RecordError``: bad name or non-JSON value."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise RecordError(f"result name {name!r}: use snake_case starting with a letter, e.g. 'test_accuracy'")
    plain = _plain(value, f"helpers.record({name!r}, ...): the value")
    _recorded[name] = plain
    target = os.environ.get(RESULTS_FILE_ENV, "").strip()
    if target:
        text = json.dumps(_recorded, indent=2, sort_keys=True) + "\n"
        atomic_write(Path(target), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def recorded() -> dict[str, Any]:
    """Return a copy of every result recorded in this kernel so far, by name (notebook 00's check yourself)."""
    return json.loads(json.dumps(_recorded))
