"""Organisers set up events and their sessions in the browser's forms: settings in the event's
time zone, archive, sessions added, edited, reordered and removed, and capacity changes that
refuse to drop below the confirmed seats and hand new seats to the waitlist, also under load."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from regapp.auth.services import create_staff
from regapp.checkin.services import Door, Scan, record_scan
from regapp.database import begin_write
from regapp.extensions import db
from regapp.models import (
    MAX_SESSIONS,
    AuditEntry,
    Event,
    EventSession,
    MessageKind,
    OutboxMessage,
    Participant,
    Registration,
    RegistrationStatus,
    Role,
)
from regapp.registration.services import (
    ParticipantDetails,
    cancel_participation,
    register,
    set_capacity,
)
from tests.conftest import registration_form
from tests.dbstate import broken_invariants

PASSWORD = "correct horse battery"


def sign_in(client, email: str, role: Role, events=(), name: str = ""):
    """A staff account of ``role`` on ``events``, signed in with ``client``."""
    staff = create_staff(email, role, PASSWORD, name or email.split("@")[0].title(), events=events)
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return staff


def person(event: Event, n: int, *session_ids: int) -> Participant:
    details = ParticipantDetails(
        full_name=f"Person {n}",
        email=f"person{n}@example.org",
        country="AZ",
        organisation="ASAN Service",
        job_title="",
        category="delegate",
    )
    return register(event, details, session_ids or [event.sessions[0].id])


def statuses(session_id: int) -> list[str]:
    """The registrations' statuses for a session, in registration order."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Registration.status)
            .where(Registration.session_id == session_id)
            .order_by(Registration.id)
        )
    )


def audit_actions(*prefixes: str) -> list[str]:
    """The audit log's actions in order; those about events and sessions unless told."""
    db.session.rollback()
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
    return [a for a in actions if a.startswith(prefixes or ("event.", "session."))]


NEW_EVENT = {
    "name": "Global Web Forum 2027",
    "slug": "forum-2027",
    "timezone": "Asia/Baku",
    "venue": "Baku, and online",
    "organiser": "ASAN",
    "description": "Next year's forum.",
    "registration_opens_at": "2027-03-01T09:00",
    "registration_closes_at": "2027-05-19T18:00",
    "privacy_notice": "",
    "retention_days": "365",
}


@pytest.fixture
def organiser(client, app):
    return sign_in(client, "lead@example.org", Role.ORGANISER)


def new_event(client, **overrides):
    return client.post("/staff/events/new", data={**NEW_EVENT, **overrides})


# --------------------------------------------------------------------------------- events


def test_organiser_creates_an_event_in_its_time_zone_and_is_assigned_to_it(client, organiser):
    response = new_event(client)

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/e/forum-2027/admin/sessions")
    event = db.session.scalar(select(Event).where(Event.slug == "forum-2027"))
    assert event.timezone == "Asia/Baku" and event.retention_days == 365
    # 09:00 in Baku (UTC+4) is 05:00 UTC
    assert event.registration_opens_at == datetime(2027, 3, 1, 5, 0, tzinfo=UTC)
    assert event.registration_closes_at == datetime(2027, 5, 19, 14, 0, tzinfo=UTC)
    assert [e.slug for e in organiser.events] == ["forum-2027"]
    assert "Global Web Forum 2027" in client.get("/staff/").text
    settings = client.get("/e/forum-2027/admin/")
    assert 'value="2027-03-01T09:00"' in settings.text  # shown again in Baku time
    assert audit_actions() == ["event.create"]


def test_admin_creates_events_without_being_assigned_and_sees_them_all(client, app):
    admin = sign_in(client, "admin@example.org", Role.ADMIN)

    assert new_event(client).status_code == 303
    assert new_event(client, slug="forum-2028", name="Forum 2028").status_code == 303

    assert admin.events == []
    listing = client.get("/staff/events").text
    assert "Global Web Forum 2027" in listing and "Forum 2028" in listing


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Forum 2027!", "Use lowercase letters, digits and single hyphens"),
        ("forum--2027", "Use lowercase letters, digits and single hyphens"),
        ("-forum", "Use lowercase letters, digits and single hyphens"),
        ("", "Choose the event&#39;s address"),
        ("x" * 81, "Field cannot be longer than 80 characters."),
    ],
)
def test_a_bad_address_is_refused_with_a_reason_and_nothing_is_saved(
    client, organiser, slug, message
):
    response = new_event(client, slug=slug)

    assert response.status_code == 422
    assert message in response.text
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_an_address_in_capitals_is_taken_in_lowercase(client, organiser):
    assert new_event(client, slug="Forum-2027").status_code == 303
    assert db.session.scalar(select(Event.slug)) == "forum-2027"


