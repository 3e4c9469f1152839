"""The meeting log: a secretary enters a meeting's items in one form.

Rows that save leave the form; rows that fail stay in it, with their errors.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.labels import CHANNEL_LABELS
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    after_write,
    allowed,
    container_of,
    date_text,
    parse_date,
    render,
    text,
)
from yswd.adapters.http.pages.scope import forums_in_scope
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import DomainError
from yswd.aggregates.item import Channel

router = APIRouter(prefix="/staff", include_in_schema=False)

#: how many item rows the meeting log offers at once
MEETING_ROWS = 5

Secretary = Annotated[Session, Depends(allowed(Action.RAISE, "Your role cannot log meetings."))]


def empty_rows() -> list[dict[str, str]]:
    return [row_values({}, n) for n in range(1, MEETING_ROWS + 1)]


def row_values(form: dict[str, str], n: int) -> dict[str, str]:
    return {
        "n": str(n),
        "title": text(form, f"title_{n}"),
        "you_said": text(form, f"you_said_{n}"),
        "channel": text(form, f"channel_{n}") or Channel.COMMUNITY_MEETING.value,
        "themes": text(form, f"themes_{n}"),
        # the vocabulary's checkboxes ticked in this row, one theme a line
        "chosen": "\n".join(
            value.strip()
            for key, value in form.items()
            if key.startswith(f"theme_{n}_") and value.strip()
        ),
        "contributor": text(form, f"contributor_{n}"),
        "detail": text(form, f"detail_{n}"),
        # a possible safeguarding concern: the item is flagged as it is raised
        "safeguarding": "yes" if text(form, f"safeguarding_{n}") else "",
    }


def row_is_empty(row: dict[str, str]) -> bool:
    return not any(
        row[key] for key in ("title", "you_said", "themes", "chosen", "contributor", "detail")
    )


def meeting_page(
    request: Request,
    session: Session,
    *,
    forum_id: str,
    meeting_date: str,
    rows: list[dict[str, str]],
    errors: list[FieldError],
    saved: list[dict[str, Any]],
    status_code: int = 200,
) -> HTMLResponse:
    container = container_of(request)
    forums = forums_in_scope(container, session.principal)
    if not forum_id and len(forums) == 1:
        forum_id = forums[0]["id"]
    return render(
        request,
        "meeting.html",
        {
            "forums": forums,
            "forum_id": forum_id,
            "meeting_date": meeting_date,
            "rows": rows,
            "errors": errors,
            "saved": saved,
            "channels": [(c.value, CHANNEL_LABELS[c]) for c in Channel],
            "theme_choices": theme_choices(container, forums),
        },
        session,
        status_code=status_code,
    )


def theme_choices(container: Container, forums: list[dict[str, Any]]) -> list[str]:
    """The themes offered: the vocabularies of the regions of the forums in scope."""
    regions = dict.fromkeys(container.themes.region_of(forum["unit_id"]) for forum in forums)
    offered: dict[str, str] = {}
    for region_id in regions:
        for theme in container.themes.for_unit(region_id)["themes"]:
            offered.setdefault(theme.casefold(), theme)
    return list(offered.values())


def meeting_errors(
    container: Container,
    principal: Principal,
    forum_id: str,
    meeting_date: date | None,
    filled: list[dict[str, str]],
) -> list[FieldError]:
    """What is wrong with the form as a whole and with each filled row."""
    errors: list[FieldError] = []
    if not forum_id:
        errors.append(FieldError("forum_id", "Choose the forum the meeting was for"))
    else:
        try:
            forum = container.app.forum(forum_id)
            if not principal.covers(container.app.unit(forum.unit_id).path):
                errors.append(FieldError("forum_id", f"Forum '{forum_id}' is outside your scope"))
        except DomainError as error:
            errors.append(FieldError("forum_id", error.message))
    if meeting_date is None:
        errors.append(
            FieldError(
                "meeting_date",
                "Enter the meeting date as day, month and year, for example 2 11 2026",
            )
        )
    if not filled:
        errors.append(FieldError("title_1", "Enter at least one item"))
    for row in filled:
        n = row["n"]
        if not row["title"]:
            errors.append(FieldError(f"title_{n}", f"Item {n}: enter a title"))
        if not row["you_said"]:
            errors.append(FieldError(f"you_said_{n}", f"Item {n}: enter what people said"))
        if row["channel"] not in {c.value for c in Channel}:
            errors.append(FieldError(f"channel_{n}", f"Item {n}: choose a channel from the list"))
    return errors


def raise_rows(
    container: Container,
    principal: Principal,
    forum_id: str,
    meeting_date: date,
    filled: list[dict[str, str]],
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[FieldError]]:
    """Raises an item for each row: what was saved, the rows left over, and why."""
    saved: list[dict[str, Any]] = []
    left: list[dict[str, str]] = []
    errors: list[FieldError] = []
    for row in filled:
        typed = [theme.strip() for theme in row["themes"].split(",") if theme.strip()]
        # ticked from the region's vocabulary first, then typed; each theme once
        themes = list(dict.fromkeys([*row["chosen"].splitlines(), *typed]))
        try:
            written = container.app.raise_item(
                principal,
                forum_id=forum_id,
                channel=Channel(row["channel"]),
                raised_on=meeting_date,
                title=row["title"],
                you_said=row["you_said"],
                detail=row["detail"] or None,
                contributor=row["contributor"] or None,
                themes=themes,
                safeguarding=bool(row["safeguarding"]),
            )
        except DomainError as error:
            errors.append(FieldError(f"title_{row['n']}", f"Item {row['n']}: {error.message}"))
            left.append(row)
            continue
        after_write(container, written)
        saved.append(
            {
                "id": written.value.item_id,
                "title": written.value.title,
                "flagged": written.value.safeguarding is not None,
            }
        )
    return saved, left, errors


@router.get("/meetings/new", response_class=HTMLResponse)
def meeting_form(
    request: Request, session: Secretary, container: ContainerDep, forum: str | None = None
) -> Response:
    return meeting_page(
        request,
        session,
        forum_id=forum or "",
        meeting_date=container.today().isoformat(),
        rows=empty_rows(),
        errors=[],
        saved=[],
    )


@router.post("/meetings/new", response_class=HTMLResponse)
def log_meeting(
    request: Request, session: Secretary, form: FormData, container: ContainerDep
) -> Response:
    forum_id = text(form, "forum_id")
    raw_date = date_text(form, "meeting_date")
    rows = [row_values(form, n) for n in range(1, MEETING_ROWS + 1)]
    filled = [row for row in rows if not row_is_empty(row)]
    meeting_date = parse_date(raw_date)
    errors = meeting_errors(container, session.principal, forum_id, meeting_date, filled)
    if errors or meeting_date is None:
        return meeting_page(
            request,
            session,
            forum_id=forum_id,
            meeting_date=raw_date,
            rows=rows,
            errors=errors,
            saved=[],
            status_code=422,
        )
    saved, left, errors = raise_rows(container, session.principal, forum_id, meeting_date, filled)
    if errors:
        # the rows that were saved are gone from the form; the others stay to be fixed
        return meeting_page(
            request,
            session,
            forum_id=forum_id,
            meeting_date=raw_date,
            rows=left + [row_values({}, n) for n in range(len(left) + 1, MEETING_ROWS + 1)],
            errors=errors,
            saved=saved,
            status_code=422,
        )
    return RedirectResponse(
        f"/staff/forums/{quote(forum_id, safe='')}?logged={len(saved)}", status_code=303
    )
