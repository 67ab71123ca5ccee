"""A real Apache Kafka broker for development and tests, without Docker.

Kafka's broker is published on Maven Central, so ``ensure_jars`` resolves it
(``infra/kafka/pom.xml``) into ``<root>/.cache/kafka/libs`` and ``KafkaNode``
runs it as one KRaft node (broker and controller) on 127.0.0.1, the way
Kafka's own ``bin/kafka-storage.sh`` and ``bin/kafka-server-start.sh`` do.
Needs Java 17+ and Maven on PATH (or ``JAVA_HOME``); standard library only.

    libs = ensure_jars(root)
    node = KafkaNode.start(root, tmp / "kafka")
    try:
        ...  # clients use node.bootstrap
    finally:
        node.stop()

A node outlives the Python process that started it (it runs in its own
process group): ``node.write_state(path)`` records it, and a later process
finds it with ``read_state(path)`` and ends it with ``stop_pid(state.pid)``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ggzy.dev.procs import ServerProcess, accepts, command_line_has, free_port
from ggzy.dev.procs import stop_pid as stop_pids

__all__ = [
    "KafkaError",
    "KafkaNode",
    "NodeState",
    "create_topic",
    "ensure_jars",
    "free_port",
    "parse_producer_performance",
    "producer_performance",
    "read_state",
    "server_properties",
    "stop_pid",
]

POM = Path("infra/kafka/pom.xml")
LOG4J_CONFIG = Path("infra/kafka/log4j2.xml")
LIBS = Path(".cache/kafka/libs")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

HEAP = ("-Xms256m", "-Xmx512m")
# One development node on a small shared machine: the serial collector (young
# collections in the VM thread, no concurrent marking or refinement threads; G1 with
# Kafka's production flags spent 0.25-0.5 s of the broker's 0.9-1.9 s over notify's
# 5,000-webhook phase, the serial one ~0.05 s) and the C1 compiler only (a fresh node
# never reaches C2's steady state): bench/README.md, notify sessions 6 and 12.
JVM_OPTS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

_MARKER = ".pom-sha256"
_LOG_NAME = "kafka.log"
_PROPERTIES_NAME = "server.properties"
_DATA_NAME = "data"


class KafkaError(RuntimeError):
    """Resolving, formatting, starting or running a Kafka tool failed."""


# --------------------------------------------------------------------------- jars


def ensure_jars(root: Path) -> Path:
    """Return ``<root>/.cache/kafka/libs``, resolving the broker's jars into it first
    if they are missing or were resolved from another version of the pom."""
    root = root.resolve()  # Maven reads relative paths from the pom's folder
    pom = root / POM
    libs = root / LIBS
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if _marker_matches(libs, digest):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be resolving too
        if _marker_matches(libs, digest):
            return libs
        staging = libs.with_name(libs.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaError("Maven (mvn) is not on PATH: it resolves the Kafka broker's jars")
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            raise KafkaError(
                f"resolving Kafka's jars failed ({done.returncode}):\n"
                + _tail(done.stdout + done.stderr)
            )
        (staging / _MARKER).write_text(digest + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
    return libs


def _marker_matches(libs: Path, digest: str) -> bool:
    try:
        return (libs / _MARKER).read_text().strip() == digest
    except OSError:
        return False


def _classpath(libs: Path) -> str:
    return str(libs / "*")


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaError("java is not on PATH (Kafka 4.x needs Java 17+)")
    return java


def _tool(
    libs: Path, log4j: Path, main: str, args: Sequence[str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    command = [
        _java(),
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        _classpath(libs),
        main,
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise KafkaError(
            f"{main} {' '.join(args)} failed ({done.returncode}):\n"
            + _tail(done.stdout + done.stderr)
        )
    return done


# --------------------------------------------------------------------------- ports


def _free_ports(count: int) -> list[int]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):  # held together, so the ports differ
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


# --------------------------------------------------------------------------- node


@dataclass(frozen=True)
class NodeState:
    """What a later process needs to find and stop a node (see ``read_state``)."""

    pid: int
    port: int
    controller_port: int
    data_dir: str
    log: str

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def read_state(path: Path) -> NodeState:
    """The node recorded at ``path`` by ``KafkaNode.write_state``."""
    raw = json.loads(path.read_text())
    return NodeState(
        pid=int(raw["pid"]),
        port=int(raw["port"]),
        controller_port=int(raw["controller_port"]),
        data_dir=str(raw["data_dir"]),
        log=str(raw["log"]),
    )


def server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    """The configuration of a single KRaft node (broker and controller) on 127.0.0.1."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir / _DATA_NAME}",
            "num.partitions=3",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "auto.create.topics.enable=false",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def _read_ports(properties: Path) -> tuple[int, int]:
    text = properties.read_text()
    listeners = re.search(r"^listeners=.*PLAINTEXT://127\.0\.0\.1:(\d+)", text, re.M)
    controller = re.search(r"^controller\.quorum\.bootstrap\.servers=.*:(\d+)$", text, re.M)
    if listeners is None or controller is None:
        raise KafkaError(f"{properties}: no PLAINTEXT listener or controller port")
    return int(listeners.group(1)), int(controller.group(1))