def test_an_address_already_taken_is_refused(client, organiser, make_event):
    make_event(slug="forum-2027")

    response = new_event(client, name="Another forum")

    assert response.status_code == 422
    assert "The address “forum-2027” is taken by another event" in response.text
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1


def test_settings_are_checked_time_zone_window_and_retention(client, organiser):
    response = new_event(
        client,
        timezone="Mars/Olympus_Mons",
        registration_closes_at="2027-02-01T09:00",
        retention_days="0",
    )

    assert response.status_code == 422
    assert "Not a valid choice." in response.text
    assert "Registration must close after it opens." in response.text
    assert "Enter a number of days from 1 to 36500" in response.text
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_organiser_edits_the_privacy_notice_shown_behind_the_consent_box(client, make_event):
    event = make_event()
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[event])
    form = client.get("/e/forum/admin/").text
    assert "Test Forum" in form

    notice = "We keep your data for the forum only.\nAsk privacy@example.org to see it."
    response = client.post(
        "/e/forum/admin/",
        data={**NEW_EVENT, "slug": "forum", "name": "Test Forum", "privacy_notice": notice},
    )

    assert response.status_code == 303
    privacy = client.get("/e/forum/privacy").text
    assert "We keep your data for the forum only." in privacy
    assert 'href="/e/forum/privacy"' in client.get("/e/forum/register").text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "event.update"))
    assert "privacy_notice" in entry.details["fields"]


def test_changing_the_address_moves_the_event(client, make_event):
    event = make_event()
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[event])

    response = client.post(
        "/e/forum/admin/", data={**NEW_EVENT, "slug": "forum-next", "name": "Test Forum"}
    )

    assert response.headers["Location"].endswith("/e/forum-next/admin/")
    assert client.get("/e/forum-next/").status_code == 200
    assert client.get("/e/forum/").status_code == 404


def test_archived_event_leaves_the_public_list_and_refuses_registrations(client, make_event):
    event = make_event(name="Forum 2026")
    make_event(slug="forum-2027", name="Forum 2027")
    staff_client = client.application.test_client()
    sign_in(staff_client, "lead@example.org", Role.ORGANISER, events=[event])

    assert staff_client.post("/e/forum/admin/archive").status_code == 303

    public = client.get("/").text
    assert "Forum 2026" not in public and "Forum 2027" in public
    page = client.get("/e/forum/register")
    assert "This event is archived: it takes no new registrations." in page.text
    refused = client.post("/e/forum/register", data=registration_form(event))
    assert refused.status_code == 422
    assert "archived" in refused.text
    assert db.session.scalar(select(func.count()).select_from(Participant)) == 0
    # staff still see it, marked
    home = staff_client.get("/staff/").text
    assert "Archived events" in home and "Forum 2026" in home
    assert "Archived" in staff_client.get("/staff/events").text
    assert staff_client.get("/e/forum/admin/sessions").status_code == 200

    assert staff_client.post("/e/forum/admin/unarchive").status_code == 303
    assert "Forum 2026" in client.get("/").text
    assert client.post("/e/forum/register", data=registration_form(event)).status_code == 303
    assert audit_actions() == ["event.archive", "event.unarchive"]


def test_event_pages_are_for_its_organisers_and_admins_only(client, make_event):
    mine = make_event()
    make_event(slug="other")
    assert client.get("/e/forum/admin/").status_code == 302  # to the sign-in page
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[mine])

    for path in ("/", "/sessions", "/devices", "/audit"):
        assert client.get(f"/e/forum/admin{path}").status_code == 200
        assert client.get(f"/e/other/admin{path}").status_code == 403
    assert client.post("/e/other/admin/archive").status_code == 403
    assert client.get("/e/nowhere/admin/").status_code == 404

    door = client.application.test_client()
    sign_in(door, "door@example.org", Role.SCANNER, events=[mine])
    assert door.get("/e/forum/admin/").status_code == 403
    assert door.get("/staff/events").status_code == 403
    assert door.get("/staff/events/new").status_code == 403


