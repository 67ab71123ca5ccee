"""The Prometheus harness scrapes a real exporter and answers through its API.

Runs Debian's prometheus binary (CI installs the `prometheus` package): a
missing binary fails with the install hint, it does not skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ggzy.dev.prometheus import PrometheusError, PrometheusServer, prometheus_binary, value


@pytest.fixture(scope="module")
def exporter() -> Iterator[tuple[str, CollectorRegistry]]:
    """A tiny /metrics endpoint on 127.0.0.1, with its own registry."""
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{server.server_port}", registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def prometheus(exporter: tuple[str, CollectorRegistry]) -> Iterator[PrometheusServer]:
    if prometheus_binary() is None:
        pytest.fail(
            "the prometheus binary is missing: apt-get install -y --no-install-recommends "
            "prometheus (or set GGZY_PROMETHEUS_BIN)"
        )
    target, _ = exporter
    with PrometheusServer({"harness": [target]}, scrape_interval=1.0) as prom:
        yield prom


def test_reads_a_custom_metric_back(
    exporter: tuple[str, CollectorRegistry], prometheus: PrometheusServer
) -> None:
    target, registry = exporter
    gauge = Gauge("ggzy_harness_probe", "A value set by the test", ["stage"], registry=registry)
    gauge.labels(stage="registration").set(42.5)

    samples = prometheus.wait_for(
        'ggzy_harness_probe{job="harness",stage="registration"}', timeout=30
    )

    assert len(samples) == 1
    assert samples[0]["metric"]["instance"] == target
    assert value(samples[0]) == 42.5

    gauge.labels(stage="registration").set(7)
    samples = prometheus.wait_for(
        'ggzy_harness_probe{stage="registration"}',
        lambda s: bool(s) and value(s[0]) == 7,
        timeout=30,
    )
    assert value(samples[0]) == 7


def test_counter_and_up(
    exporter: tuple[str, CollectorRegistry], prometheus: PrometheusServer
) -> None:
    _, registry = exporter
    dead = Counter("ggzy_harness_dead_letters", "Test counter", ["reason"], registry=registry)
    dead.labels(reason="invalid").inc(3)

    samples = prometheus.wait_for('ggzy_harness_dead_letters_total{reason="invalid"} == 3')
    assert value(samples[0]) == 3

    up = prometheus.wait_for('up{job="harness"} == 1')
    assert up[0]["metric"]["job"] == "harness"
    health = prometheus.targets_health()
    assert [t["health"] for t in health if t["job"] == "harness"] == ["up"]


def test_bad_query_raises(prometheus: PrometheusServer) -> None:
    with pytest.raises(PrometheusError, match="bad_data"):
        prometheus.query("sum(")


def test_scalar_query(prometheus: PrometheusServer) -> None:
    assert value(prometheus.query("1 + 1")[0]) == 2
