"""The hash-chained audit trail (services/bidding/domain/audit.py) and the
`ggzy audit verify` command, which re-computes a chain fetched over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from ggzy.cli import main
from services.bidding.domain import audit


def _chain(n: int) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = []
    for i in range(n):
        chain.append(audit.entry(chain, at=f"2026-12-01T10:0{i}:00+00:00", actor=f"user{i}",
                                 action="offer", data={"offer_no": i + 1},
                                 source="10.0.0.7" if i % 2 else None))
    return chain


def test_the_source_address_is_part_of_the_chain_20_order() -> None:
    """20号令: the operator's source address is recorded and cannot be altered unseen."""
    chain = _chain(4)
    assert audit.verify(chain) is None
    assert chain[1]["source"] == "10.0.0.7" and "source" not in chain[0]
    altered = [dict(e) for e in chain]
    altered[1]["source"] = "10.0.0.8"
    assert audit.verify(altered) == 2


class _Serve(BaseHTTPRequestHandler):
    body: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer sup-token":
            self.send_response(401)
            payload = {"error": {"code": "token_missing", "message": "no token"}}
        else:
            self.send_response(200)
            payload = type(self).body
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, type[_Serve]]]:
    handler = type("Handler", (_Serve,), {"body": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_the_command_recomputes_the_chain_and_trusts_no_verdict_of_the_service(
        served: tuple[str, type[_Serve]], capsys: pytest.CaptureFixture[str]) -> None:
    url, handler = served
    chain = _chain(3)
    args = ["audit", "verify", "tender", "T1", "--url", url, "--token", "sup-token"]
    handler.body = {"entries": chain, "broken_at": None}
    assert main(args) == 0
    assert "3 entries" in capsys.readouterr().out
    tampered = [dict(e) for e in chain]
    tampered[1]["data"] = {"offer_no": 99}
    handler.body = {"entries": tampered, "broken_at": None}  # the service claims it is fine
    assert main(args) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().out
    rewritten: list[dict[str, Any]] = []  # re-hashed throughout: verifies, but not the head
    for e in tampered:
        rewritten.append(audit.entry(rewritten, at=e["at"], actor=e["actor"],
                                     action=e["action"], data=e["data"], source=e.get("source")))
    handler.body = {"entries": rewritten, "broken_at": None}
    assert main([*args, "--head", chain[1]["hash"]]) == 1
    assert "no longer in the chain" in capsys.readouterr().out
    assert main([*args[:-2], "--token", "wrong"]) == 2
    assert "HTTP 401 token_missing" in capsys.readouterr().err
