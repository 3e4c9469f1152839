"""An item's history in plain words, with names: "Referred to Salford community services by
Dev Board secretary".

Every item event type reads as a sentence. The sentence says what happened and who did it;
the text that the item page shows anyway (a note, a response, what we did) follows it.
Nothing personal about the contributor is shown here: the private fields stay in the
item's summary, for the roles that may see them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yswd.adapters.container import Container
from yswd.adapters.http.labels import channel_label, event_label
from yswd.adapters.http.templating import uk_date, uk_datetime
from yswd.aggregates.errors import DomainError
from yswd.aggregates.event_types import event_data, event_type_name
from yswd.aggregates.item import Item, item_aggregate_id


@dataclass
class Names:
    """Unit, forum and user names by id, looked up once each (an id when there is none)."""

    container: Container
    found: dict[tuple[str, str], str] = field(default_factory=dict)

    def _name(self, kind: str, key: str | None, look_up: Callable[[str], Any]) -> str:
        if not key:
            return ""
        if (kind, key) not in self.found:
            try:
                self.found[(kind, key)] = str(look_up(key).name)
            except DomainError:
                self.found[(kind, key)] = key
        return self.found[(kind, key)]

    def unit(self, unit_id: str | None) -> str:
        return self._name("unit", unit_id, self.container.app.unit)

    def forum(self, forum_id: str | None) -> str:
        return self._name("forum", forum_id, self.container.app.forum)

    def user(self, user_id: str | None) -> str:
        if user_id in (None, "", "system"):
            return "the service"
        return self._name("user", user_id, self.container.app.user)


def describe(event_type: str, data: dict[str, Any], actor: str, names: Names) -> dict[str, Any]:
    """One event as ``{"sentence", "text"}``: what happened, by whom, and any public or
    staff text it carried."""
    by = f" by {actor}"
    text: str | None = None
    if event_type == "item_raised":
        sentence = (
            f"Raised at {names.forum(data.get('forum_id'))}"
            f" ({channel_label(data['channel']).lower()}) on {uk_date(data.get('raised_on'))},"
            f" logged{by}"
        )
    elif event_type == "item_published":
        sentence = f"Published on the public board{by}"
        text = data.get("you_said")
    elif event_type == "item_referred":
        to_forum = data.get("to_forum_id")
        place = names.unit(data.get("to_unit_id"))
        if to_forum:
            place = f"{names.forum(to_forum)} ({place})"
        due = f", due {uk_date(data['due_on'])}" if data.get("due_on") else ""
        sentence = f"Referred to {place}{due}{by}"
        text = data.get("note")
    elif event_type == "response_posted":
        sentence, text = f"Response posted{by}", data.get("response")
    elif event_type == "progress_noted":
        sentence, text = f"Progress noted{by}", data.get("note")
    elif event_type == "lack_of_progress_noted":
        sentence, text = f"Lack of progress explained{by}", data.get("note")
    elif event_type == "item_completed":
        sentence, text = f"Marked as done{by}", data.get("we_did")
    elif event_type == "item_declined":
        sentence = f"Marked as could not do{by}"
        text = data.get("because")
        if data.get("instead"):
            text = f"{text} Instead: {data['instead']}"
    elif event_type == "change_verified":
        sentence, text = f"Checked{by}: the change really happened", data.get("note")
    elif event_type == "change_not_confirmed":
        sentence = f"Checked{by}: the change had not happened, so the item was reopened"
        text = data.get("note")
    elif event_type == "item_reopened":
        sentence, text = f"Reopened{by}", data.get("reason")
    else:
        # repeats, safeguarding, reveals: the label and who; their reasons stay out of here
        sentence = f"{event_label(event_type)}{by}"
    return {"sentence": sentence, "text": text}


def plain_history(container: Container, item: Item) -> list[dict[str, Any]]:
    """Every event of an item the viewer may already read, oldest first, in plain words."""
    names = Names(container)
    lines = []
    event: Any
    for event in container.app.events.get(item_aggregate_id(item.item_id)):
        event_type = event_type_name(event)
        line = describe(event_type, event_data(event), names.user(event.actor), names)
        line["at"] = uk_datetime(event.timestamp)
        line["type"] = event_type
        lines.append(line)
    return lines
