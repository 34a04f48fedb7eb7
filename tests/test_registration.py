"""A participant registers for sessions, sees the confirmation, manages and cancels."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from regapp.extensions import db
from regapp.models import AccessCode, EventSession, OutboxMessage, Participant, Registration
from tests.conftest import EXTERNAL_DATABASE_URL, registration_form


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def register(client, event, session_ids=None, **fields):
    return client.post(
        f"/e/{event.slug}/register", data=registration_form(event, session_ids, **fields)
    )


def statuses(participant: Participant) -> dict[str, str]:
    db.session.refresh(participant)
    return {r.session.title: r.status for r in participant.registrations}


def test_registration_form_has_the_agreed_labels_and_every_session(client, make_event):
    event = make_event({"title": "Opening session"}, {"title": "Panel 1"})
    page = client.get("/e/forum/register").get_data(as_text=True)
    for label in ["Full name", "Email", "Country", "Organisation", "Job title"]:
        assert re.search(rf"<label[^>]*>{label}</label>", page), label
    for session in event.sessions:
        assert f'<label for="session-{session.id}">{session.title}</label>' in page
    assert 'value="Azerbaijan"' in page and 'value="Côte d&#39;Ivoire"' in page


def test_participant_registers_for_two_sessions_and_sees_code_qr_and_manage_link(
    client, make_event
):
    event = make_event({"title": "Opening session"}, {"title": "Panel 1"}, {"title": "Panel 2"})
    ids = [event.sessions[0].id, event.sessions[2].id]
    response = register(client, event, ids)
    assert response.status_code == 303

    participant = db.session.scalar(select(Participant))
    assert participant.country == "AZ"
    assert statuses(participant) == {"Opening session": "confirmed", "Panel 2": "confirmed"}
    assert response.location.endswith(f"/manage/{participant.manage_token}/confirmation")

    page = client.get(response.location).get_data(as_text=True)
    assert "You are registered" in page
    assert "Opening session" in page and "Panel 2" in page and "Panel 1</strong>" not in page
    code = participant.active_code.code
    assert code.replace("-", "") in page.replace("-", "")
    assert f"/manage/{participant.manage_token}/qr.svg" in page
    assert f"/manage/{participant.manage_token}</a>" in page

    qr = client.get(f"/manage/{participant.manage_token}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data and code.encode() not in qr.data  # an image, not the text


def test_a_registration_writes_its_own_rows_and_changes_only_the_seats_taken(client, make_event):
    """Its statements take named parameters: none may set a column of the same name elsewhere
    (SQLAlchemy adds an UPDATE's parameters named after columns to its SET)."""
    event = make_event({"title": "Opening session", "capacity": 1}, {"title": "Panel 1"})
    opening, panel = event.sessions
    register(client, event, [opening.id], email="first@example.org")

    def rows(table, **where):
        db.session.expire_all()
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        query = query.order_by(table.c.id)
        return [dict(row) for row in db.session.execute(query).mappings()]

    sessions, participants = EventSession.__table__, Participant.__table__
    before = {"sessions": rows(sessions), "participants": rows(participants)}
    assert register(client, event, [opening.id, panel.id]).status_code == 303

    after = rows(sessions)
    taken = {row["id"]: row.pop("seats_taken") for row in after}
    for row in before["sessions"]:
        row.pop("seats_taken")
    assert after == before["sessions"]
    assert taken == {opening.id: 1, panel.id: 1}  # the opening session was full: waitlisted
    (new,) = [p for p in rows(participants) if p not in before["participants"]]
    assert len(rows(participants)) == 2
    assert (new["seats"], new["waitlisted"]) == (panel.mask, opening.mask)
    (code,) = rows(AccessCode.__table__, participant_id=new["id"])
    assert code["status"] == "active" and code["revoked_at"] is None
    (message,) = rows(OutboxMessage.__table__, participant_id=new["id"])
    assert (message["kind"], message["recipient"], message["status"]) == (
        "confirmation",
        new["email"],
        "pending",
    )
    assert (message["attempts"], message["session_title"], message["last_error"]) == (0, "", "")
    registrations = rows(Registration.__table__, participant_id=new["id"])
    assert {(r["session_id"], r["status"]) for r in registrations} == {
        (opening.id, "waitlisted"),
        (panel.id, "confirmed"),
    }


def test_registration_times_are_utc_whatever_the_database_sessions_time_zone(make_app, make_event):
    """PostgreSQL turns a time with a zone into one without in its session's time zone: every
    time a registration writes goes through the columns' type, which writes it in UTC."""
    if not EXTERNAL_DATABASE_URL.startswith("postgresql"):
        pytest.skip("SQLite keeps the times it is given, with no time zone of its own")
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": "-c timezone=Asia/Baku"}})
    with app.app_context():
        event = make_event({"title": "Opening session"})
        before = datetime.now(UTC)
        assert register(app.test_client(), event, [event.sessions[0].id]).status_code == 303
        participant = db.session.scalar(select(Participant))
        (registration,) = participant.registrations
        written = [participant.consent_at, participant.created_at, registration.queued_at]
        message = db.session.scalar(select(OutboxMessage))
        written += [participant.active_code.created_at, message.created_at]
        for moment in written:
            assert before - timedelta(seconds=5) < moment < datetime.now(UTC), written
        db.session.rollback()


def test_access_code_and_manage_token_are_separate_strong_secrets(client, make_event):
    event = make_event()
    register(client, event)
    participant = db.session.scalar(select(Participant))
    token, code = participant.manage_token, participant.active_code.code
    assert len(token) >= 43  # 32 bytes of secrets.token_urlsafe
    assert code not in token and token not in code
    assert client.get(f"/manage/{code}").status_code == 404


def test_manage_link_of_someone_else_never_shows_their_data(client, make_event):
    event = make_event()
    register(client, event, email="first@example.org", full_name="First Person")
    register(client, event, email="second@example.org", full_name="Second Person")
    first, second = db.session.scalars(select(Participant).order_by(Participant.id))
    page = client.get(f"/manage/{first.manage_token}").get_data(as_text=True)
    assert "First Person" in page and "Second Person" not in page
    assert second.active_code.code[2:10] not in page
    assert client.get("/manage/not-a-real-token").status_code == 404


def test_manage_page_is_private(client, make_event):
    event = make_event()
    register(client, event)
    participant = db.session.scalar(select(Participant))
    response = client.get(f"/manage/{participant.manage_token}")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_registering_again_with_the_same_email_in_other_case_creates_no_duplicate(
    client, make_event
):
    event = make_event()
    register(client, event, email="amina@example.org", full_name="Amina Rahimova")
    response = register(client, event, email="AMINA@Example.ORG", full_name="Someone Else")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "already registered for this event" in page
    assert "Amina Rahimova" not in page  # shows no one else's data
    assert count(Participant) == 1


def test_same_email_may_register_for_another_event(client, make_event):
    register(client, make_event(slug="forum"))
    register(client, make_event(slug="forum-2027"))
    assert count(Participant) == 2


def test_full_session_puts_new_registrant_on_waitlist_and_says_so(client, make_event):
    event = make_event({"title": "Small panel", "capacity": 1})
    register(client, event, email="a@example.org")
    register(client, event, email="b@example.org")
    response = register(client, event, email="c@example.org")
    first, second, third = db.session.scalars(select(Participant).order_by(Participant.id))
    assert statuses(first) == {"Small panel": "confirmed"}
    assert statuses(second) == {"Small panel": "waitlisted"}
    page = client.get(response.location).get_data(as_text=True)
    assert "Waitlisted, position 2" in page
    event_page = client.get("/e/forum/").get_data(as_text=True)
    assert "Full: waitlist (2 waiting)" in event_page


def test_unlimited_session_never_waitlists(client, make_event):
    event = make_event({"capacity": None})
    for i in range(5):
        register(client, event, email=f"p{i}@example.org")
    assert {r.status for r in db.session.scalars(select(Registration))} == {"confirmed"}
    assert "Unlimited seats" in client.get("/e/forum/").get_data(as_text=True)


def test_cancellation_promotes_the_earliest_waitlisted_at_once(client, make_event):
    event = make_event({"title": "Small panel", "capacity": 1})
    for who in ["a", "b", "c"]:
        register(client, event, email=f"{who}@example.org")
    a, b, c = db.session.scalars(select(Participant).order_by(Participant.id))
    response = client.post(f"/manage/{a.manage_token}/cancel")
    assert response.status_code == 303
    assert statuses(a) == {"Small panel": "cancelled"}
    assert statuses(b) == {"Small panel": "confirmed"}
    assert statuses(c) == {"Small panel": "waitlisted"}
    page = client.get(f"/manage/{c.manage_token}").get_data(as_text=True)
    assert "Waitlisted, position 1" in page
    assert "Registration cancelled" in client.get(f"/manage/{a.manage_token}").get_data(
        as_text=True
    )


def test_participant_adds_and_drops_sessions_on_manage_page(client, make_event):
    event = make_event({"title": "Opening", "capacity": 1}, {"title": "Panel"}, {"title": "Close"})
    opening, panel, close = (s.id for s in event.sessions)
    register(client, event, [opening, panel], email="a@example.org")
    register(client, event, [opening], email="b@example.org")
    a, b = db.session.scalars(select(Participant).order_by(Participant.id))

    response = client.post(f"/manage/{a.manage_token}/sessions", data={"sessions": [panel, close]})
    assert response.status_code == 303
    assert statuses(a) == {"Opening": "cancelled", "Panel": "confirmed", "Close": "confirmed"}
    assert statuses(b) == {"Opening": "confirmed"}  # took the freed seat

    # Re-joining a session puts you at the end of its waitlist, not back in your old seat.
    client.post(f"/manage/{a.manage_token}/sessions", data={"sessions": [opening, panel]})
    assert statuses(a) == {"Opening": "waitlisted", "Panel": "confirmed", "Close": "cancelled"}
    assert count(Registration) == 4  # rows are reused: unique per participant and session


def test_manage_page_refuses_an_empty_choice_and_keeps_sessions(client, make_event):
    event = make_event()
    register(client, event)
    participant = db.session.scalar(select(Participant))
    response = client.post(f"/manage/{participant.manage_token}/sessions", data={})
    assert response.status_code == 422
    assert "Choose at least one session" in response.get_data(as_text=True)
    assert statuses(participant) == {"Session 1": "confirmed"}


def test_registration_outside_the_event_window_is_refused(client, make_event):
    now = datetime.now(UTC)
    early = make_event(slug="early", registration_opens_at=now + timedelta(days=3))
    late = make_event(slug="late", registration_closes_at=now - timedelta(minutes=1))
    for event, message in [(early, "Registration opens on"), (late, "has closed")]:
        page = client.get(f"/e/{event.slug}/").get_data(as_text=True)
        assert message in page and ">Register</a>" not in page
        response = register(client, event, email=f"{event.slug}@example.org")
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert count(Participant) == 0


def test_registration_for_a_closed_or_past_session_is_refused(client, make_event):
    past = datetime.now(UTC) - timedelta(hours=3)
    event = make_event(
        {"title": "Open panel"},
        {"title": "Closed panel", "registration_open": False},
        {"title": "Past panel", "starts_at": past, "ends_at": past + timedelta(hours=1)},
    )
    ids = {s.title: s.id for s in event.sessions}
    open_, closed, gone = ids["Open panel"], ids["Closed panel"], ids["Past panel"]
    for session_id, message in [(closed, "is closed"), (gone, "already taken place")]:
        response = register(client, event, [open_, session_id])
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert count(Participant) == 0 and count(Registration) == 0


def test_a_new_code_revokes_the_old_one(app, client, make_event):
    event = make_event()
    register(client, event)
    participant = db.session.scalar(select(Participant))
    old = participant.active_code
    participant.issue_code()
    db.session.commit()
    assert old.status == "revoked" and old.revoked_at is not None
    assert participant.active_code.code != old.code
    assert count(AccessCode) == 2
