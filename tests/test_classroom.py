"""`make classroom` for real: a JupyterHub on 127.0.0.1, nbgrader's exchange, three students and a teacher.

One classroom for the whole module (tools/classroom start, as CI runs it, as root): three students log
in through the hub's REST API with their own passwords, start their servers, fetch notebook 00 through
the Assignments extension, and submit (one right, one blank, one wrong); the teacher's autograde
(tools/classroom grade: collect, tools/notebooks.py grade, feedback through the exchange, CSV); each
student fetches their own feedback and can read nobody else's, nor the solutions, nor the gradebook
(checked as that user with runuser); a stop and a restart keep the gradebook and the submissions;
`remove` leaves no account, folder or process. Skips, saying why, where it cannot run: not root, no
node or configurable-http-proxy (tools/classroom/install_proxy.sh, which `make test` runs first), no
Python students can execute.
"""
from __future__ import annotations

import csv
import json
import os
import pwd
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from classroom import env as classroom_env  # noqa: E402
from classroom.hub import PROXY  # noqa: E402
from classroom.layout import ClassroomError  # noqa: E402

NB = "00_setup_and_devices"
TEACHER_NB = ROOT / "notebooks" / f"{NB}.ipynb"
CLI = [sys.executable, str(ROOT / "tools" / "classroom")]
TAG = f"fdl{os.getpid() % 100000}"
TEACHER, ANA, BEN, CY = (f"{TAG}-{n}" for n in ("teach", "ana", "ben", "cy"))  # right, blank, wrong
STUDENTS = [ANA, BEN, CY]


def why_not() -> str | None:
    """Why the classroom cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (it creates Unix accounts and starts servers as them; CI runs as root)"
    for tool in ("useradd", "userdel", "runuser"):
        if not shutil.which(tool):
            return f"{tool} is missing"
    if not shutil.which("node"):
        return "node is missing (bash tools/classroom/install_proxy.sh installs it as root on Debian/Ubuntu)"
    if not PROXY.exists():
        return f"{PROXY} is missing (bash tools/classroom/install_proxy.sh; make test runs it)"
    for module in ("jupyterhub", "nbgrader"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed"
    try:
        classroom_env.base_python()
        classroom_env.shared_site_packages(Path(tempfile.gettempdir()))
    except ClassroomError as error:
        return str(error)
    return None


pytestmark = pytest.mark.skipif(why_not() is not None, reason=f"classroom test skipped: {why_not()}")


def cli(room: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args, "--dir", str(room)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    assert done.returncode == 0, f"tools/classroom {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done


def student_copy(tmp: Path) -> Path:
    """build/student/'s copy of notebook 00 when `make student` made it after the notebook, else a fresh one."""
    built = ROOT / "build" / "student"
    makers = [TEACHER_NB, ROOT / "tools" / "notebooks.py"]
    if (built / f"{NB}.ipynb").exists() and all(m.stat().st_mtime <= (built / f"{NB}.ipynb").stat().st_mtime
                                                for m in makers):
        return built
    subprocess.run([sys.executable, str(ROOT / "tools" / "notebooks.py"), "student", "--out", str(tmp / "copies"),
                    str(TEACHER_NB)], check=True, capture_output=True, timeout=300)
    return tmp / "copies"


