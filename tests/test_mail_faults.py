"""The mail server fails in every way it can, and still every message arrives, exactly once.

A real SMTP server (aiosmtpd, ``tests/mailserver.py``) that is down while people register and
manage their registrations, that turns messages away with a temporary error part-way through a
batch, and a sender that dies after claiming a message. Registrations never wait for or fail on
the mail; the outbox keeps each message, backs off, and sends it once the server takes it.
``tests/test_email.py`` covers one message across one outage; here it is the whole traffic.
"""

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from regapp.extensions import db
from regapp.mail.outbox import CLAIM_LEASE, _claim, deliver_due
from regapp.models import MessageStatus, OutboxMessage
from regapp.models.types import utcnow
from tests.conftest import registration_form
from tests.mailserver import Inbox, MailServer


def register(client, event, email: str, sessions) -> str:
    response = client.post(
        f"/e/{event.slug}/register", data=registration_form(event, sessions, email=email)
    )
    assert response.status_code == 303, response.text  # the mail server's state never matters
    return response.location.split("/manage/")[1].split("/")[0]


def outbox() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def busy_day(client, event) -> int:
    """Registrations, a waitlist, a change of sessions, a new code and a cancellation that
    promotes someone: the messages of a busy day. Returns how many were queued."""
    small, big = (s.id for s in event.sessions)
    first = register(client, event, "first@example.org", [small])
    register(client, event, "second@example.org", [small])  # waitlisted
    third = register(client, event, "third@example.org", [big])
    changed = client.post(f"/manage/{third}/sessions", data={"sessions": [big, small]})
    assert changed.status_code == 303
    assert client.post(f"/manage/{first}/new-code").status_code == 303
    assert client.post(f"/manage/{first}/cancel").status_code == 303  # second gets the seat
    return len(outbox())


def delivered_exactly_once(server: MailServer) -> None:
    """One email in the inbox per outbox message, each one marked sent."""
    rows = outbox()
    assert [row.status for row in rows] == [MessageStatus.SENT] * len(rows)
    received = Counter((m["To"], m["Subject"]) for m in server.messages)
    assert sum(received.values()) == len(rows)
    assert len({m["Message-ID"] for m in server.messages}) == len(rows)


def test_mail_server_down_all_day_then_up_delivers_every_message_exactly_once(make_app, make_event):
    server = MailServer()  # not started: every connection is refused
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, MAIL_MAX_ATTEMPTS=8)
    with app.app_context():
        event = make_event({"title": "Small panel", "capacity": 1}, {"title": "Big panel"})
        queued = busy_day(app.test_client(), event)
        assert queued == 7  # 3 confirmations, a change, a new code, a cancellation, a promotion

        # Three rounds while the server is down: each message is tried once per round, then
        # left alone for twice as long as the time before (30 s, 1 min, 2 min after it failed).
        now = utcnow()
        for attempt, wait in enumerate((30, 60, 120), start=1):
            tried = utcnow()
            assert deliver_due(now=now) == {"sent": 0, "failed": queued}
            rows = outbox()
            for row in rows:
                assert (row.status, row.attempts) == (MessageStatus.PENDING, attempt)
                assert tried + timedelta(seconds=wait) <= row.next_attempt_at
                assert row.next_attempt_at <= utcnow() + timedelta(seconds=wait)
                assert "refused" in row.last_error.lower()
            due = [row.next_attempt_at for row in rows]
            assert deliver_due(now=min(due) - timedelta(seconds=1)) == {"sent": 0, "failed": 0}
            now = max(due)

        server.start()
        try:
            assert deliver_due(now=now) == {"sent": queued, "failed": 0}
            assert deliver_due(now=now + timedelta(days=1)) == {"sent": 0, "failed": 0}
            delivered_exactly_once(server)
        finally:
            server.stop()
        assert {row.last_error for row in outbox()} == {""}


class TurnsAwayForAWhile(Inbox):
    """Takes the first ``accept`` messages, then answers "451 try again later" to the next
    ``refuse``, then takes everything: a server that gets overloaded mid-batch."""

    def __init__(self, accept: int, refuse: int):
        super().__init__()
        self.accept, self.refuse = accept, refuse

    async def handle_DATA(self, server, session, envelope):
        if len(self.messages) >= self.accept and self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.2 Too busy, try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_server_that_turns_messages_away_mid_batch_gets_each_one_once(make_app, make_event):
    server = MailServer()
    server.inbox = TurnsAwayForAWhile(accept=3, refuse=4)
    server.start()
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
    try:
        with app.app_context():
            event = make_event({"title": "Small panel", "capacity": 1}, {"title": "Big panel"})
            queued = busy_day(app.test_client(), event)

            assert deliver_due() == {"sent": queued - 4, "failed": 4}
            refused = [row for row in outbox() if row.status == MessageStatus.PENDING]
            assert len(refused) == 4
            assert all("451" in row.last_error and row.attempts == 1 for row in refused)

            later = utcnow() + timedelta(seconds=31)
            assert deliver_due(now=later) == {"sent": 4, "failed": 0}
            assert deliver_due(now=later + timedelta(days=1)) == {"sent": 0, "failed": 0}
            delivered_exactly_once(server)
    finally:
        server.stop()


def test_a_message_claimed_by_a_sender_that_died_is_sent_once_its_claim_runs_out(
    make_app, make_event
):
    server = MailServer()
    server.start()
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
    try:
        with app.app_context():
            event = make_event()
            register(app.test_client(), event, "amina@example.org", [event.sessions[0].id])
            (row,) = outbox()
            now = utcnow()
            # A sender claims the message, then its process is killed before it sends anything.
            assert _claim(row.id, row.status, row.next_attempt_at, now)
            (row,) = outbox()
            assert row.status == MessageStatus.SENDING

            assert deliver_due(now=now + CLAIM_LEASE - timedelta(seconds=1)) == {
                "sent": 0,
                "failed": 0,
            }  # another sender keeps its hands off while the claim holds
            assert deliver_due(now=now + CLAIM_LEASE) == {"sent": 1, "failed": 0}
            assert deliver_due(now=now + 2 * CLAIM_LEASE) == {"sent": 0, "failed": 0}
            delivered_exactly_once(server)
    finally:
        server.stop()
