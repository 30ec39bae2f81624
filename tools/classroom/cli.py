"""`python tools/classroom start|stop|status|release|grade|remove`: the classroom's commands (make classroom...)."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import stat
import sys
import threading
import time
from pathlib import Path

from . import course, hub
from .env import build_env, learner_config, student_config, teacher_config, usable_by_others
from .layout import COURSE_ID, REPO, Classroom, ClassroomError, check_names, from_args
from .users import ensure_user, remove_user, write_passwords

PRIVATE_IN_REPO = ("notebooks", ".git", "work")  # the teacher's solutions and own work: o-rwx while a class runs


def _protect_teacher_tree(state: dict) -> None:
    """Remove other users' access to the repository's notebooks/ (solutions), .git/ and work/; remember the modes."""
    modes = state.setdefault("modes", {})
    for name in PRIVATE_IN_REPO:
        path = REPO / name
        if path.is_dir() and not path.is_symlink():
            mode = stat.S_IMODE(os.stat(path).st_mode)
            modes.setdefault(str(path), mode)
            os.chmod(path, mode & ~0o007)


def setup(room: Classroom, args: argparse.Namespace) -> dict:
    """Everything `start` needs that is not there yet; return the state (ports, users created, modes changed)."""
    if os.geteuid() != 0:
        raise ClassroomError("the classroom makes Unix accounts and starts servers as them: run it as root (sudo)")
    if not room.students:
        raise ClassroomError("name the students: make classroom STUDENTS='ana ben chloe' (or --roster FILE)")
    state = room.load_state()
    room.root.mkdir(parents=True, exist_ok=True)
    os.chmod(room.root, 0o755)
    if not usable_by_others(room.root, 0o001):
        raise ClassroomError(f"students cannot reach {room.root}: a folder above it is private; set CLASSROOM_DIR")
    room.hub.mkdir(exist_ok=True)
    os.chmod(room.hub, 0o700)
    created = state.setdefault("created", [])
    for user in room.users:
        ensure_user(room, user, created)
    state.update(teacher=room.teacher, students=room.students)
    room.save_state(state)  # the accounts are recorded before anything else can fail
    write_passwords(room, room.users)
    build_env(room)
    course.setup_course(room, [s for s in room.students if s not in state.get("in_gradebook", [])])
    state["in_gradebook"] = sorted(set(state.get("in_gradebook", [])) | set(room.students))
    _protect_teacher_tree(state)
    state.setdefault("ip", args.ip)
    for key in ("port", "hub_port", "api_port"):
        state.setdefault(key, hub.free_port())
    if args.port:
        state["port"] = args.port
    room.save_state(state)
    data = Path(os.environ.get("COURSE_DATA") or REPO / "data")
    if not usable_by_others(data, 0o005):
        print(f"warning: students cannot read the course data in {data}", file=sys.stderr)
    return state


def cmd_start(room: Classroom, args: argparse.Namespace) -> int:
    if hub.running_pid(room):
        raise ClassroomError(f"the classroom in {room.root} is already running: `make classroom-stop` first")
    began = time.monotonic()
    state = setup(room, args)
    outbound = room.exchange / COURSE_ID / "outbound"
    first_start = not any(outbound.iterdir())
    shorts = args.assignments or ([p.stem for p in sorted(course.NOTEBOOKS.glob("[0-9][0-9]*.ipynb"))]
                                  if first_start else [])
    for name in map(course.notebook_name, shorts):
        if not (outbound / name).exists():
            course.release(room, name, args.copies)
    ready = time.monotonic()
    pid = hub.start(room, state)
    print(f"classroom: {hub.url(state)}  (hub pid {pid}; set up in {ready - began:.1f} s, hub up in "
          f"{time.monotonic() - ready:.1f} s)")
    print(f"  teacher {room.teacher}, students {' '.join(room.students)}; passwords in {room.hub / 'passwords.txt'}")
    print(f"  grade an assignment: make classroom-grade NB=00; stop: make classroom-stop{' or Ctrl-C' * args.wait}")
    if args.wait:
        _wait_then_stop(room, state)
    return 0


def _wait_then_stop(room: Classroom, state: dict) -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        if not hub.running_pid(room):
            print("the hub has stopped", file=sys.stderr)
            break
    print(f"stopping the classroom ({hub.stop(room, state.get('created', []))} processes)")


def cmd_stop(room: Classroom, args: argparse.Namespace) -> int:
    state = room.load_state()
    print(f"stopped {hub.stop(room, state.get('created', []))} processes; the course, the exchange, the homes and "
          f"the hub's database stay in {room.root}")
    return 0


def cmd_status(room: Classroom, args: argparse.Namespace) -> int:
    state, pid = room.load_state(), hub.running_pid(room)
    if not state:
        print(f"no classroom in {room.root}")
        return 1
    print(f"{'running at ' + hub.url(state) + f' (pid {pid})' if pid else 'stopped'}; teacher {room.teacher}; "
          f"students {' '.join(room.students)}")
    return 0 if pid else 3


def cmd_release(room: Classroom, args: argparse.Namespace) -> int:
    for short in args.assignments:
        course.release(room, course.notebook_name(short), args.copies)
        print(f"released {course.notebook_name(short)}")
    return 0


def cmd_grade(room: Classroom, args: argparse.Namespace) -> int:
    name = course.notebook_name(args.assignment)
    path, grades, seconds = course.grade(room, name)
    for student, g in sorted(grades.items()):
        print(f"{student}: {g.score:g} / {g.max_score:g}")
    print(f"graded {len(grades)} submission(s) of {name} in {seconds:.1f} s ({seconds / len(grades):.1f} s each); "
          f"feedback released through the exchange; grades: {path}")
    return 0


def cmd_remove(room: Classroom, args: argparse.Namespace) -> int:
    state = room.load_state()
    created = state.get("created", [])
    hub.stop(room, created)
    for user in created:
        remove_user(room, user)
    for path, mode in state.get("modes", {}).items():
        if Path(path).exists():
            os.chmod(path, mode)
    shutil.rmtree(room.root, ignore_errors=True)
    print(f"removed {room.root} and the accounts {' '.join(created) or '(none)'}")
    return 0


def cmd_image_config(args: argparse.Namespace) -> int:
    """The Dockerfile's step: students' config in PREFIX/etc/jupyter, the teacher's in PREFIX/etc/jupyter-teacher."""
    etc = Path(args.prefix) / "etc"
    student_config(etc / "jupyter", Path(args.exchange))
    teacher_config(etc / "jupyter-teacher", Path(args.exchange), Path(args.course))
    print(f"wrote {etc / 'jupyter'} (students) and {etc / 'jupyter-teacher'} (the teacher's JUPYTER_CONFIG_PATH)")
    return 0


