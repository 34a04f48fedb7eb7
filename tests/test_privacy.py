"""A participant's data on request (a JSON download), erasure on request (personal data gone,
the counts kept), and erasure of whole events once their retention period has passed
(``flask purge-expired``)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from regapp.checkin.services import Door, Scan, record_scan
from regapp.extensions import db
from regapp.mail.outbox import deliver_due
from regapp.models import (
    AuditEntry,
    CheckIn,
    CodeStatus,
    EventSession,
    ImportJob,
    MessageStatus,
    OutboxMessage,
    Participant,
    RegistrationStatus,
)
from regapp.models.types import utcnow
from regapp.participants.services import purge_expired
from tests.mailserver import MailServer
from tests.test_participants_admin import (
    LIST,
    audit_entries,
    detail_url,
    fresh,
    person,
    queued,
    sign_in,
)


@pytest.fixture
def mail_server():
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(make_app, mail_server):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port)
    with app.app_context():
        yield app


@pytest.fixture
def forum(make_event):
    return make_event(
        {"title": "Opening session", "capacity": 100},
        {"title": "Panel 1", "capacity": 100, "stream_url": "https://stream.example.org/1"},
    )


@pytest.fixture
def organiser(client, forum):
    sign_in(client)
    return client


def dashboard_numbers(client, slug: str = "forum") -> dict:
    """Every figure of the event's dashboard (not the time it was counted)."""
    data = client.get(f"/e/{slug}/dashboard/data").get_json()
    assert data is not None
    return {k: v for k, v in data.items() if not k.startswith("as_of")}


# -- the data export ---------------------------------------------------------------------------


