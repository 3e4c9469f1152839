"""What each read model is given of a batch of stored events, and in which form.

The runner reads a batch once and hands every model the events it has not seen
and wants (``topic_prefixes``), as ``(position, event)`` pairs in log order.
The form follows the model:

- *stored*: the record as stored (``wants_stored_form``: the audit chain hashes
  the bytes);
- *plain*: in a bulk rebuild, ``(record, state)`` with the state decoded once
  into a plain dict (``apply_plain_batch``: the staff items' plain fold);
- *domain*: the domain event, decoded by the mapper once per batch however many
  models want it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification

from yswd.projections.ports import BulkEventSource, EventDecoder

#: the forms events are handed in: as stored, as plain dicts, as domain events
STORED, PLAIN, DOMAIN = "stored", "plain", "domain"

Feed = list[tuple[int, Any]]


class Feeds:
    """Splits a batch into each model's feed."""

    def __init__(self, mapper: EventDecoder, bulk: BulkEventSource | None = None) -> None:
        self.mapper = mapper
        self.bulk = bulk
        #: read model -> stored topic -> whether it wants it
        self._wants: dict[str, dict[str, bool]] = {}

    def stored(
        self, models: Sequence[Any], positions: dict[str, int], notifications: Sequence[Any]
    ) -> dict[str, Feed]:
        """Each model's feed of a batch of notifications: stored, or domain events."""
        decoded: dict[int, Any] = {}
        feeds: dict[str, Feed] = {}
        for model in models:
            chosen = self._chosen(model, positions[model.name], notifications)
            if getattr(model, "wants_stored_form", False):
                feeds[model.name] = [(n.id, n) for n in chosen]
            else:
                feeds[model.name] = [(n.id, self._domain_event(n, decoded)) for n in chosen]
        return feeds

    def bulk_feeds(
        self, models: Sequence[Any], positions: dict[str, int], records: Sequence[Any]
    ) -> dict[str, Feed]:
        """Each model's feed of a bulk scan's records, in the model's own form.

        A model folding plain states gets each state decoded once, in log order
        (an erasure in the log makes the decoder forget its keys before the
        events after it). Whether a model wants a topic is worked out once per
        topic, not once per event.
        """
        assert self.bulk is not None
        forms = {model.name: form_of(model) for model in models}
        chosen = {
            model.name: self._chosen(model, positions[model.name], records) for model in models
        }
        plain: dict[int, Any] = {}
        plain_names = [name for name, form in forms.items() if form == PLAIN]
        if plain_names:
            wanted = set().union(*({r.id for r in chosen[name]} for name in plain_names))
            needs_plain = [r for r in records if r.id in wanted]
            states = self.bulk.plain_states(needs_plain)
            plain = {r.id: state for r, state in zip(needs_plain, states, strict=True)}
        decoded: dict[int, Any] = {}
        feeds: dict[str, Feed] = {}
        for name, form in forms.items():
            if form == STORED:
                feeds[name] = [(r.id, r) for r in chosen[name]]
            elif form == PLAIN:
                feeds[name] = [(r.id, (r, plain[r.id])) for r in chosen[name]]
            else:
                feeds[name] = [(r.id, self._domain_event(r, decoded)) for r in chosen[name]]
        return feeds

    def _chosen(self, model: Any, seen: int, records: Sequence[Any]) -> Sequence[Any]:
        """The records of a batch that ``model`` has not seen and wants, in order."""
        if records and seen >= records[0].id:
            records = [r for r in records if r.id > seen]
        prefixes = getattr(model, "topic_prefixes", None)
        if prefixes is None:
            return records
        wants = self._wants.setdefault(model.name, {})
        for topic in {r.topic for r in records} - wants.keys():
            wants[topic] = topic.startswith(prefixes)
        return [r for r in records if wants[r.topic]]

    def _domain_event(self, record: Any, decoded: dict[int, Any]) -> Any:
        """The domain event of a record, decoded once per batch."""
        event = decoded.get(record.id)
        if event is None:
            event = decoded[record.id] = self.mapper.to_domain_event(as_notification(record))
        return event


def form_of(model: Any) -> str:
    """The form a bulk rebuild hands ``model`` its events in."""
    if getattr(model, "wants_stored_form", False):
        return STORED
    if hasattr(model, "apply_plain_batch"):
        return PLAIN
    return DOMAIN


def as_notification(stored: Any) -> Notification:
    """A ``Notification`` of a bulk scan's record (a notification is left as it is)."""
    if isinstance(stored, Notification):
        return stored
    return Notification(
        id=stored.id,
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )
