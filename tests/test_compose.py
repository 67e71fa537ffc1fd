"""docker-compose.yml is consistent with the code (Docker cannot run on this machine, so this
checks the file instead of starting it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings
from valuegate.cli import build_parser
from workflows.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]  # type: ignore[no-any-return]


def test_every_dependency_is_a_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_app_services_use_only_settings_the_app_knows(services: dict[str, Any]) -> None:
    known = {f"VALUEGATE_{field.upper()}" for field in Settings.model_fields}
    for name in ("migrate", "api", "worker"):
        variables = set(services[name]["environment"])
        assert {v for v in variables if v.startswith("VALUEGATE_")} <= known, name
        assert "VALUEGATE_SECRET_KEY" in variables and "VALUEGATE_DATABASE_URL" in variables


def test_app_services_run_real_commands_of_one_image(services: dict[str, Any]) -> None:
    parser = build_parser()
    for name in ("migrate", "api", "worker"):
        command = services[name]["command"]
        assert command[0] == "valuegate"
        parser.parse_args(command[1:])  # exits (fails the test) on an unknown command or flag
        assert services[name]["build"] == "."
    assert (ROOT / "Dockerfile").exists()


def test_mounted_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_compose_registers_the_search_attributes_the_code_uses() -> None:
    script = (ROOT / "deploy/temporal/setup-namespace.sh").read_text()
    registered = dict(
        re.findall(r"(\w+)=(KeywordList|Keyword|Int|Text|Bool|Double|Datetime)\b", script)
    )
    expected = {
        key.name: key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
        .title()
        .replace("_", "")
        for key in ALL_KEYS
    }
    assert registered == expected


def test_no_secret_is_committed(services: dict[str, Any]) -> None:
    secret = services["api"]["environment"]["VALUEGATE_SECRET_KEY"]
    assert secret.startswith("${VALUEGATE_SECRET_KEY:?")


def test_the_worker_runs_as_several_processes(services: dict[str, Any]) -> None:
    # One worker process keeps one core busy; the stack scales its workers out, as `valuegate
    # dev` does (one per core).
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "container_name" not in services["worker"]  # replicas need names of their own
