"""One item: its page, and the forms that move it on (refer, respond, complete, ...).

A form's "Check wording" and "Use template" buttons show the form again,
filled in, and save nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    StaffSession,
    after_write,
    container_of,
    date_text,
    optional,
    parse_date,
    refused,
    text,
)
from yswd.adapters.http.pages.item_page import (
    FORM_DONE,
    FRIENDLY_CONFLICT,
    ITEM_FORMS,
    PUBLIC_FIELDS,
    TEMPLATE_FIELDS,
    audit_timeline,
    item_page,
    templates_for,
)
from yswd.adapters.http.pages.moderation import PUBLISHED_COOKIE, moderation_page
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.erasure import ERASED
from yswd.aggregates.errors import DomainError, Forbidden, NotFound, VersionConflict
from yswd.aggregates.item import Item
from yswd.aggregates.plain_english import WordingWarning, check_fields, load_glossary
from yswd.application.unit_of_work import Written

router = APIRouter(prefix="/staff", include_in_schema=False)


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_detail(
    request: Request,
    item_id: str,
    session: StaffSession,
    container: ContainerDep,
    done: str | None = None,
    as_of: str | None = None,
    action: str | None = None,
) -> Response:
    principal = session.principal
    try:
        item = container.app.get_item(principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    labels = {label for _, label in ITEM_FORMS.values()} | {FORM_DONE["repeat"], "Clip"}
    notice = f"{done} saved." if done in labels else None
    if done == "Publish":
        notice = "Published."
    if not principal.may(Action.AUDIT):
        return item_page(request, session, item, notice=notice, open_action=action)
    try:
        timeline, past = audit_timeline(container, principal, item_id, as_of)
    except DomainError as error:
        return item_page(
            request,
            session,
            item,
            errors=[FieldError("as_of", error.message)],
            values={"as_of": as_of or ""},
            as_of=as_of,
            status_code=status_for(error),
        )
    return item_page(
        request,
        session,
        item,
        notice=notice,
        timeline=timeline,
        as_of=as_of,
        past_view=past,
        open_action=action,
    )


# registered after the clip routes: it would take /items/{item_id}/clips
@router.post("/items/{item_id}/{command}", response_class=HTMLResponse)
def item_command(
    request: Request,
    item_id: str,
    command: str,
    session: StaffSession,
    form: FormData,
    container: ContainerDep,
) -> Response:
    principal = session.principal
    try:
        item = container.app.get_item(principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    back = text(form, "back")
    if text(form, "intent") == "check" and command in PUBLIC_FIELDS:
        needed = Action.PUBLISH if command == "publish" else ITEM_FORMS[command][0]
        if not principal.may(needed):
            return refused(
                request, session, Forbidden(f"A {principal.role.value} may not {needed.value}.")
            )
        return wording_checked(request, session, item, command, form, back)
    if text(form, "intent") == "template" and command in TEMPLATE_FIELDS:
        return template_filled(request, session, item, command, form)
    call, errors = command_for(container, principal, item_id, command, form)
    if call is None:
        return refused(request, session, NotFound("There is no such form."))
    if not errors:
        try:
            written = call()
        except VersionConflict:
            errors = [FieldError(f"{command}-version", FRIENDLY_CONFLICT)]
        except Forbidden as error:
            return refused(request, session, error)
        except DomainError as error:
            errors = [FieldError(f"{command}-error", error.message)]
        else:
            after_write(container, written)
            label = FORM_DONE.get(command) or ITEM_FORMS[command][1]
            if back == "moderation":
                moved = RedirectResponse("/staff/moderation?published=1", status_code=303)
                # which board to link to afterwards, for the next page only
                moved.set_cookie(
                    PUBLISHED_COOKIE,
                    item_id,
                    max_age=120,
                    path="/staff/moderation",
                    httponly=True,
                    samesite="strict",
                    secure=request.url.scheme == "https",
                )
                return moved
            return RedirectResponse(
                f"/staff/items/{quote(item_id, safe='')}?done={quote(label)}", status_code=303
            )
        item = container.app.get_item(principal, item_id)
    if back == "moderation" and command == "publish":
        return moderation_page(request, session, errors, item_id, form, status_code=422)
    status = 409 if any(e.message == FRIENDLY_CONFLICT for e in errors) else 422
    return item_page(
        request,
        session,
        item,
        errors=errors,
        failed_form=command,
        values=form,
        status_code=status,
    )


def command_for(
    container: Container, principal: Principal, item_id: str, command: str, form: dict[str, str]
) -> tuple[Callable[[], Written[Item]] | None, list[FieldError]]:
    """The application call a form asks for, or the reasons it cannot be made."""
    version_raw = text(form, "version")
    version = int(version_raw) if version_raw.isdigit() else None
    app = container.app
    errors: list[FieldError] = []

    def need(key: str, message: str) -> str:
        value = text(form, key)
        if not value:
            errors.append(FieldError(f"{command}-{key}", message))
        return value

    if command == "publish":
        wording = need("you_said", "Enter the public wording")
        return (lambda: app.publish(principal, item_id, wording, version)), errors
    if command == "refer":
        to_forum = optional(form, "to_forum_id")
        unit = optional(form, "to_unit_id")
        if unit is None and to_forum is None:
            errors.append(
                FieldError("refer-to_unit_id", "Choose the unit to refer it to, or a forum")
            )
        due_raw = date_text(form, "due_on")
        due = parse_date(due_raw) if due_raw else None
        if due_raw and due is None:
            errors.append(FieldError("refer-due_on", "Enter the due date, for example 2026-12-01"))
        note = optional(form, "note")
        return (
            lambda: app.refer(principal, item_id, unit, due, note, version, to_forum_id=to_forum)
        ), errors
    if command == "respond":
        response = need("response", "Enter the response")
        return (lambda: app.respond(principal, item_id, response, version)), errors
    if command == "progress":
        note = need("note", "Enter the progress note")
        kind = text(form, "kind") or "progress"
        if kind not in ("progress", "lack_of_progress"):
            errors.append(FieldError("progress-kind", "Choose what kind of note this is"))
        return (lambda: app.note_progress(principal, item_id, note, version, kind)), errors
    if command == "repeat":
        original = need("original_id", "Choose the item this one repeats")
        return (lambda: app.link_repeat(principal, item_id, original, version)), errors
    if command == "complete":
        we_did = need("we_did", "Enter what we did")
        return (lambda: app.complete(principal, item_id, we_did, version)), errors
    if command == "decline":
        because = need("because", "Enter why we could not do it")
        instead = optional(form, "instead")
        return (lambda: app.decline(principal, item_id, because, instead, version)), errors
    if command == "verify":
        answer = text(form, "confirmed")
        if answer not in ("yes", "no"):
            errors.append(FieldError("verify-confirmed", "Choose whether the change happened"))
        note = optional(form, "note")
        return (lambda: app.verify(principal, item_id, answer == "yes", note, version)), errors
    if command == "reopen":
        reason = need("reason", "Enter why the item is reopened")
        return (lambda: app.reopen(principal, item_id, reason, version)), errors
    return None, errors


def template_filled(
    request: Request, session: Session, item: Item, command: str, form: dict[str, str]
) -> HTMLResponse:
    """The form again with the chosen template's text in its box. Nothing is saved."""
    container = container_of(request)
    principal = session.principal
    action = ITEM_FORMS[command][0]
    if not principal.may(action):
        return refused(
            request, session, Forbidden(f"A {principal.role.value} may not {action.value}.")
        )
    field = TEMPLATE_FIELDS[command][1]
    chosen = text(form, "template_id")
    offered = templates_for(container, principal, item, [command]).get(command, [])
    match = next((entry for entry in offered if entry["id"] == chosen), None)
    values = dict(form)
    if match is None:
        error = FieldError(f"{command}-template_id", "Choose a template from the list")
        return item_page(
            request,
            session,
            item,
            errors=[error],
            failed_form=command,
            values=values,
            status_code=422,
        )
    values[field] = match["text"]
    return item_page(
        request,
        session,
        item,
        failed_form=command,
        values=values,
        notice=f"Template \u201c{match['title']}\u201d copied in. "
        "Check and change it, then send the form: nothing is saved yet.",
    )


