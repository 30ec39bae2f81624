"""Two ``torchrun`` agents on one machine as two "nodes" of an elastic job (notebook 06).
Node A hosts the c10d store; output is streamed with a ``[node X]`` prefix; workers run in
sessions of their own, so a node's are found through its process tree (``psutil``)."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from . import runner
from .launch import LaunchTimeout, free_port

# The rendezvous settings notebook 06 uses (--rdzv-conf), and why:
RDZV_CONF: dict[str, int] = {
    "join_timeout": 60,           # a round must complete within a minute (default 600 s)
    "last_call_timeout": 1,       # once the minimum (1 node) is there, wait 1 s for more (default 30 s)
    "close_timeout": 10,          # closing a finished rendezvous (default 30 s)
    "keep_alive_interval": 1,     # each agent's heartbeat, seconds (default 5) ...
    "keep_alive_max_attempt": 2,  # ... a node silent this many beats is dead (default 3: 15 s)
    "read_timeout": 20,           # how long a store client waits for the store (default 60 s)
}


@dataclass
class Node:
    """One agent (a "node") of an :class:`ElasticJob`: its process and the lines it printed."""

    name: str
    command: list[str]
    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    workers: list[int] = field(default_factory=list)  # worker pids seen so far
    killed: list[str] = field(default_factory=list)   # "agent", "workers"

    @property
    def returncode(self) -> int | None:
        """The agent's exit code (None while it runs; negative: killed by that signal)."""
        return self.process.poll()

    @property
    def output(self) -> str:
        """Return everything this node printed, as one string."""
        return "\n".join(self.lines)


def agent_command(script: str | Path, args: Sequence[str] = (), *, endpoint: str, run_id: str,
                  nnodes: str = "1:2", nproc_per_node: int = 1, max_restarts: int = 1,
                  backend: str = "c10d", is_host: bool | None = None,
                  rdzv_conf: Mapping[str, int] | None = None, monitor_interval: float = 0.2) -> list[str]:
    """Return the ``torchrun`` arguments of one node of an elastic job (notebook 06). Every node
    gets the same ``--nnodes``, backend, endpoint and ``--rdzv-id``; ``is_host`` names the c10d
    store's agent (``None``: torchrun guesses, and on one machine every agent would host)."""
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be at least 1, got {nproc_per_node}")
    if max_restarts < 0:
        raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
    if not re.fullmatch(r"\d+(:\d+)?", nnodes):
        raise ValueError(f"nnodes must be N or MIN:MAX, got {nnodes!r}")
    conf = dict(RDZV_CONF if rdzv_conf is None else rdzv_conf)
    if is_host is not None:
        if backend != "c10d":
            raise ValueError(f"is_host applies to the c10d backend only, not {backend!r}")
        conf["is_host"] = int(is_host)
    return [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}",
            f"--nproc-per-node={nproc_per_node}", f"--rdzv-backend={backend}", f"--rdzv-endpoint={endpoint}",
            f"--rdzv-id={run_id}", f"--rdzv-conf={','.join(f'{k}={v}' for k, v in conf.items())}",
            f"--max-restarts={max_restarts}", f"--monitor-interval={monitor_interval:g}",
            str(script), *map(str, args)]


