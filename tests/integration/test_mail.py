"""The mail outbox against a real SMTP server (aiosmtpd) on a free loopback port."""

from __future__ import annotations

import email
import re
import threading
import time
from collections.abc import Iterator
from datetime import date
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_staff_pages import csrf_of
from yswd.adapters.http.app import create_app
from yswd.adapters.mail import MailRelay
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.bootstrap import Container, build
from yswd.settings import Settings

from .servers import free_port

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

CONTRIBUTOR = "Patient ZQX-CONTRIBUTOR-8841"
DETAIL = "Private detail ZQX-DETAIL-8842"
STAFF = "Dr ZQX-STAFFNAME-8843"
DRAFT = "Unapproved wording ZQX-DRAFT-8844"
APPROVED = "The kettle on the ward is broken."
CONTACT = "oak-meeting@example.org"
PUBLIC_URL = "https://yswd.example.nhs.uk"
SECRETS = (CONTRIBUTOR, DETAIL, STAFF, "ZQX-CONTRIBUTOR", "ZQX-DETAIL", "ZQX-STAFFNAME")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


class Smtp:
    """aiosmtpd on loopback; stop and start again on the same port for an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = aiosmtpd_controller.Controller(
            self.inbox, hostname="127.0.0.1", port=self.port
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[Message]:
        with self.inbox.lock:
            return list(self.inbox.messages)

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(self.messages())} emails arrived, not {count}")


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


def settings(tmp_path: Path, smtp: Smtp, **more: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        smtp_url=smtp.url,
        mail_from="yswd@example.org",
        public_url=PUBLIC_URL,
        **more,
    )


@pytest.fixture
def container(tmp_path: Path, smtp: Smtp) -> Iterator[Container]:
    built = build(settings(tmp_path, smtp, run_projections=False))
    yield built
    built.close()


class Running:
    """A relay in its own thread, as the worker and ``serve`` run it."""

    def __init__(self, container: Container, **options: Any) -> None:
        relay = container.mail_relay()
        assert relay is not None
        for name, value in options.items():
            setattr(relay, name, value)
        self.relay: MailRelay = relay
        relay.create_tables()  # a new relay starts at the head: make it before the events
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=relay.run_forever, args=(self.stop_event,))
        self.thread.start()

    def wait_until_done(self, container: Container, timeout: float = 60.0) -> None:
        head = container.app.recorder.max_notification_id() or 0
        deadline = time.monotonic() + timeout
        while self.relay.recorded_position() < head:
            assert time.monotonic() < deadline, "the relay did not get through the log"
            time.sleep(0.05)

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


def organisation(container: Container) -> None:
    app = container.app
    app.create_unit(SYSTEM, "oak", "Oak ward", None)
    app.create_unit(SYSTEM, "estates", "Estates team", None)
    app.create_forum(
        SYSTEM,
        "oak-cm",
        "Oak community meeting",
        "oak",
        ForumKind.COMMUNITY_MEETING,
        contact_email=CONTACT,
    )
    app.create_forum(SYSTEM, "quiet-cm", "Quiet meeting", "oak", ForumKind.COMMUNITY_MEETING)
    app.create_user(SYSTEM, STAFF, Role.MANAGER, ["oak"])


def raise_item(container: Container, forum_id: str = "oak-cm", you_said: str = DRAFT) -> str:
    return str(
        container.app.raise_item(
            SYSTEM,
            forum_id=forum_id,
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 2, 1),
            title="Kettle",
            you_said=you_said,
            detail=DETAIL,
            contributor=CONTRIBUTOR,
        ).value.item_id
    )


def item_moves(container: Container) -> int:
    """Every kind of move on items of oak-cm, and some that tell nobody; the emails due."""
    app = container.app
    published = raise_item(container)
    app.publish(SYSTEM, published, APPROVED, None)
    app.respond(SYSTEM, published, "A new kettle is ordered.", None)  # 1
    app.complete(SYSTEM, published, "We bought a new kettle.", None)  # 2
    app.reopen(SYSTEM, published, "It broke again.", None)  # 3
    app.decline(SYSTEM, published, "The budget is spent.", "We lend one from Elm.", None)  # 4
    draft = raise_item(container)
    app.refer(SYSTEM, draft, "oak", None, None, None)  # to its own unit first: nobody told
    app.refer(SYSTEM, draft, "estates", None, None, None)  # to another team: nobody told
    app.refer(SYSTEM, draft, "oak", None, "Back to the meeting, please.", None)  # 5
    app.respond(SYSTEM, draft, "Estates will visit.", None)  # 6
    app.note_progress(SYSTEM, draft, "Visit booked.", None)  # a progress note: nobody told
    quiet = raise_item(container, "quiet-cm")
    app.respond(SYSTEM, quiet, "No contact, no email.", None)
    return 6


def parts(message: Message) -> list[str]:
    texts = [str(value) for _, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
    return texts


def assert_no_personal_data(messages: list[Message]) -> None:
    for message in messages:
        for text in parts(message):
            for secret in SECRETS:
                assert secret not in text, (secret, text)


def assert_once_each(messages: list[Message]) -> None:
    ids = [message["Message-ID"] for message in messages]
    assert len(ids) == len(set(ids)), "an event was emailed twice"


def test_one_email_per_move_with_public_wording_only(container: Container, smtp: Smtp) -> None:
    organisation(container)
    running = Running(container)
    try:
        expected = item_moves(container)
        messages = smtp.wait_for(expected)
        running.wait_until_done(container)
        time.sleep(0.5)
    finally:
        running.close()
    messages = smtp.messages()
    assert len(messages) == expected
    assert_once_each(messages)
    assert_no_personal_data(messages)
    assert DRAFT not in "".join(text for m in messages for text in parts(m))
    for message in messages:
        assert message["To"] == CONTACT
        assert message["From"] == "yswd@example.org"
        assert message["List-Unsubscribe"]
        assert message.is_multipart()
        plain = message.get_body(("plain",))
        rich = message.get_body(("html",))
        assert plain is not None and rich is not None
        assert PUBLIC_URL in plain.get_content()
        assert "To stop them" in plain.get_content()
    bodies = [m.get_body(("plain",)).get_content() for m in messages]  # type: ignore[union-attr]
    assert "There is a response." in bodies[0] and APPROVED in bodies[0]
    assert "A new kettle is ordered." in bodies[0]
    assert "It has been done." in bodies[1] and "We bought a new kettle." in bodies[1]
    assert "reopened" in bodies[2]
    assert "could not be done" in bodies[3] and "We lend one from Elm." in bodies[3]
    assert "sent back to your forum" in bodies[4] and "not been approved" in bodies[4]
    assert "not been approved" in bodies[5] and "Estates will visit." not in bodies[5]


def test_no_repeat_after_a_restart(container: Container, smtp: Smtp) -> None:
    organisation(container)
    first = Running(container)
    try:
        expected = item_moves(container)
        smtp.wait_for(expected)
        first.wait_until_done(container)
    finally:
        first.close()
    second = Running(container)  # a new relay, as after a restart of the worker or app
    try:
        app = container.app
        item = raise_item(container)
        app.respond(SYSTEM, item, "After the restart.", None)
        smtp.wait_for(expected + 1)
        second.wait_until_done(container)
        time.sleep(0.5)
    finally:
        second.close()
    messages = smtp.messages()
    assert len(messages) == expected + 1
    assert_once_each(messages)


def test_delivery_after_an_outage_of_the_mail_server(container: Container, smtp: Smtp) -> None:
    organisation(container)
    running = Running(container)
    try:
        smtp.stop()
        expected = item_moves(container)
        time.sleep(2.0)  # the relay tries, fails, and backs off
        assert running.relay.recorded_position() < (
            container.app.recorder.max_notification_id() or 0
        )
        # other work goes on: writes and reads are not held up by the mail relay
        container.app.respond(SYSTEM, raise_item(container, "quiet-cm"), "Still working.", None)
        smtp.start()
        smtp.wait_for(expected, timeout=60)
        running.wait_until_done(container)
        time.sleep(0.5)
    finally:
        running.close()
    messages = smtp.messages()
    assert len(messages) == expected
    assert_once_each(messages)
    assert_no_personal_data(messages)


def test_two_relays_at_once_send_each_email_once(container: Container, smtp: Smtp) -> None:
    organisation(container)
    relays = [Running(container), Running(container)]
    try:
        expected = item_moves(container)
        smtp.wait_for(expected)
        for relay in relays:
            relay.wait_until_done(container)
        time.sleep(1.0)
    finally:
        for relay in relays:
            relay.close()
    messages = smtp.messages()
    assert len(messages) == expected
    assert_once_each(messages)


def test_a_flagged_item_is_never_emailed(container: Container, smtp: Smtp) -> None:
    organisation(container)
    relay = container.mail_relay()
    relay.create_tables()
    item = raise_item(container)
    container.app.flag_safeguarding(SYSTEM, item, "A possible disclosure.", None)
    container.app.respond(SYSTEM, item, "Seen by the lead.", None)
    assert relay.run_once() > 0
    assert smtp.messages() == []


def test_the_digest_over_http(tmp_path: Path, smtp: Smtp) -> None:
    built = build(settings(tmp_path, smtp, admin_token="digest-admin-token"))
    try:
        organisation(built)
        secretary = built.app.create_user(SYSTEM, "A Secretary", Role.SECRETARY, ["oak"])
        token = secretary.value.token
        assert token
        item = raise_item(built)
        built.app.publish(SYSTEM, item, APPROVED, None)
        hidden = raise_item(built)
        with TestClient(
            create_app(built), base_url="https://testserver"
        ) as client:  # starts the in-process relay
            built.app.respond(SYSTEM, item, "A new kettle is ordered.", None)
            built.app.respond(SYSTEM, hidden, "Hidden answer.", None)
            smtp.wait_for(2)
            admin = {"Authorization": "Bearer digest-admin-token"}
            forum = client.get("/api/v1/forums/oak-cm", headers=admin).json()
            assert forum["contact_email"] == CONTACT
            answer = client.post(
                "/api/v1/forums/oak-cm/digest", json={"since": "2000-01-01"}, headers=admin
            )
            assert answer.status_code == 202, answer.text
            messages = smtp.wait_for(3)
            assert (
                client.post(
                    "/api/v1/forums/oak-cm/digest", json={"since": "soon"}, headers=admin
                ).status_code
                == 422
            )
            assert (
                client.post(
                    "/api/v1/forums/quiet-cm/digest", json={"since": "2000-01-01"}, headers=admin
                ).status_code
                == 422
            )
            mine = {"Authorization": f"Bearer {token}"}  # a secretary in scope may, too
            answer = client.post(
                "/api/v1/forums/oak-cm/digest", json={"since": "2000-01-01"}, headers=mine
            )
            assert answer.status_code == 202, answer.text
            smtp.wait_for(4)
            # the button on the forum's staff page, signed in as the secretary
            sign_in = client.get("/staff/sign-in")
            client.post(
                "/staff/sign-in",
                data={"token": token, "csrf_token": csrf_of(sign_in.text), "next": "/staff"},
                follow_redirects=False,
            )
            page = client.get("/staff/forums/oak-cm")
            assert page.status_code == 200, page.text
            assert CONTACT in page.text and "Email the feedback pack since" in page.text, re.sub(
                r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)
            )[:3000]
            sent = client.post(
                "/staff/forums/oak-cm/digest",
                data={"csrf_token": csrf_of(page.text), "since": "2000-01-01"},
                follow_redirects=False,
            )
            assert sent.status_code == 303, sent.text
            smtp.wait_for(5)
        digest = messages[2]
        body = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "what came back since 01 January 2000" in digest["Subject"]
        assert APPROVED in body and "A new kettle is ordered." in body
        assert "Hidden answer." not in body and "1 more item(s)" in body
        assert digest["List-Unsubscribe"]
        assert_no_personal_data(smtp.messages())
    finally:
        built.close()


def test_a_forum_is_created_with_its_contact_over_http(tmp_path: Path, smtp: Smtp) -> None:
    built = build(settings(tmp_path, smtp, admin_token="forum-admin-token"))
    try:
        with TestClient(create_app(built), base_url="https://testserver") as client:
            admin = {"Authorization": "Bearer forum-admin-token"}
            assert (
                client.post(
                    "/api/v1/units", json={"id": "elm", "name": "Elm ward"}, headers=admin
                ).status_code
                == 201
            )
            made = client.post(
                "/api/v1/forums",
                json={
                    "id": "elm-cm",
                    "name": "Elm meeting",
                    "unit_id": "elm",
                    "kind": "community_meeting",
                    "contact_email": "elm@example.org",
                },
                headers=admin,
            )
            assert made.status_code == 201, made.text
            assert made.json()["contact_email"] == "elm@example.org"
            bad = client.post(
                "/api/v1/forums",
                json={
                    "id": "elm-b",
                    "name": "Elm board",
                    "unit_id": "elm",
                    "kind": "other",
                    "contact_email": "not an email",
                },
                headers=admin,
            )
            assert bad.status_code == 422
            changed = client.post(
                "/api/v1/forums/elm-cm/contact", json={"contact_email": None}, headers=admin
            )
            assert changed.status_code == 200 and changed.json()["contact_email"] is None
            # the admin forums page sets it again
            sign_in = client.get("/staff/sign-in")
            client.post(
                "/staff/sign-in",
                data={
                    "token": "forum-admin-token",
                    "csrf_token": csrf_of(sign_in.text),
                    "next": "/staff",
                },
                follow_redirects=False,
            )
            page = client.get("/staff/admin/forums")
            assert page.status_code == 200, page.text
            saved = client.post(
                "/staff/admin/forums/elm-cm/contact",
                data={"csrf_token": csrf_of(page.text), "contact_email": "elm-board@example.org"},
                follow_redirects=False,
            )
            assert saved.status_code == 303, saved.text
            assert "elm-board@example.org" in client.get("/staff/admin/forums").text
            forum = client.get("/api/v1/forums/elm-cm", headers=admin).json()
            assert forum["contact_email"] == "elm-board@example.org"
    finally:
        built.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    from .servers import postgres_or_skip

    yield from postgres_or_skip()


def test_two_replicas_on_postgresql_send_each_email_once(
    tmp_path: Path, smtp: Smtp, postgres: Any
) -> None:
    """Two processes' worth of containers on one database, each with its relay."""
    replicas = [
        build(settings(tmp_path / name, smtp, run_projections=False, database_url=postgres.url))
        for name in ("one", "two")
    ]
    try:
        relays = [Running(replica) for replica in replicas]
        try:
            organisation(replicas[0])
            expected = item_moves(replicas[1])
            smtp.wait_for(expected)
            for relay, replica in zip(relays, replicas, strict=True):
                relay.wait_until_done(replica)
            time.sleep(1.0)
        finally:
            for relay in relays:
                relay.close()
        messages = smtp.messages()
        assert len(messages) == expected
        assert_once_each(messages)
        assert_no_personal_data(messages)
    finally:
        for replica in replicas:
            replica.close()
