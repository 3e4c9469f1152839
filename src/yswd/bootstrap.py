"""The composition root: reads settings and wires store, read models, runner and services.

Nothing else builds these objects. ``build`` makes each one once and fills the
application layer's ports (``yswd.application.ports``) with adapters; routes and
commands take the services from the ``Container`` (``yswd.adapters.container``),
which is handed to them: nothing but the entry points (``yswd.cli``) imports this
module. Tests call ``build`` with
their own settings (or ``memory=True`` for the in-memory store) and get the same
graph.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from yswd.adapters.bulk_scan import PostgresEventScan, RecorderScan, SQLiteEventScan
from yswd.adapters.clips import ClipStore, FolderClipStore, MemoryClipStore
from yswd.adapters.container import Container, unit_paths
from yswd.adapters.crypto import (
    PlainStates,
    ShreddingMapper,
    install_key_store,
    load_or_create_signing_key,
    voice_hasher,
)
from yswd.adapters.erasure_log import FileErasureLog
from yswd.adapters.http.organisation_sign_in import OrganisationSignIn
from yswd.adapters.http.session_store import (
    DatabaseLimiter,
    SessionStore,
    create_tables,
    load_or_create_secret,
)
from yswd.adapters.persistence import (
    ReadModelStore,
    SQLiteWriteAheadLog,
    event_store_env,
    key_store_engine,
    memory_engine,
    memory_env,
    read_model_engine,
    sqlite_path,
)
from yswd.adapters.rebuild_process import ProcessPrepare, ProcessRebuild, cores
from yswd.aggregates.plain_english import load_glossary
from yswd.aggregates.possible_disclosure import load_disclosure_terms
from yswd.application.audit import Audit
from yswd.application.bulk import BulkActions
from yswd.application.clips import Clips
from yswd.application.gap_boxes import GapBoxes
from yswd.application.minutes import MinutesImporter
from yswd.application.ports import Clock, IdFactory
from yswd.application.self_assessments import SelfAssessmentRecords
from yswd.application.service import Yswd
from yswd.application.templates import Templates
from yswd.application.themes import Themes
from yswd.application.unit_of_work import new_id, utc_now
from yswd.projections.access_log import AccessLog
from yswd.projections.audit_chain import AuditChain
from yswd.projections.audit_queries import AuditQueries
from yswd.projections.batches import ReadModel
from yswd.projections.clips import ClipQueries, ClipsReadModel
from yswd.projections.gap_box_list import GapBoxList
from yswd.projections.item_tables import CHANGES_SQL, UNIT_CHANGES_SQL
from yswd.projections.organisation import Organisation
from yswd.projections.runner import ProjectionRunner
from yswd.projections.staff_directory import StaffDirectory
from yswd.projections.staff_item_queries import StaffItemQueries
from yswd.projections.staff_items import StaffItems
from yswd.settings import Settings

log = logging.getLogger(__name__)


def build(
    settings: Settings | None = None,
    *,
    memory: bool = False,
    clock: Clock = utc_now,
    ids: IdFactory = new_id,
    schema: bool = True,
) -> Container:
    """Build the object graph for ``settings`` (from the environment by default).

    ``schema=False`` leaves the tables as they are: a rebuild's other process opens a
    store its parent has made, and making the tables would put back the indexes the
    rebuild dropped so that its inserts do not maintain them (which doubled what a
    SQLite rebuild wrote, and slowed every insert beside the other process).
    """
    settings = settings or Settings()
    load_glossary(settings.glossary_file)  # a bad YSWD_GLOSSARY_FILE stops start-up, not a publish
    env = memory_env() if memory else event_store_env(settings)
    load_disclosure_terms(settings.disclosure_terms_file)  # likewise a bad word list
    app = Yswd(
        env,
        clock=clock,
        ids=ids,
        target_days=settings.target_days,
        safeguarding_ack_hours=settings.safeguarding_ack_hours,
    )
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
    read_models[GapBoxList.name] = GapBoxList()
    # public boards and metrics are computed from the item rows alone
    runner = ProjectionRunner(
        app,
        ReadModelStore(engine),
        list(read_models.values()),
        answers_version_sql=CHANGES_SQL,
        answers_unit_version_sql=UNIT_CHANGES_SQL,
        bulk=bulk_event_source(app, settings, memory),
        helper=rebuild_helper(settings, memory),
        preparer=rebuild_preparer(settings, memory),
    )
    if schema:
        runner.create_tables()
    if settings.admin_token and app.ensure_admin(settings.admin_token):
        log.info("created the bootstrap administrator")
    container = Container(
        settings=settings,
        app=app,
        engine=engine,
        runner=runner,
        staff_items=StaffItemQueries(
            engine, today=lambda: clock().astimezone(UTC).date(), paths=unit_paths(app)
        ),
        clock=clock,
        read_models=read_models,
        keys=keys,
    )
    clips_dir = settings.clips_dir or settings.data_dir / "clips"
    clip_store: ClipStore = MemoryClipStore() if memory else FolderClipStore(clips_dir)
    container.clips = Clips(app, clip_store, ClipQueries(engine), settings.max_clip_bytes)
    container.templates = Templates(app)
    container.self_assessments = SelfAssessmentRecords(app)
    container.themes = Themes(app)
    container.voice_of = voice_hasher(keys)
    container.bulk = BulkActions(app)
    container.minutes = MinutesImporter(app)
    if schema:
        create_tables(engine)  # sessions, sign-in attempts, rate counts (beside the read models)
    container.sessions = SessionStore(
        engine,
        load_or_create_secret(
            settings.secret_key, engine, settings.data_dir if settings.embedded else None
        )
        if not memory
        else (settings.secret_key or "memory-" + new_id()).encode(),
        clock,
        idle=timedelta(seconds=settings.session_idle_seconds),
        absolute=timedelta(seconds=settings.session_absolute_seconds),
    )
    container.organisation_sign_in = organisation_sign_in(settings)
    container.sign_in_by_address = DatabaseLimiter(
        engine,
        settings.sign_in_address_rate_limit,  # a whole hospital may share one address
        settings.sign_in_rate_window_seconds,
        clock,
        prefix="sign-in-address",
        message="Too many sign-in attempts from your address; try again in {seconds} seconds.",
    )
    container.sign_in_by_account = DatabaseLimiter(
        engine,
        settings.sign_in_rate_limit,
        settings.sign_in_rate_window_seconds,
        clock,
        prefix="sign-in-account",
        message="Too many sign-in attempts for this account; try again in {seconds} seconds.",
    )
    container.gap_boxes = GapBoxes(
        app,
        DatabaseLimiter(
            engine,
            settings.gap_box_rate_limit,
            settings.gap_box_rate_window_seconds,
            clock,
            prefix="gap-box",
            message="Too many suggestions from your address; try again in {seconds} seconds.",
        ),
        index=container.staff_items,
        read_models=container,  # embedded: catches them up before the index is read
    )
    container.audit = Audit(
        app,
        trail=AuditQueries(engine, unit_paths(app)),
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


#: where the provider sends the browser back, under ``YSWD_PUBLIC_URL``
CALLBACK_PATH = "/staff/sign-in/callback"
SIGNED_OUT_PATH = "/staff/signed-out"
#: with ``YSWD_PUBLIC_URL`` unset, redirect URIs use the address ``yswd serve`` listens on
#: by default (documented in the README; set ``YSWD_PUBLIC_URL`` anywhere else)
LOCAL_BASE_URL = "http://127.0.0.1:8000"


def bulk_event_source(
    app: Yswd, settings: Settings, memory: bool
) -> SQLiteEventScan | PostgresEventScan | RecorderScan | None:
    """What a rebuild reads the log through: plain SQL on the events table."""
    if not isinstance(app.mapper, ShreddingMapper):
        return None
    states = PlainStates(app.mapper)
    table = getattr(app.recorder, "events_table_name", None)
    if memory or table is None:
        return RecorderScan(app.recorder, states)
    if settings.database_url:
        return PostgresEventScan(settings.database_url, table, states)
    return SQLiteEventScan(sqlite_path(settings), table, states)


def rebuild_helper(settings: Settings, memory: bool) -> ProcessRebuild | None:
    """A second process for rebuilds: on PostgreSQL, with a second core.

    There the two processes write their tables side by side. SQLite has one
    write lock per file, and the two queued on it in its busy handler: a 1M-event
    rebuild took 82-92 s with the audit chain apart against 52 s in one process.
    """
    if memory or not settings.database_url or cores() < 2:
        return None
    return ProcessRebuild(settings)


def rebuild_preparer(settings: Settings, memory: bool) -> ProcessPrepare | None:
    """A second process that reads, decodes and folds a rebuild's batches: with a second core.

    On either store: it only reads, and the runner writes what it sends, so SQLite's
    one write lock is held by one process, as in a rebuild without it.
    """
    if memory or cores() < 2:
        return None
    return ProcessPrepare(settings)


def organisation_sign_in(settings: Settings) -> OrganisationSignIn | None:
    """The OpenID Connect client of ``YSWD_OIDC_*``, wrapped for the staff pages."""
    if not settings.oidc_configured:
        return None
    # imported only when configured: authlib and joserfc cost start-up time otherwise
    from yswd.adapters.oidc.client import OidcClient, StateRecord
    from yswd.adapters.oidc.refusals import ProviderUnavailable, SignInRefused

    assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
    base = (settings.public_url or LOCAL_BASE_URL).rstrip("/")
    if not settings.public_url:
        log.warning("YSWD_PUBLIC_URL is unset: the redirect URI is %s", base + CALLBACK_PATH)
    private_key = (
        settings.oidc_client_private_key_file.read_text()
        if settings.oidc_client_private_key_file
        else None
    )
    client = OidcClient(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret,
        base + CALLBACK_PATH,
        client_private_key=private_key,
        client_key_id=settings.oidc_client_key_id,
        required_true_claims=[
            claim.strip() for claim in settings.oidc_required_claims.split(",") if claim.strip()
        ],
    )
    return OrganisationSignIn(
        client,
        refused=SignInRefused,
        unavailable=ProviderUnavailable,
        record_from_dict=StateRecord.from_dict,
        post_logout_redirect_uri=base + SIGNED_OUT_PATH,
    )


def fixed_clock(instant: datetime) -> Callable[[], datetime]:
    """A clock that always answers ``instant`` (for tests and demo data)."""
    return lambda: instant