class Hub:
    """HTTP calls to the hub and the users' servers, with each user's token."""

    def __init__(self, url: str, passwords: dict[str, str]):
        self.url, self.passwords, self.tokens = url, passwords, {}

    def call(self, method: str, path: str, user: str | None = None, body=None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = f"token {self.tokens[user]}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def login(self, user: str, password: str | None = None) -> int:
        auth = {"username": user, "password": self.passwords[user] if password is None else password}
        status, body = self.call("POST", f"/hub/api/users/{user}/tokens", body={"auth": auth})
        if status == 201:
            self.tokens[user] = json.loads(body)["token"]
        return status

    def start_server(self, user: str) -> float:
        began = time.monotonic()
        status, body = self.call("POST", f"/hub/api/users/{user}/server", user)
        assert status in (201, 202), (status, body)
        while time.monotonic() - began < 120:
            model = json.loads(self.call("GET", f"/hub/api/users/{user}", user)[1])
            if model["servers"].get("", {}).get("ready"):
                return time.monotonic() - began
            time.sleep(0.2)
        raise AssertionError(f"{user}'s server did not start within 120 s")

    def assignments(self, user: str, action: str | None = None) -> list[dict]:
        ids = {"course_id": "fdl", "assignment_id": NB}
        if action:
            status, body = self.call("POST", f"/user/{user}/assignments/{action}", user, ids)
        else:
            status, body = self.call("GET", f"/user/{user}/assignments?course_id=fdl", user)
        assert status == 200, (status, body)
        reply = json.loads(body)
        assert reply["success"], reply
        return reply["value"]

    def put_notebook(self, user: str, nb) -> None:
        status, body = self.call("PUT", f"/user/{user}/api/contents/{NB}/{NB}.ipynb", user,
                                 {"type": "notebook", "format": "json", "content": nb})
        assert status in (200, 201), (status, body)


def answered(copy: Path, wrong: bool = False):
    """The student copy with the teacher's solutions filled in; `wrong`: to_device returns the batch unmoved."""
    nb = nbformat.read(copy, as_version=4)
    teacher = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(TEACHER_NB, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = teacher[gid]
            if wrong and "def to_device" in cell.source:
                cell.source = "def to_device(model, batch, device):\n    return model.to(device), batch\n"
    return json.loads(nbformat.writes(nb))


def as_user(user: str, *cmd: str, cwd: str = "/") -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, cwd=cwd)


def mode(path: Path) -> str:
    st = os.stat(path)
    return f"{pwd.getpwuid(st.st_uid).pw_name} {stat.S_IMODE(st.st_mode):o}"


@pytest.fixture(scope="module")
def room():
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="fdl-classroom-test-", dir="/tmp"))
    os.chmod(tmp, 0o755)  # students must traverse it to reach their homes
    path = tmp / "room"
    ctx = {}
    try:
        copies = student_copy(tmp)
        started = cli(path, "start", "00", "--teacher", TEACHER, "--students", " ".join(STUDENTS),
                      "--copies", str(copies))
        state = json.loads((path / "state.json").read_text())
        passwords = dict(line.split() for line in (path / "hub" / "passwords.txt").read_text().splitlines())
        hub = Hub(f"http://127.0.0.1:{state['port']}", passwords)
        ctx.update(path=path, hub=hub, copies=copies, state=state, timings={"began": began},
                   start_output=started.stdout)
        yield ctx
    finally:
        if ctx.get("foreground") is not None and ctx["foreground"].poll() is None:
            ctx["foreground"].send_signal(signal.SIGINT)  # a failed test left `start --wait` running
            ctx["foreground"].communicate(timeout=120)
        subprocess.run([*CLI, "remove", "--dir", str(path)], capture_output=True, timeout=120, cwd=ROOT)
        shutil.rmtree(tmp, ignore_errors=True)


def test_each_user_logs_in_with_their_own_password_only(room):
    hub = room["hub"]
    assert "hub up in" in room["start_output"]
    for user in [TEACHER, *STUDENTS]:
        assert hub.login(user) == 201, f"{user} could not log in through the hub's API"
    assert hub.login(BEN, hub.passwords[ANA]) == 403, "a student logged in as another with their own password"
    assert hub.login(ANA, "wrong") == 403
    assert hub.login("nobody", hub.passwords[ANA]) == 403


def test_students_fetch_and_submit_through_their_servers(room):
    hub = room["hub"]
    with ThreadPoolExecutor(4) as pool:
        seconds = dict(zip([TEACHER, *STUDENTS], pool.map(hub.start_server, [TEACHER, *STUDENTS])))
    room["timings"]["server_start"] = seconds
    room["timings"]["rss_mb"] = resident_mb(room["path"])
    copy = room["copies"] / f"{NB}.ipynb"
    for user, nb in ((ANA, answered(copy)), (BEN, None), (CY, answered(copy, wrong=True))):
        listed = hub.assignments(user)
        assert [a["status"] for a in listed if a["assignment_id"] == NB] == ["released"], listed
        hub.assignments(user, "fetch")
        if nb is not None:
            hub.put_notebook(user, nb)
        after = hub.assignments(user, "submit")
        assert any(a.get("status") == "fetched" and a["assignment_id"] == NB for a in after), after
    inbound = room["path"] / "exchange" / "fdl" / "inbound"
    assert sorted(p.name.split("+")[0] for p in inbound.iterdir()) == sorted(STUDENTS)


def test_students_get_the_assignments_tab_and_the_teacher_the_formgrader(room):
    hub = room["hub"]
    for user, teacher in ((ANA, False), (TEACHER, True)):
        page = hub.call("GET", f"/user/{user}/lab", user)[1].decode()
        disabled = json.loads(re.search(r'"disabledExtensions": (\[[^\]]*\])', page).group(1))
        hidden = {f"@jupyter/nbgrader:{e}" for e in ("formgrader", "create-assignment", "validate-assignment")}
        assert (hidden & set(disabled)) == (set() if teacher else hidden), (user, disabled)
        assert hub.call("GET", f"/user/{user}/formgrader", user)[0] == (200 if teacher else 404), user


