"""The item page as staff see it, actions first: a short summary, "What do you want to do?"
with only the actions this role may take now, each folded until it is chosen (so the page
stays short and works without JavaScript), then (folded) the history in plain words with
names, the clips and similar items. Auditors also see every event's seal.

The item routes and the clip routes both show it again after a form fails.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from yswd.adapters.container import Container
from yswd.adapters.http.labels import event_label
from yswd.adapters.http.pages.common import FieldError, container_of, render
from yswd.adapters.http.pages.item_history import Names, describe, plain_history
from yswd.adapters.http.pages.scope import flat_units
from yswd.adapters.http.sessions import Session
from yswd.adapters.http.templating import uk_datetime
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.clip import Consent
from yswd.aggregates.errors import DomainError
from yswd.aggregates.item import Item, Status
from yswd.aggregates.item_views import item_view, shown_to
from yswd.aggregates.response_template import TemplateKind
from yswd.application.audit import parse_instant
from yswd.projections.organisation import unit_tree
from yswd.projections.similarity import similar_items
from yswd.projections.staff_directory import list_forums

#: the item forms: command name -> (the action it needs, button text)
ITEM_FORMS: dict[str, tuple[Action, str]] = {
    "refer": (Action.REFER, "Refer"),
    "respond": (Action.RESPOND, "Post response"),
    "progress": (Action.PROGRESS, "Add progress"),
    "complete": (Action.COMPLETE, "Mark as done"),
    "decline": (Action.DECLINE, "Mark as could not do"),
    "verify": (Action.VERIFY, "Record check"),
    "reopen": (Action.REOPEN, "Reopen"),
}

#: the item page's folded actions that ``?action=...`` may open: the item forms, the
#: break-glass reveal and the safeguarding flag
STEPS = frozenset(ITEM_FORMS) | {"reveal", "safeguarding"}

#: what the notice says after the forms that are not in ITEM_FORMS
FORM_DONE = {"publish": "Publish", "repeat": "Repeat link"}

#: the texts each form makes public: the "Check wording" button checks these
PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "publish": ("you_said",),
    "respond": ("response",),
    "complete": ("we_did",),
    "decline": ("because", "instead"),
}

#: the forms that may start from a response template: command -> (kind, field it fills)
TEMPLATE_FIELDS: dict[str, tuple[TemplateKind, str]] = {
    "respond": (TemplateKind.RESPONSE, "response"),
    "complete": (TemplateKind.WE_DID, "we_did"),
    "decline": (TemplateKind.BECAUSE, "because"),
}

CONSENT_LABELS = {
    Consent.INTERNAL_ONLY.value: "Staff only",
    Consent.MAY_PUBLISH.value: "May be published",
    Consent.WITHDRAWN.value: "Withdrawn: recording deleted",
}

FRIENDLY_CONFLICT = (
    "Someone else changed this item while you were looking at it. "
    "The page now shows the latest version: check it and try again."
)


def item_page(
    request: Request,
    session: Session,
    item: Item,
    *,
    errors: list[FieldError] | None = None,
    failed_form: str | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    timeline: list[dict[str, Any]] | None = None,
    as_of: str | None = None,
    past_view: dict[str, Any] | None = None,
    wording: list[dict[str, Any]] | None = None,
    checked: str | None = None,
    status_code: int = 200,
    revealed: str | None = None,
    open_action: str | None = None,
) -> HTMLResponse:
    """The page; ``open_action`` (from ``?action=respond``) unfolds that one action's form."""
    container = container_of(request)
    principal = session.principal
    view = shown_to(principal, past_view or item_view(item))
    forms = [] if past_view else available_forms(principal, item.status)
    names = Names(container)
    unit_name = names.unit(item.unit_id)
    may_link = not past_view and principal.may(Action.PROGRESS)
    similar: list[dict[str, Any]] = []
    if may_link and item.repeat_of is None and not item.repeats:
        similar = similar_items(
            container.engine, container.staff_items, principal, item, container.today()
        )
        for candidate in similar:
            candidate["words"] = score_words(candidate["score"])
    return render(
        request,
        "item.html",
        {
            "item": view,
            "unit_name": unit_name,
            "forum_name": names.forum(item.forum_id),
            "referred_to_name": names.unit(item.referred_to),
            "referred_to_forum_name": names.forum(item.referred_to_forum),
            "history": [] if timeline else plain_history(container, item),
            # referral may go to any unit: the whole tree, in reading order
            "all_units": flat_units(unit_tree(container.engine)) if "refer" in forms else [],
            "forms": forms,
            "form_labels": {command: label for command, (_, label) in ITEM_FORMS.items()},
            "errors": errors or [],
            "failed_form": failed_form,
            "open_action": open_action if open_action in STEPS else None,
            "values": values or {},
            "notice": notice,
            "target_on": item.target_on(container.app.target_days).isoformat(),
            "overdue": item.is_open and item.first_response_at is None
            and item.target_on(container.app.target_days) < container.today(),
            "public_fields": PUBLIC_FIELDS,
            "wording_warnings": wording or [],
            "checked": checked,
            "timeline": timeline,
            "as_of": as_of,
            "may_audit": principal.may(Action.AUDIT),
            "similar": similar,
            "may_link": may_link,
            "repeat_titles": repeat_titles(container, principal, item),
            "forums": list_forums(container.engine) if "refer" in forms else [],
            "clips": staff_clips(container, principal, item) if not past_view else [],
            "may_attach": principal.may(Action.ATTACH_CLIPS) and not past_view,
            "may_publish": principal.may(Action.PUBLISH),
            # safe to speak: the break-glass reveal, and flagging a safeguarding concern
            "may_reveal": not past_view
            and principal.may(Action.REVEAL_CONTRIBUTOR)
            and bool(view.get("contributor_held")),
            "revealed": revealed,
            "may_flag": not past_view
            and principal.may(Action.FLAG_SAFEGUARDING)
            and item.safeguarding is None,
            "consent_labels": CONSENT_LABELS,
            "templates_for": templates_for(container, principal, item, forms),
        },
        session,
        status_code=status_code,
    )


