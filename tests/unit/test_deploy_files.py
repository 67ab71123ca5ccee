"""The deployment files: compose.yaml, Dockerfile, Prometheus config and alerts.

compose.yaml is validated against the Compose Specification JSON schema
(vendored in tests/data, see its README), so no Docker engine or compose plugin
is needed. The Prometheus files are checked with Debian's `promtool`, which CI
installs with the `prometheus` package: a missing promtool fails, never skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ggzy.cli import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
PROM_DIR = ROOT / "deploy" / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
PROM_ALERTS = PROM_DIR / "alerts.yml"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"

INFRA_SERVICES = {"kafka", "mongo", "prometheus"}


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _load_yaml(COMPOSE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def prom_config() -> dict[str, Any]:
    data = _load_yaml(PROM_CONFIG)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").is_file() else None
    )
    if path is None:
        pytest.fail(
            "promtool not found: install Debian's prometheus package "
            "(apt-get install -y --no-install-recommends prometheus)"
        )
    return path


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ggzy services: every one started as `ggzy serve <name>`."""
    apps = {}
    for name, svc in compose["services"].items():
        command = svc.get("command")
        if isinstance(command, str):
            command = command.split()
        if command and command[0] == "serve":
            apps[name] = svc
    return apps


def _scrape_targets(prom_config: dict[str, Any]) -> dict[str, set[str]]:
    targets: dict[str, set[str]] = {}
    for job in prom_config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets.setdefault(job["job_name"], set()).update(static["targets"])
    return targets


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


# compose.yaml


