"""What bidding's use cases share: their ports (the tenders and bids aggregates, the
store, the timers, the rule book, the receipt key), the timers' kinds, the clock, and
the few lookups every stage of a tender needs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.bidding import BidderLine, DepositRefund
from contracts.categories import Category
from ggzy.runtime.aggregates import Aggregates, Doc
from ggzy.runtime.auth import Principal
from ggzy.runtime.cache import TTLCache
from ggzy.runtime.errors import Forbidden, NotFound
from ggzy.runtime.timers import Timers
from services.bidding.domain import deposits
from services.bidding.domain.rules import CategoryRules, RuleBook
from services.bidding.opening import revoked_bids
from services.bidding.store import BiddingStore

# the timers' kinds
DEADLINE, DECRYPT_END, CONTRACT_DUE = "deadline", "decrypt_end", "contract_due"
SUSPENSION_END = "suspension_end"
OBJECTION_DUE = "objection_due"  # an objection's answer falls due (条例22, 44; 政采法53)
DEFAULT_VENUE = "公共资源交易平台评标区"  # GGZY_EVALUATION_VENUE


def now() -> datetime:
    return datetime.now(UTC)


class Context:
    """The ports and lookups the bidding use cases share (one per service, built by
    the composition root); it decides nothing."""

    def __init__(self, *, tenders: Aggregates, bids: Aggregates, store: BiddingStore,
                 timers: Timers, categories: frozenset[Category], book: RuleBook,
                 grace_ms: int = 1000, open_tender_s: float = 1.0,
                 evaluation_venue: str = DEFAULT_VENUE) -> None:
        self.book = book
        self.evaluation_venue = evaluation_venue  # where a tender stating none evaluates
        self.tenders = tenders
        self.bids = bids
        self.store = store
        self.timers = timers
        self.categories = categories
        self.grace_ms = grace_ms
        self.receipt_key: Ed25519PrivateKey | None = None
        # Tenders open for bids, as read at most ``open_tender_s`` ago (see open_tender).
        self.open_tenders: TTLCache[str, Doc] = TTLCache(open_tender_s, max_size=1000)

    def rules(self, state: Mapping[str, Any]) -> CategoryRules:
        return self.book.for_tender(Category(state["category"]), state.get("method"))

    async def tender(self, tender_id: str) -> dict[str, Any]:
        doc = await self.tenders.get(tender_id)
        if doc is None:
            raise NotFound("tender_not_found", f"no tender {tender_id}")
        return doc

    def require_owner(self, state: Mapping[str, Any], who: Principal) -> None:
        if not owns(state, who):
            raise Forbidden("not_your_tender", "only the tenderee or its agency may do this")

    async def move_deadline(self, state: Mapping[str, Any]) -> None:
        """Move the deadline's timer to the tender's deadline."""
        tender_id = state["tender_id"]
        await self.move_timer(f"{DEADLINE}:{tender_id}", DEADLINE,
                              int(state["deadline_ms"]) + self.grace_ms, {"tender_id": tender_id})

    async def move_timer(self, timer_id: str, kind: str, due: int,
                         payload: dict[str, Any]) -> None:
        """Move a timer to ``due``; if it fired already (while the tender was suspended,
        doing nothing then), a new timer for ``due``."""
        if not await self.timers.reschedule(timer_id, due):
            await self.timers.schedule(f"{timer_id}:{due}", kind, due, payload)

    def refunds(self, rules: CategoryRules, docs: list[dict[str, Any]],
                lines: list[BidderLine], at: datetime) -> list[DepositRefund]:
        """Deposits of a section's extracted bids; revoked ones withheld (条例35)."""
        revoked = revoked_bids(lines)
        received = {ln.bid_id for ln in lines}
        return deposits.refunds(rules, self.book.calendar,
                                [d for d in docs if d["_id"] in received], at, revoked)


def owns(state: Mapping[str, Any], who: Principal) -> bool:
    """Whether ``who`` acts for the tender's tenderee or its agency."""
    return who.uscc is not None and who.uscc in {state["tenderee_uscc"],
                                                 state.get("agency_uscc")}
