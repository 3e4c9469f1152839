"""The item's fold on plain stored states: the staff view built straight from the log.

A rebuild reads every stored event once. Folding each through the domain
(decode into an event object, ``mutate`` an ``Item``, then ``item_view`` to turn
its dates back into text) cost two thirds of a rebuild. Here the state of an
item IS its staff view (``yswd.aggregates.item_views.item_view``): the same
keys in the same order, dates and instants as the ISO text they were stored
as, so a stored ``{"_type_": "datetime_iso", "_data_": "..."}`` is taken as its
text and nothing is parsed. Each handler below does to the view what the
event's ``apply`` does to the item (``yswd.aggregates.item``), plus what
``mutate`` does (``version``; ``updated_at`` unless the event is quiet).

This is a second implementation of the item's rules, so it is kept equal to
the domain's by tests: ``tests/unit/test_item_fold.py`` folds random
histories both ways (hypothesis) and compares the rows, and
``tests/integration/test_projection_rebuild.py`` compares a rebuild with the
incremental read models row for row. A change to an event's ``apply`` must
change its handler here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from yswd.aggregates.item import Item, Status
from yswd.aggregates.topics import EVENTS

View = dict[str, Any]
State = dict[str, Any]

#: the view keys that ``item_view`` adds after ``updated_at``, in its order
_TAIL = ("safeguarding", "restricted", "reveals")
#: the statuses as the view shows them (an enum's ``.value`` is a lookup per use)
_RAISED, _REFERRED, _RESPONDED = Status.RAISED.value, Status.REFERRED.value, Status.RESPONDED.value
_DONE, _COULDNT_DO = Status.DONE.value, Status.COULDNT_DO.value


def text(value: Any) -> Any:
    """A stored date or instant as its ISO text (the transcoder's ``_data_``)."""
    if type(value) is dict:
        return value["_data_"]
    return value


def item_id_of(originator_id: str) -> str:
    return originator_id.removeprefix("item:")


#: a new item's view: every key in ``item_view``'s order, with the values that no
#: ``Raised`` changes; ``raised`` copies it and fills in the rest (CPython builds a
#: 31-key dict literal one key at a time, 3 us; a copy and 17 stores take 0.7 us)
_NEW_VIEW: View = {
    "id": None,
    "forum_id": None,
    "unit_id": None,
    "channel": None,
    "raised_on": None,
    "title": None,
    "you_said": None,
    "original_you_said": None,
    "detail": None,
    "contributor": None,
    "themes": None,
    "status": _RAISED,
    "version": None,
    "published": False,
    "referred_to": None,
    "referred_to_forum": None,
    "repeat_of": None,
    "repeats": None,
    "times_raised": 1,
    "due_on": None,
    "responses": None,
    "progress": None,
    "referrals": None,
    "we_did": None,
    "because": None,
    "instead": None,
    "verified": False,
    "first_response_at": None,
    "closed_at": None,
    "created_at": None,
    "updated_at": None,
}


def raised(originator_id: str, state: State, version: int) -> View:
    """The view of a new item, keys in ``item_view``'s order."""
    at = state["timestamp"]
    if type(at) is dict:  # ``text``, inline: this runs once per item of a rebuild
        at = at["_data_"]
    raised_on = state["raised_on"]
    if type(raised_on) is dict:
        raised_on = raised_on["_data_"]
    view = _NEW_VIEW.copy()
    view["id"] = originator_id.removeprefix("item:")
    view["forum_id"] = state["forum_id"]
    view["unit_id"] = state["unit_id"]
    view["channel"] = state["channel"]
    view["raised_on"] = raised_on
    view["title"] = state["title"]
    view["you_said"] = view["original_you_said"] = state["you_said"]
    view["detail"] = state.get("detail")
    view["contributor"] = state.get("contributor")
    view["themes"] = list(state["themes"])
    view["version"] = version
    view["repeats"] = []
    view["responses"] = []
    view["progress"] = []
    view["referrals"] = []
    view["created_at"] = view["updated_at"] = at
    return view


# -- the events after Raised: each changes the view in place ------------------------


def _published(view: View, state: State, at: str) -> None:
    view["you_said"] = state["you_said"]
    view["published"] = True


def _referred(view: View, state: State, at: str) -> None:
    if view["referred_to"] is not None and view["referrals"]:
        from_unit, from_forum = view["referred_to"], view["referred_to_forum"]
    else:
        from_unit, from_forum = view["unit_id"], view["forum_id"]
    due_on = text(state.get("due_on"))
    to_forum = state.get("to_forum_id")  # version 1 had none (``upcast_v1_v2``)
    view["status"] = _REFERRED
    view["referred_to"] = state["to_unit_id"]
    view["referred_to_forum"] = to_forum
    view["due_on"] = due_on
    view["referrals"].append(
        {
            "to_unit_id": state["to_unit_id"],
            "to_forum_id": to_forum,
            "from_unit_id": from_unit,
            "from_forum_id": from_forum,
            "referred_by": state["actor"],
            "due_on": due_on,
            "note": state.get("note"),
            "recorded_at": at,
            "answered_at": None,
        }
    )


def _answered(view: View, at: str) -> None:
    """``_mark_first_response`` and ``_mark_referral_answered``."""
    if view["first_response_at"] is None:
        view["first_response_at"] = at
    referrals = view["referrals"]
    if referrals and referrals[-1]["answered_at"] is None:
        referrals[-1]["answered_at"] = at


def _responded(view: View, state: State, at: str) -> None:
    view["status"] = _RESPONDED
    view["responses"].append({"response": state["response"], "recorded_at": at})
    _answered(view, at)


def _progress(view: View, state: State, at: str) -> None:
    view["progress"].append({"note": state["note"], "recorded_at": at})


def _lack_of_progress(view: View, state: State, at: str) -> None:
    view["progress"].append({"note": state["note"], "recorded_at": at, "kind": "lack_of_progress"})


def _repeat_linked(view: View, state: State, at: str) -> None:
    view["repeat_of"] = state["original_id"]


def _repeat_recorded(view: View, state: State, at: str) -> None:
    view["repeats"].append({"item_id": state["repeat_id"], "recorded_at": at})
    view["times_raised"] = 1 + len(view["repeats"])


def _completed(view: View, state: State, at: str) -> None:
    view["status"] = _DONE
    view["we_did"] = state["we_did"]
    view["because"] = None
    view["instead"] = None
    _answered(view, at)
    view["closed_at"] = at


def _declined(view: View, state: State, at: str) -> None:
    view["status"] = _COULDNT_DO
    view["because"] = state["because"]
    view["instead"] = state.get("instead")
    view["we_did"] = None
    _answered(view, at)
    view["closed_at"] = at


def _verified(view: View, state: State, at: str) -> None:
    view["verified"] = True


def _reopened(view: View, state: State, at: str) -> None:
    view["status"] = _RAISED
    view["we_did"] = None
    view["because"] = None
    view["instead"] = None
    view["verified"] = False
    view["closed_at"] = None


def _flagged(view: View, state: State, at: str) -> None:
    view["safeguarding"] = {
        "flagged_at": at,
        "flagged_by": state["actor"],
        "reason": state["reason"],
        "ack_due_at": text(state["ack_due_at"]),
        "acknowledged_at": None,
        "acknowledged_by": None,
        "note": None,
        "closed_at": None,
        "closed_by": None,
        "outcome": None,
        "returned_to_workflow": None,
    }


def _acknowledged(view: View, state: State, at: str) -> None:
    view["safeguarding"] = {
        **view["safeguarding"],
        "acknowledged_at": at,
        "acknowledged_by": state["actor"],
        "note": state["note"],
    }


def _flag_closed(view: View, state: State, at: str) -> None:
    view["safeguarding"] = {
        **view["safeguarding"],
        "closed_at": at,
        "closed_by": state["actor"],
        "outcome": state["outcome"],
        "returned_to_workflow": state["return_to_workflow"],
    }


def _revealed(view: View, state: State, at: str) -> None:
    entry = {"user_id": state["actor"], "reason": state["reason"], "at": at}
    view["reveals"] = [*view.get("reveals", ()), entry]


Handler = Callable[[View, State, str], None]

_TOPIC_OF = {cls: topic for topic, (_, cls, _) in EVENTS.items()}

#: stored topic -> (handler, quiet: leaves ``updated_at`` as it was)
HANDLERS: dict[str, tuple[Handler, bool]] = {
    _TOPIC_OF[Item.Published]: (_published, False),
    _TOPIC_OF[Item.Referred]: (_referred, False),
    _TOPIC_OF[Item.ResponsePosted]: (_responded, False),
    _TOPIC_OF[Item.ProgressNoted]: (_progress, False),
    _TOPIC_OF[Item.LackOfProgressNoted]: (_lack_of_progress, False),
    _TOPIC_OF[Item.RepeatLinked]: (_repeat_linked, False),
    _TOPIC_OF[Item.RepeatRecorded]: (_repeat_recorded, False),
    _TOPIC_OF[Item.Completed]: (_completed, False),
    _TOPIC_OF[Item.Declined]: (_declined, False),
    _TOPIC_OF[Item.ChangeVerified]: (_verified, False),
    _TOPIC_OF[Item.ChangeNotConfirmed]: (_reopened, False),
    _TOPIC_OF[Item.Reopened]: (_reopened, False),
    _TOPIC_OF[Item.SafeguardingFlagged]: (_flagged, True),
    _TOPIC_OF[Item.SafeguardingAcknowledged]: (_acknowledged, True),
    _TOPIC_OF[Item.SafeguardingClosed]: (_flag_closed, True),
    _TOPIC_OF[Item.ContributorRevealed]: (_revealed, True),
}
RAISED = _TOPIC_OF[Item.Raised]
REVEALED = _TOPIC_OF[Item.ContributorRevealed]


def apply(view: View, topic: str, state: State, version: int) -> None:
    """Fold one later event of the item into its view (in place).

    ``StaffItems._fold_plain`` does the same inline, per event of a rebuild.
    """
    handler, quiet = HANDLERS[topic]
    at = text(state["timestamp"])
    handler(view, state, at)
    view["version"] = version
    if not quiet:
        view["updated_at"] = at


# -- what the rows need of a view ----------------------------------------------------


def restricted(view: View) -> bool:
    """``Item.restricted``: under an open flag, or closed without a return to the workflow."""
    flag = view.get("safeguarding")
    return flag is not None and (flag["closed_at"] is None or not flag["returned_to_workflow"])


def finished(view: View) -> View:
    """The view as ``item_view`` shows it: ``restricted`` with a flag, the tail in order."""
    if "safeguarding" in view or "reveals" in view:
        tail = {key: view.pop(key) for key in _TAIL if key in view}
        if "safeguarding" in tail:
            view["safeguarding"] = tail["safeguarding"]
            view["restricted"] = restricted(view)
        if "reveals" in tail:
            view["reveals"] = tail["reveals"]
    return view


def utc_date(instant: str | None) -> str | None:
    """``staff_items._utc_date`` of an instant's text."""
    if instant is None:
        return None
    if instant.endswith("+00:00"):
        return instant[:10]
    return datetime.fromisoformat(instant).astimezone(UTC).date().isoformat()


def utc_iso(instant: str | None) -> str | None:
    """``staff_items._iso`` of an instant's text."""
    if instant is None:
        return None
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()


#: ``json.dumps`` of a list of themes, by the themes: a few sets of themes recur across
#: thousands of items, and the stdlib encoder was a quarter of a row's cost
_THEMES_TEXT: dict[tuple[str, ...], str] = {}
_THEMES_KEPT = 4096
#: a target date's text by the raised-on text and the target days
_TARGET_ON: dict[tuple[str, int], str] = {}
_TARGETS_KEPT = 4096


def themes_text(themes: list[str]) -> str:
    """``json.dumps(themes)``, kept for the sets of themes seen most recently."""
    key = tuple(themes)
    found = _THEMES_TEXT.get(key)
    if found is None:
        if len(_THEMES_TEXT) >= _THEMES_KEPT:
            _THEMES_TEXT.clear()
        found = _THEMES_TEXT[key] = json.dumps(themes)
    return found


def target_on(raised_on: str, target_days: int) -> str:
    """``Item.target_on`` with no ``due_on``: ``raised_on`` plus the target days, as text."""
    key = (raised_on, target_days)
    found = _TARGET_ON.get(key)
    if found is None:
        if len(_TARGET_ON) >= _TARGETS_KEPT:
            _TARGET_ON.clear()
        found = (date.fromisoformat(raised_on) + timedelta(days=target_days)).isoformat()
        _TARGET_ON[key] = found
    return found


#: the columns of a staff row, in the order ``staff_values`` gives them (sorted by name,
#: as ``sql.upsert`` orders a row's columns)
STAFF_COLUMNS = (
    "channel",
    "closed_on",
    "contributor",
    "created_at",
    "doc",
    "due_on",
    "first_response_on",
    "forum_id",
    "item_id",
    "published",
    "raised_on",
    "referred_path",
    "referred_to",
    "status",
    "target_on",
    "themes",
    "unit_id",
    "unit_path",
    "updated_at",
    "verified",
    "version",
)


def staff_row(view: View, path: Callable[[str], str], target_days: int) -> dict[str, Any]:
    """``StaffItems.row`` of a (finished) view: the same columns, the same text."""
    return dict(zip(STAFF_COLUMNS, staff_values(view, path, target_days), strict=True))


def staff_values(view: View, path: Callable[[str], str], target_days: int) -> tuple[Any, ...]:
    """``staff_row`` as a tuple in ``STAFF_COLUMNS`` order, what the driver is handed.

    A rebuild writes one per item; a tuple spares a dict per row and its
    unpacking again into the driver's parameters.
    """
    referred_to = view["referred_to"]
    due_on = view["due_on"]
    first_response_on = view["first_response_at"]
    if first_response_on is not None:  # ``utc_date``, its common case inline
        first_response_on = (
            first_response_on[:10]
            if first_response_on.endswith("+00:00")
            else utc_date(first_response_on)
        )
    closed_on = view["closed_at"]
    if closed_on is not None:
        closed_on = closed_on[:10] if closed_on.endswith("+00:00") else utc_date(closed_on)
    flag = view.get("safeguarding")
    unit_id = view["unit_id"]
    raised_on = view["raised_on"]
    return (
        view["channel"],
        closed_on,
        view["contributor"],
        view["created_at"],
        orjson.dumps(view).decode(),
        due_on,
        first_response_on,
        view["forum_id"],
        view["id"],
        # published, and not ``restricted`` (written out: this runs once per row)
        view["published"]
        and not (
            flag is not None and (flag["closed_at"] is None or not flag["returned_to_workflow"])
        ),
        raised_on,
        path(referred_to) if referred_to else None,
        referred_to,
        view["status"],
        due_on or target_on(raised_on, target_days),
        themes_text(view["themes"]),
        unit_id,
        path(unit_id),
        view["updated_at"],
        view["verified"],
        view["version"],
    )


def flag_row(view: View, path: Callable[[str], str]) -> dict[str, Any]:
    """``StaffItems.flag_row`` of a view with a flag."""
    flag = view["safeguarding"]
    referred_to = view["referred_to"]
    return {
        "item_id": view["id"],
        "unit_path": path(view["unit_id"]),
        "referred_path": path(referred_to) if referred_to else None,
        "flagged_at": utc_iso(flag["flagged_at"]),
        "ack_due_at": utc_iso(flag["ack_due_at"]),
        "acknowledged_at": utc_iso(flag["acknowledged_at"]),
        "closed_at": utc_iso(flag["closed_at"]),
        "open": flag["closed_at"] is None,
        "restricted": restricted(view),
    }


def reveal_row(
    view: View, state: State, version: int, path: Callable[[str], str]
) -> dict[str, Any]:
    """``StaffItems.reveal_row`` of a ``ContributorRevealed`` and the view after it."""
    referred_to = view["referred_to"]
    return {
        "reveal_id": f"{view['id']}:{version}",
        "item_id": view["id"],
        "version": version,
        "unit_path": path(view["unit_id"]),
        "referred_path": path(referred_to) if referred_to else None,
        "user_id": state["actor"],
        "reason": state["reason"],
        "at": text(state["timestamp"]),
    }
