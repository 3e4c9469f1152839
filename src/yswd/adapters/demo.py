"""Demo data drawn from the seed documents, loaded through the application layer.

Salford's Development Board and Partnership Board with the December 2010
Citizen's View items; the inpatient catering overhaul (shown as done); and a
secure unit's ward community meeting with open, done and couldn't-do items.
Loading twice changes nothing: the demo's top unit is the marker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from yswd.adapters.container import Container
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import AlreadyExists
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.response_template import TemplateKind

MARKER_UNIT = "north-west"

UNITS = [
    ("north-west", "North West", None),
    ("salford", "Salford mental health services", "north-west"),
    ("salford-community", "Salford community mental health", "salford"),
    ("salford-inpatients", "Salford inpatient unit", "salford"),
    ("meadowbank", "Meadowbank secure hospital", "north-west"),
    ("meadowbank-cedar", "Cedar ward (low secure)", "meadowbank"),
    ("meadowbank-willow", "Willow ward (medium secure)", "meadowbank"),
]

FORUMS = [
    (
        "salford-dev-board",
        "Salford Mental Health Development Board",
        "salford",
        ForumKind.DEVELOPMENT_BOARD,
    ),
    (
        "salford-partnership-board",
        "Salford Mental Health Partnership Board",
        "salford",
        ForumKind.PARTNERSHIP_BOARD,
    ),
    (
        "salford-inpatient-forum",
        "Inpatient service user forum",
        "salford-inpatients",
        ForumKind.SERVICE_USER_COUNCIL,
    ),
    (
        "cedar-community-meeting",
        "Cedar ward community meeting",
        "meadowbank-cedar",
        ForumKind.COMMUNITY_MEETING,
    ),
    (
        "willow-community-meeting",
        "Willow ward community meeting",
        "meadowbank-willow",
        ForumKind.COMMUNITY_MEETING,
    ),
]

CITIZENS_VIEW = date(2010, 12, 13)

# (forum, channel, raised_on, title, you_said, themes, steps)
# A step is (days after raised_on, command, arguments).
Step = tuple[int, str, dict[str, Any]]
ITEMS: list[tuple[str, Channel, date, str, str, list[str], list[Step]]] = [
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "Forum feedback",
        "Forums tell us their views go to the Partnership Board but nothing comes back. "
        "Please report back what happened to each issue.",
        ["involvement"],
        [
            (
                7,
                "refer",
                {
                    "to_unit_id": "salford",
                    "to_forum_id": "salford-partnership-board",
                    "due_on": date(2011, 2, 14),
                    "note": "Passed to the Partnership Board, Citizen's View.",
                },
            ),
            (
                55,
                "complete",
                {
                    "we_did": "Every Citizen's View item now comes back to the "
                    "Development Board with what was done, or why not."
                },
            ),
        ],
    ),
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "Urgent care",
        "When someone is in crisis out of hours it is not clear who to phone.",
        ["crisis care"],
        [
            (7, "refer", {"to_unit_id": "salford-community", "due_on": date(2011, 2, 14)}),
            (
                40,
                "respond",
                {
                    "response": "The crisis team is writing one leaflet with the "
                    "out-of-hours number. A draft will come to the next board."
                },
            ),
        ],
    ),
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "Transport",
        "People cannot get to day services since the bus route changed.",
        ["transport"],
        [
            (7, "refer", {"to_unit_id": "salford", "due_on": date(2011, 2, 14)}),
            (
                60,
                "decline",
                {
                    "because": "The council will not fund a dedicated bus this year.",
                    "instead": "Day services now refund bus fares and offer travel buddies.",
                },
            ),
        ],
    ),
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "ATOS assessments",
        "Benefit assessments by ATOS are making people unwell. Staff need to help people prepare.",
        ["benefits"],
        [(7, "refer", {"to_unit_id": "salford-community"})],
    ),
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "Length of stay and re-admission",
        "People are discharged too early and come back within weeks.",
        ["discharge"],
        [
            (7, "refer", {"to_unit_id": "salford-inpatients", "due_on": date(2011, 2, 14)}),
            (
                50,
                "progress",
                {"note": "Re-admission figures will be reported to the board every quarter."},
            ),
        ],
    ),
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "Carer's Charter",
        "Carers want the Carer's Charter to be used on every ward.",
        ["carers"],
        [
            (7, "refer", {"to_unit_id": "salford"}),
            (
                45,
                "complete",
                {
                    "we_did": "The Carer's Charter is on every ward notice board "
                    "and in the welcome pack."
                },
            ),
        ],
    ),
    (
        "salford-dev-board",
        Channel.CITIZENS_VIEW,
        CITIZENS_VIEW,
        "Involvement in CQUIN",
        "Service users want a say in the quality targets the trust is paid for.",
        ["involvement"],
        [],
    ),
    (
        "salford-inpatient-forum",
        Channel.FORUM,
        date(2010, 10, 4),
        "Inpatient catering",
        "The food is poor and there is nothing to eat in the evening.",
        ["food"],
        [
            (14, "respond", {"response": "Catering is being reviewed with patients."}),
            (
                90,
                "complete",
                {
                    "we_did": "Catering was completely overhauled: microwaves in "
                    "ward kitchens so patients can make a light supper, revamped "
                    "menus, and a new way of serving food."
                },
            ),
            (120, "verify", {"confirmed": True, "note": "Checked by the Quality Checker."}),
        ],
    ),
    (
        "cedar-community-meeting",
        Channel.COMMUNITY_MEETING,
        date(2026, 9, 7),
        "Ward phone",
        "The ward phone is in the corridor so every call can be overheard.",
        ["privacy"],
        [(10, "respond", {"response": "Estates have been asked to fit a phone hood."})],
    ),
    (
        "cedar-community-meeting",
        Channel.COMMUNITY_MEETING,
        date(2026, 9, 7),
        "Evening activities",
        "There is nothing to do after 5pm.",
        ["activities"],
        [
            (
                21,
                "complete",
                {
                    "we_did": "Occupational therapy now runs a games night on "
                    "Tuesdays and Thursdays."
                },
            )
        ],
    ),
    (
        "cedar-community-meeting",
        Channel.COMMUNITY_MEETING,
        date(2026, 10, 5),
        "Garden access",
        "We want to use the garden without an escort.",
        ["leave", "activities"],
        [
            (
                14,
                "decline",
                {
                    "because": "Unescorted garden access needs a leave decision "
                    "for each person, made at their care review.",
                    "instead": "The garden is now open with one nurse for two hours "
                    "every afternoon.",
                },
            )
        ],
    ),
    (
        "willow-community-meeting",
        Channel.COMMUNITY_MEETING,
        date(2026, 11, 2),
        "Laundry",
        "The washing machine has been broken for two weeks.",
        ["facilities"],
        [],
    ),
    (
        "willow-community-meeting",
        Channel.DIARY_ROOM,
        date(2026, 11, 9),
        "Care plan meetings",
        "I do not get a copy of my care plan before the meeting.",
        ["care planning"],
        [(3, "refer", {"to_unit_id": "meadowbank"})],
    ),
]


def _run(
    container: Container, actor: Principal, item_id: str, command: str, args: dict[str, Any]
) -> None:
    app = container.app
    actions: dict[str, Callable[[], Any]] = {
        "refer": lambda: app.refer(
            actor,
            item_id,
            args["to_unit_id"],
            args.get("due_on"),
            args.get("note"),
            None,
            to_forum_id=args.get("to_forum_id"),
        ),
        "respond": lambda: app.respond(actor, item_id, args["response"], None),
        "complete": lambda: app.complete(actor, item_id, args["we_did"], None),
        "decline": lambda: app.decline(actor, item_id, args["because"], args.get("instead"), None),
        "progress": lambda: app.note_progress(actor, item_id, args["note"], None),
        "verify": lambda: app.verify(actor, item_id, args["confirmed"], args.get("note"), None),
    }
    actions[command]()


def load_demo(container: Container) -> str:
    """Load the demo once. Returns a one-line summary."""
    app = container.app
    try:
        app.create_unit(SYSTEM, *UNITS[0])
    except AlreadyExists:
        return "demo data is already loaded"
    for unit in UNITS[1:]:
        app.create_unit(SYSTEM, *unit)
    for forum in FORUMS:
        app.create_forum(SYSTEM, *forum)
    real_clock = app.clock
    try:
        for forum_id, channel, raised_on, title, you_said, themes, steps in ITEMS:
            app.clock = _at(raised_on, 0)
            item = app.raise_item(
                SYSTEM,
                forum_id=forum_id,
                channel=channel,
                raised_on=raised_on,
                title=title,
                you_said=you_said,
                themes=themes,
            ).value
            app.clock = _at(raised_on, 1)
            app.publish(SYSTEM, item.item_id, None, None)
            for days, command, args in steps:
                app.clock = _at(raised_on, days)
                _run(container, SYSTEM, item.item_id, command, args)
    finally:
        app.clock = real_clock
    _load_channels(container)
    container.runner.catch_up()
    return (
        f"loaded demo data: {len(UNITS)} units, {len(FORUMS)} forums, {len(ITEMS)} items "
        f"(try /public/boards/{MARKER_UNIT})"
    )


def _load_channels(container: Container) -> None:
    """A winter gap box for Cedar ward, and a reply template for Meadowbank's managers."""
    today = container.today()
    container.gap_boxes.create_box(
        SYSTEM,
        box_id="cedar-winter",
        unit_id="meadowbank-cedar",
        forum_id="cedar-community-meeting",
        question="What would make the ward better this winter?",
        opens_on=today - timedelta(days=7),
        closes_on=today + timedelta(days=60),
    )
    container.templates.add(
        SYSTEM,
        "meadowbank",
        "passed-to-estates",
        title="Passed to the estates team",
        text="We have asked the estates team to fix this. We will tell the next "
        "community meeting what they said.",
        kind=TemplateKind.RESPONSE,
    )


def _at(day: date, days_later: int) -> Callable[[], datetime]:
    instant = datetime.combine(day + timedelta(days=days_later), time(15, 0), tzinfo=UTC)
    return lambda: instant
