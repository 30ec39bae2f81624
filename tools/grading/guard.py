"""Inside the verdict process: what the learner's code may not change (``snapshot``, ``changes``), and an
audit hook that refuses the tools for changing it (``lock_down``). Imported by ``harness.py`` from its
folder; both layers, and what they do not defend: docs/exercises.md ("What a grade trusts, and why")."""
from __future__ import annotations

import sys
import types

WATCHED = ("builtins", "os", "posix", "json", "json.encoder", "json.decoder", "functools", "dataclasses", "types",
           "importlib", "math", "numpy", "torch", "torch.nn", "torch.nn.functional", "torch.nn.modules.module",
           "torch._tensor", "torch.optim", "guard")
ROUTINES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
            property, staticmethod, classmethod)
REFUSED_EVENTS = ("sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects", "gc.get_referrers",
                  "gc.get_referents", "_thread.start_new_thread", "os.exec", "os.posix_spawn", "os.spawn",
                  "code.__new__", "function.__new__", "sys.addaudithook", "cpython.PyInterpreterState_Clear")
PROTECTED_PREFIXES = ("helpers", "guard")
EXITS = ("_exit", "abort", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe")
_MISSING = object()


def watched_modules() -> list[types.ModuleType]:
    names = [n for n in list(sys.modules) if n == "helpers" or n.startswith("helpers.")] + list(WATCHED)
    return [sys.modules[n] for n in dict.fromkeys(names) if isinstance(sys.modules.get(n), types.ModuleType)]


def _function_parts(label: str, fn, out: list) -> None:
    fn = getattr(fn, "__func__", fn)
    if isinstance(fn, types.FunctionType):
        out += [(f"{label}.__code__", fn, "__code__", fn.__code__),
                (f"{label}.__defaults__", fn, "__defaults__", fn.__defaults__),
                (f"{label}.__kwdefaults__", fn, "__kwdefaults__", fn.__kwdefaults__)]
        for i, cell in enumerate(fn.__closure__ or ()):
            try:
                out.append((f"{label} closure {i}", cell, "cell_contents", cell.cell_contents))
            except ValueError:  # an empty cell
                continue


def _class_parts(label: str, cls: type, out: list) -> None:
    for key, value in list(vars(cls).items()):
        if isinstance(value, ROUTINES) or callable(value):
            out.append((f"{label}.{key}", cls, key, value))
            _function_parts(f"{label}.{key}", value, out)


def snapshot(*extra) -> tuple:
    """Return an immutable record of the objects a verdict depends on (plus ``extra`` objects' attributes)."""
    out: list = []
    seen_classes: set[int] = set()
    for module in watched_modules():
        name = module.__name__
        out.append((f"sys.modules[{name!r}]", sys.modules, name, module))
        for key, value in list(vars(module).items()):
            if not (isinstance(value, ROUTINES) or callable(value)):
                continue
            label = f"{name}.{key}"
            out.append((label, module, key, value))
            _function_parts(label, value, out)
            if isinstance(value, type) and id(value) not in seen_classes and value.__module__ != "builtins":
                seen_classes.add(id(value))
                _class_parts(label, value, out)
    for obj in extra:
        for key, value in list(vars(obj).items()):
            out.append((f"{type(obj).__name__}.{key}", obj, key, value))
    return tuple(out)


def _current(container, key):
    if container is sys.modules:
        return sys.modules.get(key, _MISSING)
    if isinstance(container, (types.ModuleType, type)):
        return vars(container).get(key, _MISSING)
    try:
        return getattr(container, key)
    except (AttributeError, ValueError):
        return _MISSING


def changes(record: tuple, limit: int = 3) -> list[str]:
    """Return up to ``limit`` labels of what differs from ``record`` (empty: nothing changed)."""
    found = []
    for label, container, key, value in record:
        if _current(container, key) is not value:
            found.append(label)
            if len(found) >= limit:
                break
    return found


def _protected(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return isinstance(module, str) and module.startswith(PROTECTED_PREFIXES)


def _hook(event: str, args: tuple) -> None:
    if event in REFUSED_EVENTS or event.startswith(("ctypes.", "os.exec")):
        raise PermissionError(f"{event} is not allowed while an exercise is graded")
    if event == "object.__setattr__" and args and _protected(args[0]):
        raise PermissionError(f"changing {getattr(args[0], '__qualname__', args[0])!r}.{args[1]} is not allowed "
                              "while an exercise is graded")


def _refuse(name: str):
    def refused(*args, **kwargs):
        raise PermissionError(f"os.{name} is not allowed while an exercise is graded: return from your function")
    return refused


def lock_down() -> dict:
    """Install the audit hook and replace the process-ending calls; return the originals the harness keeps."""
    import os
    import posix
    import threading

    kept = {"_exit": os._exit, "write": os.write, "setswitchinterval": sys.setswitchinterval}
    sys.settrace(None)
    sys.setprofile(None)
    for module in (os, posix):
        for name in EXITS:
            if hasattr(module, name):
                setattr(module, name, _refuse(name))
    threading.settrace = threading.setprofile = _refuse("settrace")
    sys.addaudithook(_hook)
    return kept
