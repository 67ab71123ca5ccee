"""Notify's own settings (prefix ``GGZY_NOTIFY_``): channels and the delivery policy.

| variable | meaning | default |
|---|---|---|
| GGZY_NOTIFY_SMTP_HOST / _PORT | SMTP relay; e-mail is off while no host is set | "" / 25 |
| GGZY_NOTIFY_SMTP_FROM | sender address | noreply@ggzy.local |
| GGZY_NOTIFY_SMTP_TIMEOUT_S / GGZY_NOTIFY_WEBHOOK_TIMEOUT_S | per attempt | 10 / 5 |
| GGZY_NOTIFY_MAX_ATTEMPTS | attempts before a notification fails for good | 6 |
| GGZY_NOTIFY_BACKOFF_BASE_MS / _MAX_MS / GGZY_NOTIFY_JITTER | retry delays | 500 / 60000 / 0.5 |
| GGZY_NOTIFY_BREAKER_FAILURES / _COOLDOWN_MS | circuit breaker per endpoint | 5 / 10000 |
| GGZY_NOTIFY_WORKERS | concurrent delivery lanes per replica | 32 |
| GGZY_NOTIFY_LEASE_S | how long a replica holds a lane it claimed | 60 |
| GGZY_NOTIFY_GAP_GRACE_MS | wait for an earlier number of a lane still being written | 2000 |
| GGZY_NOTIFY_BATCH | deliveries per lane claim | 200 |
| GGZY_NOTIFY_WINDOW | numbers of a lane read at once | 16 |
| GGZY_NOTIFY_WEBHOOK_ALLOW_PRIVATE | webhooks may call loopback/private addresses | false |
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notify.domain.policy import Breakers, RetryPolicy


class NotifySettings(BaseSettings):
    """Channels and delivery policy of the notify service."""

    model_config = SettingsConfigDict(env_prefix="GGZY_NOTIFY_", extra="ignore")

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "noreply@ggzy.local"
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    backoff_base_ms: int = Field(default=500, ge=0)
    backoff_max_ms: int = Field(default=60_000, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_ms: int = Field(default=10_000, ge=0)
    workers: int = Field(default=32, ge=1)
    lease_s: float = Field(default=60.0, gt=0)
    gap_grace_ms: int = Field(default=2000, ge=0)
    batch: int = Field(default=200, ge=1, description="Deliveries per lane claim.")
    window: int = Field(default=16, ge=1, description="Numbers of a lane read at once.")
    # false: a webhook may only call public addresses (no SSRF into the platform's network)
    webhook_allow_private: bool = False

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.backoff_base_ms, self.backoff_max_ms,
                           self.jitter)

    def breakers(self) -> Breakers:
        return Breakers(self.breaker_failures, self.breaker_cooldown_ms)
