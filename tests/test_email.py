"""Confirmation emails through a real SMTP server: queued with the change, sent afterwards,
retried while the server is down, never lost."""

import io
import threading
from datetime import timedelta

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from regapp.extensions import db
from regapp.mail.outbox import deliver_due
from regapp.models import MessageStatus, OutboxMessage, Participant
from regapp.models.types import utcnow
from tests.conftest import registration_form
from tests.mailserver import MailServer, free_port, self_signed_certificate


@pytest.fixture
def mail_server():
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(make_app, mail_server):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port, MAIL_MAX_ATTEMPTS=3)
    with app.app_context():
        yield app


def decode_png(data: bytes) -> str:
    (barcode,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    return barcode.text


def decode_pdf(data: bytes) -> list[str]:
    pdf = pypdfium2.PdfDocument(data)
    found = []
    for page in pdf:
        image = page.render(scale=200 / 72).to_pil()
        found += [b.text for b in zxingcpp.read_barcodes(image)]
    return found


def register(client, event, sessions=None, **fields):
    response = client.post("/e/forum/register", data=registration_form(event, sessions, **fields))
    assert response.status_code == 303, response.text
    return db.session.scalar(select(Participant).order_by(Participant.id.desc()).limit(1))


def outbox_states() -> list[tuple[str, str]]:
    db.session.rollback()
    rows = db.session.execute(select(OutboxMessage.kind, OutboxMessage.status)).all()
    return sorted(tuple(r) for r in rows)


def test_confirmation_email_has_sessions_inline_qr_pdf_ticket_and_manage_link(
    mail_app, mail_server, make_event
):
    client = mail_app.test_client()
    event = make_event({"title": "Opening session"}, {"title": "Panel 1"}, {"title": "Panel 2"})
    participant = register(client, event, [event.sessions[0].id, event.sessions[1].id])
    code = participant.active_code.code
    assert outbox_states() == [("confirmation", "pending")]  # queued, not sent in the request

    assert deliver_due() == {"sent": 1, "failed": 0}
    (message,) = mail_server.messages
    assert message["To"] == "amina@example.org"
    assert message["Subject"] == "Your registration for Test Forum"
    assert mail_server.inbox.envelopes[0].mail_from == "forum@regapp.test"

    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    manage_url = f"http://regapp.test/manage/{participant.manage_token}"
    for body in (text, html):
        assert "Opening session" in body and "Panel 1" in body and "Panel 2" not in body
        assert manage_url in body
        assert "R1-" in body

    # The QR is inline (multipart/related, referenced by cid) and decodes to the code.
    inline = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(inline) == 1
    assert f"cid:{inline[0]['Content-ID'].strip('<>')}" in html
    assert decode_png(inline[0].get_content()) == code

    # The PDF ticket is attached; a phone-like decoder reads the code back from it.
    (ticket,) = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert ticket.get_filename() == "ticket-forum.pdf"
    assert code in decode_pdf(ticket.get_content())
    assert outbox_states() == [("confirmation", "sent")]


def test_changes_cancellation_promotion_and_new_code_each_send_an_email(
    mail_app, mail_server, make_event
):
    client = mail_app.test_client()
    event = make_event({"title": "Small panel", "capacity": 1}, {"title": "Big panel"})
    small, big = (s.id for s in event.sessions)
    first = register(client, event, [small], email="first@example.org")
    register(client, event, [small], email="second@example.org")  # waitlisted

    client.post(f"/manage/{first.manage_token}/sessions", data={"sessions": [small, big]})
    client.post(f"/manage/{first.manage_token}/new-code")
    deliver_due()  # messages say how things stand when they are sent
    client.post(f"/manage/{first.manage_token}/cancel")  # frees the seat: second is promoted
    deliver_due()

    subjects = sorted((m["To"], m["Subject"]) for m in mail_server.messages)
    assert subjects == [
        ("first@example.org", "Your new access code: Test Forum"),
        ("first@example.org", "Your registration for Test Forum"),
        ("first@example.org", "Your registration is cancelled: Test Forum"),
        ("first@example.org", "Your sessions have changed: Test Forum"),
        ("second@example.org", "A seat is yours: Small panel (Test Forum)"),
        ("second@example.org", "Your registration for Test Forum"),
    ]
    by_subject = {m["Subject"]: m for m in mail_server.messages}
    cancelled = by_subject["Your registration is cancelled: Test Forum"]
    assert not list(cancelled.iter_attachments())  # no ticket for someone with no sessions
    new_code = by_subject["Your new access code: Test Forum"]
    db.session.refresh(first)
    new_text = new_code.get_body(preferencelist=("plain",)).get_content()
    assert first.codes[-1].code.replace("R1", "R1-", 1)[:8] in new_text


def test_mail_server_down_then_up_loses_no_message(make_app, make_event):
    server = MailServer(port=free_port())  # not started yet: connections are refused
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, MAIL_MAX_ATTEMPTS=5)
    with app.app_context():
        event = make_event()
        client = app.test_client()
        register(client, event)  # registration works while mail is down
        assert deliver_due() == {"sent": 0, "failed": 1}
        db.session.rollback()
        row = db.session.scalar(select(OutboxMessage))
        assert row.status == MessageStatus.PENDING and row.attempts == 1
        assert "Connection refused" in row.last_error or "ConnectionRefused" in row.last_error
        assert row.next_attempt_at > utcnow() + timedelta(seconds=20)  # backs off
        assert deliver_due() == {"sent": 0, "failed": 0}  # not due yet: nothing tried

        server.start()
        try:
            assert deliver_due(now=utcnow() + timedelta(seconds=31)) == {"sent": 1, "failed": 0}
            assert len(server.messages) == 1
        finally:
            server.stop()
        assert outbox_states() == [("confirmation", "sent")]