def test_compose_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(compose), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_the_schema_check_catches_mistakes(compose: dict[str, Any]) -> None:
    """Guard against a schema that accepts anything."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["registration"]["healthcheck"]["interval"] = 10
    broken["services"]["registration"]["dependson"] = ["kafka"]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_compose_has_the_expected_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= INFRA_SERVICES
    assert "registration" in _app_services(compose)
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", services["kafka"]["image"])
    assert services["mongo"]["image"].startswith("mongo:8")
    assert services["prometheus"]["image"].startswith("prom/prometheus")


def test_every_service_of_the_command_line_is_composed(compose: dict[str, Any]) -> None:
    """What `ggzy serve` can run, compose runs: no service left out of a deployment."""
    composed = {svc["command"][1] for svc in _app_services(compose).values()}
    assert composed >= set(SERVICES)


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        check = svc.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name} disables its healthcheck"
        test = check.get("test")
        assert test and test != ["NONE"], f"{name} has an empty healthcheck"


def test_kafka_is_one_kraft_node_without_auto_create(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID: base64url UUID"


def test_mongo_is_a_replica_set_initiated_by_its_healthcheck(compose: dict[str, Any]) -> None:
    mongo = compose["services"]["mongo"]
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in check and "'rs0'" in check


def test_app_services_share_the_common_block(compose: dict[str, Any]) -> None:
    common = compose["x-service"]
    for name, svc in _app_services(compose).items():
        env = svc["environment"]
        assert env["GGZY_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["GGZY_MONGO_URL"] == "mongodb://mongo:27017/?replicaSet=rs0", name
        assert "build" in svc, name
        for dep in ("kafka", "mongo"):
            assert svc["depends_on"][dep]["condition"] == "service_healthy", (name, dep)
        port = str(env["GGZY_HTTP_PORT"])
        assert f"127.0.0.1:{port}/readyz" in " ".join(svc["healthcheck"]["test"]), name
        assert svc["image"] == common["image"], name


def test_every_app_service_is_scraped(compose: dict[str, Any], prom_config: dict[str, Any]) -> None:
    targets = _scrape_targets(prom_config)
    all_targets = set().union(*targets.values())
    for name, svc in _app_services(compose).items():
        target = f"{name}:{svc['environment']['GGZY_HTTP_PORT']}"
        assert target in all_targets, f"{target} is not in {PROM_CONFIG.name}"
        assert target in targets.get(name, set()), f"{target} should be scraped by job {name!r}"


def test_prometheus_mounts_its_config_and_rules(
    compose: dict[str, Any], prom_config: dict[str, Any]
) -> None:
    mounts: dict[str, str] = {}
    for volume in compose["services"]["prometheus"]["volumes"]:
        source, target, *_ = volume.split(":")
        mounts[target] = source
    config_source = mounts["/etc/prometheus/prometheus.yml"]
    assert (ROOT / config_source).resolve() == PROM_CONFIG
    for rule_file in prom_config["rule_files"]:
        in_container = f"/etc/prometheus/{rule_file}"
        assert in_container in mounts, f"{rule_file} is not mounted"
        assert (ROOT / mounts[in_container]).resolve() == PROM_DIR / rule_file


# Dockerfile


def test_dockerfile_builds_a_non_root_ggzy_image() -> None:
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(re.match(r"RUN pip install \.(\s|$)", line) for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and not users[-1].startswith(("root", "0")), "the image must not run as root"
    assert 'ENTRYPOINT ["ggzy"]' in lines
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"COPY source {source} is missing"


# Prometheus config and rules


def test_promtool_check_config(promtool: str) -> None:
    result = _run([promtool, "check", "config", str(PROM_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules(promtool: str) -> None:
    result = _run([promtool, "check", "rules", str(PROM_ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_cover_the_runtime_metrics() -> None:
    rules = [r for g in _load_yaml(PROM_ALERTS)["groups"] for r in g["rules"]]
    exprs = " ".join(r["expr"] for r in rules)
    for metric in (
        "ggzy_outbox_pending",
        "ggzy_outbox_oldest_age_seconds",
        "ggzy_dead_letters_total",
        "ggzy_timer_failures_total",
        "up == 0",
    ):
        assert metric in exprs, metric


_INSTANCE = 'job="registration",instance="registration:8080"'
_APP = {"job": "registration", "instance": "registration:8080"}


def _alerts_test(name: str, eval_time: str, labels: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "eval_time": eval_time,
        "alertname": name,
        "exp_alerts": [{"exp_labels": lab} for lab in labels],
    }


def test_alerts_fire_when_they_should(promtool: str, tmp_path: Path) -> None:
    """`promtool test rules`: each alert fires after its `for`, and not before.

    promtool compares annotations exactly, so the rules run here without them
    (their templates are checked by `promtool check rules`).
    """
    rules = _load_yaml(PROM_ALERTS)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    rules_file = tmp_path / "alerts.yml"
    rules_file.write_text(json.dumps(rules), encoding="utf-8")
    dead = {**_APP, "group": "credit", "reason": "invalid", "severity": "warning"}
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"ggzy_outbox_pending{{{_INSTANCE}}}", "values": "2000x10"},
                    {"series": f"ggzy_outbox_oldest_age_seconds{{{_INSTANCE}}}", "values": "90x10"},
                    {
                        "series": "ggzy_dead_letters_total{"
                        + _INSTANCE
                        + ',group="credit",reason="invalid"}',
                        "values": "0 0 0 1 1 1 1 1 1 1 1 1 1",
                    },
                    {"series": f"up{{{_INSTANCE}}}", "values": "1 1 0 0 0"},
                    {"series": "ggzy_timer_failures_total{" + _INSTANCE
                     + ',kind="deadline",final="true"}', "values": "0 0 0 0 0 1 1 1"},
                ],
                "alert_rule_test": [
                    _alerts_test("GgzyOutboxBacklog", "4m", []),
                    _alerts_test("GgzyOutboxBacklog", "6m", [{**_APP, "severity": "warning"}]),
                    _alerts_test("GgzyOutboxStale", "1m", []),
                    _alerts_test("GgzyOutboxStale", "3m", [{**_APP, "severity": "critical"}]),
                    _alerts_test("GgzyDeadLetters", "2m", []),
                    _alerts_test("GgzyDeadLetters", "4m", [dead]),
                    _alerts_test("GgzyDeadLetters", "12m", []),
                    _alerts_test("GgzyTimerFailed", "4m", []),
                    _alerts_test("GgzyTimerFailed", "6m", [{**_APP, "kind": "deadline",
                                                            "severity": "critical"}]),
                    _alerts_test("GgzyTargetDown", "2m", []),
                    _alerts_test("GgzyTargetDown", "4m", [{**_APP, "severity": "critical"}]),
                ],
            }
        ],
    }
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(json.dumps(tests), encoding="utf-8")
    result = _run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_the_image_installs_carries_every_data_file_the_code_reads(
        tmp_path: Path) -> None:
    """The Dockerfile copies pyproject.toml and the three packages and installs them
    (`pip install .`): each rule book, template file, the calendar and the exported
    schemas must be in what it installs, or a service in the image fails at start."""
    packages = ("ggzy", "contracts", "services")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    for pkg in packages:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    wanted = sorted(str(p.relative_to(src)) for p in src.rglob("*")
                    if p.is_file() and p.suffix in (".yaml", ".json"))
    assert "services/credit/rules.yaml" in wanted and "contracts/calendar.yaml" in wanted
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--wheel-dir", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=180)
    [wheel] = tmp_path.glob("ggzy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [w for w in wanted if w not in names] == []
