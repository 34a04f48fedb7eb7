"""The dashboard counts each person's attendance masks, which the database keeps with every
registration change and check-in: after any sequence of them, and when several land at once,
the masks must say what the registrations and the check-in log say, and every panel's answer
(kept while nothing changes) must be what counting afresh gives, on both databases."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from regapp.checkin.services import Door, Scan, annul, effective_checkins, record_scan
from regapp.extensions import db
from regapp.models import (
    CATEGORIES,
    Channel,
    EventSession,
    Participant,
    Registration,
    RegistrationStatus,
)
from regapp.participants.services import update_details
from regapp.registration.services import (
    ParticipantDetails,
    RegistrationError,
    cancel_participation,
    change_sessions,
    register,
    set_capacity,
)
from regapp.reports import services
from regapp.reports.services import ReportFilter
from tests.conftest import EXTERNAL_DATABASE_URL
from tests.dbstate import broken_invariants

NOW = datetime.now(UTC).replace(microsecond=0)
COUNTRIES = ["AZ", "KZ", "TR", "GE", "FR"]
ORGANISATIONS = ["UNDP", "U.N.D.P.", "ASAN Service", "asan service", "", "OECD"]


@pytest.fixture
def event(app, make_event):
    event = make_event(
        *(
            {
                "title": f"Session {i}",
                "starts_at": NOW - timedelta(minutes=30 - 5 * i),
                "ends_at": NOW + timedelta(hours=2),
                "capacity": 30,
            }
            for i in range(3)
        )
    )
    pick = random.Random(7)
    for n in range(40):
        sessions = pick.sample(event.sessions, pick.randint(1, 3))
        details = ParticipantDetails(
            f"Person {n}",
            f"p{n}@x.org",
            pick.choice(COUNTRIES),
            pick.choice(ORGANISATIONS),
            "",
            pick.choice(list(CATEGORIES)),
        )
        register(event, details, [s.id for s in sessions])
    return event


def filters(event) -> list[ReportFilter]:
    return [
        ReportFilter(),
        ReportFilter(country="KZ"),
        ReportFilter(session_id=event.sessions[1].id),
        ReportFilter(category="speaker"),
        ReportFilter(organisation="UNDP"),
    ]


def assert_live_equals_fresh(event) -> None:
    for f in filters(event):
        for name, count in services.FRESH.items():
            assert services.panel(event, f, name) == count(event, f), (name, f)


def scan_and_undo(event, pick: random.Random, people: list[int]) -> None:
    """One to three scans of anyone (admitted, already in, or refused: not registered for the
    session, waitlisted), and now and then an undo of a check-in that stands."""
    for _ in range(pick.randint(1, 3)):
        session = pick.choice(event.sessions)
        channel = pick.choice([Channel.IN_PERSON, Channel.IN_PERSON, Channel.ONLINE])
        record_scan(Scan(Door.of(session), participant_id=pick.choice(people), channel=channel))
    standing = db.session.scalars(effective_checkins()).all()
    if standing and pick.random() < 0.4:
        annul(pick.choice(standing), "wrong person", None)


def people_of(event) -> list[int]:
    return list(db.session.scalars(select(Participant.id).where(Participant.event_id == event.id)))


def test_after_every_change_the_masks_hold_what_the_rows_say_and_answers_are_fresh(event):
    """A random walk of scans, repeated scans, undos, new registrations, cancellations (the
    waitlist moves up), changes of sessions and a larger hall: after every step each person's
    masks are what their registrations and the log say (worked out row by row), and every
    panel answers what counting afresh gives."""
    pick, people = random.Random(11), people_of(event)
    assert_live_equals_fresh(event)
    for step in range(15):
        scan_and_undo(event, pick, people)
        if step % 5 == 1:  # someone new registers: counted in, with no check-in yet
            details = ParticipantDetails(f"New {step}", f"n{step}@x.org", "KZ", "UNDP", "", "guest")
            people.append(register(event, details, [event.sessions[1].id]).id)
        if step % 5 == 2:  # someone moves to other sessions (perhaps onto a waitlist)
            chosen = pick.sample(event.sessions, pick.randint(1, 3))
            person = db.session.get(Participant, pick.choice(people))
            with suppress(RegistrationError):  # a cancelled person may not rejoin late
                change_sessions(person, [s.id for s in chosen], by_organiser=True)
        if step % 5 == 3:  # someone cancels: the waitlist moves up
            cancel_participation(db.session.get(Participant, pick.choice(people)))
        if step % 5 == 4:  # an organiser corrects someone's country (the filters' people)
            standing = db.session.scalars(effective_checkins()).all()
            person = pick.choice(standing).participant  # someone counted in the arrivals
            moved = "KZ" if person.country != "KZ" else "TR"
            fields = ("full_name", "email", "country", "organisation", "job_title", "category")
            details = ParticipantDetails(*(getattr(person, name) for name in fields))
            update_details(person, replace(details, country=moved))
        if step == 9:  # a larger hall: the waitlist moves up
            set_capacity(event.sessions[0], 40)
            db.session.commit()
        assert broken_invariants(db.session) == []
        assert_live_equals_fresh(event)


def test_concurrent_changes_to_one_persons_masks_all_count(make_app, make_event):
    """Scans of one person into every session at once, each a thread with its own connection.
    On PostgreSQL the participant row is not locked first (``SEAT_LOCKING`` off): each scan
    changes the mask as the row stands when its UPDATE runs, so none undoes another. (SQLite
    needs the lock to write at all: there the writers queue.)"""
    on_postgres = EXTERNAL_DATABASE_URL.startswith("postgresql")
    options = {"pool_size": 10}
    app = make_app(SEAT_LOCKING=not on_postgres, SQLALCHEMY_ENGINE_OPTIONS=options)
    with app.app_context():
        event = make_event(
            *({"title": f"S{i}", "starts_at": NOW - timedelta(minutes=10)} for i in range(6))
        )
        details = ParticipantDetails("Racer", "racer@x.org", "KZ", "UNDP", "", "delegate")
        person = register(event, details, [s.id for s in event.sessions]).id
        session_ids = [s.id for s in event.sessions]
        barrier = threading.Barrier(len(session_ids))

        def scan(session_id: int) -> str:
            with app.app_context():
                session = db.session.get(EventSession, session_id)
                barrier.wait()
                return record_scan(Scan(Door.of(session), participant_id=person)).verdict

        with ThreadPoolExecutor(len(session_ids)) as pool:
            assert list(pool.map(scan, session_ids)) == ["ok"] * len(session_ids)
        db.session.rollback()
        assert db.session.get(Participant, person).in_person == sum(s.mask for s in event.sessions)
        assert broken_invariants(db.session) == []


def test_a_registration_committed_after_a_later_one_shows_at_once(event):
    """Two people register at once: the one given the lower id commits last. Their seat shows
    as soon as it commits, although the newest participant was already counted."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: ids commit in the order they are given")
    everyone, session = ReportFilter(), event.sessions[0]

    def newcomer(connection, n: int) -> None:
        person = connection.scalar(
            insert(Participant)
            .values(event_id=event.id, full_name=f"Late {n}", email=f"late{n}@x.org")
            .values(country="KZ", consent_at=NOW, seats=session.mask)
            .returning(Participant.id)
        )
        connection.execute(
            insert(Registration).values(
                participant_id=person, session_id=session.id, status="confirmed"
            )
        )

    services.panel(event, everyone, "totals")
    with db.engine.connect() as slow, db.engine.connect() as fast:
        newcomer(slow, 1)  # the lower id, not committed yet
        newcomer(fast, 2)
        fast.commit()
        assert services.panel(event, everyone, "totals") == services.totals(event, everyone)
        slow.commit()
    db.session.rollback()  # a new snapshot, as a new request has
    assert services.panel(event, everyone, "totals") == services.totals(event, everyone)


def test_recount_attendance_mends_masks_changed_straight_in_the_database(event, runner):
    """Rows changed straight in the database leave the masks behind; ``flask
    recount-attendance`` works them out again, and changes nothing when they are right."""
    pick = random.Random(3)
    for _ in range(6):
        scan_and_undo(event, pick, people_of(event))
    db.session.execute(update(Registration).values(status=RegistrationStatus.CANCELLED))
    db.session.execute(update(Participant).where(Participant.id % 2 == 0).values(online=5))
    db.session.commit()
    assert broken_invariants(db.session) != []
    # Sessions that still count as taken the seats given back straight in the database.
    seated = db.session.scalar(select(func.count()).where(EventSession.seats_taken > 0))
    assert seated

    result = runner.invoke(args=["recount-attendance"])

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"40 participants corrected.\nSeats taken corrected in {seated} sessions.\n"
    )
    db.session.rollback()
    assert broken_invariants(db.session) == []
    assert services.totals(event, ReportFilter())["registered"] == 0
    again = runner.invoke(args=["recount-attendance"]).output
    assert again == "0 participants corrected.\nSeats taken corrected in 0 sessions.\n"
