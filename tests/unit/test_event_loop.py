"""The entry point serves on the event loop the settings name (GGZY_EVENT_LOOP)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from ggzy.runtime import service
from ggzy.runtime.service import Parts, Runtime
from ggzy.runtime.settings import Settings


def _build(rt: Runtime) -> Parts:  # never called: serve is replaced below
    raise AssertionError("not reached")


@pytest.mark.parametrize(("choice", "uses_uvloop"), [("uvloop", True), ("asyncio", False)])
def test_run_serves_on_the_chosen_loop(monkeypatch: pytest.MonkeyPatch, choice: str,
                                       uses_uvloop: bool) -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def fake_serve(settings: Settings, build: object) -> None:
        seen.append(asyncio.get_running_loop())

    monkeypatch.setattr(service, "serve", fake_serve)
    service.run(Settings(event_loop=choice).for_service("registration"), _build)
    assert len(seen) == 1
    assert isinstance(seen[0], uvloop.Loop) is uses_uvloop


def test_an_unknown_loop_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GGZY_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match="event_loop"):
        Settings()
