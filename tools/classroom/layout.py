"""Where a classroom lives on disk, who owns what, and the state kept between `start` and `stop`.

The folders and their owners and modes: ARCHITECTURE.md, "The classroom"."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COURSE_ID = "fdl"
USERNAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class ClassroomError(Exception):
    """A classroom cannot be set up, started or graded; the message says what to do."""


def _under_root(*parts: str) -> property:
    """A read-only ``Path`` property: the classroom's ``root`` joined with ``parts``."""
    return property(lambda self: self.root.joinpath(*parts))


@dataclass
class Classroom:
    root: Path
    teacher: str = "teacher"
    students: list[str] = field(default_factory=list)

    # The folders and files under root (ARCHITECTURE.md, "The classroom"); no annotation: not dataclass fields
    hub = _under_root("hub")
    env = _under_root("env")
    python = _under_root("env", "bin", "python")
    teacher_config = _under_root("config", "teacher")
    course = _under_root("course")
    exchange = _under_root("exchange")
    state_file = _under_root("state.json")

    def home(self, user: str) -> Path:
        return self.root / "home" / user

    @property
    def users(self) -> list[str]:
        return [self.teacher, *self.students]

    def load_state(self) -> dict:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text(encoding="utf-8"))

    def save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.state_file)


def check_names(names: list[str]) -> None:
    """Refuse a user name that is not a plain Unix login (lower case, digits, '-'; 1-31 characters)."""
    bad = [n for n in names if not USERNAME.match(n)]
    if bad:
        raise ClassroomError(f"user names must be lower-case Unix logins (a-z, 0-9, '-', starting with a letter, "
                             f"at most 31 characters): {', '.join(bad)}")
    if len(set(names)) != len(names):
        raise ClassroomError(f"a user name appears twice: {' '.join(names)}")


def from_args(root: str | Path | None, teacher: str | None, students: list[str] | None) -> Classroom:
    """The classroom at `root` (or CLASSROOM_DIR, or classroom/), with users from the arguments or its state."""
    path = Path(root or os.environ.get("CLASSROOM_DIR") or REPO / "classroom").resolve()
    room = Classroom(path)
    state = room.load_state()
    room.teacher = teacher or state.get("teacher") or "teacher"
    room.students = list(students) if students else list(state.get("students", []))
    check_names(room.users)
    return room
