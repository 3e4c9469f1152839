"""What every command shares: the store it works on, and how it says no.

    with opened() as container, refusals():
        ...

``opened`` builds the container of the store the ``YSWD_*`` settings name (the
composition root is imported only then, so ``yswd --help`` stays quick) and closes
it however the command ends; ``refusals`` turns the domain's refusal into one line
on stderr and an exit status, instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from yswd.aggregates.errors import DomainError
from yswd.settings import Settings

if TYPE_CHECKING:
    from yswd.adapters.container import Container


@contextmanager
def opened(settings: Settings | None = None, schema: bool = True) -> Iterator[Container]:
    """The container of the store ``settings`` name (read from YSWD_* by default);
    ``schema=False``: one whose tables another process has made (``build``)."""
    from yswd.bootstrap import build

    container = build(settings or Settings(), schema=schema)
    try:
        yield container
    finally:
        container.close()


@contextmanager
def refusals(exit_code: int = 2) -> Iterator[None]:
    """A ``DomainError`` as ``error: <its message>`` on stderr, and ``exit_code``."""
    try:
        yield
    except DomainError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(exit_code) from None
