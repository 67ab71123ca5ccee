"""The embedded MongoDB-compatible store: nx-27017 run as a child process on 127.0.0.1.

nx-27017 speaks MongoDB's wire protocol over SQLite, one ``<database>.db`` file
per logical database under ``--data-dir``. It is the embedded default and the
test store; its measured differences from MongoDB are in the design notes, and
the services stay on the common ground. Standard library only (the readiness
check imports PyMongo lazily).

    node = StoreNode.start(tmp / "store")
    try:
        ...  # clients use node.url
    finally:
        node.stop()

The server runs in the foreground of its own process group (not nx-27017's
``-d`` daemon mode, whose double fork would hide the pid from us), so it can
outlive the Python process that started it: ``node.write_state(path)`` records
it, and a later process finds it with ``read_state(path)`` and ends it with
``stop_pid(state.pid)``. Where a Docker engine answers (``docker_available``),
tests may use a real MongoDB through testcontainers instead.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ggzy.dev.procs import ServerProcess, accepts, alive, command_line_has, free_port
from ggzy.dev.procs import stop_pid as stop_pids

__all__ = [
    "CONSOLE_NAME",
    "LOG_NAME",
    "PID_NAME",
    "StoreError",
    "StoreNode",
    "StoreState",
    "docker_available",
    "executable",
    "ping",
    "read_state",
    "stop_pid",
]

LOG_NAME = "nx-27017.log"
"""The server's own log (``--log-file``), inside the data dir."""
PID_NAME = "nx-27017.pid"
"""The server's pid file (``--pid-file``), inside the data dir."""
CONSOLE_NAME = "nx-27017.console"
"""The server's stdout and stderr (crashes before its logging starts land here)."""

_PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


class StoreError(RuntimeError):
    """The store could not be started."""


def executable() -> str:
    """The nx-27017 console script next to ``sys.executable`` (else on PATH)."""
    local = Path(sys.executable).with_name("nx-27017")
    if local.exists():
        return str(local)
    found = shutil.which("nx-27017")
    if found is None:
        raise StoreError("nx-27017 is not installed next to the interpreter or on PATH "
                         "(pip install nx-27017)")
    return found


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when a MongoDB-compatible server at ``url`` answers ``ping``."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    ms = int(timeout * 1000)
    client: MongoClient[dict[str, object]] = MongoClient(
        url, directConnection=True, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms,
        socketTimeoutMS=ms)
    try:
        reply = client.admin.command("ping")
        return bool(reply.get("ok"))
    except PyMongoError:
        return False
    finally:
        client.close()


@dataclass(frozen=True)
class StoreState:
    """What a later process needs to find and stop a store (see ``read_state``)."""

    pid: int
    port: int
    data_dir: str
    log: str

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"


def read_state(path: Path) -> StoreState:
    """The store recorded at ``path`` by ``StoreNode.write_state``."""
    raw = json.loads(path.read_text())
    return StoreState(pid=int(raw["pid"]), port=int(raw["port"]),
                      data_dir=str(raw["data_dir"]), log=str(raw["log"]))


class StoreNode(ServerProcess):
    """One running nx-27017 server; make it with ``StoreNode.start``."""

    def __init__(self, process: subprocess.Popen[bytes], *, data_dir: Path, port: int) -> None:
        self.process = process
        self.data_dir = data_dir
        self.port = port
        self.log = data_dir / LOG_NAME
        self.pid_file = data_dir / PID_NAME
        self.console = data_dir / CONSOLE_NAME
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    @property
    def state(self) -> StoreState:
        return StoreState(pid=self.pid, port=self.port, data_dir=str(self.data_dir),
                          log=str(self.log))

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM to its process group, then SIGKILL after ``timeout`` seconds.
        Returns the exit code (0 after a clean SIGTERM shutdown), None if it had to
        be killed (then its pid file is removed too)."""
        code = super().stop(timeout)
        if code is None:
            self.pid_file.unlink(missing_ok=True)
        return code

    @classmethod
    def start(
        cls,
        data_dir: Path,
        port: int | None = None,
        *,
        timeout: float = 30.0,
        journal_mode: str = "WAL",
        verbose: bool = False,
    ) -> StoreNode:
        """Start a server keeping its databases, log and pid file in ``data_dir`` and
        listening on 127.0.0.1:``port`` (a free one if None); return once it answers
        a ping. Raises ``StoreError`` if it exits or is not ready within ``timeout``."""
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        _clear_stale_pid_file(data_dir / PID_NAME)
        if port is not None and accepts(port):
            raise StoreError(f"something already listens on 127.0.0.1:{port}")
        attempts = 1 if port is not None else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            chosen = port if port is not None else free_port()
            began = time.monotonic()
            node = cls(_spawn(data_dir, chosen, journal_mode, verbose),
                       data_dir=data_dir, port=chosen)
            try:
                node._wait_ready(began + timeout)
            except StoreError:
                node.stop(timeout=5)
                if attempt == attempts or "address already in use" not in node._tail().lower():
                    raise
                continue
            except BaseException:
                node.stop(timeout=5)
                raise
            node.startup_seconds = time.monotonic() - began
            return node
        raise AssertionError("unreachable")

    def _wait_ready(self, deadline: float) -> None:
        while True:
            code = self.process.poll()
            if code is not None:
                raise StoreError(f"nx-27017 exited with {code} while starting:\n{self._tail()}")
            if accepts(self.port) and ping(self.url, timeout=2.0):
                return
            if time.monotonic() > deadline:
                raise StoreError(f"nx-27017 was not ready on {self.url} in time:\n"
                                 + self._tail())
            time.sleep(0.05)

    def _tail(self, size: int = 3000) -> str:
        parts = []
        for path in (self.console, self.log):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")[-size:]
                if text:
                    parts.append(f"--- {path}\n{text}")
        return "\n".join(parts)


def _spawn(data_dir: Path, port: int, journal_mode: str, verbose: bool) -> subprocess.Popen[bytes]:
    args = [executable(), "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir), "--log-file", str(data_dir / LOG_NAME),
            "--pid-file", str(data_dir / PID_NAME), "--journal-mode", journal_mode]
    if verbose:
        args.append("--verbose")
    with (data_dir / CONSOLE_NAME).open("ab") as console:
        return subprocess.Popen(args, cwd=data_dir, stdin=subprocess.DEVNULL, stdout=console,
                                stderr=console, start_new_session=True)


def _clear_stale_pid_file(pid_file: Path) -> None:
    """nx-27017 refuses to start over a pid file whose pid is alive (even a reused
    one); refuse only when a store really runs there."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    if alive(pid) and _is_store(pid):
        raise StoreError(f"a store already runs on {pid_file.parent} (pid {pid})")
    pid_file.unlink(missing_ok=True)


def _is_store(pid: int) -> bool:
    return command_line_has(pid, b"nx-27017", b"nx_27017")


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Stop a store started by another process (``read_state(path).pid``): SIGTERM
    to its process group, SIGKILL after ``timeout`` seconds. Returns False if no
    nx-27017 runs under that pid (already gone, or the pid was reused)."""
    return stop_pids(pid, _is_store, timeout, poll_s=0.05)


def docker_available(timeout: float = 5.0) -> bool:
    """True only when a Docker engine answers ``docker info`` within ``timeout``
    seconds (then testcontainers can run a real MongoDB)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0
