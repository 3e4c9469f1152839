"""The long-lived objects of one yswd process, as the composition root hands them out.

``yswd.bootstrap.build`` makes a ``Container`` once per process; the driving
adapters (the web app's routes and pages, the worker, the demo loader, backups)
are handed it and take their services from it. It lives here, among the adapters,
and not in the composition root, so that those who use it never import the one
module that builds everything: the composition root imports them, not the other
way round.

Besides the services it holds, it keeps the embedded mode's read-your-writes
bookkeeping (``note_write``, ``before_read``) and the process's background
threads (``start``, ``stop``).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

from sqlalchemy import Engine

from yswd.adapters.crypto import KeyStore
from yswd.adapters.http.organisation_sign_in import OrganisationSignIn
from yswd.adapters.http.session_store import DatabaseLimiter, SessionStore
from yswd.adapters.persistence import write_transaction
from yswd.aggregates.errors import NotFound
from yswd.application.audit import Audit
from yswd.application.bulk import BulkActions
from yswd.application.clips import Clips
from yswd.application.gap_boxes import GapBoxes
from yswd.application.minutes import MinutesImporter
from yswd.application.ports import Clock
from yswd.application.self_assessments import SelfAssessmentRecords
from yswd.application.service import Yswd
from yswd.application.templates import Templates
from yswd.application.themes import Themes
from yswd.projections.batches import ReadModel
from yswd.projections.runner import ProjectionRunner
from yswd.projections.sql import UnitPaths
from yswd.projections.staff_item_queries import StaffItemQueries
from yswd.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Every long-lived object of one yswd process."""

    settings: Settings
    app: Yswd
    engine: Engine
    runner: ProjectionRunner
    staff_items: StaffItemQueries
    clock: Clock
    read_models: dict[str, ReadModel]
    keys: KeyStore | None = None
    clips: Clips | None = None
    # the use cases beside the application's own commands, each built once by ``build``
    templates: Templates = field(init=False)
    bulk: BulkActions = field(init=False)
    minutes: MinutesImporter = field(init=False)
    #: with the one per-process rate limiter for public suggestions
    gap_boxes: GapBoxes = field(init=False)
    audit: Audit = field(init=False)
    #: staff sessions in the database, shared by every replica (cookies signed with the secret)
    sessions: SessionStore = field(init=False)
    #: the organisation's OpenID Connect sign-in, when configured
    organisation_sign_in: OrganisationSignIn | None = None
    #: sign-in attempts, counted across replicas: per client address, and per account
    sign_in_by_address: DatabaseLimiter = field(init=False)
    sign_in_by_account: DatabaseLimiter = field(init=False)
    self_assessments: SelfAssessmentRecords = field(init=False)
    themes: Themes = field(init=False)
    #: involvement's keyed hash of a contributor (``adapters.crypto.voice_hasher``)
    voice_of: Callable[[str], str] = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    #: the highest log position this process acknowledged (see ``note_write``)
    _written: int = 0
    _written_lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _mail_thread: threading.Thread | None = None

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def unit_path(self, unit_id: str) -> tuple[str, ...] | None:
        """A unit's path, root first, for the read models' subtree filters (``UnitPaths``)."""
        return unit_path(self.app, unit_id)

    def safeguarding_ack_overdue(self) -> int:
        """Open safeguarding flags past their acknowledgement time, in every unit."""
        return self.staff_items.overdue_flags(self.clock())

    def after_write(self, position: int | None) -> None:
        """Embedded mode: bring read models up to this write before answering.

        For a handler that reads read models straight after its own write (a page
        that renders what it just changed). An API write whose answer comes from
        the aggregate calls ``note_write`` instead and leaves the catch-up to the
        next read. Scaled out, workers do it and clients wait with ``?min_position=``.
        """
        if position is None or not self.settings.projections_in_process:
            return
        self.note_write(position)
        self.before_read()

    def note_write(self, position: int | None) -> None:
        """Embedded mode: remember an acknowledged write; the next read catches up to it.

        The write is already durable. Its read-model work is left to the background
        runner (which applies many writes in one batch) or to ``before_read``,
        whichever comes first, so a burst of writes does not pay one read-model
        transaction each, and every read still sees every write this process
        acknowledged before the read began (read-your-writes).
        """
        if position is None or not self.settings.projections_in_process:
            return
        with self._written_lock:
            self._written = max(self._written, position)

    def unapplied_writes(self) -> bool:
        """Whether this process acknowledged a write the read models have not applied."""
        return self.settings.projections_in_process and self.runner.applied() < self._written

    def before_read(self) -> None:
        """Embedded mode: apply every write this process acknowledged, before a read."""
        if not self.unapplied_writes():
            return
        try:
            self.runner.catch_up()
        except Exception:
            # The writes are durable; a read model that cannot catch up must not
            # turn reads into 500s. The background runner retries and logs.
            log.exception("read models could not catch up to position %s", self._written)

    def refresh_read_models(self) -> None:
        """Embedded mode: bring the read models to the log's head now (an audit reads next).

        A failure is logged, not raised: a forged row may not even decode, and the
        audit check that follows is what names it.
        """
        if not self.settings.projections_in_process:
            return
        try:
            self.runner.catch_up()
        except Exception:
            log.warning("read models could not catch up before an audit", exc_info=True)

    def wait_for_position(self, min_position: int | None, timeout: float = 5.0) -> None:
        """``?min_position=``: wait until the read models have applied that log position.

        A position not yet written cannot be waited for: answering at once keeps an
        anonymous caller from holding a worker for ``timeout`` with a made-up number.
        """
        if min_position is not None and min_position <= self.runner.head():
            self.runner.wait_for(min_position, timeout=timeout)

    def start(self) -> None:
        """Start background work: the projection runner when it runs in-process."""
        if self.settings.projections_in_process and self._thread is None:
            self.runner.catch_up()
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.runner.run_forever,
                args=(self._stop, self.settings.projection_poll_seconds),
                name="yswd-projections",
                daemon=True,
            )
            self._thread.start()
            # the mail outbox runs beside the read models, like them in-process on the
            # embedded default (scaled out, ``yswd worker`` runs it)
            relay = self.mail_relay()
            if relay is not None and self._mail_thread is None:
                self._mail_thread = threading.Thread(
                    target=relay.run_forever,
                    args=(self._stop,),
                    name="yswd-mail-relay",
                    daemon=True,
                )
                self._mail_thread.start()

    def mail_relay(self) -> Any:
        """The mail outbox relay (``yswd.adapters.mail.MailRelay``), if YSWD_SMTP_URL is set."""
        if not self.settings.smtp_url:
            return None
        from yswd.adapters.mail import MailRelay

        return MailRelay(
            self.app,
            self.engine,
            self.settings.smtp_url,
            self.settings.mail_from,
            public_url=self.settings.public_url,
            poll_seconds=self.settings.projection_poll_seconds,
            clock=self.clock,
            transaction=write_transaction,
            read_models_at=self.runner.wait_for,
        )

    def stop(self) -> None:
        self._stop.set()
        if self._mail_thread is not None:
            self._mail_thread.join(timeout=5)
            self._mail_thread = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.app.close()
        self.engine.dispose()
        if self.keys is not None:
            self.keys.close()
        if self.organisation_sign_in is not None:
            close = getattr(self.organisation_sign_in.client, "close", None)
            if close is not None:
                close()


def unit_path(app: Yswd, unit_id: str) -> tuple[str, ...] | None:
    """A unit's path from the application (cached there: units never move), or None."""
    try:
        return app.unit(unit_id).path
    except NotFound:
        return None


def unit_paths(app: Yswd) -> UnitPaths:
    return functools.partial(unit_path, app)