def test_students_kernels_import_the_installed_helpers_never_the_teachers_tree(room):
    path = room["path"]
    server = [p for p in Path("/proc").glob("[0-9]*") if (p / "status").exists()
              and _uid(p) == pwd.getpwnam(ANA).pw_uid and b"jupyterhub.singleuser" in (p / "cmdline").read_bytes()]
    assert server, "no server process of the student"
    environ = dict(v.split("=", 1) for v in (server[0] / "environ").read_text().split("\0") if "=" in v)
    assert "PYTHONPATH" not in environ, "the student's server inherited a PYTHONPATH"
    env = ["env", "-i", *[f"{k}={environ[k]}" for k in ("PATH", "HOME", "COURSE_DATA")]]
    done = as_user(ANA, *env, str(path / "env" / "bin" / "python"), "-c",
                   "import helpers, helpers.check, torch; print(helpers.__file__)", cwd=environ["HOME"])
    assert done.returncode == 0, done.stderr
    site = path / "env" / "lib"
    assert done.stdout.strip().startswith(str(site)), f"helpers came from {done.stdout.strip()}, not the wheel"
    assert mode(Path(done.stdout.strip())) == "root 644"
    assert as_user(ANA, "touch", done.stdout.strip()).returncode != 0, "a student can change the installed helpers"


def resident_mb(path: Path) -> dict[str, float]:
    """Resident memory (MB) of the hub, its proxy and each user's server."""
    found = {}
    for name in ("hub", "proxy"):
        pid = (path / "hub" / f"{name}.pid").read_text().strip()
        found[name] = _rss(Path("/proc") / pid)
    for user in [TEACHER, *STUDENTS]:
        uid = pwd.getpwnam(user).pw_uid
        found[user] = sum(_rss(p) for p in Path("/proc").glob("[0-9]*") if (p / "status").exists() and _uid(p) == uid)
    return found


