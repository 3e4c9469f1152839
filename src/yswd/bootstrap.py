"""The composition root: reads settings and wires store, read models, runner and services.

Nothing else builds these objects. ``build`` makes each one once and fills the
application layer's ports (``yswd.application.ports``) with adapters; routes and
commands take the services from the ``Container``. Tests call ``build`` with
their own settings (or ``memory=True`` for the in-memory store) and get the same
graph.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from yswd.adapters.clips import ClipStore, FolderClipStore, MemoryClipStore
from yswd.adapters.crypto import (
    KeyStore,
    ShreddingMapper,
    install_key_store,
    load_or_create_signing_key,
)
from yswd.adapters.erasure_log import FileErasureLog
from yswd.adapters.http.rate_limit import SlidingWindowLimiter
from yswd.adapters.persistence import (
    ReadModelStore,
    SQLiteWriteAheadLog,
    event_store_env,
    key_store_engine,
    memory_engine,
    memory_env,
    read_model_engine,
)
from yswd.aggregates.plain_english import load_glossary
from yswd.application.audit import Audit
from yswd.application.bulk import BulkActions
from yswd.application.clips import Clips
from yswd.application.gap_boxes import GapBoxes
from yswd.application.minutes import MinutesImporter
from yswd.application.ports import Clock, IdFactory
from yswd.application.service import Yswd
from yswd.application.templates import Templates
from yswd.application.unit_of_work import new_id, utc_now
from yswd.projections.access_log import AccessLog
from yswd.projections.audit_chain import AuditChain
from yswd.projections.audit_queries import AuditQueries
from yswd.projections.clips import ClipQueries, ClipsReadModel
from yswd.projections.organisation import Organisation
from yswd.projections.runner import ProjectionRunner, ReadModel
from yswd.projections.staff_directory import StaffDirectory
from yswd.projections.staff_items import CHANGES_SQL, StaffItemQueries, StaffItems
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
    _stop: threading.Event = field(default_factory=threading.Event)
    #: the highest log position this process acknowledged (see ``note_write``)
    _written: int = 0
    _written_lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

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

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.app.close()
        self.engine.dispose()
        if self.keys is not None:
            self.keys.close()


def build(
    settings: Settings | None = None,
    *,
    memory: bool = False,
    clock: Clock = utc_now,
    ids: IdFactory = new_id,
) -> Container:
    """Build the object graph for ``settings`` (from the environment by default)."""
    settings = settings or Settings()
    load_glossary(settings.glossary_file)  # a bad YSWD_GLOSSARY_FILE stops start-up, not a publish
    env = memory_env() if memory else event_store_env(settings)
    app = Yswd(env, clock=clock, ids=ids, target_days=settings.target_days)
    keys = install_key_store(
        app,
        None if memory else settings.data_dir,
        keys_engine=None if memory else key_store_engine(settings),
    )
    engine = memory_engine() if memory else read_model_engine(settings)
    staff = StaffItems(app)
    read_models: dict[str, ReadModel] = {staff.name: staff, Organisation.name: Organisation()}
    read_models[AuditChain.name] = AuditChain()
    read_models[AccessLog.name] = AccessLog()
    read_models[StaffDirectory.name] = StaffDirectory()
    read_models[ClipsReadModel.name] = ClipsReadModel()
    # public boards and metrics are computed from the item rows alone
    runner = ProjectionRunner(
        app, ReadModelStore(engine), list(read_models.values()), answers_version_sql=CHANGES_SQL
    )
    runner.create_tables()
    if settings.admin_token and app.ensure_admin(settings.admin_token):
        log.info("created the bootstrap administrator")
    container = Container(
        settings=settings,
        app=app,
        engine=engine,
        runner=runner,
        staff_items=StaffItemQueries(engine, today=lambda: clock().astimezone(UTC).date()),
        clock=clock,
        read_models=read_models,
        keys=keys,
    )
    clips_dir = settings.clips_dir or settings.data_dir / "clips"
    clip_store: ClipStore = MemoryClipStore() if memory else FolderClipStore(clips_dir)
    container.clips = Clips(app, clip_store, ClipQueries(engine), settings.max_clip_bytes)
    container.templates = Templates(app)
    container.bulk = BulkActions(app)
    container.minutes = MinutesImporter(app)
    container.gap_boxes = GapBoxes(
        app,
        SlidingWindowLimiter(settings.gap_box_rate_limit, settings.gap_box_rate_window_seconds),
        index=container.staff_items,
        read_models=container,  # embedded: catches them up before the index is read
    )
    container.audit = Audit(
        app,
        trail=AuditQueries(engine),
        read_models=container,  # embedded: catches them up before an audit reads them
        shredding=app.mapper if isinstance(app.mapper, ShreddingMapper) else None,
        clips=container.clips,
        wal=SQLiteWriteAheadLog(engine),
        signing_key_file=load_or_create_signing_key,
        clock=clock,
        erasure_log=(
            FileErasureLog(settings.erasure_log) if settings.erasure_log and not memory else None
        ),
    )
    return container


def fixed_clock(instant: datetime) -> Callable[[], datetime]:
    """A clock that always answers ``instant`` (for tests and demo data)."""
    return lambda: instant
