"""The embedded MongoDB-compatible store: nx-27017 run as a child process on 127.0.0.1.

nx-27017 speaks MongoDB's wire protocol over SQLite (one file per logical
database under ``--data-dir``). It is the embedded default and the test store;
its measured differences from MongoDB are in the design notes, and the services
stay on the common ground.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ggzy.dev.kafka import free_port


class StoreError(RuntimeError):
    """The store did not start."""


def _executable() -> str:
    local = Path(sys.executable).with_name("nx-27017")
    found = str(local) if local.exists() else shutil.which("nx-27017")
    if not found:
        raise StoreError("nx-27017 is not installed (pip install nx-27017)")
    return found


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class StoreNode:
    """One running nx-27017 server."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, data_dir: Path, port: int | None = None, timeout: float = 30.0) -> StoreNode:
        """Start a server storing under ``data_dir``; return once it answers a ping."""
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        log = (data_dir / "nx-27017.log").open("ab")
        process = subprocess.Popen(
            [_executable(), "--host", "127.0.0.1", "--port", str(port), "--data-dir",
             str(data_dir / "db"), "--log-file", str(data_dir / "server.log"),
             "--pid-file", str(data_dir / "nx-27017.pid")],
            stdout=log, stderr=log, start_new_session=True)
        node = cls(process, port, data_dir)
        node._wait(time.monotonic() + timeout)
        return node

    def _wait(self, deadline: float) -> None:
        from pymongo import MongoClient

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StoreError(f"nx-27017 exited with {self.process.returncode}: "
                                 f"{self._tail()}")
            if _accepts(self.port):
                client: MongoClient[dict[str, object]] = MongoClient(
                    self.url, serverSelectionTimeoutMS=2000)
                with client:
                    client.admin.command("ping")
                return
            time.sleep(0.1)
        self.stop()
        raise StoreError(f"nx-27017 not ready in time: {self._tail()}")

    def _tail(self) -> str:
        path = self.data_dir / "nx-27017.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL."""
        if self.process.poll() is not None:
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait()

    def write_state(self, path: Path) -> None:
        """Record pid, port and data dir for a later ``stop_pid``."""
        path.write_text(json.dumps({"pid": self.pid, "port": self.port,
                                    "data_dir": str(self.data_dir)}))


def read_state(path: Path) -> dict[str, object]:
    """What ``write_state`` recorded."""
    data: dict[str, object] = json.loads(path.read_text())
    return data


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Stop a store started earlier by pid (only if it is an nx-27017 process)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if b"nx-27017" not in cmdline and b"nx_27017" not in cmdline:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.killpg(pid, signal.SIGKILL)
    return True


def docker_available() -> bool:
    """True only when a Docker engine answers (then testcontainers can be used)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
