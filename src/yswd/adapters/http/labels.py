"""The words people read for an item's status, channel and history, in one table.

Staff pages and the public views share it. Staff and the public see the same
statuses in different words ("Referred" is "Passed to the right team" on a
board), so each status carries both. Every item event type has a label: the
auditor's timeline shows them (see ``yswd.aggregates.event_types``).
"""

from __future__ import annotations

from dataclasses import dataclass

from yswd.aggregates.item import Channel, Status


@dataclass(frozen=True)
class StatusWords:
    """How one status reads to staff, and to the public."""

    staff: str
    public: str


STATUS_WORDS: dict[Status, StatusWords] = {
    Status.RAISED: StatusWords(staff="Raised", public="Raised"),
    Status.REFERRED: StatusWords(staff="Referred", public="Passed to the right team"),
    Status.RESPONDED: StatusWords(staff="Responded", public="Responded"),
    Status.DONE: StatusWords(staff="Done", public="Done"),
    Status.COULDNT_DO: StatusWords(staff="Could not do", public="Couldn't do"),
}

#: status value -> the staff pages' words
STAFF_STATUS_LABELS: dict[str, str] = {
    status.value: words.staff for status, words in STATUS_WORDS.items()
}
#: status value -> the public board's words
PUBLIC_STATUS_LABELS: dict[str, str] = {
    status.value: words.public for status, words in STATUS_WORDS.items()
}

CHANNEL_LABELS: dict[Channel, str] = {
    Channel.COMMUNITY_MEETING: "Community meeting",
    Channel.DIARY_ROOM: "Diary room",
    Channel.GAP_BOX: "Gap box",
    Channel.CITIZENS_VIEW: "Citizens' view",
    Channel.FORUM: "Forum",
    Channel.STANDING_CONFERENCE: "Standing conference",
    Channel.COMPLAINT: "Complaint",
    Channel.OTHER: "Other",
}

#: an item event's stable type name -> what the timeline calls it
EVENT_LABELS: dict[str, str] = {
    "item_raised": "Raised",
    "item_published": "Published",
    "item_referred": "Referred",
    "response_posted": "Response posted",
    "progress_noted": "Progress noted",
    "lack_of_progress_noted": "Lack of progress noted",
    "repeat_linked": "Linked as a repeat of an earlier item",
    "repeat_recorded": "A later item was linked as a repeat of this one",
    "item_completed": "Marked as done",
    "item_declined": "Marked as could not do",
    "change_verified": "Change checked: it happened",
    "change_not_confirmed": "Change checked: it had not happened",
    "item_reopened": "Reopened",
    "safeguarding_flagged": "Flagged as a possible safeguarding concern",
    "safeguarding_acknowledged": "Safeguarding concern acknowledged",
    "safeguarding_closed": "Safeguarding concern closed",
    "contributor_revealed": "Who raised it was revealed to a manager",
}


def staff_status_label(value: str) -> str:
    return STATUS_WORDS[Status(value)].staff


def channel_label(value: str) -> str:
    return CHANNEL_LABELS[Channel(value)]


def event_label(event_type: str) -> str:
    """The timeline's words for an event; a type without a label reads as its name."""
    return EVENT_LABELS.get(event_type, event_type.replace("_", " "))
