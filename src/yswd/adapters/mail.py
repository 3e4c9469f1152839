"""The mail outbox: forums' contacts told by email when their items move.

Like the NATS relay (``yswd.adapters.nats_relay``) it follows the notification log,
which only holds committed events, from its own tracked position (table
``mail_relay``). An email goes out for:

- an item's response, completion (done), decline (couldn't do), reopening, and a
  referral back to the forum it was raised in: to that forum's contact;
- a forum's ``DigestRequested``: the feedback pack since a date, to its contact.

Exactly one email per event, across replicas, workers, restarts and outages:

- Only the relay holding the lease (a row of ``mail_relay``, taken with a
  compare-and-set ``UPDATE``, so it works on SQLite and PostgreSQL alike) sends.
  Every other relay waits; if the holder dies, its lease runs out and another
  takes over from the recorded position.
- The position moves past an event in the same transaction that renews the lease,
  right after the mail server accepted its email, and only while the lease is still
  held; a relay whose lease ran out sends nothing more.
- A send that fails for a passing reason (the server down, a 4xx answer) is retried
  for the same event with a growing wait (1 s, doubling, at most 30 s), in the
  relay's own thread: requests and read models never wait for it. A refusal for
  good (a 5xx answer) is logged and skipped, so one bad address cannot stop the
  other forums' emails.
- Each email's ``Message-ID`` is derived from its event, so in the one unavoidable
  window (a crash after the server accepted an email, before the position moved)
  the repeat carries the same id as the first.

What an email says: the item's public wording only if a moderator approved it (and
it is not under a safeguarding restriction); otherwise only that an item from the
meeting moved. Never the contributor, the private detail, or a person's name:
staff are named by their unit. An item under a safeguarding restriction is never
emailed.
"""

from __future__ import annotations

import html
import logging
import smtplib
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.persistence import Notification
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    select,
    text,
    update,
)

from yswd.aggregates.item import Item
from yswd.aggregates.organisation import Forum
from yswd.application.service import Yswd
from yswd.projections.feedback_pack import feedback_pack
from yswd.projections.tracking import SCHEMA_LOCK_KEY

log = logging.getLogger(__name__)

RELAY_NAME = "mail"
LEASE_SECONDS = 60.0
SEND_TIMEOUT_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0

mail_metadata = MetaData()
mail_relay = Table(
    "mail_relay",
    mail_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("holder", String(64)),
    Column("lease_until", Float, nullable=False),
)

ITEM_EVENTS = (
    Item.ResponsePosted,
    Item.Completed,
    Item.Declined,
    Item.Reopened,
    Item.ChangeNotConfirmed,
    Item.Referred,
)


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://host:port`` (port 25 when not given)."""
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError("YSWD_SMTP_URL must look like smtp://host:port")
    return SmtpTarget(parts.hostname, parts.port or 25)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str


class PermanentRefusal(RuntimeError):
    """The mail server refused this email for good (a 5xx answer)."""


