"""Process and port helpers shared by the local launchers (Kafka node, embedded store).

A launched server runs in its own process group; another process (``ggzy dev
down``, a later test session) stops it by pid, after checking that the pid is
still that server (pids are reused).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``pid`` leads, or the process alone if it leads none."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not count; an own child is reaped)."""
    with contextlib.suppress(ChildProcessError):  # reap it if it is our own child
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie whose parent has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def command_line_has(pid: int, *markers: bytes) -> bool:
    """True when the command line of ``pid`` contains one of ``markers``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc to look in: trust the caller
    return any(m in cmdline for m in markers)


def stop_pid(pid: int, is_ours: Callable[[int], bool], timeout: float,
             poll_s: float = 0.1) -> bool:
    """SIGTERM to the group of ``pid``, SIGKILL after ``timeout`` seconds. False when
    ``pid`` no longer runs or is not ours (already gone, or the pid was reused)."""
    if not alive(pid) or not is_ours(pid):
        return False
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(poll_s)
    signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(poll_s)
    return True


class ServerProcess:
    """A server this process launched: its pid, liveness, state file and graceful stop.

    Subclasses set ``process`` and give ``state`` (a dataclass a later process
    reads back to find and stop the server).
    """

    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def state(self) -> Any:
        raise NotImplementedError

    def running(self) -> bool:
        return self.process.poll() is None

    def write_state(self, path: Path) -> None:
        """Record this server (``state`` as json) for a later ``read_state``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(path.name + ".tmp")
        staging.write_text(json.dumps(asdict(self.state), indent=2) + "\n")
        staging.replace(path)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM to its process group, then SIGKILL after ``timeout`` seconds.
        Returns the exit code of a clean shutdown, None if it had to be killed."""
        if self.process.poll() is not None:
            return self.process.returncode
        signal_group(self.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(self.pid, signal.SIGKILL)
            self.process.wait()
            return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