def test_nothing_changes_on_get(client, make_event):
    event = make_event()
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[event])
    session_id = event.sessions[0].id

    for path in (
        "/e/forum/admin/archive",
        "/e/forum/admin/unarchive",
        f"/e/forum/admin/sessions/{session_id}/move",
        f"/e/forum/admin/sessions/{session_id}/remove",
        f"/e/forum/admin/sessions/{session_id}/registration",
        "/e/forum/admin/devices/1/revoke",
    ):
        assert client.get(path).status_code == 405, path
    assert audit_actions() == []


def test_forms_without_their_csrf_token_change_nothing(make_app, make_event):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        event = make_event()
        create_staff("lead@example.org", Role.ORGANISER, PASSWORD, events=[event])
        client = app.test_client()
        login = client.get("/staff/login").text
        token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post(
            "/staff/login",
            data={"email": "lead@example.org", "password": PASSWORD, "csrf_token": token},
        )

        for path, data in (
            ("/e/forum/admin/archive", {}),
            ("/staff/events/new", NEW_EVENT),
            ("/e/forum/admin/", {**NEW_EVENT, "slug": "x"}),
            ("/e/forum/admin/sessions", SESSION),
        ):
            refused = client.post(path, data=data)
            assert refused.status_code == 400, path
            assert "Form expired" in refused.text

        db.session.rollback()
        assert db.session.get(Event, event.id).archived_at is None
        assert db.session.scalar(select(func.count()).select_from(Event)) == 1
        assert audit_actions() == []


# ------------------------------------------------------------------------------- sessions

SESSION = {
    "title": "Opening session",
    "kind": "opening",
    "day": "2027-05-20",
    "starts": "10:00",
    "ends": "11:30",
    "room": "Hall A",
    "capacity": "",
    "stream_url": "https://stream.example.org/opening",
    "checkin_opens_at": "",
    "checkin_closes_at": "",
    "registration_open": "y",
}


#: The forum's session: 20 May 2027, 10:00-11:00 in Baku (UTC+4).
OPENING = {
    "starts_at": datetime(2027, 5, 20, 6, 0, tzinfo=UTC),
    "ends_at": datetime(2027, 5, 20, 7, 0, tzinfo=UTC),
}


@pytest.fixture
def forum(client, make_event):
    """An event with one session (capacity 100) and its organiser signed in with ``client``."""
    event = make_event(OPENING)
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[event])
    return event


def session_page(event: Event) -> str:
    return f"/e/{event.slug}/admin/sessions"


def add_session(client, event, **overrides):
    return client.post(session_page(event), data={**SESSION, **overrides})


def edit(client, session: EventSession, **overrides):
    data = {
        **SESSION,
        "title": session.title,
        "kind": session.kind,
        "day": session.event.local(session.starts_at).strftime("%Y-%m-%d"),
        "starts": session.event.local(session.starts_at).strftime("%H:%M"),
        "ends": session.event.local(session.ends_at).strftime("%H:%M"),
        "capacity": "" if session.capacity is None else str(session.capacity),
        "stream_url": session.stream_url,
        "room": session.room,
        **overrides,
    }
    return client.post(f"{session_page(session.event)}/{session.id}", data=data)


