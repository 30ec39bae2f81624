"""Every exercise check, by exercise name: ``helpers.check.to_device(to_device)`` (notebook 00), ...

Each notebook's checks live in ``helpers/check/nbNN.py`` (``nb00.py``, ``nb01.py``, ``nb05b.py``),
each function decorated with ``helpers.exercises.exercise`` and listed in that module's
``__all__``. This package imports every such module and exposes its checks here, so a new
notebook module needs no edit to this file; two modules exporting the same name is an error.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..exercises import Exercise

__all__: list[str] = []
CHECKS: dict[str, Exercise] = {}
_owner: dict[str, str] = {}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("nb"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", []):
        _check = getattr(_module, _name)
        if not isinstance(_check, Exercise):
            raise TypeError(f"helpers/check/{_info.name}.py exports {_name}, which is not decorated with @exercise")
        if _name in CHECKS:
            raise ImportError(f"two exercise checks are named {_name!r}: helpers/check/{_owner[_name]}.py and "
                              f"helpers/check/{_info.name}.py; rename one (names are unique across notebooks)")
        CHECKS[_name] = _check
        _owner[_name] = _info.name
        globals()[_name] = _check
        __all__.append(_name)