def test_export_holds_what_we_know_of_the_participant_and_nothing_of_others(organiser, forum):
    opening, panel = forum.sessions
    amina = person(forum, "Amina Rahimova", "amina@example.org", [opening, panel])
    bola = person(forum, "Bola Adeyemi", "bola@example.org", [opening])
    organiser.post(f"{detail_url(amina)}/new-code")
    code = fresh(amina).active_code.code
    record_scan(Scan(Door.of(opening), code=code, gate="North door"), now=opening.starts_at)
    deliver_due()  # fails (no mail server on port 25): the attempts show in the export

    response = organiser.get(f"{detail_url(amina)}/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="participant-{amina.id}-forum.json"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    data = json.loads(response.data)
    amina = fresh(amina)
    assert data["participant"] == {
        "id": amina.id,
        "full_name": "Amina Rahimova",
        "email": "amina@example.org",
        "country": "AZ",
        "country_name": "Azerbaijan",
        "organisation": "ASAN Service",
        "job_title": "Adviser",
        "category": "delegate",
        "registered_at": amina.created_at.isoformat(),
        "consent_to_privacy_notice_at": amina.consent_at.isoformat(),
        "erased_at": None,
    }
    assert [(r["session"], r["status"]) for r in data["registrations"]] == [
        ("Opening session", "confirmed"),
        ("Panel 1", "confirmed"),
    ]
    assert [c["status"] for c in data["access_codes"]] == ["revoked", "active"]
    (check_in,) = data["check_ins"]
    assert (check_in["session"], check_in["verdict"], check_in["gate"]) == (
        "Opening session",
        "ok",
        "North door",
    )
    assert [(e["kind"], e["to"]) for e in data["emails"]] == [
        ("confirmation", "amina@example.org"),
        ("new_code", "amina@example.org"),
    ]
    assert [c["action"] for c in data["changes_by_organisers"]] == ["participant.new_code"]
    # Secrets and other people stay out.
    text = response.text
    for secret in (amina.manage_token, amina.join_token, code, *(c.code for c in amina.codes)):
        assert secret not in text
    for other in ("Bola", "bola@example.org", "Olga", "organiser@example.org"):
        assert other not in text
    assert bola is not None
    # The download itself is noted, without personal data.
    (entry,) = audit_entries("participant.export")
    assert entry.target == f"participant {amina.id}" and entry.details == {}


# -- erasure on request ------------------------------------------------------------------------


def test_erase_asks_first_and_says_the_counts_stay(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    page = organiser.get(detail_url(amina)).text
    assert f'href="{detail_url(amina)}/erase"' in page
    confirm = organiser.get(f"{detail_url(amina)}/erase")
    assert confirm.status_code == 200
    assert "Erase Amina's personal data?" in confirm.text
    assert "Kept, so the counts do not change" in confirm.text
    assert "The dashboard, exports and session counts show the same numbers" in confirm.text
    assert 'method="post"' in confirm.text
    assert fresh(amina).erased_at is None


def test_erasure_removes_personal_data_and_keeps_the_counts(organiser, forum):
    opening, panel = forum.sessions
    amina = person(forum, "Amina Rahimova", "amina@example.org", [opening, panel], country="NG")
    person(forum, "Bola", "bola@example.org", [opening])
    old = fresh(amina)
    manage, join, code = old.manage_token, old.join_token, old.active_code.code
    record_scan(Scan(Door.of(opening), code=code, gate="North door"), now=opening.starts_at)
    # One email went out and failed; another is still waiting.
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.participant_id == old.id))
    message.status, message.last_error = MessageStatus.FAILED, "550 <amina@example.org> unknown"
    db.session.commit()
    organiser.post(f"{detail_url(amina)}/resend")
    before = dashboard_numbers(organiser)
    assert organiser.get(f"/manage/{manage}").status_code == 200

    response = organiser.post(f"{detail_url(amina)}/erase")
    assert response.status_code == 303
    assert "Personal data erased" in organiser.get(response.location).text

    after = fresh(amina)
    assert after.full_name == "Erased participant"
    assert after.email == f"erased-{after.id}@erased.invalid"
    assert after.job_title == ""
    assert (after.country, after.organisation, after.category) == ("NG", "ASAN Service", "delegate")
    assert after.erased_at is not None
    assert after.manage_token != manage and after.join_token != join
    assert [c.status for c in after.codes] == [CodeStatus.REVOKED]
    assert [r.status for r in after.registrations] == [RegistrationStatus.CONFIRMED] * 2
    assert db.session.scalar(select(CheckIn.verdict).where(CheckIn.participant_id == after.id))
    # The waiting email is dropped; the failed one keeps no address or server reply.
    assert queued(after) == [("confirmation", "")]
    assert db.session.scalar(select(OutboxMessage.last_error)) == ""
    # Reports count exactly as before.
    assert dashboard_numbers(organiser) == before

    # Old links lead to a clear page, and the old code is refused at the door.
    for link in (f"/manage/{manage}", f"/manage/{manage}/qr.svg", f"/manage/{manage}/ticket.pdf"):
        refused = organiser.get(link)
        assert refused.status_code == 404, link
    assert (
        "If the registration&#39;s personal data was erased"
        in organiser.get(f"/manage/{manage}").text
    )
    assert organiser.get(f"/join/{join}/{panel.id}").status_code == 404
    scan = record_scan(Scan(Door.of(opening), code=code), now=opening.starts_at)
    assert scan.verdict == "revoked_code"

    # The audit log says who erased whom, by id only.
    (entry,) = audit_entries("participant.erase")
    assert entry.target == f"participant {after.id}" and entry.details == {}
    assert "Amina" not in json.dumps([e.details for e in audit_entries()])

    # The list shows the record as erased; erasing again changes nothing.
    listing = organiser.get(LIST).text
    assert "Erased participant" in listing and "amina@example.org" not in listing
    again = organiser.post(f"{detail_url(amina)}/erase")
    assert "already been erased" in organiser.get(again.location).text
    assert len(audit_entries("participant.erase")) == 1


