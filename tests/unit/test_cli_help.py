"""``yswd --help`` and every subcommand's help: they open, and their options read well.

An option shows what it takes by name (``--forum FORUM``, ``--limit N``), not
click's type tag (``--forum <str>``), and keeps its lower-case flag: typer turns
``--port`` into ``--PORT`` when a metavar spells the parameter's own name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from yswd.cli.main import cli

TYPE_TAG = ("<str>", "<int", "<path>", "<float>", "<integer")


def commands(group: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(group, TyperGroup):
        for name, command in group.commands.items():
            yield from commands(command, (*path, name))


def command_at(path: tuple[str, ...]) -> object:
    command: object = typer.main.get_command(cli)
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command


ALL = list(commands(typer.main.get_command(cli)))


def test_every_command_is_reached() -> None:
    assert ("audit", "verify") in ALL
    assert ("minutes", "import") in ALL
    assert ("backup",) in ALL
    assert len(ALL) > 15


@pytest.mark.parametrize("path", ALL, ids=lambda path: " ".join(path) or "yswd")
def test_help_opens_and_its_options_carry_no_type_tags(path: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(cli, [*path, "--help"], terminal_width=120)
    assert shown.exit_code == 0, shown.output
    assert "Usage:" in shown.output
    options = [line for line in shown.output.splitlines() if "--" in line]
    for line in options:
        assert not any(tag in line for tag in TYPE_TAG), line
    for param in getattr(command_at(path), "params", []):
        if isinstance(param, TyperOption):
            assert all(flag == flag.lower() for flag in param.opts), param.opts
            assert param.is_flag or param.metavar, f"{path} {param.name} has no metavar"