class ElasticJob:
    """An elastic job of ``nodes`` torchrun agents on this machine (notebook 06); a context manager.
    ``c10d``: the first node hosts the store; ``etcd-v2``: ``endpoint`` names an etcd server.
    Past ``timeout``, :meth:`wait_for` and :meth:`wait` stop it all and raise ``LaunchTimeout``."""

    def __init__(self, script: str | Path, args: Sequence[str] = (), *, nodes: Sequence[str] = ("A", "B"),
                 nnodes: str | None = None, nproc_per_node: int = 1, max_restarts: int = 1,
                 rdzv_conf: Mapping[str, int] | None = None, backend: str = "c10d",
                 endpoint: str | None = None, run_id: str | None = None, timeout: float = 180.0,
                 echo: bool | Callable[[str], None] = True, env: Mapping[str, str] | None = None):
        if len(nodes) < 1 or len(set(nodes)) != len(nodes):
            raise ValueError(f"nodes must be distinct names, got {list(nodes)}")
        if backend != "c10d" and endpoint is None:
            raise ValueError(f"the {backend!r} backend needs endpoint= (host:port of its server)")
        self.names = list(nodes)
        self._agent = {"script": script, "args": [str(a) for a in args], "nnodes": nnodes or f"1:{len(nodes)}",
                       "nproc_per_node": nproc_per_node, "max_restarts": max_restarts, "backend": backend,
                       "rdzv_conf": dict(RDZV_CONF if rdzv_conf is None else rdzv_conf)}
        self.endpoint = endpoint or f"127.0.0.1:{free_port()}"
        self.run_id = run_id or f"notebook06-{os.getpid()}-{time.time_ns() % 10**9}"
        self.timeout = timeout
        self._say = print if echo is True else (echo or (lambda line: None))
        self._env = dict(env or {})
        self.nodes: dict[str, Node] = {}
        self._output = runner.Output()
        self._deadline = 0.0

    def command(self, name: str) -> list[str]:
        """Return the command that starts node ``name`` (with c10d the first node hosts the store)."""
        c10d = self._agent["backend"] == "c10d"
        return agent_command(endpoint=self.endpoint, run_id=self.run_id,
                             is_host=name == self.names[0] if c10d else None, **self._agent)

    def start(self) -> ElasticJob:
        """Start every node's agent, the host last (the others already wait when its store comes up);
        return ``self``."""
        self._deadline = time.perf_counter() + self.timeout
        for name in [*self.names[1:], self.names[0]]:
            command = self.command(name)
            process = runner.start(command, env=self._env)
            self.nodes[name] = Node(name, command, process)
            self._output.follow(name, process)
        return self

    def __enter__(self) -> ElasticJob:
        return self.start() if not self.nodes else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_line(self) -> tuple[str, str] | None:
        """Return the next (node, line), or None once every pipe is closed; stop everything past the timeout."""
        try:
            got = self._output.next_line(self._deadline, tick=self._remember_workers)
        except runner.DeadlinePassed:
            self._timed_out()
        if got is not None:
            self.nodes[got[0]].lines.append(got[1])
            self._say(f"[node {got[0]}] {got[1]}")
        return got

    def _timed_out(self) -> None:
        tail = "\n".join(f"[node {n}] {line}" for n in self.names for line in self.nodes[n].lines[-8:])
        self.close()
        raise LaunchTimeout(f"elastic job {self.run_id} ({', '.join(self.names)}) ran past its timeout of "
                            f"{self.timeout:g} s and was stopped. Last lines of each node:\n{tail}\n"
                            "Fix: look for a node waiting in the rendezvous (join_timeout) or a rank "
                            "stuck in a collective, or raise timeout=.",
                            returncode=None, lines=[line for n in self.names for line in self.nodes[n].lines])

    def wait_for(self, pattern: str, node: str | None = None) -> tuple[str, re.Match]:
        """Read output until a line (of ``node``, or of any node) matches the regular expression
        ``pattern``; return (node name, match). ``RuntimeError`` if every node exits without it."""
        regex = re.compile(pattern)
        while (got := self._next_line()) is not None:
            name, line = got
            if (node is None or name == node) and (match := regex.search(line)):
                return name, match
        raise RuntimeError(f"every node exited without printing a line matching {pattern!r}"
                           + (f" on node {node}" if node else "") + "; exit codes "
                           + ", ".join(f"{n}: {self.nodes[n].returncode}" for n in self.names))

    def wait(self) -> dict[str, int]:
        """Read output until every node has exited; return each node's exit code (``-9``: SIGKILL)."""
        while self._next_line() is not None:
            pass
        for n in self.nodes.values():
            try:
                n.process.wait(timeout=max(0.1, self._deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                self._timed_out()
        return {name: n.returncode for name, n in self.nodes.items()}

    def _remember_workers(self) -> None:
        for n in self.nodes.values():
            if "agent" not in n.killed:  # a killed agent's orphans are no longer its children
                n.workers += [pid for pid in runner.descendants(n.process.pid) if pid not in n.workers]

    def workers(self, name: str) -> list[psutil.Process]:
        """Return node ``name``'s worker processes that are still alive (whether or not their agent is)."""
        self._remember_workers()
        alive = []
        for pid in self.nodes[name].workers:
            try:
                p = psutil.Process(pid)
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        return alive

    def kill(self, name: str, *, agent: bool = True, workers: bool = True) -> list[int]:
        """SIGKILL node ``name``'s agent, its workers, or both (a lost machine: no clean-up runs), wait
        until they are gone, and return their pids. Workers are looked up first: an orphan is nobody's child."""
        n = self.nodes[name]
        targets = self.workers(name) if workers else []
        for p in targets:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGKILL)
        psutil.wait_procs(targets, timeout=10)
        if agent:
            with contextlib.suppress(ProcessLookupError):
                n.process.kill()
            n.process.wait(timeout=10)  # the agent is our child: Popen reaps it and keeps its exit code
        n.killed += [w for w, on in (("workers", workers), ("agent", agent)) if on]
        return [p.pid for p in targets] + ([n.process.pid] if agent else [])

    def close(self, grace: float = 10.0) -> None:
        """Stop every process this job started and is still running, orphans included
        (``runner.stop_tree``: SIGTERM, then SIGKILL after ``grace`` s). Safe to call twice."""
        self._remember_workers()
        runner.stop_tree([n.process for n in self.nodes.values()], grace,
                         known=[pid for n in self.nodes.values() for pid in n.workers])


class EtcdUnavailable(RuntimeError):
    """No etcd server binary, or no ``python-etcd`` client for torchrun's ``etcd-v2`` backend."""


@contextlib.contextmanager
def etcd_server(data_dir: str | Path, *, timeout: float = 30.0) -> Iterator[str]:
    """Run a one-member etcd server (v2 API) on free local ports; yield ``host:port`` (notebook 06).
    A rendezvous store on no training node, stopped on exit; :class:`EtcdUnavailable` says what
    to install when the server or the ``python-etcd`` client is missing."""
    binary = shutil.which("etcd")
    if binary is None:
        raise EtcdUnavailable("no `etcd` program on PATH: the etcd-v2 rendezvous needs an etcd server. "
                              "Fix: `apt-get install etcd-server` (Debian's etcd 3.4), or use the c10d backend.")
    if importlib.util.find_spec("etcd") is None:
        raise EtcdUnavailable("the `etcd` module is missing: torchrun's etcd-v2 backend imports the "
                              "python-etcd client. Fix: `pip install python-etcd==0.4.5` (pinned in pyproject.toml).")
    client, peer = free_port(), free_port()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "etcd.log", "wb")
    process = subprocess.Popen(
        [binary, "--name", "rendezvous", "--data-dir", str(data_dir / "data"), "--enable-v2=true",
         "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"rendezvous=http://127.0.0.1:{peer}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    local = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy
    try:
        deadline = time.perf_counter() + timeout
        while True:
            try:
                with local.open(f"http://127.0.0.1:{client}/v2/keys", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.perf_counter() > deadline:
                tail = (data_dir / "etcd.log").read_text(errors="replace").splitlines()[-10:]
                raise EtcdUnavailable(f"etcd did not answer on 127.0.0.1:{client} within {timeout:g} s "
                                      f"(exit code {process.poll()}). Last lines of {data_dir / 'etcd.log'}:\n"
                                      + "\n".join(tail))
            time.sleep(0.2)
        yield f"127.0.0.1:{client}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