def test_organiser_adds_a_session_in_the_event_time_zone(client, forum):
    response = add_session(client, forum, checkin_opens_at="2027-05-20T08:30")

    assert response.status_code == 303
    added = db.session.scalar(select(EventSession).where(EventSession.title == "Opening session"))
    assert added.starts_at == datetime(2027, 5, 20, 6, 0, tzinfo=UTC)  # Baku is UTC+4
    assert added.ends_at == datetime(2027, 5, 20, 7, 30, tzinfo=UTC)
    assert added.capacity is None  # blank: unlimited
    assert added.checkin_opens_at == datetime(2027, 5, 20, 4, 30, tzinfo=UTC)
    assert added.checkin_closes_at is None  # blank: the default window
    assert added.kind == "opening" and added.registration_open
    page = client.get(session_page(forum)).text
    assert "10:00–11:30" in page and "unlimited" in page
    assert audit_actions() == ["session.create"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends": "09:00"}, "The session must end after it starts"),
        ({"title": ""}, "Enter the session&#39;s title."),
        ({"day": "next tuesday"}, "Enter a date, like 2027-05-20."),
        ({"starts": "25:00"}, "Enter a time, like 09:30."),
        ({"capacity": "-1"}, "Enter a number of seats (0 or more)"),
        ({"capacity": "lots"}, "Enter a whole number, or leave it empty."),
        ({"stream_url": "javascript:alert(1)"}, "Enter a full web address"),
        ({"stream_url": "ftp://stream.example.org/x"}, "starting with https://"),
        ({"kind": "party"}, "Not a valid choice."),
        (
            {"checkin_opens_at": "2027-05-20T10:00", "checkin_closes_at": "2027-05-20T09:00"},
            "Check-in must close after it opens.",
        ),
    ],
)
def test_a_bad_session_is_refused_with_a_reason(client, forum, overrides, message):
    response = add_session(client, forum, **overrides)

    assert response.status_code == 422
    assert message in response.text
    assert len(db.session.scalars(select(EventSession)).all()) == 1


def test_sessions_that_start_together_are_moved_up_and_down(client, forum):
    for title in ("Panel A", "Panel B", "Panel C"):
        add_session(client, forum, title=title, starts="14:00", ends="15:30")
    add_session(client, forum, title="Closing", starts="16:00", ends="17:00")

    def order():
        db.session.expire_all()
        return [s.title for s in db.session.get(Event, forum.id).sessions if "Panel" in s.title]

    page = client.get(session_page(forum)).text
    assert page.count(">Move up</button>") == 2 and page.count(">Move down</button>") == 2
    panel_c = db.session.scalar(select(EventSession).where(EventSession.title == "Panel C"))
    move = f"{session_page(forum)}/{panel_c.id}/move"

    assert client.post(move, data={"direction": "up"}).status_code == 303
    assert order() == ["Panel A", "Panel C", "Panel B"]
    client.post(move, data={"direction": "up"})
    assert order() == ["Panel C", "Panel A", "Panel B"]

    refused = client.post(move, data={"direction": "up"}, follow_redirects=True)
    assert "“Panel C” is already first among the sessions that start at the same time." in (
        refused.text
    )
    assert order() == ["Panel C", "Panel A", "Panel B"]
    client.post(move, data={"direction": "down"})
    assert order() == ["Panel A", "Panel C", "Panel B"]
    assert client.post(move, data={"direction": "sideways"}).status_code == 400
    assert audit_actions().count("session.move") == 3


def test_organiser_edits_a_session(client, forum):
    session = forum.sessions[0]

    response = edit(client, session, title="Opening plenary", room="Hall B", capacity="")

    assert response.status_code == 303
    db.session.expire_all()
    assert session.title == "Opening plenary" and session.room == "Hall B"
    assert session.capacity is None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "session.update"))
    assert entry.target == f"session {session.id}"
    assert entry.details == {"fields": ["capacity", "room", "title"]}


def test_lowering_capacity_below_the_confirmed_seats_is_refused_naming_the_count(client, forum):
    session = forum.sessions[0]
    for n in range(3):
        person(forum, n)

    response = edit(client, session, capacity="2", title="Renamed")

    assert response.status_code == 422
    assert "3 people hold confirmed seats in “Session 1”, so the capacity cannot go below 3." in (
        response.text
    )
    db.session.expire_all()
    assert session.capacity == 100 and session.title == "Session 1"  # nothing saved
    assert edit(client, session, capacity="3").status_code == 303  # exactly the count is fine
    db.session.expire_all()
    assert session.capacity == 3


