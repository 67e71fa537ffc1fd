"""Settings come from VALUEGATE_ variables; production refuses a placeholder secret."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from valuegate.worker import build_worker

STRONG = "k3J9x!q2Lz8vR4mT7wY1pS6dF0gH5jB-"


def test_environment_variables_configure_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUEGATE_DATABASE_URL", "postgresql://db.internal/valuegate")
    monkeypatch.setenv("VALUEGATE_SMTP_PORT", "2525")
    monkeypatch.setenv("VALUEGATE_SMTP_SECURITY", "starttls")
    settings = Settings()
    assert settings.database_url == "postgresql://db.internal/valuegate"
    assert (settings.smtp_port, settings.smtp_security.value) == (2525, "starttls")


@pytest.mark.parametrize("secret", ["change-me", "secret", "short-but-random-1234"])
def test_production_refuses_a_placeholder_or_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="VALUEGATE_SECRET_KEY"):
        Settings(environment="production", secret_key=secret)  # type: ignore[arg-type]


def test_production_accepts_a_real_secret_and_dev_accepts_the_default() -> None:
    assert (
        Settings(environment="production", secret_key=STRONG).secret_key.get_secret_value()
        == STRONG
    )  # type: ignore[arg-type]
    assert Settings(environment="dev").environment.value == "dev"  # type: ignore[arg-type]


def test_the_command_refuses_to_start_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "valuegate", "worker"],
        env={
            "VALUEGATE_ENVIRONMENT": "production",
            "VALUEGATE_SECRET_KEY": "change-me",
            "PATH": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "configuration error: VALUEGATE_SECRET_KEY is a placeholder" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_worker_takes_on_only_as_many_activities_as_it_has_slots(
    temporal_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    # The rest wait on the Temporal server, unstarted, for whichever worker frees a slot first.
    assert Settings().worker_activity_slots == 40
    narrow = settings.model_copy(update={"worker_activity_slots": 3, "worker_cached_workflows": 7})
    worker = build_worker(temporal_env.client, settings=narrow, sessions=sessions)
    assert worker.config()["max_concurrent_activities"] == 3
    assert worker.config()["max_cached_workflows"] == 7
    with pytest.raises(ValidationError, match="worker_activity_slots"):
        Settings(worker_activity_slots=0)
