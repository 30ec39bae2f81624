"""Key results a notebook records while it runs, for its check-yourself cell and for ``build/results.json``.

Convention (every notebook): when a cell computes a number the lesson rests on, it calls
``helpers.record("name", value)``; the check-yourself cell reads ``helpers.recorded()["name"]``;
``tools/notebooks.py run`` sets ``COURSE_RESULTS_FILE`` so that each ``record`` also rewrites
that JSON file (atomically), and collects it into ``build/results.json``. The README's
notebook table shows the keys listed in ``tools/notebooks.py``'s ``README_KEYS``.

Names are short snake_case (``images_per_s_b128``, ``head_accuracy``); values are JSON:
``None``, bools, ints, floats (finite), strings, and lists or dicts of those. numpy and torch
scalars (and 0-d tensors/arrays) are converted to Python numbers; anything else is refused.
"""
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
    """Return None after keeping ``value`` as the key result ``name`` of this run (notebooks 00 to 06).

    Returns nothing so that a ``record`` on a cell's last line shows no stray output; read the
    stored (converted) value back with ``recorded()[name]``. Raises ``RecordError`` for a name
    that is not snake_case or a value JSON cannot hold.
    When ``COURSE_RESULTS_FILE`` is set (``tools/notebooks.py run`` sets it), the file is
    rewritten atomically with everything recorded so far.
    """
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
