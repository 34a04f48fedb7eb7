"""The live dashboard brings kept figures up to date after scans instead of counting again: the
figures it answers must be the very figures a count from scratch gives, after every scan, undo
and repeated scan, for every panel and filter, on both databases."""

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, update

from regapp.checkin.services import Scan, annul, effective_checkins, record_scan
from regapp.extensions import db
from regapp.models import CATEGORIES, Channel, Participant, Registration, RegistrationStatus
from regapp.participants.services import update_details
from regapp.registration.services import ParticipantDetails, cancel_participation, register
from regapp.reports import services
from regapp.reports.services import ReportFilter

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
        for name, count in services.PANELS.items():
            assert services.panel(event, f, name) == count(event, f), (name, f)


def scan_and_undo(event, pick: random.Random, people: list[int]) -> None:
    """One to three scans of anyone (admitted, already in, or refused: not registered for the
    session, waitlisted), and now and then an undo of a check-in that stands."""
    for _ in range(pick.randint(1, 3)):
        session = pick.choice(event.sessions)
        channel = pick.choice([Channel.IN_PERSON, Channel.IN_PERSON, Channel.ONLINE])
        record_scan(Scan(session=session, participant_id=pick.choice(people), channel=channel))
    standing = db.session.scalars(effective_checkins()).all()
    if standing and pick.random() < 0.4:
        annul(pick.choice(standing), "wrong person", None)


def people_of(event) -> list[int]:
    return list(db.session.scalars(select(Participant.id).where(Participant.event_id == event.id)))


def test_after_every_scan_and_undo_the_live_figures_are_those_counted_afresh(event):
    pick, people = random.Random(11), people_of(event)
    assert_live_equals_fresh(event)
    for step in range(15):
        scan_and_undo(event, pick, people)
        if step % 5 == 1:  # someone new registers: counted in, with no check-in yet
            details = ParticipantDetails(f"New {step}", f"n{step}@x.org", "KZ", "UNDP", "", "guest")
            people.append(register(event, details, [event.sessions[1].id]).id)
        if step % 5 == 3:  # someone cancels: the waitlist moves up
            cancel_participation(db.session.get(Participant, pick.choice(people)))
        assert_live_equals_fresh(event)


def brought_up_to_date(event, f: ReportFilter, name: str, table: str = "checkins") -> bool:
    """Whether answering the panel counted the share of people named one by one in ``table``
    (the kept figures brought up to date), rather than counting from scratch."""
    seen = []
    named = re.compile(rf"{table}\.participant_id IN \((?!SELECT)")

    def record(_connection, _cursor, statement, *_):
        seen.append(named.search(statement) is not None)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        services.panel(event, f, name)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    return any(seen)


def test_a_scan_brings_kept_figures_up_to_date_and_many_at_once_count_again(event, monkeypatch):
    pick, people = random.Random(5), people_of(event)
    everyone = ReportFilter()
    services.panel(event, everyone, "country-matrix")
    scan_and_undo(event, pick, people)
    assert brought_up_to_date(event, everyone, "country-matrix")
    monkeypatch.setattr(services, "DELTA_PEOPLE", 1)
    for who in people[:2]:
        record_scan(Scan(session=event.sessions[0], participant_id=who))
    assert not brought_up_to_date(event, everyone, "country-matrix")  # two people: counted again
    assert_live_equals_fresh(event)


def test_a_change_to_the_people_counts_the_check_ins_again(event):
    everyone = ReportFilter()
    services.panel(event, everyone, "countries")
    person = db.session.get(Participant, people_of(event)[0])
    record_scan(Scan(session=event.sessions[0], participant_id=person.id))
    details = ParticipantDetails(person.full_name, person.email, "MA", "", "", person.category)
    update_details(person, details)  # audited: the people's version changes
    assert not brought_up_to_date(event, everyone, "countries")
    assert_live_equals_fresh(event)


def test_new_registrations_and_cancellations_bring_kept_figures_up_to_date(event):
    everyone, by_country = ReportFilter(), ReportFilter(country="KZ")
    for f in (everyone, by_country):
        services.panel(event, f, "organisation-matrix")
    details = ParticipantDetails("New", "new@x.org", "KZ", "UNDP", "", "guest")
    newcomer = register(event, details, [s.id for s in event.sessions])
    for f in (everyone, by_country):
        assert brought_up_to_date(event, f, "organisation-matrix", "registrations")
        fresh = services.PANELS["organisation-matrix"](event, f)
        assert services.panel(event, f, "organisation-matrix") == fresh
    cancel_participation(db.session.get(Participant, people_of(event)[0]))  # seats move
    assert brought_up_to_date(event, everyone, "organisation-matrix", "registrations")
    assert newcomer.id in people_of(event)
    assert_live_equals_fresh(event)


def test_a_registration_changed_twice_since_the_kept_figures_counts_them_again(event):
    """What a registration was before its last change is kept, not before the one before: the
    figures over registrations are then counted afresh. (The registrations were made days ago,
    this one longer ago than the others: no other check can see that it changed twice.)"""
    registration = db.session.scalars(
        select(Registration).where(Registration.status == RegistrationStatus.CONFIRMED)
    ).first()
    days_ago = lambda days: NOW - timedelta(days=days)  # noqa: E731
    db.session.execute(update(Registration).values(created_at=days_ago(3), updated_at=days_ago(1)))
    registration.updated_at = days_ago(2)
    db.session.commit()
    everyone = ReportFilter()
    services.panel(event, everyone, "sessions")
    registration.cancel()
    db.session.commit()
    registration.join(seat_available=True)
    db.session.commit()
    assert not brought_up_to_date(event, everyone, "sessions", "registrations")
    assert_live_equals_fresh(event)


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
            .values(country="KZ", consent_at=NOW)
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
