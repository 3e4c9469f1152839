"""Minutes import: a secretary uploads a meeting's items as CSV or a Markdown list.

The parser (``parse_minutes``) is pure and never raises: every problem is
reported against the row (the line of the file) it was found on. The import
service (``MinutesImporter``) validates every row first and commits only when
all are good, saving every item and the import record in ONE save.

Formats:

- CSV with a header row naming some of ``title, you_said, channel, themes,
  contributor, detail, raised_on, safeguarding`` (``title`` and ``you_said``
  required). Themes are separated by ``;`` (or ``,``). A blank channel takes the
  forum's default; a blank ``raised_on`` is today (UTC). ``safeguarding`` ``yes``
  flags the item as it is raised (blank or ``no``: not flagged).
- Markdown: one item per list line, ``- Title: what was said``. Headings
  (``# ...``) and blank lines are skipped; any other line is an error.

Cells are stored as the text they are: a cell such as ``=cmd`` stays text here
and is escaped by the CSV export; pages escape everything.

Idempotency: the import is recorded under an id derived from the forum and the
SHA-256 of the normalised content (BOM dropped, line ends unified, trailing
spaces and blank lines trimmed), so re-uploading the same file returns the
first answer and creates nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import Forbidden, InvalidInput
from yswd.aggregates.item import FLAGGED_AT_RAISE, Channel, Item, item_aggregate_id
from yswd.aggregates.item_views import item_view
from yswd.aggregates.minutes_import import MinutesImport, minutes_import_id
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.text_rules import refused_characters
from yswd.application.items import EARLIEST_DATE, LATEST_DATE
from yswd.application.service import Yswd

FORMATS = ("csv", "markdown")
COLUMNS = (
    "title",
    "you_said",
    "channel",
    "themes",
    "contributor",
    "detail",
    "raised_on",
    "safeguarding",
)
#: how a ``safeguarding`` cell says yes or no (blank is no)
YES = frozenset({"yes", "y", "true", "1", "x"})
NO = frozenset({"", "no", "n", "false", "0"})
REQUIRED = ("title", "you_said")
MAX_ROWS = 500
LIMITS = {"title": 200, "you_said": 4000, "detail": 4000, "contributor": 200}
MAX_THEMES = 20
MAX_THEME_LENGTH = 60
#: told ``(rows done, rows)`` as an import goes through the file
Progress = Callable[[int, int], None]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LIST_ITEM = re.compile(r"^\s*[-*+]\s+(.*)$")

DEFAULT_CHANNELS = {
    ForumKind.DEVELOPMENT_BOARD: Channel.CITIZENS_VIEW,
    ForumKind.COMMUNITY_MEETING: Channel.COMMUNITY_MEETING,
}


@dataclass
class Row:
    """One row of the file: its line number, its problems, and its values when good."""

    row: int
    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> dict[str, Any]:
        return {"row": self.row, "ok": self.ok, "errors": list(self.errors)}


def normalise(text: str) -> str:
    text = text.removeprefix("\ufeff")
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n")


def digest(fmt: str, text: str) -> str:
    return hashlib.sha256(f"{fmt}\n{normalise(text)}".encode()).hexdigest()


def _text(name: str, raw: str | None, errors: list[str], required: bool) -> str | None:
    value = (raw or "").strip()
    if not value:
        if required:
            errors.append(f"{name} is required")
        return None
    refused = refused_characters(value)
    if refused is not None:
        errors.append(f"{name} must not contain {refused}")
        return None
    if len(value) > LIMITS[name]:
        errors.append(f"{name} must be at most {LIMITS[name]} characters")
        return None
    return value


def _themes(raw: str | None, errors: list[str]) -> list[str]:
    value = (raw or "").strip()
    if not value:
        return []
    parts = [part.strip() for part in re.split(r"[;,]", value) if part.strip()]
    themes = list(dict.fromkeys(parts))
    if len(themes) > MAX_THEMES:
        errors.append(f"at most {MAX_THEMES} themes")
    for theme in themes:
        if len(theme) > MAX_THEME_LENGTH or refused_characters(theme) is not None:
            errors.append(f"theme '{theme[:20]}' is too long or has characters it may not have")
            break
    return themes


def _raised_on(raw: str | None, today: date, errors: list[str]) -> date:
    value = (raw or "").strip()
    if not value:
        return today
    if not _ISO_DATE.match(value):
        errors.append("raised_on must be a date written YYYY-MM-DD")
        return today
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.append("raised_on is not a real date")
        return today
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        errors.append(f"raised_on must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return day


def _channel(raw: str | None, default: Channel, errors: list[str]) -> Channel:
    value = (raw or "").strip().lower()
    if not value:
        return default
    try:
        return Channel(value)
    except ValueError:
        errors.append(f"channel must be one of {', '.join(c.value for c in Channel)}")
        return default


def _flag(raw: str | None, errors: list[str]) -> bool:
    value = (raw or "").strip().lower()
    if value in YES:
        return True
    if value not in NO:
        errors.append("safeguarding must be yes or no (or left empty)")
    return False


def _validate(number: int, cells: dict[str, str | None], today: date, channel: Channel) -> Row:
    row = Row(number)
    errors = row.errors
    values = {
        "title": _text("title", cells.get("title"), errors, True),
        "you_said": _text("you_said", cells.get("you_said"), errors, True),
        "detail": _text("detail", cells.get("detail"), errors, False),
        "contributor": _text("contributor", cells.get("contributor"), errors, False),
        "themes": _themes(cells.get("themes"), errors),
        "raised_on": _raised_on(cells.get("raised_on"), today, errors),
        "channel": _channel(cells.get("channel"), channel, errors),
        "safeguarding": _flag(cells.get("safeguarding"), errors),
    }
    if not errors:
        row.values = values
    return row


def _parse_csv(text: str, today: date, channel: Channel) -> list[Row]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            return [Row(1, ["the file is empty"])]
        names = [name.strip().lower().replace(" ", "_") for name in header]
        problems = [f"unknown column '{name[:40]}'" for name in names if name not in COLUMNS]
        problems += [f"missing column '{name}'" for name in REQUIRED if name not in names]
        if len(set(names)) != len(names):
            problems.append("a column is named twice")
        if problems:
            return [Row(1, problems)]
        rows: list[Row] = []
        for cells in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                rows.append(Row(number, [f"at most {MAX_ROWS} rows per import"]))
                break
            if len(cells) > len(names):
                rows.append(Row(number, [f"{len(cells)} cells but {len(names)} columns"]))
                continue
            rows.append(_validate(number, dict(zip(names, cells, strict=False)), today, channel))
        return rows
    except csv.Error as error:
        return [Row(reader.line_num or 1, [f"this is not valid CSV: {error}"])]


def _parse_markdown(text: str, today: date, channel: Channel) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(rows) >= MAX_ROWS:
            rows.append(Row(number, [f"at most {MAX_ROWS} rows per import"]))
            break
        found = _LIST_ITEM.match(line)
        if found is None:
            rows.append(Row(number, ["not a list item: write '- Title: what was said'"]))
            continue
        title, colon, you_said = found.group(1).partition(":")
        if not colon:
            rows.append(Row(number, ["no ':' between the title and what was said"]))
            continue
        rows.append(_validate(number, {"title": title, "you_said": you_said}, today, channel))
    return rows


def parse_minutes(text: str, fmt: str, today: date, channel: Channel = Channel.FORUM) -> list[Row]:
    """Every row of ``text`` with its errors (never raises). No rows at all is one error."""
    if fmt not in FORMATS:
        return [Row(1, [f"format must be one of {', '.join(FORMATS)}"])]
    content = normalise(text)
    rows = (_parse_csv if fmt == "csv" else _parse_markdown)(content, today, channel)
    if not rows:
        return [Row(1, ["no items found"])]
    return rows


@dataclass(frozen=True)
class ImportAnswer:
    """What an import answered: status code, body, log position, and whether replayed."""

    status_code: int
    body: dict[str, Any]
    position: int | None = None
    replayed: bool = False


class MinutesImporter:
    """Validates and commits a minutes file for one forum, atomically and idempotently."""

    def __init__(self, app: Yswd) -> None:
        self.app = app
        self.uow = app.uow

    def run(
        self,
        actor: Principal,
        forum_id: str,
        text: str,
        fmt: str,
        *,
        dry_run: bool,
        progress: Progress | None = None,
    ) -> ImportAnswer:
        """Check every row, then save them all as items in one write, or none of them.

        ``progress`` hears how many rows are done (for a console).
        """
        report = progress or _unheard
        actor.require(Action.RAISE)
        forum = self.app.forum(forum_id)
        if not actor.covers(self.app.unit(forum.unit_id).path):
            raise Forbidden(f"Forum '{forum_id}' is outside your scope.")
        if fmt not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
        key = digest(fmt, text)
        if not dry_run:
            earlier = self._earlier(forum_id, key)
            if earlier is not None:
                return earlier
        now = self.uow.clock()
        channel = DEFAULT_CHANNELS.get(forum.kind, Channel.FORUM)
        rows = parse_minutes(text, fmt, now.astimezone(UTC).date(), channel)
        reports = [row.report() for row in rows]
        report(0, len(rows))
        if not all(row.ok for row in rows):
            bad = sum(1 for row in rows if not row.ok)
            body = {
                "detail": f"{bad} row(s) have errors; nothing was imported.",
                "rows": reports,
                "committed": False,
                "items": [],
            }
            report(len(rows), len(rows))
            return ImportAnswer(422, body)
        if dry_run:
            previews = [_preview(row.values) for row in rows if row.values is not None]
            report(len(rows), len(rows))
            return ImportAnswer(200, {"rows": reports, "committed": False, "items": previews})
        if any(row.values and row.values["safeguarding"] for row in rows):
            actor.require(Action.FLAG_SAFEGUARDING)
        new_items = []
        for done, row in enumerate(rows, start=1):
            if row.values is None:
                continue
            values = dict(row.values)
            flagged = values.pop("safeguarding")
            item = Item.raise_item(
                self.uow.ids(),
                forum_id=forum_id,
                unit_id=forum.unit_id,
                actor=actor.user_id,
                now=now,
                **values,
            )
            if flagged:  # flagged in the same write: never a moment in the ordinary queue
                item.flag_safeguarding(
                    FLAGGED_AT_RAISE, self.app.items.ack_due_at(now), actor.user_id, now
                )
            new_items.append(item)
            report(done, len(rows))
        record = MinutesImport.record(
            forum_id,
            key,
            [item.item_id for item in new_items],
            [row.row for row in rows],
            actor.user_id,
            now,
        )
        try:
            position = self.uow.save(record, *new_items)
        except IntegrityError:
            earlier = self._earlier(forum_id, key)  # the same file, committed by a racing upload
            if earlier is not None:
                return earlier
            raise
        body = {
            "rows": reports,
            "committed": True,
            "items": [item_view(item) for item in new_items],
        }
        return ImportAnswer(201, body, position)

    def _earlier(self, forum_id: str, key: str) -> ImportAnswer | None:
        """The first answer to this file for this forum, if it was committed before."""
        try:
            record: MinutesImport = self.app.repository.get(minutes_import_id(forum_id, key))
        except AggregateNotFoundError:
            return None
        first = [
            item_view(self.app.repository.get(item_aggregate_id(item_id), version=1))
            for item_id in record.item_ids
        ]
        rows = [{"row": n, "ok": True, "errors": []} for n in record.rows]
        body = {"rows": rows, "committed": True, "items": first}
        return ImportAnswer(201, body, None, replayed=True)


def _unheard(done: int, total: int) -> None:
    """No one is listening to this import's progress."""


def _preview(values: dict[str, Any]) -> dict[str, Any]:
    return {
        **values,
        "channel": values["channel"].value,
        "raised_on": values["raised_on"].isoformat(),
    }