def detached_cpu_s(path: Path) -> float:
    """CPU seconds of the processes that run apart from this test's children: the hub (with the servers it
    has reaped), its proxy and every process of the class's accounts. Read just before each stop."""
    pids = {(path / "hub" / f"{n}.pid").read_text().strip() for n in ("hub", "proxy")}
    uids = {pwd.getpwnam(u).pw_uid for u in [TEACHER, *STUDENTS]}
    pids |= {p.name for p in Path("/proc").glob("[0-9]*") if (p / "status").exists() and _uid(p) in uids}
    total = 0
    for pid in pids:
        try:
            fields = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def _rss(proc: Path) -> float:
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def _uid(proc: Path) -> int:
    for line in (proc / "status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return -1


def test_autograde_releases_each_student_only_their_own_feedback_and_writes_the_csv(room):
    path, hub = room["path"], room["hub"]
    began = time.monotonic()
    done = cli(path, "grade", "00")
    room["timings"]["grade"] = time.monotonic() - began
    print(done.stdout)
    with open(path / "course" / "grades" / f"{NB}.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert (rows[ANA]["score"], rows[BEN]["score"], rows[CY]["score"]) == ("2", "0", "1"), rows
    assert rows[CY]["nb00_to_device_check"] == "0" and rows[CY]["nb00_run_on_model_device_check"] == "1"
    assert {r["max_score"] for r in rows.values()} == {"2"}
    for user, words in ((ANA, "2 / 2"), (BEN, "not done yet"), (CY, "✗ to_device")):
        hub.assignments(user, "fetch_feedback")
        found = list((path / "home" / user / NB / "feedback").glob(f"*/{NB}.html"))
        assert len(found) == 1, (user, found)
        text = found[0].read_text(encoding="utf-8")
        assert words in text and f"Student: {user}" in text, (user, text)
        room.setdefault("feedback", {})[user] = found[0]


def test_permissions_keep_each_student_to_their_own(room):
    path = room["path"]
    course, exchange = path / "course", path / "exchange"
    expected = {path / "hub": "root 700", path / "env": "root 755", course: f"{TEACHER} 700",
                exchange: f"{TEACHER} 1777", exchange / "fdl" / "inbound": f"{TEACHER} 2733",
                exchange / "fdl" / "feedback": f"{TEACHER} 711", exchange / "fdl" / "outbound": f"{TEACHER} 755",
                path / "home" / ANA: f"{ANA} 700", course / "submitted" / ANA / NB: f"{TEACHER} 700",
                course / "submitted" / ANA / NB / f"{NB}.ipynb": f"{TEACHER} 600",
                course / "grades" / f"{NB}.csv": f"{TEACHER} 600", path / "hub" / "passwords.txt": "root 600"}
    assert {p: mode(p) for p in expected} == expected
    ana_feedback = room["feedback"][ANA]
    refused = [
        ("cat", str(course / "source" / NB / f"{NB}.ipynb")),  # the solutions
        ("cat", str(TEACHER_NB)),  # the teacher's tree, solutions included
        ("cat", str(course / "gradebook.db")),
        ("ls", str(course)),
        ("ls", str(exchange / "fdl" / "inbound")),  # other students' submissions
        ("ls", str(exchange / "fdl" / "feedback")),  # other students' feedback names
        ("cat", str(ana_feedback)),  # another's fetched feedback
        ("ls", str(path / "home" / ANA)),
        ("cat", str(path / "hub" / "passwords.txt")),
        ("mv", str(exchange / "fdl"), str(exchange / "gone")),  # the sticky exchange root
        ("touch", str(exchange / "fdl" / "outbound" / NB / "planted")),
    ]
    allowed = [as_user(BEN, *cmd) for cmd in refused]
    assert [c for c, done in zip(refused, allowed) if done.returncode == 0] == []
    assert as_user(ANA, "cat", str(ana_feedback)).returncode == 0
    assert as_user(BEN, "cat", str(exchange / "fdl" / "outbound" / NB / f"{NB}.ipynb")).returncode == 0


def test_restart_keeps_the_gradebook_and_the_submissions(room):
    path, hub = room["path"], room["hub"]
    kept = [path / "course" / "gradebook.db", path / "course" / "submitted" / ANA / NB / f"{NB}.ipynb",
            path / "course" / "grades" / f"{NB}.csv", room["feedback"][ANA]]
    before = {p: p.read_bytes() for p in kept}
    room["timings"]["detached_cpu"] = detached_cpu_s(path)
    cli(path, "stop")
    users = {pwd.getpwnam(u).pw_uid for u in [TEACHER, *STUDENTS]}
    assert not [p for p in Path("/proc").glob("[0-9]*") if (p / "status").exists() and _uid(p) in users]
    assert _closed(hub.url), "the hub still answers after stop"
    began = time.monotonic()
    # as `make classroom` runs it: in the foreground until Ctrl-C (the next test sends SIGINT)
    room["foreground"] = subprocess.Popen([*CLI, "start", "--wait", "--dir", str(path)], cwd=ROOT, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    while _closed(hub.url):
        assert room["foreground"].poll() is None, room["foreground"].stdout.read()
        assert time.monotonic() - began < 180, "the hub did not come back within 180 s"
        time.sleep(0.3)
    room["timings"]["restart"] = time.monotonic() - began
    assert {p: p.read_bytes() for p in kept} == before
    assert hub.login(BEN) == 201
    hub.start_server(BEN)
    statuses = [a["status"] for a in hub.assignments(BEN) if a["assignment_id"] == NB]
    assert "submitted" in statuses, f"after the restart the exchange lists {statuses} for a submitted assignment"


def _closed(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/hub/api/", timeout=2)
    except OSError:
        return True
    return False


def test_ctrl_c_stops_the_class_then_remove_leaves_no_account_folder_or_process(room):
    path, hub = room["path"], room["hub"]
    uids = {pwd.getpwnam(u).pw_uid for u in [TEACHER, *STUDENTS]}
    room["timings"]["detached_cpu"] += detached_cpu_s(path)
    foreground = room["foreground"]
    foreground.send_signal(signal.SIGINT)
    output = foreground.communicate(timeout=120)[0]
    assert foreground.returncode == 0 and "stopping the classroom" in output, output
    assert _closed(hub.url), "the hub still answers after Ctrl-C"
    assert not [p for p in Path("/proc").glob("[0-9]*") if (p / "status").exists() and _uid(p) in uids]
    cli(path, "remove")
    for user in [TEACHER, *STUDENTS]:
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
    assert not path.exists()
    assert not [p for p in Path("/proc").glob("[0-9]*") if (p / "status").exists() and _uid(p) in uids]
    assert stat.S_IMODE(os.stat(ROOT / "notebooks").st_mode) & 0o005 == 0o005, "notebooks/ mode not restored"
    timings = room["timings"]
    mine = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(r.ru_utime + r.ru_stime for r in mine) + timings["detached_cpu"]
    print(f"classroom test: {time.monotonic() - timings['began']:.1f} s wall, {cpu:.0f} CPU s (this pytest "
          f"included; hub, proxy and servers {timings['detached_cpu']:.0f}); servers "
          f"{', '.join(f'{s:.1f}' for s in timings['server_start'].values())} s; grading {timings['grade']:.1f} s "
          f"for 3 submissions; restart {timings['restart']:.1f} s; resident MB "
          f"{', '.join(f'{k}: {v:.0f}' for k, v in timings['rss_mb'].items())}; first start: "
          f"{room['start_output'].splitlines()[0]}")
