"""The hazard log's proof stays real: every test it names must exist.

``docs/clinical-safety/hazard-log.md`` names the tests that prove each control
(``path::name``, or ``path::Class::name``). A renamed or deleted test would leave a
control without proof; this test finds each named test in its file's syntax tree
(without importing it) and fails on any that is missing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "docs" / "clinical-safety" / "hazard-log.md"
TEST_ID = re.compile(r"(tests/[\w/]+\.py)::([\w:]+)")
HAZARDS = re.compile(r"^## (H\d+)\. ", re.MULTILINE)


def defined_tests(path: Path) -> set[str]:
    """``name`` and ``Class::name`` of every test function and method in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    found.add(f"{node.name}::{member.name}")
    return {name for name in found if name.split("::")[-1].startswith("test")}


def missing_tests(log_text: str, root: Path = ROOT) -> list[str]:
    missing = []
    for path_text, name in TEST_ID.findall(log_text):
        path = root / path_text
        if not path.is_file() or name not in defined_tests(path):
            missing.append(f"{path_text}::{name}")
    return missing


def test_every_test_the_hazard_log_names_exists() -> None:
    assert missing_tests(LOG.read_text(encoding="utf-8")) == []


def test_every_hazard_names_at_least_one_test() -> None:
    text = LOG.read_text(encoding="utf-8")
    sections = HAZARDS.split(text)[1:]
    hazards = dict(zip(sections[::2], sections[1::2], strict=True))
    assert {"H1", "H2", "H3", "H4", "H5", "H6"} <= set(hazards)
    for hazard, body in hazards.items():
        assert TEST_ID.search(body), f"{hazard} names no test"


def test_the_check_fails_for_a_test_that_does_not_exist() -> None:
    named = "- tests/unit/test_hazard_log.py::test_that_was_never_written\n"
    assert missing_tests(named) == ["tests/unit/test_hazard_log.py::test_that_was_never_written"]
    named = "- tests/unit/no_such_file.py::test_anything\n"
    assert missing_tests(named) == ["tests/unit/no_such_file.py::test_anything"]
    assert (
        missing_tests("- tests/unit/test_hazard_log.py::test_every_hazard_names_at_least_one_test")
        == []
    )
