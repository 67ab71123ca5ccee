"""A real Prometheus server scrapes a running service and reads its metrics back."""

from __future__ import annotations

import asyncio

import pytest

from ggzy.dev.prometheus import PrometheusServer, prometheus_binary, value
from ggzy.testing.data import entity_registration, new_uscc
from tests.integration.conftest import Registration


async def test_prometheus_reads_the_services_metrics(registration: Registration) -> None:
    if prometheus_binary() is None:
        pytest.fail("the prometheus binary is missing: apt-get install -y prometheus")
    target = registration.svc.url.removeprefix("http://")
    for _ in range(2):
        await registration.call("POST", "/v1/entities", registration.operator_token,
                                entity_registration(new_uscc()))
    with PrometheusServer({"registration": [target]}, scrape_interval=1.0) as prom:
        # the blocking client runs in a thread so the in-process service keeps serving scrapes
        samples = await asyncio.to_thread(
            prom.wait_for,
            'ggzy_http_requests_total{job="registration",route="/v1/entities",status="201"}',
            lambda s: bool(s) and value(s[0]) >= 2, timeout=30)
        published = await asyncio.to_thread(
            prom.wait_for, 'sum(ggzy_outbox_published_total{job="registration"})',
            lambda s: bool(s) and value(s[0]) >= 2, timeout=30)
        up = await asyncio.to_thread(prom.query, 'up{job="registration"}')
    assert value(samples[0]) >= 2
    assert value(published[0]) >= 2
    assert value(up[0]) == 1