def available_forms(principal: Principal, status: Status) -> list[str]:
    return [
        command
        for command, (action, _) in ITEM_FORMS.items()
        if principal.may(action) and Item.allows(command, status)
    ]


def score_words(score: float) -> str:
    """A similarity score (0..1) in words, for people who do not read decimals."""
    if score >= 0.8:
        return "Very close match"
    if score >= 0.5:
        return "Close match"
    if score >= 0.3:
        return "Some words in common"
    return "Weak match"


def repeat_titles(container: Container, principal: Principal, item: Item) -> dict[str, str]:
    """The titles of the items this one is linked with (ids only when out of scope)."""
    titles: dict[str, str] = {}
    linked = [entry["item_id"] for entry in item.repeats]
    if item.repeat_of:
        linked.append(item.repeat_of)
    for item_id in linked:
        # only the title is shown, so no read of personal fields is recorded
        try:
            other = container.app.load_item(item_id)
            shown = container.app.item_in_scope(principal, other)
        except DomainError:
            shown = False
        titles[item_id] = other.title if shown else item_id
    return titles


def staff_clips(container: Container, principal: Principal, item: Item) -> list[dict[str, Any]]:
    """The item's clips as the staff page shows them, with a media link that takes cookies."""
    if container.clips is None:
        return []
    try:
        clips = container.clips.clips_of_item(principal, item.item_id)
    except DomainError:
        return []
    shown = []
    for clip in clips:
        shown.append(
            {
                "id": clip.clip_id,
                "media_type": clip.media_type,
                "is_video": clip.media_type.startswith("video/"),
                "size_kb": max(1, round(clip.size / 1024)),
                "consent": clip.consent.value,
                "has_media": clip.has_media,
                "media_url": f"/staff/clips/{quote(clip.clip_id, safe='')}/media",
                "transcript": clip.transcript,
                "transcript_published": clip.transcript_published,
                "version": clip.version,
                "created_at": uk_datetime(clip.created_on),
            }
        )
    return shown


def templates_for(
    container: Container, principal: Principal, item: Item, forms: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each form that may start from a template, the templates of the item's unit."""
    found: dict[str, list[dict[str, Any]]] = {}
    unit_id = item.referred_to or item.unit_id
    for command, (kind, _) in TEMPLATE_FIELDS.items():
        if command not in forms:
            continue
        try:
            found[command] = container.templates.for_unit(principal, unit_id, kind)
        except DomainError:
            try:  # referred out of the user's scope: their own unit's wording still helps
                found[command] = container.templates.for_unit(principal, item.unit_id, kind)
            except DomainError:
                found[command] = []
    return found


def event_summary(data: dict[str, Any]) -> str:
    """An event's fields in plain words, for the auditor's timeline."""
    parts = []
    for key, value in data.items():
        if value is None or value == [] or value == "":
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def audit_timeline(
    container: Container, principal: Principal, item_id: str, as_of_raw: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every event with actor and time (up to ``as_of``), and the item's state then."""
    as_of = parse_instant(as_of_raw)
    history = container.audit.history(principal, item_id, as_of)
    names = Names(container)
    timeline = [
        {
            "label": event_label(event["type"]),
            **describe(event["type"], event["data"], names.user(event["actor"]), names),
            "at": event["recorded_at"][:19].replace("T", " ") + " UTC",
            "actor": f"{names.user(event['actor'])} ({event['actor']})",
            "data": event_summary(event["data"]),
            "version": event["version"],
            "hash": event["hash"],
        }
        for event in history["events"]
    ]
    return timeline, history["state"] if as_of is not None else None
