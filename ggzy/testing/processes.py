"""Services as real processes for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ggzy.runtime.settings import Settings


@dataclass
class ServiceProcess:
    """One ``ggzy serve <name>`` process."""

    name: str
    env: dict[str, str]
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> ServiceProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ggzy", "serve", self.name],
                                     env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {timeout}s: {self.tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def service_env(settings: Settings, **extra: Any) -> dict[str, str]:
    """The environment of a service process with ``settings`` (GGZY_* variables)."""
    values = {f"GGZY_{k.upper()}": str(v) for k, v in settings.model_dump().items()
              if k != "service" and v not in ("", None)}
    values.update({f"GGZY_{k.upper()}": str(v) for k, v in extra.items()})
    return {**os.environ, **values}
