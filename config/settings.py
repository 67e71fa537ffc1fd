"""Settings from the environment (prefix VALUEGATE_), one object for the whole process.

A leaf: it imports nothing of ValueGate's, so every layer may import it."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret-key"})
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS, usually port 465


class Settings(BaseSettings):
    """Everything a ValueGate process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="VALUEGATE_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEV
    state_dir: Path = Path(".valuegate")

    database_url: str = "sqlite:///.valuegate/valuegate.db"

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "valuegate"
    temporal_ui_url: AnyHttpUrl = AnyHttpUrl("http://localhost:8233")
    # Activities one worker process takes on at once. The rest wait on the Temporal server, not
    # yet started (their start-to-close clock not running), for whichever worker frees a slot
    # first; a busy worker with the SDK's 100 held some past their start-to-close timeout.
    worker_activity_slots: int = Field(default=40, ge=1, le=1000)
    # Workflows one worker process keeps in memory (the SDK's default; about 0.15 MB each). A
    # task for any other workflow first rebuilds it from its history: size it to the lifecycles
    # with an open gate or timer per worker where memory allows.
    worker_cached_workflows: int = Field(default=1000, ge=1, le=100_000)

    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    # Trust this CA bundle too (a relay with an internal certificate); the system's CAs otherwise.
    smtp_ca_file: Path | None = None
    mail_from: str = "ValueGate <valuegate@localhost>"
    # Where the dev mail catcher keeps what it caught (a Maildir); unset outside dev.
    mail_catcher_dir: Path | None = None

    public_base_url: AnyHttpUrl = AnyHttpUrl("http://localhost:8000")
    secret_key: SecretStr = SecretStr("change-me")
    # How long a signed link in an email works (it also stops when used or no longer relevant).
    link_ttl_days: int = Field(default=7, ge=1, le=90)
    # The proxies in front of the api whose X-Forwarded-For / -Proto the api believes (comma-
    # separated addresses or networks, e.g. "10.0.0.5" or "10.0.0.0/24"); none by default, so
    # the rate limits count the address that actually connected.
    trusted_proxies: str = ""
    # The largest request body the web app reads (413 beyond).
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Imports: the largest workbook uploaded (413 beyond), and how large it may unpack (a zip
    # bomb stops there).
    import_max_bytes: int = Field(default=20 * 1_048_576, ge=1024)
    import_max_unpacked_bytes: int = Field(default=300 * 1_048_576, ge=1024)
    # How long an upload waits for its import to finish before it answers "running" (202, or
    # the page that follows the import's progress); a large file runs on in the background.
    import_wait_seconds: float = Field(default=10.0, ge=0, le=60)
    # Bad link tokens one client may try per minute before it gets 429.
    link_failures_per_minute: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _refuse_placeholder_secret_outside_dev(self) -> Settings:
        if self.environment is Environment.DEV:
            return self
        secret = self.secret_key.get_secret_value()
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                "VALUEGATE_SECRET_KEY is a placeholder or shorter than "
                f"{MIN_SECRET_LENGTH} characters; set a random secret outside dev "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
