"""The import rules that keep the tree easy to walk and the workflows deterministic."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The pure domain modules: no I/O, no database, no framework — safe for workflow code.
PURE = {
    "models.stages", "models.status", "models.money", "models.policy", "models.criteria",
    "models.closure", "models.escalation", "models.channels", "models.import_sheets",
    "models.import_report", "models.forecasts",
}  # fmt: skip
# What workflow code may import: the standard library, temporalio, pydantic, pure modules.
WORKFLOW_ALLOWED = {"temporalio", "pydantic", "__future__", "workflows", "activities.names", *PURE}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _allowed(module: str, allowed: set[str]) -> bool:
    top = module.split(".")[0]
    return top in sys.stdlib_module_names or any(
        module == a or module.startswith(a + ".") for a in allowed
    )


def test_workflows_import_only_deterministic_modules() -> None:
    offenders = {
        f"{path.name}: {module}"
        for path in (ROOT / "workflows").glob("*.py")
        for module in _imports(path)
        if not _allowed(module, WORKFLOW_ALLOWED)
    }
    assert offenders == set()


def test_notifications_know_neither_temporal_nor_fastapi() -> None:
    offenders = {
        f"{path.name}: {module}"
        for path in (ROOT / "notifications").glob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in {"temporalio", "fastapi", "starlette", "api", "workflows"}
    }
    assert offenders == set()


def test_the_worker_never_imports_the_web_app() -> None:
    for package in ("workflows", "activities"):
        for path in (ROOT / package).glob("*.py"):
            assert not any(
                m.split(".")[0] in {"api", "fastapi", "uvicorn"} for m in _imports(path)
            ), path


def test_pure_modules_stay_pure() -> None:
    offenders = {
        f"{module}: {imported}"
        for module in PURE
        for imported in _imports(ROOT / (module.replace(".", "/") + ".py"))
        if not _allowed(imported, {"pydantic", "babel", "__future__", *PURE})
    }
    assert offenders == set()


def _package_imports(package: str) -> set[str]:
    return {
        module.split(".")[0] for path in (ROOT / package).rglob("*.py") for module in _imports(path)
    }


def test_layers_flow_one_way_from_the_app_shell_to_the_web_app_to_the_services() -> None:
    # valuegate/ (CLI, dev stack, worker process) may use api/; never the other way round.
    assert "valuegate" not in _package_imports("api")
    for package in ("services", "models", "notifications", "workflows", "activities", "config"):
        assert not {"api", "valuegate"} & _package_imports(package), package


def test_settings_are_a_leaf_everyone_may_import() -> None:
    project = {"valuegate", "api", "services", "models", "notifications", "workflows",
               "activities", "migrations"}  # fmt: skip
    assert not project & _package_imports("config")
