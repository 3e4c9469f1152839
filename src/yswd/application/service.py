"""The application: yswd's event store, and every command, by use case.

``Yswd`` is the eventsourcing ``Application``: its ``name`` and its transcodings
are part of the stored format. It builds one unit of work on itself, and the use
cases on that unit of work, and offers their commands as its own methods. So the
HTTP edge, the CLI, the demo loader and the tests call ``app.raise_item(...)``
whichever module a command lives in:

- ``organisation``: units and forums (``UnitsAndForums``);
- ``users``: users, their tokens, and authentication (``Users``);
- ``items``: the item commands, and which items an actor may see (``Items``);
- ``reads``: reading an item, and recording reads of identifiable data (``AuditedReads``).

The other use cases (templates, bulk actions, gap boxes, minutes, clips, audit)
are services of their own, built once by the composition root on this object.
"""

from __future__ import annotations

from datetime import date

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType

from yswd.application.items import Items
from yswd.application.organisation import UnitsAndForums
from yswd.application.ports import Clock, IdFactory
from yswd.application.reads import AuditedReads
from yswd.application.unit_of_work import UnitOfWork, new_id, utc_now
from yswd.application.users import Users


class DateAsISO(Transcoding):
    """Stores ``datetime.date`` values as ``YYYY-MM-DD``."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class Yswd(Application[str]):
    """The event store and the commands of yswd."""

    name = "yswd"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = utc_now,
        ids: IdFactory = new_id,
        target_days: int = 28,
        safeguarding_ack_hours: int = 24,
    ) -> None:
        super().__init__(env)
        self.target_days = target_days
        self.uow = UnitOfWork(self, clock=clock, ids=ids)
        self.organisation = UnitsAndForums(self.uow)
        self.users = Users(self.uow, self.organisation)
        self.items = Items(self.uow, self.organisation, safeguarding_ack_hours)
        self.reads = AuditedReads(self.uow, self.items)

        # -- organisation
        self.create_unit = self.organisation.create_unit
        self.create_forum = self.organisation.create_forum
        self.set_forum_contact = self.organisation.set_forum_contact
        self.request_digest = self.organisation.request_digest
        self.unit = self.organisation.unit
        self.forum = self.organisation.forum
        self.current_forum = self.organisation.current_forum
        self.unit_in_scope = self.organisation.unit_in_scope
        self.forum_in_scope = self.organisation.forum_in_scope
        # -- users, tokens and authentication
        self.authenticate = self.users.authenticate
        self.authenticate_hash = self.users.authenticate_hash
        self.cached_principal = self.users.cached_principal
        self.ensure_admin = self.users.ensure_admin
        self.create_user = self.users.create_user
        self.user = self.users.user
        self.user_in_scope = self.users.user_in_scope
        self.issue_token = self.users.issue_token
        self.revoke_tokens = self.users.revoke_tokens
        self.set_email = self.users.set_email
        self.change_role = self.users.change_role
        self.principal_for_sign_in = self.users.principal_for_sign_in
        self.user_for_email = self.users.user_for_email
        self.session_principal = self.users.session_principal
        # -- items
        self.raise_item = self.items.raise_item
        self.publish = self.items.publish
        self.refer = self.items.refer
        self.respond = self.items.respond
        self.note_progress = self.items.note_progress
        self.link_repeat = self.items.link_repeat
        self.complete = self.items.complete
        self.decline = self.items.decline
        self.verify = self.items.verify
        self.reopen = self.items.reopen
        self.load_item = self.items.load_item
        self.item_in_scope = self.items.item_in_scope
        self.require_item_in_scope = self.items.require_item_in_scope
        self.require_readable = self.items.require_readable
        # -- safeguarding and identity held back
        self.flag_safeguarding = self.items.flag_safeguarding
        self.acknowledge_safeguarding = self.items.acknowledge_safeguarding
        self.close_safeguarding = self.items.close_safeguarding
        self.reveal_contributor = self.items.reveal_contributor
        # -- audited reads
        self.get_item = self.reads.get_item
        self.record_read = self.reads.record_read

    @property
    def clock(self) -> Clock:
        """The time commands happen at (the demo loader sets it to load past meetings)."""
        return self.uow.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.uow.clock = clock

    @property
    def ids(self) -> IdFactory:
        """Where new aggregate ids come from."""
        return self.uow.ids

    @ids.setter
    def ids(self, ids: IdFactory) -> None:
        self.uow.ids = ids

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the settings the composition root passes, never stray os.environ keys."""
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