def _roster(path: str | None) -> list[str] | None:
    if not path:
        return None
    names = [line.split("#")[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [n for n in names if n]


# What each command does, shown by --help
USAGE = """

    start    set up what is missing (accounts, passwords, the students' Python, the course, the exchange),
             release the assignments not yet released, start the hub; --wait stays until Ctrl-C, then stops
    stop     stop the hub, its proxy and every process of the classroom's accounts; everything else stays
    release  release more notebooks as assignments (00 01 ...)
    grade    the teacher's autograde of one assignment: collect, grade with tools/notebooks.py grade,
             release each student's feedback through the exchange, write course/grades/ASSIGNMENT.csv
    status   is the hub running, where, who
    remove   stop, delete the accounts this classroom created and its folder (the gradebook too)
    image-config  write the students' and the teacher's Jupyter config into a single-user image (Dockerfile)
    learner-config --out DIR  `make lab`'s Jupyter config: nbgrader's teacher toolbars and tabs off
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/classroom", description=__doc__ + USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("start", "stop", "status", "release", "grade", "remove", "image-config",
                                            "learner-config"))
    parser.add_argument("assignments", nargs="*", help="notebooks (00 01 ...): released by start/release")
    parser.add_argument("--dir", help="the classroom folder (default CLASSROOM_DIR, else classroom/)")
    parser.add_argument("--teacher", help="the teacher's user name (default: teacher)")
    parser.add_argument("--students", help="the students' user names, separated by spaces or commas")
    parser.add_argument("--roster", help="a file with one student user name a line")
    parser.add_argument("--port", type=int, help="the hub's port (default: a free one, kept)")
    parser.add_argument("--ip", default=os.environ.get("CLASSROOM_IP", "127.0.0.1"), help="the hub's address")
    parser.add_argument("--copies", type=Path, default=course.STUDENT_COPIES,
                        help="the student copies to release (default: build/student/, made by make student)")
    parser.add_argument("--prefix", help="image-config: the image's environment prefix (e.g. /opt/conda)")
    parser.add_argument("--exchange", default="/srv/nbgrader/exchange", help="image-config: the shared exchange")
    parser.add_argument("--course", default="/home/jovyan/course", help="image-config: the teacher's course folder")
    parser.add_argument("--out", type=Path, help="learner-config: the folder to write (JUPYTER_CONFIG_PATH)")
    parser.add_argument("--wait", action="store_true", help="start: stay until Ctrl-C, then stop")
    args = parser.parse_args(argv)
    students = args.students.replace(",", " ").split() if args.students else _roster(args.roster)
    if args.command == "image-config":
        return cmd_image_config(args)
    if args.command == "learner-config":
        learner_config(args.out or REPO / "build" / "lab-config")
        return 0
    try:
        if students:
            check_names(students)
        room = from_args(args.dir, args.teacher, students)
        if args.command == "grade":
            if len(args.assignments) != 1:
                raise ClassroomError("grade: name one assignment, e.g. `make classroom-grade NB=00`")
            args.assignment = args.assignments[0]
        handler = {"start": cmd_start, "stop": cmd_stop, "status": cmd_status, "release": cmd_release,
                   "grade": cmd_grade, "remove": cmd_remove}[args.command]
        return handler(room, args)
    except ClassroomError as error:
        print(f"classroom: {error}", file=sys.stderr)
        return 1
