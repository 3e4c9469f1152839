"""The shape of the house, checked mechanically: the domain imports no adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "yswd"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((SRC / "aggregates").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_only_itself_the_standard_library_and_eventsourcing(
    path: Path,
) -> None:
    allowed_prefixes = ("yswd.aggregates", "eventsourcing.domain", "__future__")
    forbidden = {"os", "sqlite3", "sqlalchemy", "fastapi", "nats", "pydantic", "httpx"}
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in forbidden, f"{path.name} imports {module}"
        if top in ("yswd", "eventsourcing"):
            assert module.startswith(allowed_prefixes), f"{path.name} imports {module}"


@pytest.mark.parametrize("path", sorted((SRC / "projections").glob("*.py")), ids=lambda p: p.name)
def test_read_models_import_nothing_from_the_http_edge(path: Path) -> None:
    for module in imported_modules(path):
        assert not module.startswith(("yswd.adapters.http", "fastapi")), (
            f"{path.name} imports {module}"
        )