def test_a_message_is_given_up_after_the_last_attempt_and_shown_as_failed(
    make_app, make_event, runner
):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), MAIL_MAX_ATTEMPTS=2)
    with app.app_context():
        register(app.test_client(), make_event())
        later = utcnow()
        for _ in range(2):
            deliver_due(now=later)
            later += timedelta(hours=2)
        assert outbox_states() == [("confirmation", "failed")]
        result = app.test_cli_runner().invoke(args=["outbox", "status", "--problems"])
        assert "failed: 1" in result.output
        assert "confirmation" in result.output and "attempts=2" in result.output


def test_two_senders_at_once_send_each_message_exactly_once(make_app, make_event, mail_server):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port)
    with app.app_context():
        event = make_event({"capacity": None})
        client = app.test_client()
        for i in range(12):
            register(client, event, email=f"p{i}@example.org")
    barrier = threading.Barrier(4)

    def sender():
        with app.app_context():
            barrier.wait()
            return deliver_due()

    threads_results = []
    threads = [threading.Thread(target=lambda: threads_results.append(sender())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["sent"] for r in threads_results) == 12
    recipients = sorted(m["To"] for m in mail_server.messages)
    assert recipients == sorted(f"p{i}@example.org" for i in range(12))


def test_development_backend_writes_eml_files(make_app, make_event, tmp_path, capsys):
    app = make_app(MAIL_BACKEND="files", MAIL_OUTBOX_DIR=str(tmp_path))
    with app.app_context():
        token = register(app.test_client(), make_event()).manage_token
        result = app.test_cli_runner().invoke(args=["outbox", "deliver"])
        assert "sent: 1" in result.output
    (eml,) = tmp_path.glob("*.eml")
    assert "confirmation" in eml.name
    assert str(eml) in capsys.readouterr().out + result.output
    content = eml.read_bytes()
    assert b"Your registration for Test Forum" in content
    assert token.encode() in content


def test_registration_does_not_wait_for_a_dead_mail_server(make_app, make_event):
    # A black hole: accepts the TCP connection, never answers. Delivery happens later, elsewhere.
    import socket

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen()
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=hole.getsockname()[1], SMTP_TIMEOUT=1)
    try:
        with app.app_context():
            register(app.test_client(), make_event())
            assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
            assert deliver_due() == {"sent": 0, "failed": 1}  # times out, retried later
    finally:
        hole.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # see MailServer
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_over_tls_with_credentials(make_app, make_event, tmp_path, security):
    cert, key = self_signed_certificate(tmp_path)
    server = MailServer(
        tls=(cert, key), implicit_tls=security == "ssl", credentials=("forum", "s3cret")
    )
    server.start()
    settings = {
        "SMTP_HOST": "localhost",
        "SMTP_PORT": server.port,
        "SMTP_SECURITY": security,
        "SMTP_CA_FILE": str(cert),
        "SMTP_USERNAME": "forum",
    }
    try:
        wrong = make_app(**settings, SMTP_PASSWORD="wrong")
        with wrong.app_context():
            register(wrong.test_client(), make_event())
            assert deliver_due() == {"sent": 0, "failed": 1}
            assert "Authentication" in db.session.scalar(select(OutboxMessage.last_error))
        right = make_app(**settings, SMTP_PASSWORD="s3cret")
        with right.app_context():
            assert deliver_due(now=utcnow() + timedelta(minutes=1)) == {"sent": 1, "failed": 0}
        assert len(server.messages) == 1
    finally:
        server.stop()
