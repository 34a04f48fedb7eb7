"""The database itself enforces the invariants, whatever the Python code does."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from regapp.extensions import db
from regapp.models import AccessCode, CodeStatus, Participant, Registration


def participant(event, email: str) -> Participant:
    return Participant(
        event=event, full_name="P", email=email, country="AZ", consent_at=datetime.now(UTC)
    )


def test_email_is_unique_per_event_whatever_its_case(app, make_event):
    event = make_event()
    db.session.add(participant(event, "Amina@Example.org"))
    db.session.commit()
    db.session.add(participant(event, "amina@example.ORG"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_registration_per_participant_and_session(app, make_event):
    event = make_event()
    p = participant(event, "a@example.org")
    session = event.sessions[0]
    p.registrations.append(Registration(session=session, status="confirmed"))
    p.registrations.append(Registration(session=session, status="waitlisted"))
    db.session.add(p)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_active_code_per_participant(app, make_event):
    event = make_event()
    p = participant(event, "a@example.org")
    p.codes.append(AccessCode(status=CodeStatus.ACTIVE))
    p.codes.append(AccessCode(status=CodeStatus.ACTIVE))
    db.session.add(p)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_issuing_codes_keeps_exactly_one_active(app, make_event):
    event = make_event()
    p = participant(event, "a@example.org")
    db.session.add(p)
    for _ in range(3):
        p.issue_code()
        db.session.commit()
    assert [c.status for c in p.codes] == ["revoked", "revoked", "active"]


def test_times_are_stored_in_utc_and_naive_times_are_refused(app, make_event):
    event = make_event()
    db.session.expire_all()
    assert event.sessions[0].starts_at.tzinfo is UTC
    event.sessions[0].starts_at = datetime(2030, 1, 1, 10, 0)  # naive
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()