class KafkaNode(ServerProcess):
    """One running broker+controller process; make it with ``KafkaNode.start``."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        libs: Path,
        data_dir: Path,
        port: int,
        controller_port: int,
    ) -> None:
        self.process = process
        self.libs = libs
        self.data_dir = data_dir
        self.port = port
        self.controller_port = controller_port
        self.log = data_dir / _LOG_NAME
        self.startup_seconds = 0.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def state(self) -> NodeState:
        return NodeState(
            pid=self.pid,
            port=self.port,
            controller_port=self.controller_port,
            data_dir=str(self.data_dir),
            log=str(self.log),
        )

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a clean shutdown), then SIGKILL after ``timeout`` seconds.
        Returns the exit code (143 after a clean SIGTERM shutdown), None if it had
        to be killed."""
        return super().stop(timeout)

    @classmethod
    def start(
        cls,
        root: Path,
        data_dir: Path,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        timeout: float = 90.0,
        jvm_opts: Sequence[str] = (),
    ) -> KafkaNode:
        """Resolve the jars, format ``data_dir`` (unless a node was formatted there
        before: then it restarts on that node's ports), start the broker and return
        once it accepts connections on its client port.

        Raises ``KafkaError`` with the tail of ``<data_dir>/kafka.log`` if the
        process exits or is not ready within ``timeout`` seconds."""
        began = time.monotonic()
        root = root.resolve()
        data_dir = data_dir.resolve()
        libs = ensure_jars(root)
        log4j = root / LOG4J_CONFIG
        properties = data_dir / _PROPERTIES_NAME
        formatted = (data_dir / _DATA_NAME / "meta.properties").exists()
        if formatted and properties.exists():
            old_port, old_controller = _read_ports(properties)
            if (port or old_port) != old_port or (controller_port or old_controller) != (
                old_controller
            ):
                raise KafkaError(
                    f"{data_dir} was formatted for ports {old_port}/{old_controller}: "
                    "restart it on those or use a fresh data_dir"
                )
            port, controller_port = old_port, old_controller
        else:
            if formatted:
                raise KafkaError(f"{data_dir} is formatted but has no {_PROPERTIES_NAME}")
            picked = iter(_free_ports(2))
            port = port or next(picked)
            controller_port = controller_port or next(picked)
            if port == controller_port:
                raise KafkaError("the client and controller ports must differ")
            data_dir.mkdir(parents=True, exist_ok=True)
            properties.write_text(server_properties(data_dir, port, controller_port))
            cluster_id = _tool(
                libs, log4j, "kafka.tools.StorageTool", ["random-uuid"], timeout=120
            ).stdout.strip()
            _tool(
                libs,
                log4j,
                "kafka.tools.StorageTool",
                ["format", "--standalone", "-t", cluster_id, "-c", str(properties)],
                timeout=120,
            )
        if accepts(port):
            raise KafkaError(f"127.0.0.1:{port} is already taken")
        command = [
            _java(),
            *HEAP,
            *JVM_OPTS,
            *jvm_opts,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={data_dir}",
            "-cp",
            _classpath(libs),
            "kafka.Kafka",
            str(properties),
        ]
        log = data_dir / _LOG_NAME
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=data_dir,
                start_new_session=True,  # own process group: no terminal signals
            )
        node = cls(
            process, libs=libs, data_dir=data_dir, port=port, controller_port=controller_port
        )
        try:
            node._wait_ready(began + timeout)
        except BaseException:
            node.stop(timeout=10)
            raise
        node.startup_seconds = time.monotonic() - began
        return node

    def _wait_ready(self, deadline: float) -> None:
        # The client listener opens once the broker has caught up with the
        # metadata log and is unfenced, so a TCP connect is a readiness check.
        while True:
            code = self.process.poll()
            if code is not None:
                raise KafkaError(
                    f"Kafka exited with {code} while starting; {self.log}:\n" + _tail_file(self.log)
                )
            if accepts(self.port):
                return
            if time.monotonic() > deadline:
                raise KafkaError(
                    f"Kafka was not ready on {self.bootstrap} in time; {self.log}:\n"
                    + _tail_file(self.log)
                )
            time.sleep(0.1)


