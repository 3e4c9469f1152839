"""The shape of the house, checked mechanically.

The layer rules are import-linter contracts (``[tool.importlinter]`` in
``pyproject.toml``), which CI runs as ``lint-imports``. The unit suite runs the
same contracts, so a wrong import fails here as well, and checks the one rule
import-linter cannot see: it counts an outside package as one module, so only
this test knows that the domain takes nothing but ``eventsourcing.domain`` from
the library.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "yswd"
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_every_layer_rule_is_a_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == "yswd"
    ids = {contract["id"] for contract in config["contracts"]}
    layers = {"domain", "application", "projections", "adapters", "composition-root", "ways-in"}
    assert layers <= ids


def test_every_layer_contract_is_kept() -> None:
    linted = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("path", sorted((SRC / "aggregates").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_takes_only_its_own_modules_from_the_event_sourcing_library(
    path: Path,
) -> None:
    for module in imported_modules(path):
        if module.split(".")[0] == "eventsourcing":
            assert module.startswith("eventsourcing.domain"), f"{path.name} imports {module}"
