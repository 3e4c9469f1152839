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


def raised(originator_id: str, state: State, version: int) -> View:
    """The view of a new item, keys in ``item_view``'s order."""
    at = text(state["timestamp"])
    return {
        "id": item_id_of(originator_id),
        "forum_id": state["forum_id"],
        "unit_id": state["unit_id"],
        "channel": state["channel"],
        "raised_on": text(state["raised_on"]),
        "title": state["title"],
        "you_said": state["you_said"],
        "original_you_said": state["you_said"],
        "detail": state.get("detail"),
        "contributor": state.get("contributor"),
        "themes": list(state["themes"]),
        "status": _RAISED,
        "version": version,
        "published": False,
        "referred_to": None,
        "referred_to_forum": None,
        "repeat_of": None,
        "repeats": [],
        "times_raised": 1,
        "due_on": None,
        "responses": [],
        "progress": [],
        "referrals": [],
        "we_did": None,
        "because": None,
        "instead": None,
        "verified": False,
        "first_response_at": None,
        "closed_at": None,
        "created_at": at,
        "updated_at": at,
    }


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
    """Fold one later event of the item into its view (in place)."""
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


def staff_row(view: View, path: Callable[[str], str], target_days: int) -> dict[str, Any]:
    """``StaffItems.row`` of a (finished) view: the same columns, the same text."""
    referred_to = view["referred_to"]
    due_on = view["due_on"]
    target_on = due_on or (date.fromisoformat(view["raised_on"]) + timedelta(days=target_days))
    return {
        "item_id": view["id"],
        "forum_id": view["forum_id"],
        "unit_id": view["unit_id"],
        "unit_path": path(view["unit_id"]),
        "referred_to": referred_to,
        "referred_path": path(referred_to) if referred_to else None,
        "channel": view["channel"],
        "status": view["status"],
        "published": view["published"] and not restricted(view),
        "verified": view["verified"],
        "raised_on": view["raised_on"],
        "due_on": due_on,
        "target_on": target_on if isinstance(target_on, str) else target_on.isoformat(),
        "first_response_on": utc_date(view["first_response_at"]),
        "closed_on": utc_date(view["closed_at"]),
        "themes": json.dumps(view["themes"]),
        "contributor": view["contributor"],
        "created_at": view["created_at"],
        "updated_at": view["updated_at"],
        "version": view["version"],
        "doc": orjson.dumps(view).decode(),
    }


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