def _is_kafka(pid: int) -> bool:
    return command_line_has(pid, b"kafka.Kafka")


def stop_pid(pid: int, timeout: float = 30.0) -> bool:
    """Stop a node started by another process (``read_state(path).pid``): SIGTERM
    to its process group, SIGKILL after ``timeout`` seconds. Returns False if no
    Kafka broker runs under that pid (already gone, or the pid was reused)."""
    return stop_pids(pid, _is_kafka, timeout, poll_s=0.1)


# --------------------------------------------------------------------------- yardstick

_SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<records_per_sec>[\d.]+) records/sec "
    r"\((?P<mb_per_sec>[\d.]+) MB/sec\), (?P<avg_latency_ms>[\d.]+) ms avg latency, "
    r"(?P<max_latency_ms>[\d.]+) ms max latency, (?P<p50_ms>[\d.]+) ms 50th, "
    r"(?P<p95_ms>[\d.]+) ms 95th, (?P<p99_ms>[\d.]+) ms 99th, (?P<p999_ms>[\d.]+) ms 99\.9th"
)


def create_topic(
    libs: Path,
    bootstrap: str,
    topic: str,
    partitions: int = 3,
    *,
    log4j: Path | None = None,
) -> None:
    """Create ``topic`` (replication factor 1) unless it exists, with Kafka's TopicCommand."""
    args = ["--bootstrap-server", bootstrap, "--create", "--if-not-exists", "--topic", topic]
    args += ["--partitions", str(partitions), "--replication-factor", "1"]
    _tool(libs, _log4j(libs, log4j), "org.apache.kafka.tools.TopicCommand", args, timeout=120)


def producer_performance(
    libs: Path,
    bootstrap: str,
    topic: str,
    num_records: int,
    record_size: int,
    *,
    partitions: int = 3,
    producer_props: Mapping[str, str] | None = None,
    log4j: Path | None = None,
    timeout: float = 600.0,
) -> dict[str, float]:
    """Run ``org.apache.kafka.tools.ProducerPerformance`` (acks=all, no throttle)
    against ``topic``, creating it first if needed, and return its final summary:
    records, records_per_sec, mb_per_sec, avg_latency_ms, max_latency_ms,
    p50_ms, p95_ms, p99_ms, p999_ms."""
    config = _log4j(libs, log4j)
    create_topic(libs, bootstrap, topic, partitions, log4j=config)
    props = {"bootstrap.servers": bootstrap, "acks": "all", **(producer_props or {})}
    args = ["--topic", topic, "--num-records", str(num_records)]
    args += ["--record-size", str(record_size), "--throughput", "-1", "--producer-props"]
    args += [f"{key}={value}" for key, value in props.items()]
    done = _tool(libs, config, "org.apache.kafka.tools.ProducerPerformance", args, timeout=timeout)
    return parse_producer_performance(done.stdout)


def parse_producer_performance(output: str) -> dict[str, float]:
    """The final summary line of ProducerPerformance's output, as numbers."""
    found = list(_SUMMARY.finditer(output))
    if not found:
        raise KafkaError("no summary line in ProducerPerformance's output:\n" + _tail(output))
    return {key: float(value) for key, value in found[-1].groupdict().items()}


def _log4j(libs: Path, log4j: Path | None) -> Path:
    if log4j is not None:
        return log4j
    # libs is <root>/.cache/kafka/libs; the config sits in <root>/infra/kafka.
    return libs.resolve().parents[2] / LOG4J_CONFIG


# --------------------------------------------------------------------------- helpers


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _tail_file(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as handle:
            return _tail(_read_end(handle).decode(errors="replace"), lines)
    except OSError as error:
        return f"(no log: {error})"


def _read_end(handle: IO[bytes], size: int = 64 * 1024) -> bytes:
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - size))
    return handle.read()
