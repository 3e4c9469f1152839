"""Progress at the console: rich bars on stderr when it is a terminal, else nothing.

Long commands (``yswd backup``, ``restore``, ``audit verify``, ``audit export``,
``minutes import``) show how far they have got. What scripts read does not
change: the bars go to stderr, only when stderr is a terminal, and never capture
stdout (rich's ``redirect_stdout`` would send a command's own output through the
stderr console). Not on a terminal, :func:`on_terminal` answers :class:`Quiet`,
which shows nothing.

Two ways to report, one per kind of work:

- :meth:`Bars.stage` and :meth:`Bars.advance`: one bar per stage, counted in
  bytes (backup and restore report what they copy);
- :meth:`Bars.counter`: a callback ``(done, total)`` for a use case that counts
  for itself (the application layer takes such a callback as a plain parameter).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import ProgressColumn, TaskID

#: how a bar counts: bytes (sizes and speed) or things (``12/40`` and a percentage)
Unit = Literal["bytes", "things"]
#: told ``(done, total)`` by the work it follows
Counter = Callable[[int, int], None]


class Bars:
    """rich progress bars on ``console`` (stderr), one per stage or counter."""

    def __init__(self, console: Console, unit: Unit = "things") -> None:
        from rich.progress import Progress

        self.bars = Progress(
            *_columns(unit),
            console=console,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> Bars:
        self.bars.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._finish_stage()
        self.bars.stop()

    def stage(self, description: str, total: int | None = None) -> None:
        """Start a stage's bar; the previous stage is shown complete."""
        self._finish_stage()
        self.task = self.bars.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        """``amount`` more of the current stage is done."""
        if self.task is not None:
            self.bars.advance(self.task, amount)

    def counter(self, description: str) -> Counter:
        """A bar that the work moves itself, by telling the callback ``(done, total)``.

        It is left where the work left it: a check that stops at a bad event does
        not show 100%.
        """
        task = self.bars.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            self.bars.update(task, completed=done, total=max(total, done, 1))

        return report

    def _finish_stage(self) -> None:
        """Show the stage that just ended as complete (a stage of unknown size too)."""
        if self.task is not None:
            task = next(task for task in self.bars.tasks if task.id == self.task)
            total = task.total if task.total else max(task.completed, 1)
            self.bars.update(self.task, total=total, completed=total)


class Quiet:
    """Not a terminal: no progress at all."""

    def __enter__(self) -> Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def stage(self, description: str, total: int | None = None) -> None:
        """Nothing to show."""

    def advance(self, amount: int) -> None:
        """Nothing to show."""

    def counter(self, description: str) -> Counter:
        return _unheard


def on_terminal(unit: Unit = "things", *, console: Console | None = None) -> Bars | Quiet:
    """Bars on stderr if it is a terminal (or on ``console``, when given), else :class:`Quiet`."""
    if console is not None:
        return Bars(console, unit)
    if not sys.stderr.isatty():
        return Quiet()
    from rich.console import Console

    return Bars(Console(stderr=True), unit)


def _columns(unit: Unit) -> list[ProgressColumn]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    sizes: list[ProgressColumn] = (
        [DownloadColumn()] if unit == "bytes" else [MofNCompleteColumn(), TaskProgressColumn()]
    )
    return [TextColumn("{task.description}"), BarColumn(), *sizes, TimeRemainingColumn()]


def _unheard(done: int, total: int) -> None:
    """No one is watching."""