def send(target: SmtpTarget, sender: str, mail: Mail, now: datetime) -> None:
    """Hand one email to the server; ``PermanentRefusal`` for a 5xx, other errors pass."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<mailto:{sender}?subject=Stop%20these%20emails>"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    try:
        with smtplib.SMTP(target.host, target.port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentRefusal(str(codes)) from error
        raise
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            raise PermanentRefusal(str(error.smtp_code)) from error
        raise


# -- what the emails say ------------------------------------------------------------

STOP_NOTE = (
    "You get these emails because this address is the contact of the forum in You Said, "
    "We Did. To stop them, ask an administrator to remove it from the forum's page."
)


def _link(base: str, path: str) -> str:
    return (base or "").rstrip("/") + path


def _render(to: str, subject: str, paragraphs: list[str], link: str, message_id: str) -> Mail:
    text_body = "\n\n".join([*paragraphs, f"See it here: {link}", STOP_NOTE]) + "\n"
    html_body = (
        '<!doctype html><html lang="en"><body>'
        + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        + f'<p><a href="{html.escape(link, quote=True)}">See it here</a></p>'
        + f"<p><small>{html.escape(STOP_NOTE)}</small></p></body></html>"
    )
    return Mail(to, subject, text_body, html_body, message_id)


def _message_id(key: str) -> str:
    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, 'yswd-mail:' + key)}@yswd>"


def _unit_name(app: Yswd, unit_id: str) -> str:
    try:
        return str(app.repository.get(f"unit:{unit_id}").name)
    except Exception:
        return "another team"


def referred_back(event: Any, item: Item, forum: Forum) -> bool:
    """Whether this referral sends the item back to its forum from somewhere else."""
    if event.to_unit_id != forum.unit_id or event.to_forum_id not in (None, forum.forum_id):
        return False
    for step in item.referrals:
        if step["recorded_at"] == event.timestamp and step["to_unit_id"] == event.to_unit_id:
            came_from = (step["from_unit_id"], step["from_forum_id"])
            return came_from not in ((forum.unit_id, forum.forum_id), (forum.unit_id, None))
    return False


def item_mail(app: Yswd, event: Any, item: Item, forum: Forum, base_url: str) -> Mail | None:
    """The email for one item event, or ``None`` when this event tells nobody."""
    contact = getattr(forum, "contact_email", None)
    if not contact or item.restricted:  # a safeguarding restriction: never emailed
        return None
    public = item.on_public_boards
    if isinstance(event, Item.ResponsePosted):
        happened = "There is a response."
        said = event.response
    elif isinstance(event, Item.Completed):
        happened = "It has been done."
        said = event.we_did
    elif isinstance(event, Item.Declined):
        happened = "It could not be done."
        said = event.because + (f" Instead: {event.instead}" if event.instead else "")
    elif isinstance(event, Item.Reopened | Item.ChangeNotConfirmed):
        happened = "It has been reopened, so it is being worked on again."
        said = None
    elif isinstance(event, Item.Referred):
        if not referred_back(event, item, forum):
            return None
        happened = "It has been sent back to your forum to consider."
        said = None
    else:
        return None
    paragraphs = [f"An item raised at {forum.name} has moved on. {happened}"]
    if public:
        paragraphs.append(f"You said: {item.you_said}")
        if said:
            paragraphs.append(f"What came back: {said}")
        link = _link(base_url, f"/public/boards/{item.unit_id}#item-{item.item_id}")
    else:
        paragraphs.append(
            "Its wording has not been approved for publishing yet, so it is not shown here."
        )
        link = _link(base_url, f"/staff/items/{item.item_id}")
    if isinstance(event, Item.Referred):
        pass
    elif item.referred_to and item.referred_to != item.unit_id:
        paragraphs.append(f"It is with {_unit_name(app, item.referred_to)}.")
    key = f"{item.id}@{event.originator_version}"
    return _render(
        contact, f"{forum.name}: an item has moved on", paragraphs, link, _message_id(key)
    )


KIND_WORDS = {
    "response": "Response",
    "progress": "Progress",
    "we_did": "We did",
    "couldnt_do": "We couldn't, because",
}


def digest_mail(app: Yswd, engine: Engine, event: Any, forum: Forum, base_url: str) -> Mail | None:
    """The feedback pack since ``event.since``, for the forum's contact."""
    contact = getattr(forum, "contact_email", None)
    if not contact:
        return None
    since: date = event.since
    pack = feedback_pack(engine, forum.forum_id, since)  # leaves flagged items out
    paragraphs = [f"What came back since {since:%d %B %Y} on items raised at {forum.name}."]
    hidden = 0
    for entry in pack:
        doc = entry["item"]
        if not doc.get("published"):
            hidden += 1
            continue
        lines = [f"You said: {doc['you_said']}"]
        lines += [f"{KIND_WORDS.get(c['kind'], 'Update')}: {c['text']}" for c in entry["came_back"]]
        paragraphs.append("\n".join(lines))
    if not pack:
        paragraphs.append("Nothing has come back since then.")
    if hidden:
        paragraphs.append(
            f"{hidden} more item(s) moved whose wording is not yet approved for publishing; "
            "see them on the forum's staff page."
        )
    link = _link(base_url, f"/staff/forums/{forum.forum_id}")
    key = f"{forum.id}@{event.originator_version}"
    return _render(
        contact,
        f"{forum.name}: what came back since {since:%d %B %Y}",
        paragraphs,
        link,
        _message_id(key),
    )


# -- the relay ----------------------------------------------------------------------


