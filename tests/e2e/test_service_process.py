"""A service as its own process: ready, serving, and a graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from ggzy.testing.data import entity_registration, new_uscc
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually, read_topic
from ggzy.testing.services import free_port
from tests.conftest import isolated_settings


async def test_registration_process_serves_and_stops_gracefully(infra: Infra,
                                                                tmp_path: Path) -> None:
    settings = isolated_settings(infra, "registration", http_port=free_port())
    env = {**os.environ, **{f"GGZY_{k.upper()}": str(v) for k, v in settings.model_dump().items()
                           if k != "service"},
           "GGZY_BOOTSTRAP_OPERATOR": "op:operator-password-1"}
    log = (tmp_path / "registration.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "ggzy", "serve", "registration"], env=env,  # noqa: ASYNC220
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{settings.http_port}"
    try:
        async with aiohttp.ClientSession() as http:
            async def ready() -> bool:
                try:
                    async with http.get(f"{url}/readyz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, within=60)
            async with http.post(f"{url}/v1/tokens", json={
                    "username": "op", "password": "operator-password-1"}) as resp:
                token = (await resp.json())["access_token"]
            uscc = new_uscc()
            async with http.post(f"{url}/v1/entities", json=entity_registration(uscc),
                                 headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 201
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    lines = (tmp_path / "registration.log").read_text()
    assert '"message": "service stopped"' in lines
    # what was committed before the stop was published (the relay flushes on shutdown)
    topic = f"{settings.topic_prefix}.ggzy.internal.registration.v1"
    records = await read_topic(infra.kafka_bootstrap, topic,
                               lambda rs: any(r.key == uscc for r in rs))
    assert any(r.key == uscc for r in records)