def test_raising_capacity_promotes_the_waitlist_in_order_with_their_email(client, forum):
    session = forum.sessions[0]
    begin_write()
    set_capacity(session, 2)
    db.session.commit()
    people = [person(forum, n) for n in range(5)]
    assert statuses(session.id) == ["confirmed"] * 2 + ["waitlisted"] * 3

    response = edit(client, session, capacity="3")

    assert response.status_code == 303
    assert statuses(session.id) == ["confirmed"] * 3 + ["waitlisted"] * 2
    promoted_to = db.session.scalars(
        select(OutboxMessage.participant_id).where(OutboxMessage.kind == MessageKind.PROMOTED)
    ).all()
    assert promoted_to == [people[2].id]
    flashed = client.get(session_page(forum)).text
    assert "1 person moved from the waitlist to a seat and is being emailed." in flashed

    edit(client, session, capacity="")  # unlimited: everyone waiting gets a seat
    assert statuses(session.id) == ["confirmed"] * 5
    promoted_to = db.session.scalars(
        select(OutboxMessage.participant_id)
        .where(OutboxMessage.kind == MessageKind.PROMOTED)
        .order_by(OutboxMessage.id)
    ).all()
    assert promoted_to == [people[2].id, people[3].id, people[4].id]
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "session.update").order_by(AuditEntry.id)
    ).all()
    assert [len(e.details["promoted_registrations"]) for e in entries] == [1, 2]
    assert broken_invariants(db.session) == []  # the seats taken among them


def test_a_session_people_hold_is_not_removed_and_closing_registration_is_offered(client, forum):
    session = forum.sessions[0]
    person(forum, 1)

    response = client.post(f"{session_page(forum)}/{session.id}/remove", follow_redirects=True)

    assert (
        "“Session 1” cannot be removed: 1 person holds a seat in it or waits for one. Close its "
        "registration instead" in response.text
    )
    assert db.session.get(EventSession, session.id) is not None
    assert "Close registration</button>" in response.text

    closed = client.post(f"{session_page(forum)}/{session.id}/registration", data={"open": "0"})
    assert closed.status_code == 303
    refused = client.post(
        "/e/forum/register", data=registration_form(forum, email="late@example.org")
    )
    assert "Registration for “Session 1” is closed." in refused.text
    assert statuses(session.id) == ["confirmed"]  # the one registered keeps the seat


def test_a_session_with_check_ins_is_not_removed(client, forum):
    session = forum.sessions[0]
    record_scan(Scan(Door.of(session), code="R1-NOT-A-REAL-CODE"))

    response = client.post(f"{session_page(forum)}/{session.id}/remove", follow_redirects=True)

    assert "1 check-in is recorded for it" in response.text
    assert db.session.get(EventSession, session.id) is not None


def test_an_empty_session_is_removed(client, forum):
    add_session(client, forum, title="Spare slot")
    spare = db.session.scalar(select(EventSession).where(EventSession.title == "Spare slot"))

    response = client.post(f"{session_page(forum)}/{spare.id}/remove", follow_redirects=True)

    assert "“Spare slot” is removed." in response.text
    db.session.expire_all()
    assert db.session.get(EventSession, spare.id) is None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "session.delete"))
    assert entry.target == f"session {spare.id}" and entry.details == {"title": "Spare slot"}


def test_each_session_has_a_bit_of_its_own_and_a_removed_ones_is_taken_again(client, forum):
    for title in ("Second", "Third"):
        add_session(client, forum, title=title)
    bits = dict(db.session.execute(select(EventSession.title, EventSession.bit)).all())
    assert sorted(bits.values()) == [0, 1, 2]
    second = db.session.scalar(select(EventSession).where(EventSession.title == "Second"))
    client.post(f"{session_page(forum)}/{second.id}/remove")
    add_session(client, forum, title="Fourth")
    fourth = db.session.scalar(select(EventSession).where(EventSession.title == "Fourth"))
    assert fourth.bit == bits["Second"]


def test_an_event_takes_at_most_63_sessions(client, forum):
    for n in range(MAX_SESSIONS - 1):
        forum.sessions.append(EventSession(**OPENING, title=f"Panel {n}"))
    db.session.commit()

    response = add_session(client, forum, title="One too many")

    assert response.status_code == 422
    assert "has 63 sessions, the most an event can have" in response.text
    assert len(db.session.scalars(select(EventSession)).all()) == MAX_SESSIONS
    assert audit_actions() == []


