"""Every exercise check, named after the learner's function: ``helpers.check.to_device(to_device)``
(notebook 00), ``helpers.check.my_door_model(my_door_model)`` (notebook 05b), ...

Each notebook's checks live in ``helpers/check/nbNN.py`` (``nb00.py``, ``nb01.py``, ``nb05b.py``),
each function decorated with ``helpers.exercises.exercise`` and listed in that module's ``__all__``.
Notebooks 04 to 06 are imported by name below; the modules of notebooks 00 to 03 are still
registered by the loop; two modules exporting the same name is an error.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..exercises import Exercise
from .nb04 import adam_update as adam_update
from .nb04 import adamw_update as adamw_update
from .nb05a import my_dog_probability as my_dog_probability
from .nb05a import my_doggy_door_decision as my_doggy_door_decision
from .nb05b import my_door_model as my_door_model
from .nb05b import my_fine_tune_lr as my_fine_tune_lr
from .nb06 import my_epoch_order as my_epoch_order
from .nb06 import my_snapshot as my_snapshot

_EXPLICIT = {"nb04": ["adam_update", "adamw_update"],
             "nb05a": ["my_doggy_door_decision", "my_dog_probability"],
             "nb05b": ["my_door_model", "my_fine_tune_lr"],
             "nb06": ["my_epoch_order", "my_snapshot"]}
__all__: list[str] = []
CHECKS: dict[str, Exercise] = {}
_owner: dict[str, str] = {}


def _register(module_name: str, names: list[str], module) -> None:
    for name in names:
        check = getattr(module, name)
        if not isinstance(check, Exercise):
            raise TypeError(f"helpers/check/{module_name}.py exports {name}, which is not decorated with @exercise")
        if name in CHECKS:
            raise ImportError(f"two exercise checks are named {name!r}: helpers/check/{_owner[name]}.py and "
                              f"helpers/check/{module_name}.py; rename one (names are unique across notebooks)")
        CHECKS[name] = check
        _owner[name] = module_name
        globals()[name] = check
        __all__.append(name)


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("nb"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    if _info.name in _EXPLICIT:
        if sorted(_EXPLICIT[_info.name]) != sorted(getattr(_module, "__all__", [])):
            raise ImportError(f"helpers/check/{_info.name}.py's __all__ and the imports in helpers/check/__init__.py "
                              "differ: import every check by name")
    _register(_info.name, getattr(_module, "__all__", []), _module)
