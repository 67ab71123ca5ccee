"""Delivery policy: bounded retries with exponential backoff and jitter, and a
per-endpoint circuit breaker. Pure: the clock and the randomness are passed in."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failed delivery is tried again."""

    max_attempts: int = 6
    base_ms: int = 500
    max_ms: int = 60_000
    jitter: float = 0.5  # the share of each delay that is random

    def exhausted(self, attempts: int) -> bool:
        """No attempt is left after ``attempts`` failed ones."""
        return attempts >= self.max_attempts

    def delay_ms(self, attempts: int, rng: random.Random) -> int:
        """The wait after the ``attempts``-th failure: base·2^(n-1), capped, part random.

        With jitter j, the delay is uniform in [(1-j)·d, d]: replicas retrying the same
        receiver spread out instead of arriving together."""
        capped = min(self.max_ms, self.base_ms * 2 ** max(0, attempts - 1))
        return int(capped * (1 - self.jitter) + rng.uniform(0, capped * self.jitter))


@dataclass
class Breaker:
    """A circuit breaker of one endpoint (a webhook URL, the SMTP relay).

    Closed: calls go through. After ``threshold`` consecutive failures it opens:
    calls are held back (not attempted, no attempt counted) for ``cooldown_ms``.
    Then it is half-open: one trial call goes through; its success closes the
    breaker, its failure opens it again for another cool-down."""

    threshold: int = 5
    cooldown_ms: int = 10_000
    failures: int = 0
    opened_at: int = 0
    trial: bool = False
    state: str = field(default=CLOSED)

    def allow(self, now: int) -> bool:
        """Whether a call may go to the endpoint now (takes the half-open trial)."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and now - self.opened_at >= self.cooldown_ms:
            self.state, self.trial = HALF_OPEN, False
        if self.state == HALF_OPEN and not self.trial:
            self.trial = True
            return True
        return False

    def retry_at(self, now: int) -> int:
        """When a held-back call should look again."""
        if self.state == OPEN:
            return self.opened_at + self.cooldown_ms
        return now + max(50, self.cooldown_ms)  # half-open: a trial is under way; its
        # outcome decides, and held lanes must not storm the store meanwhile

    def succeeded(self) -> None:
        self.state, self.failures, self.trial = CLOSED, 0, False

    def failed(self, now: int) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            self.state, self.opened_at, self.trial = OPEN, now, False


@dataclass
class Breakers:
    """The breakers of every endpoint this replica delivers to."""

    threshold: int = 5
    cooldown_ms: int = 10_000
    by_endpoint: dict[str, Breaker] = field(default_factory=dict)

    def of(self, endpoint: str) -> Breaker:
        found = self.by_endpoint.get(endpoint)
        if found is None:
            found = self.by_endpoint[endpoint] = Breaker(self.threshold, self.cooldown_ms)
        return found