def test_a_session_of_another_event_is_not_found_here(client, forum, make_event):
    other = make_event(slug="other")
    foreign = other.sessions[0].id

    assert client.get(f"{session_page(forum)}/{foreign}").status_code == 404
    assert client.post(f"{session_page(forum)}/{foreign}/remove").status_code == 404


# ---------------------------------------------------------------------------- concurrency


def test_capacity_raised_while_people_cancel_and_register_leaves_no_seat_unfilled(
    make_app, make_event
):
    """Real threads on their own connections: a capacity change, cancellations and new
    registrations at the same instant. Afterwards nobody waits while a seat is free, nobody sits
    beyond the capacity, and everyone who moved up from the waitlist was told so, once."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 0})
    with app.app_context():
        event = make_event({"title": "Opening session", "capacity": 5})
        people = [person(event, n).id for n in range(15)]  # 5 seated, 10 waiting
        session_id, event_id = event.sessions[0].id, event.id
        leaving = people[:4]

    barrier = threading.Barrier(1 + len(leaving) + 5)
    errors: list[BaseException] = []

    def in_thread(job):
        def run():
            with app.app_context():
                try:
                    barrier.wait()
                    job()
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)
                finally:
                    db.session.remove()

        return threading.Thread(target=run)

    def raise_capacity():
        begin_write()
        set_capacity(db.session.get(EventSession, session_id), 9)
        db.session.commit()

    def cancel(participant_id):
        return lambda: cancel_participation(db.session.get(Participant, participant_id))

    def newcomer(n):
        return lambda: person(db.session.get(Event, event_id), n)

    threads = [in_thread(raise_capacity)]
    threads += [in_thread(cancel(pid)) for pid in leaving]
    threads += [in_thread(newcomer(100 + n)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with app.app_context():
        seated = set(
            db.session.scalars(
                select(Registration.participant_id).where(
                    Registration.session_id == session_id,
                    Registration.status == RegistrationStatus.CONFIRMED,
                )
            )
        )
        waiting = db.session.scalar(
            select(func.count()).where(
                Registration.session_id == session_id,
                Registration.status == RegistrationStatus.WAITLISTED,
            )
        )
        promoted = db.session.scalars(
            select(OutboxMessage.participant_id).where(OutboxMessage.kind == MessageKind.PROMOTED)
        ).all()
    # 16 people want the 9 seats: the one who kept hers, and the 8 who waited longest
    first_waiters = set(people[5:13])
    assert seated == {people[4]} | first_waiters
    assert waiting == 16 - 9
    assert sorted(promoted) == sorted(first_waiters)  # each told once
    with app.app_context():
        assert broken_invariants(db.session) == []  # the seats taken among them


def test_lowering_capacity_races_registrations_without_overselling(make_app, make_event):
    """Capacity set to the confirmed count while people register: every newcomer is waitlisted
    or the change is refused; never more confirmed than the capacity."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 0})
    with app.app_context():
        event = make_event({"title": "Panel", "capacity": 50})
        for n in range(5):
            person(event, n)
        session_id, event_id = event.sessions[0].id, event.id

    barrier = threading.Barrier(9)
    outcomes: list[str] = []

    def lower():
        with app.app_context():
            barrier.wait()
            try:
                begin_write()
                set_capacity(db.session.get(EventSession, session_id), 5)
                db.session.commit()
                outcomes.append("lowered")
            except Exception as error:  # noqa: BLE001 - a refusal is an outcome
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    def newcomer(n):
        with app.app_context():
            barrier.wait()
            try:
                person(db.session.get(Event, event_id), n)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=lower)]
    threads += [threading.Thread(target=newcomer, args=(100 + n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    with app.app_context():
        capacity = db.session.get(EventSession, session_id).capacity
        confirmed = db.session.scalar(
            select(func.count()).where(
                Registration.session_id == session_id,
                Registration.status == RegistrationStatus.CONFIRMED,
            )
        )
    # Either the change came first (the newcomers wait) or it saw them seated and was refused.
    assert (outcomes, capacity, confirmed) in [
        (["lowered"], 5, 5),
        (["RegistrationError"], 50, 13),
    ]
