"""Settings of a service, read from the environment (prefix ``GGZY_``).

| variable | meaning | default |
|---|---|---|
| GGZY_KAFKA_BOOTSTRAP | Kafka bootstrap servers | 127.0.0.1:9092 |
| GGZY_MONGO_URL | MongoDB URL | mongodb://127.0.0.1:27017 |
| GGZY_DATABASE | database name | ggzy_<service> |
| GGZY_TOPIC_PREFIX | prefix of every topic (isolates deployments and tests) | "" |
| GGZY_HTTP_HOST / GGZY_HTTP_PORT | where the HTTP API listens | 127.0.0.1 / per service |
| GGZY_CATEGORIES | categories served: "all" or a comma list | all |
| GGZY_PARTITIONS | partitions of topics this service creates | 3 |
| GGZY_CONSUMER_ATTEMPTS | attempts before a message is dead-lettered | 3 |
| GGZY_CONSUMER_LINGER_MS | wait to fill a fetch (64 KiB); 0: none, idle fetches wait 500 ms | 0 |
| GGZY_RETRY_BACKOFF_S | first retry delay (doubles each attempt) | 0.2 |
| GGZY_RELAY_INTERVAL_S | outbox relay poll interval when idle | 0.5 |
| GGZY_JWKS_URL | registration's public key set | http://127.0.0.1:8101/.well-known/jwks.json |
| GGZY_SIGNING_KEY_FILE | Ed25519 token key (PEM; registration) | generated, kept in store |
| GGZY_BOOTSTRAP_OPERATOR | "user:password" of a first platform operator | unset |
| GGZY_RULES_FILE | the service's per-category rule file | the service's rules.yaml |
| GGZY_LOG_LEVEL | log level | INFO |
| GGZY_EVENT_LOOP | "uvloop" (libuv: less CPU per socket event) or "asyncio" | uvloop |
| GGZY_ACCESS_LOG | a log line per HTTP request (~100 µs each; /metrics counts them) | false |
| GGZY_OCDS_PREFIX | OCDS ocid prefix of this platform (announcement) | ocds-ggzy00 |
| GGZY_PUBLISHER_NAME | publisher named in OCDS packages (announcement) | 公共资源交易平台 |
| GGZY_EVALUATION_VENUE | venue of an evaluation stating none (bidding) | 公共资源交易平台评标区 |
| GGZY_TRUSTED_PROXIES | proxies believed in X-Forwarded-For (comma list of networks) | none |
| GGZY_GC_THRESHOLDS | garbage collector "young,older,oldest", or "python" | the service's |
| GGZY_LAG_INTERVAL_S | seconds between measures of `ggzy_consumer_lag`; 0: never | 15 |
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.categories import Category, parse_categories

DEFAULT_PORTS = {
    "registration": 8101,
    "announcement": 8102,
    "bidding": 8103,
    "credit": 8104,
    "notify": 8105,
}


class Settings(BaseSettings):
    """Everything a service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="GGZY_", extra="ignore")

    service: str = Field(default="", description="Service name (set by the entry point).")
    kafka_bootstrap: str = "127.0.0.1:9092"
    mongo_url: str = "mongodb://127.0.0.1:27017"
    database: str = ""
    topic_prefix: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 0
    categories: str = "all"
    partitions: int = Field(default=3, ge=1)
    consumer_attempts: int = Field(default=3, ge=1)
    consumer_linger_ms: int = Field(default=0, ge=0)
    retry_backoff_s: float = Field(default=0.2, ge=0)
    relay_interval_s: float = Field(default=0.5, gt=0)
    jwks_url: str = "http://127.0.0.1:8101/.well-known/jwks.json"
    signing_key_file: str = ""
    bootstrap_operator: str = ""
    rules_file: str = ""
    log_level: str = "INFO"
    access_log: bool = False
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    ocds_prefix: str = Field(default="ocds-ggzy00", pattern=r"^ocds-[a-z0-9]{6}$")
    publisher_name: str = "公共资源交易平台"
    evaluation_venue: str = Field(default="公共资源交易平台评标区", min_length=1, max_length=200)
    trusted_proxies: str = ""
    gc_thresholds: str = ""
    lag_interval_s: float = Field(default=15.0, ge=0)

    def for_service(self, service: str) -> Settings:
        """A copy completed with the service's own defaults."""
        return self.model_copy(
            update={
                "service": service,
                "database": self.database or f"ggzy_{service}",
                "http_port": self.http_port or DEFAULT_PORTS.get(service, 8100),
            }
        )

    def served_categories(self) -> frozenset[Category]:
        """The categories this deployment serves."""
        return parse_categories(self.categories)
