"""``ggzy dev up|down|status``: the local platform on the embedded defaults.

Starts the Kafka node, the embedded store (nx-27017) and the services as
processes under ``.cache/dev``, records their pids in a state file, and stops
exactly those processes (and nothing else) on ``down``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from ggzy.dev import kafka, store
from ggzy.runtime.settings import DEFAULT_PORTS

OPERATOR = "operator:operator-demo-password"
DEMO_RULES = Path(__file__).resolve().parents[2] / "deploy" / "rules-demo.yaml"


def _dir(root: Path) -> Path:
    path = root / ".cache" / "dev"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _state_file(root: Path) -> Path:
    return _dir(root) / "state.json"


def _load(root: Path) -> dict[str, Any]:
    path = _state_file(root)
    return json.loads(path.read_text()) if path.exists() else {}


def _save(root: Path, state: dict[str, Any]) -> None:
    _state_file(root).write_text(json.dumps(state, indent=2) + "\n")


def service_env(state: dict[str, Any], service: str) -> dict[str, str]:
    """The environment a service process of the local platform runs with."""
    return {
        **os.environ,
        "GGZY_KAFKA_BOOTSTRAP": state["kafka"]["bootstrap"],
        "GGZY_MONGO_URL": state["store"]["url"],
        "GGZY_HTTP_PORT": str(DEFAULT_PORTS[service]),
        "GGZY_BOOTSTRAP_OPERATOR": OPERATOR,
        "GGZY_JWKS_URL": f"http://127.0.0.1:{DEFAULT_PORTS['registration']}/.well-known/jwks.json",
        # the local platform runs a whole tender in about a minute: periods in seconds
        "GGZY_RULES_FILE": str(DEMO_RULES),
        # everything runs on this machine: webhooks to local receivers are allowed
        "GGZY_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
        # the demo's client stands in for the platform's proxy: it names each bidder's
        # address in X-Forwarded-For (a deployment lists its load balancers here)
        "GGZY_TRUSTED_PROXIES": "127.0.0.1",
    }


def up(root: Path, services: list[str]) -> dict[str, Any]:
    """Start what is not running yet; return the state."""
    state = _load(root)
    base = _dir(root)
    if not _alive(state.get("kafka", {}).get("pid")):
        print("starting Kafka (first run resolves its jars from Maven Central)...", flush=True)
        node = kafka.KafkaNode.start(root, base / "kafka")
        state["kafka"] = {"pid": node.pid, "bootstrap": node.bootstrap}
    if not _alive(state.get("store", {}).get("pid")):
        node_s = store.StoreNode.start(base / "store")
        state["store"] = {"pid": node_s.pid, "url": node_s.url}
    _save(root, state)
    procs = state.setdefault("services", {})
    for name in services:
        if _alive(procs.get(name, {}).get("pid")):
            continue
        procs[name] = _start_service(root, state, name)
        _save(root, state)
    for name in services:
        _wait_ready(name, procs[name]["url"], base / "logs" / f"{name}.log")
    status(root)
    return state


def _start_service(root: Path, state: dict[str, Any], name: str) -> dict[str, Any]:
    logs = _dir(root) / "logs"
    logs.mkdir(exist_ok=True)
    out = (logs / f"{name}.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "ggzy", "serve", name], cwd=root,
                            env=service_env(state, name), stdout=out, stderr=out,
                            start_new_session=True)
    return {"pid": proc.pid, "url": f"http://127.0.0.1:{DEFAULT_PORTS[name]}"}


def _wait_ready(name: str, url: str, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise SystemExit(f"ggzy: {name} did not become ready within {timeout:.0f}s\n{tail}")


def down(root: Path) -> None:
    """Stop every process ``up`` started, services first."""
    state = _load(root)
    for name, proc in state.get("services", {}).items():
        if _stop(int(proc["pid"])):
            print(f"stopped {name}")
    if state.get("store"):
        store.stop_pid(int(state["store"]["pid"]))
        print("stopped store")
    if state.get("kafka"):
        kafka.stop_pid(int(state["kafka"]["pid"]))
        print("stopped Kafka")
    _state_file(root).unlink(missing_ok=True)


def _stop(pid: int, timeout: float = 30.0) -> bool:
    if not _alive(pid):
        return False
    os.killpg(pid, 15)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, 9)
    return True


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except OSError:
        return False
    try:  # a zombie child of ours counts as stopped
        waited, _ = os.waitpid(int(pid), os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def status(root: Path) -> None:
    """Print what runs."""
    state = _load(root)
    if not state:
        print("nothing running")
        return
    for name in ("kafka", "store"):
        item = state.get(name, {})
        where = item.get("bootstrap") or item.get("url")
        print(f"{name:13} {'up' if _alive(item.get('pid')) else 'down':5} {where}")
    for name, proc in state.get("services", {}).items():
        print(f"{name:13} {'up' if _alive(proc.get('pid')) else 'down':5} {proc['url']}")