class MailRelay:
    """Sends each mail-worthy stored event's email exactly once, in log order."""

    def __init__(
        self,
        app: Yswd,
        engine: Engine,
        smtp_url: str,
        mail_from: str,
        *,
        public_url: str | None = None,
        poll_seconds: float = 0.2,
        batch_size: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
        transaction: Callable[[Engine], AbstractContextManager[Connection]] | None = None,
        read_models_at: Callable[[int, float], bool] | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.target = parse_smtp_url(smtp_url)
        self.mail_from = mail_from
        self.base_url = (public_url or "").rstrip("/")
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.clock = clock
        self.wall = wall
        self.lease_seconds = lease_seconds
        #: a write transaction on ``engine`` (bootstrap passes persistence's, which takes
        #: SQLite's write lock at its start)
        self._transaction = transaction or (lambda engine: engine.begin())
        #: waits (up to a timeout) until the read models applied a position: a digest
        #: reads the feedback pack from them, so it waits for the moves before it
        self._read_models_at = read_models_at
        self.holder = uuid.uuid4().hex
        self.sent = 0
        self.skipped = 0

    # -- position and lease ----------------------------------------------------------

    def create_tables(self) -> None:
        with self._transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            mail_metadata.create_all(conn)
            known = conn.scalar(
                select(mail_relay.c.position).where(mail_relay.c.name == RELAY_NAME)
            )
            if known is None:
                # a new relay starts at the head: events from before mail existed send nothing
                head = self.app.recorder.max_notification_id() or 0
                conn.execute(
                    mail_relay.insert().values(
                        name=RELAY_NAME, position=head, holder=None, lease_until=0.0
                    )
                )

    def recorded_position(self) -> int:
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(mail_relay.c.position).where(mail_relay.c.name == RELAY_NAME)
            )
        return int(found or 0)

    def lag(self) -> int:
        head = self.app.recorder.max_notification_id() or 0
        return head - self.recorded_position()

    def acquire(self) -> int | None:
        """Take or renew the lease; the recorded position if this relay holds it."""
        now = self.wall()
        with self._transaction(self.engine) as conn:
            taken = conn.execute(
                update(mail_relay)
                .where(mail_relay.c.name == RELAY_NAME)
                .where((mail_relay.c.holder == self.holder) | (mail_relay.c.lease_until < now))
                .values(holder=self.holder, lease_until=now + self.lease_seconds)
            ).rowcount
            if taken != 1:
                return None
            found = conn.scalar(
                select(mail_relay.c.position).where(mail_relay.c.name == RELAY_NAME)
            )
            return int(found or 0)

    def advance(self, position: int) -> bool:
        """Record ``position`` as done and renew the lease, if this relay still holds it."""
        now = self.wall()
        with self._transaction(self.engine) as conn:
            moved = conn.execute(
                update(mail_relay)
                .where(mail_relay.c.name == RELAY_NAME)
                .where(mail_relay.c.holder == self.holder)
                .where(mail_relay.c.lease_until >= now)
                .values(position=position, lease_until=now + self.lease_seconds)
            ).rowcount
        return moved == 1

    def release(self) -> None:
        with self._transaction(self.engine) as conn:
            conn.execute(
                update(mail_relay)
                .where(mail_relay.c.name == RELAY_NAME)
                .where(mail_relay.c.holder == self.holder)
                .values(holder=None, lease_until=0.0)
            )

    # -- the emails ------------------------------------------------------------------

    def mail_for(self, notification: Notification) -> Mail | None:
        originator = str(notification.originator_id)
        if not originator.startswith(("item:", "forum:")):
            return None
        event = self.app.mapper.to_domain_event(notification)
        if originator.startswith("forum:"):
            if not isinstance(event, Forum.DigestRequested):
                return None
            if self._read_models_at is not None and not self._read_models_at(notification.id, 30.0):
                log.warning("read models are behind; the digest may miss the latest moves")
            forum: Forum = self.app.repository.get(originator)
            return digest_mail(self.app, self.engine, event, forum, self.base_url)
        if not isinstance(event, ITEM_EVENTS):
            return None
        # the item as it is now: a flag raised since the event still stops the email
        item: Item = self.app.repository.get(originator)
        forum = self.app.repository.get(f"forum:{item.forum_id}")
        return item_mail(self.app, event, item, forum, self.base_url)

    def _deliver(self, mail: Mail, stop: threading.Event) -> bool:
        """Send, retrying passing failures with backoff; False if stopped or lease lost."""
        wait = FIRST_BACKOFF_SECONDS
        failing = False
        while not stop.is_set():
            if self.acquire() is None:
                return False  # another relay took over: it will send this one
            try:
                send(self.target, self.mail_from, mail, self.clock())
                if failing:
                    log.info("mail relay recovered")
                return True
            except PermanentRefusal as refused:
                log.warning("the mail server refused an email for good (%s); skipped", refused)
                self.skipped += 1
                return True
            except (OSError, smtplib.SMTPException) as error:
                if failing:
                    log.warning("mail still failing (%s); retrying", type(error).__name__)
                else:
                    log.warning("sending an email failed (%s); retrying", type(error).__name__)
                failing = True
                stop.wait(wait)
                wait = min(wait * 2, MAX_BACKOFF_SECONDS)
        return False

    def run_once(self, stop: threading.Event | None = None) -> int:
        """One batch, if this relay holds the lease: how many events it got through."""
        stop = stop or threading.Event()
        position = self.acquire()
        if position is None:
            return 0
        notifications = self.app.recorder.select_notifications(
            start=position + 1, limit=self.batch_size
        )
        done = 0
        for notification in notifications:
            if stop.is_set():
                break
            try:
                mail = self.mail_for(notification)
            except Exception:
                log.exception("could not build the email for event %s; skipped", notification.id)
                mail = None
            if mail is not None:
                if not self._deliver(mail, stop):
                    break
                self.sent += 1
            if not self.advance(notification.id):
                log.info("mail relay lost its lease; another relay carries on")
                break
            done += 1
        return done

    def run_forever(self, stop: threading.Event) -> None:
        """Run in the calling thread until ``stop`` is set."""
        failing = False
        while not stop.is_set():
            try:
                self.create_tables()
                while not stop.is_set():
                    if self.run_once(stop) == 0:
                        stop.wait(self.poll_seconds)
                    failing = False
            except Exception:
                if not failing:
                    log.exception("mail relay failed; retrying")
                failing = True
                stop.wait(1.0)
        try:
            self.release()
        except Exception:
            log.debug("releasing the mail lease failed", exc_info=True)
