"""Run a service in-process on 127.0.0.1 for integration tests and benchmarks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from ggzy.dev.kafka import free_port
from ggzy.runtime.service import RUNTIME, Parts, Runtime, build_app
from ggzy.runtime.settings import Settings

__all__ = ["Running", "free_port", "running"]


@dataclass
class Running:
    """A service running in this process."""

    url: str
    runtime: Runtime
    settings: Settings


@asynccontextmanager
async def running(settings: Settings, build: Callable[[Runtime], Parts]) -> AsyncIterator[Running]:
    """Start the service's app on a free port; stop it gracefully on exit."""
    settings = settings.model_copy(update={"http_host": "127.0.0.1", "http_port": free_port()})
    app = build_app(settings, build)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.http_port)
    await site.start()
    try:
        yield Running(f"http://127.0.0.1:{settings.http_port}", app[RUNTIME], settings)
    finally:
        await runner.cleanup()