def test_an_erased_record_can_no_longer_be_changed(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    organiser.post(f"{detail_url(amina)}/erase")
    base = detail_url(amina)
    page = organiser.get(base).text
    assert "Personal data erased on" in page and "Save details" not in page
    details = {"full_name": "Amina", "email": "amina@example.org", "country": "AZ"}
    for path, data in [
        (base, details | {"category": "delegate"}),
        (f"{base}/sessions", {"sessions": [str(forum.sessions[1].id)]}),
        (f"{base}/promote", {"session_id": forum.sessions[0].id}),
        (f"{base}/cancel", {"confirm": "y"}),
        (f"{base}/resend", {}),
        (f"{base}/new-code", {}),
    ]:
        response = organiser.post(path, data=data)
        assert response.status_code == 303, path
        assert "can no longer be changed" in organiser.get(response.location).text, path
    after = fresh(amina)
    assert after.full_name == "Erased participant" and after.active_code is None
    assert [r.session_id for r in after.registrations] == [forum.sessions[0].id]
    assert queued(after) == []


def test_no_email_reaches_an_erased_participant(mail_app, mail_server, make_event):
    forum = make_event()
    amina = person(forum, "Amina", "amina@example.org")
    bola = person(forum, "Bola", "bola@example.org")
    client = mail_app.test_client()
    sign_in(client)
    client.post(f"{detail_url(amina)}/erase")
    assert deliver_due() == {"sent": 1, "failed": 0}
    (message,) = mail_server.messages
    assert message["To"] == "bola@example.org"
    assert bola is not None


# -- retention -------------------------------------------------------------------------------


def move_sessions(event, ago: timedelta) -> None:
    """The event's sessions took place ``ago`` (their last one ended then)."""
    db.session.rollback()
    sessions = db.session.scalars(select(EventSession).where(EventSession.event_id == event.id))
    for session in sessions:
        length = session.ends_at - session.starts_at
        session.ends_at = utcnow() - ago
        session.starts_at = session.ends_at - length
    db.session.commit()


def test_purge_expired_erases_only_events_past_their_retention_period(client, runner, make_event):
    old = make_event(slug="forum-2025", retention_days=30)
    recent = make_event(slug="forum-recent", retention_days=30)
    kept = make_event(slug="forum-kept")  # no retention period: kept until erased by hand
    people = {
        event.slug: [person(event, f"P{i}", f"p{i}@{event.slug}.org") for i in range(3)]
        for event in (old, recent, kept)
    }
    sign_in(client)
    client.post(f"/e/forum-2025/admin/participants/{people['forum-2025'][0].id}/erase")
    move_sessions(old, timedelta(days=31))
    move_sessions(recent, timedelta(days=29))
    move_sessions(kept, timedelta(days=400))
    before = dashboard_numbers(client, "forum-2025")
    # Imports never finished keep the rows of their file, names and emails included.
    for event in (old, recent):
        db.session.add(ImportJob(event=event, rows=[{"line": 2, "email": f"x@{event.slug}.org"}]))
    db.session.commit()

    result = runner.invoke(args=["purge-expired"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("forum-2025: erased 2 participants (retention 30 days after")
    assert lines[1].startswith("forum-recent: keeps personal data until")
    assert lines[-1] == "Erased 2 participants in all; 2 events with a retention period."
    erased = {
        p.email.split("@")[1] if not p.erased_at else "erased"
        for p in (fresh(p) for group in people.values() for p in group)
    }
    assert erased == {"erased", "forum-recent.org", "forum-kept.org"}
    assert all(fresh(p).erased_at for p in people["forum-2025"])
    assert not any(fresh(p).erased_at for p in people["forum-recent"] + people["forum-kept"])
    assert dashboard_numbers(client, "forum-2025") == before
    left = db.session.scalars(select(ImportJob.event_id)).all()
    assert left == [recent.id]

    (entry,) = audit_entries("participant.purge")
    assert entry.actor == "flask purge-expired" and entry.event_id == old.id
    assert entry.details == {"participants": 2, "retention_days": 30}

    again = runner.invoke(args=["purge-expired"])
    assert again.exit_code == 0
    assert again.output.splitlines()[0].startswith("forum-2025: nothing left to erase")
    assert again.output.splitlines()[-1].startswith("Erased 0 participants in all")
    assert len(audit_entries("participant.purge")) == 1


def test_purge_works_in_short_transactions(app, make_event):
    event = make_event(retention_days=0)
    for i in range(5):
        person(event, f"P{i}", f"p{i}@example.org")
    move_sessions(event, timedelta(minutes=1))
    (result,) = purge_expired(batch=2)
    assert result.erased == 5
    assert [e.details["participants"] for e in audit_entries("participant.purge")] == [2, 2, 1]
    db.session.rollback()
    assert db.session.scalars(select(Participant.full_name).distinct()).all() == [
        "Erased participant"
    ]
    assert purge_expired(batch=2)[0].erased == 0


def test_an_event_without_sessions_is_never_purged(runner, make_event, app):
    event = make_event(slug="empty", retention_days=1)
    db.session.delete(event.sessions[0])
    db.session.commit()
    result = runner.invoke(args=["purge-expired"])
    assert "empty: no sessions" in result.output
    assert db.session.scalar(select(AuditEntry.id)) is None
