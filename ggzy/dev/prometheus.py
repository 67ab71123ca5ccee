"""A real Prometheus server for tests and local runs.

Runs the `prometheus` binary (Debian's package puts it at /usr/bin/prometheus)
as a subprocess on 127.0.0.1 with a free port, a generated scrape config and
storage in a temporary directory, and reads results back through its HTTP API.

    with PrometheusServer(["127.0.0.1:8000"]) as prom:
        samples = prom.wait_for('ggzy_outbox_pending{job="ggzy"}')

Standard library only, so it can be used wherever the package is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = [
    "PrometheusError",
    "PrometheusServer",
    "Sample",
    "free_port",
    "prometheus_binary",
    "scrape_config",
    "value",
]

_DEFAULT_BINARY = "/usr/bin/prometheus"

Sample = dict[str, Any]


class PrometheusError(RuntimeError):
    """Prometheus could not be started, or its API answered with an error."""


def prometheus_binary() -> str | None:
    """Path of the Prometheus server binary, or None when it is not installed.

    Looks at $GGZY_PROMETHEUS_BIN, then /usr/bin/prometheus, then $PATH.
    """
    candidates = [os.environ.get("GGZY_PROMETHEUS_BIN", ""), _DEFAULT_BINARY]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("prometheus")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def scrape_config(
    targets: Mapping[str, Sequence[str]],
    *,
    scrape_interval: float = 1.0,
    rule_files: Sequence[str | os.PathLike[str]] = (),
) -> dict[str, Any]:
    """A Prometheus configuration scraping each job's targets ("host:port")."""
    interval = _duration(scrape_interval)
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": [str(Path(f).resolve()) for f in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "static_configs": [{"targets": list(job_targets)}],
            }
            for job, job_targets in targets.items()
        ],
    }


class PrometheusServer:
    """One Prometheus process scraping the given targets.

    `targets` is either a list of "host:port" (all in job `job`) or a mapping
    of job name to such a list. Start with `start()` or a `with` block; the
    server then answers on `url` until `stop()`.
    """

    def __init__(
        self,
        targets: Sequence[str] | Mapping[str, Sequence[str]],
        *,
        job: str = "ggzy",
        scrape_interval: float = 1.0,
        rule_files: Sequence[str | os.PathLike[str]] = (),
        binary: str | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
    ) -> None:
        if isinstance(targets, Mapping):
            self.targets: dict[str, list[str]] = {j: list(t) for j, t in targets.items()}
        else:
            if isinstance(targets, str):
                raise TypeError("targets must be a list of 'host:port', not one string")
            self.targets = {job: list(targets)}
        self.scrape_interval = scrape_interval
        self.rule_files = list(rule_files)
        self.binary = binary
        self.host = host
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None

    # lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123 (only while running)."""
        if self.port is None:
            raise PrometheusError("Prometheus is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> PrometheusServer:
        """Start Prometheus and wait until /-/ready answers 200."""
        if self._process is not None:
            raise PrometheusError("Prometheus is already started")
        binary = self.binary or prometheus_binary()
        if binary is None:
            raise PrometheusError(
                "the prometheus binary is not installed "
                "(apt-get install prometheus, or set GGZY_PROMETHEUS_BIN)"
            )
        self._tmp = tempfile.TemporaryDirectory(prefix="ggzy-prometheus-")
        root = Path(self._tmp.name)
        config = root / "prometheus.yml"
        # JSON is YAML: no YAML library needed to write the config.
        config.write_text(
            json.dumps(
                scrape_config(
                    self.targets,
                    scrape_interval=self.scrape_interval,
                    rule_files=self.rule_files,
                ),
                indent=2,
            ),
            encoding="utf-8",
        )
        try:
            # A port picked free can be taken before Prometheus binds it: retry.
            last_error: PrometheusError | None = None
            for _attempt in range(3):
                try:
                    self._launch(binary, root, config)
                    return self
                except PrometheusError as exc:
                    last_error = exc
                    self._terminate()
            assert last_error is not None
            raise last_error
        except BaseException:
            self.stop()
            raise

    def _launch(self, binary: str, root: Path, config: Path) -> None:
        self.port = free_port(self.host)
        if self._log is not None:
            self._log.close()
        log_path = root / "prometheus.log"
        self._log = log_path.open("ab")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address={self.host}:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                raise PrometheusError(
                    f"prometheus exited with code {self._process.returncode}:\n"
                    + self._log_tail(log_path)
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"prometheus not ready after {self.startup_timeout}s:\n"
                    + self._log_tail(log_path)
                )
            time.sleep(0.1)

    @staticmethod
    def _log_tail(path: Path, lines: int = 20) -> str:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the process and remove its storage. Safe to call twice."""
        self._terminate()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.port = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # HTTP API

    def api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET /api/v1/<path> and return its `data`; raise on an error status."""
        url = f"{self.url}/api/v1/{path.lstrip('/')}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise PrometheusError(f"{url}: HTTP {exc.code}: {detail}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{url}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """Evaluate an instant query; each result is {"metric": {...}, "value": [ts, "v"]}.

        A scalar or string result is returned as one sample with empty labels.
        """
        data = self.api("query", {"query": expr})
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        samples: list[Sample] = result
        return samples

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[list[Sample]], bool] = bool,
        *,
        timeout: float = 30.0,
        interval: float = 0.2,
    ) -> list[Sample]:
        """Poll `query(expr)` until `predicate(samples)` holds (default: non-empty)."""
        deadline = time.monotonic() + timeout
        samples: list[Sample] = []
        while True:
            samples = self.query(expr)
            if predicate(samples):
                return samples
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{expr!r} did not match within {timeout}s; last result: {samples!r}; "
                    f"targets: {self.targets_health()!r}"
                )
            time.sleep(interval)

    def targets_health(self) -> list[Sample]:
        """The active targets with their scrape health and last error."""
        active: list[Sample] = self.api("targets", {"state": "active"})["activeTargets"]
        return [
            {
                "job": t.get("labels", {}).get("job"),
                "instance": t.get("labels", {}).get("instance"),
                "health": t.get("health"),
                "lastError": t.get("lastError"),
            }
            for t in active
        ]


def value(sample: Sample) -> float:
    """The numeric value of one instant-query sample."""
    return float(sample["value"][1])


def _duration(seconds: float) -> str:
    """Prometheus duration text: whole seconds as "1s", otherwise milliseconds."""
    if seconds <= 0:
        raise ValueError("interval must be positive")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
