"""The hub: jupyterhub_config.py written from the classroom's state, started, waited for, stopped.
JupyterHub runs as root on 127.0.0.1 (CLASSROOM_IP); stopping ends the hub, its proxy and the users'
processes by pid, and keeps the course, exchange, homes and database for a restart."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from .env import user_environment
from .layout import REPO, Classroom, ClassroomError
from .users import exists

PROXY = REPO / ".node" / "node_modules" / ".bin" / "configurable-http-proxy"

CONFIG = '''\
# Written by `python tools/classroom start` from state.json; edits are overwritten at the next start.
# To use the school's login, replace the authenticator (README, "Teaching a class").
import sys
sys.path.insert(0, {tools!r})
from classroom.auth import RosterAuthenticator

c = get_config()  # noqa: F821
c.JupyterHub.ip = {ip!r}
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}
c.JupyterHub.db_url = "sqlite:///{db}"
c.JupyterHub.cookie_secret_file = {cookie!r}
c.JupyterHub.pid_file = {hub_pid!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = RosterAuthenticator
c.RosterAuthenticator.roster_file = {roster!r}
c.Authenticator.allowed_users = set({users!r})
c.Authenticator.admin_users = {{{teacher!r}}}
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.LocalProcessSpawner.interrupt_timeout = 5  # a server that ignores SIGINT for 5 s gets SIGTERM
c.LocalProcessSpawner.term_timeout = 5
c.Spawner.env_keep = []  # nothing from root's environment (no PYTHONPATH into the teacher's tree)
ENVIRONMENTS = {environments!r}


def pre_spawn_hook(spawner):
    spawner.environment.update(ENVIRONMENTS[spawner.user.name])


c.Spawner.pre_spawn_hook = pre_spawn_hook

# Your own settings (the school's login, HTTPS...) go in this file, read last; it survives restarts.
import os
if os.path.exists({extra!r}):
    load_subconfig({extra!r})  # noqa: F821
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(room: Classroom, state: dict) -> Path:
    """hub/jupyterhub_config.py for the ports and users in `state`; return its path."""
    hub = room.hub
    text = CONFIG.format(
        tools=str(REPO / "tools"), ip=state["ip"], port=state["port"], hub_port=state["hub_port"],
        api_port=state["api_port"], proxy=str(PROXY), proxy_pid=str(hub / "proxy.pid"),
        db=hub / "jupyterhub.sqlite", cookie=str(hub / "jupyterhub_cookie_secret"), hub_pid=str(hub / "hub.pid"),
        roster=str(hub / "users.json"), users=sorted(room.users), teacher=room.teacher, python=str(room.python),
        environments={u: user_environment(room, u) for u in room.users},
        extra=str(room.hub / "jupyterhub_config_extra.py"))
    path = hub / "jupyterhub_config.py"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def url(state: dict) -> str:
    host = "127.0.0.1" if state["ip"] in ("", "0.0.0.0") else state["ip"]
    return f"http://{host}:{state['port']}"


def running_pid(room: Classroom) -> int | None:
    """The hub's process id when it is running, else None."""
    pid_file = room.hub / "hub.pid"
    try:
        pid = int(pid_file.read_text())
        proc = psutil.Process(pid)
        return pid if "jupyterhub" in " ".join(proc.cmdline()) else None
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return None


def start(room: Classroom, state: dict, timeout: float = 90) -> int:
    """Start the hub in the background; return its pid once its API answers. Raises with its log's end if not."""
    if not PROXY.exists():
        raise ClassroomError(f"{PROXY} is missing: run `bash tools/classroom/install_proxy.sh` (make classroom does)")
    config = write_config(room, state)
    log = open(room.hub / "jupyterhub.log", "ab")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=room.hub, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (room.hub / "hub.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ClassroomError(f"the hub exited with {proc.returncode}:\n{log_tail(room)}")
        try:
            with urllib.request.urlopen(f"{url(state)}/hub/api/", timeout=2) as reply:
                json.load(reply)
            return proc.pid
        except OSError:
            time.sleep(0.2)
    stop(room, [])
    raise ClassroomError(f"the hub did not answer within {timeout:.0f} s:\n{log_tail(room)}")


def log_tail(room: Classroom, lines: int = 25) -> str:
    log = room.hub / "jupyterhub.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def _pids_of(room: Classroom, owners: list[str]) -> list[psutil.Process]:
    """Every process owned by one of `owners` (the accounts this classroom created)."""
    import pwd

    uids = {pwd.getpwnam(u).pw_uid for u in owners if exists(u)}
    return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids]


def _end(procs: list[psutil.Process], grace: float) -> None:
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


def stop(room: Classroom, owners: list[str], grace: float = 15) -> int:
    """Stop the hub (SIGTERM: it stops the user servers and its proxy), then the proxy and any process left
    to the accounts in `owners`; return how many processes were ended."""
    procs = []
    for name in ("hub.pid", "proxy.pid"):
        try:
            procs.append(psutil.Process(int((room.hub / name).read_text())))
        except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
            pass
    _end(procs[:1], grace)  # the hub first: it shuts its users' servers down cleanly
    left = [p for p in procs[1:] if p.is_running()] + _pids_of(room, owners)
    _end(left, grace)
    for name in ("hub.pid", "proxy.pid"):
        (room.hub / name).unlink(missing_ok=True)
    return len(procs) + len(left)