def wording_checked(
    request: Request,
    session: Session,
    item: Item,
    command: str,
    form: dict[str, str],
    back: str,
) -> HTMLResponse:
    """The form again, with what was typed and the plain-English warnings about it.

    Nothing is saved. The warnings are advice: the person still decides.
    """
    on_queue = command == "publish" and back == "moderation"

    def field_id(name: str) -> str:
        return f"you_said-{item.item_id}" if on_queue else f"{command}-{name}"

    texts = {name: text(form, name) for name in PUBLIC_FIELDS[command]}
    errors: list[FieldError] = []
    found: list[dict[str, Any]] = []
    if not any(texts.values()):
        first = PUBLIC_FIELDS[command][0]
        errors.append(FieldError(f"{command}-{first}", "Enter the text you want to check"))
    else:
        found = [
            {**w.as_dict(), "field_id": field_id(w.field)}
            for w in wording_warnings(container_of(request), item, texts)
        ]
    status_code = 422 if errors else 200
    if on_queue:
        return moderation_page(
            request,
            session,
            errors,
            item.item_id,
            form,
            wording=found,
            checked=item.item_id,
            status_code=status_code,
        )
    return item_page(
        request,
        session,
        item,
        errors=errors,
        failed_form=command,
        values=form,
        wording=found,
        checked=command,
        status_code=status_code,
    )


def wording_warnings(
    container: Container, item: Item, texts: dict[str, str]
) -> list[WordingWarning]:
    """The plain-English check of the texts, which knows the contributor's name."""
    contributor = item.contributor if item.contributor != ERASED else None
    return check_fields(
        texts,
        contributor=contributor,
        glossary=load_glossary(container.settings.glossary_file),
        today=container.today(),
    )
