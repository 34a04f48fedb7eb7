"""The database as plain data, and the invariants that hold in it whatever was sent or killed.

Used by the property, stateful and crash-safety tests: ``snapshot`` proves a refused request
changed nothing; ``broken_invariants`` lists every rule the data breaks (empty when all is well).
Both take a SQLAlchemy ``Session`` or ``Connection``, so a test can also look at a database that
a separate server process wrote.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from regapp.checkin.services import effective_checkins
from regapp.extensions import db
from regapp.models import (
    AccessCode,
    CheckIn,
    CodeStatus,
    EventSession,
    MessageKind,
    OutboxMessage,
    Participant,
    Registration,
    RegistrationStatus,
    Verdict,
)
from regapp.models.participants import MASKS


def snapshot(connection=None) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    if connection is None:
        db.session.rollback()  # see what is committed, not what this session remembers
        connection = db.session
    return {
        table.name: [
            tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))
        ]
        for table in db.metadata.sorted_tables
    }


def broken_invariants(connection) -> list[str]:
    """What is wrong with the registrations, codes, check-ins and outbox; ``[]`` when nothing."""
    problems = []
    taken = (
        select(
            EventSession.id,
            EventSession.capacity,
            EventSession.seats_taken,
            func.count(Registration.id).filter(Registration.status == RegistrationStatus.CONFIRMED),
            func.count(Registration.id).filter(
                Registration.status == RegistrationStatus.WAITLISTED
            ),
        )
        .outerjoin(Registration, Registration.session_id == EventSession.id)
        .group_by(EventSession.id, EventSession.capacity, EventSession.seats_taken)
    )
    for session_id, capacity, kept, confirmed, waiting in connection.execute(taken):
        if kept != confirmed:
            problems.append(f"session {session_id}: {kept} seats taken kept, {confirmed} confirmed")
        if capacity is not None and confirmed > capacity:
            problems.append(f"session {session_id}: {confirmed} confirmed > capacity {capacity}")
        if waiting and (capacity is None or confirmed < capacity):
            problems.append(f"session {session_id}: {waiting} waiting beside a free seat")

    present = effective_checkins().subquery()
    for participant_id, session_id, channel, count in connection.execute(
        select(present.c.participant_id, present.c.session_id, present.c.channel, func.count())
        .group_by(present.c.participant_id, present.c.session_id, present.c.channel)
        .having(func.count() > 1)
    ):
        problems.append(
            f"participant {participant_id}: {count} effective {channel} check-ins "
            f"for session {session_id}"
        )

    problems += _wrong_masks(connection, present)

    undone = aliased(CheckIn)
    for annul_id, verdict in connection.execute(
        select(CheckIn.id, undone.verdict)
        .outerjoin(undone, undone.id == CheckIn.refers_to_id)
        .where(CheckIn.verdict == Verdict.ANNULLED)
    ):
        if verdict != Verdict.OK:
            problems.append(f"annulment {annul_id} undoes a {verdict} entry, not an ok")
    for refers_to_id, count in connection.execute(
        select(CheckIn.refers_to_id, func.count())
        .where(CheckIn.verdict == Verdict.ANNULLED)
        .group_by(CheckIn.refers_to_id)
        .having(func.count() > 1)
    ):
        problems.append(f"check-in {refers_to_id} undone {count} times")

    active_codes = func.count(AccessCode.id).filter(AccessCode.status == CodeStatus.ACTIVE)
    confirmation = aliased(OutboxMessage)
    for participant_id, codes, registrations, confirmations in connection.execute(
        select(
            Participant.id,
            active_codes,
            select(func.count())
            .where(Registration.participant_id == Participant.id)
            .scalar_subquery(),
            select(func.count())
            .where(
                and_(
                    confirmation.participant_id == Participant.id,
                    confirmation.kind == MessageKind.CONFIRMATION,
                )
            )
            .scalar_subquery(),
        )
        .outerjoin(AccessCode, AccessCode.participant_id == Participant.id)
        .where(Participant.erased_at.is_(None))
        .group_by(Participant.id)
    ):
        if codes != 1:
            problems.append(f"participant {participant_id}: {codes} active codes")
        if not registrations:
            problems.append(f"participant {participant_id}: no registration (half-written)")
        if confirmations > 1:  # (an import by an organiser may send none)
            problems.append(f"participant {participant_id}: {confirmations} confirmation emails")

    for child in (Registration, AccessCode, CheckIn):
        orphans = connection.execute(
            select(func.count())
            .select_from(child)
            .outerjoin(Participant, Participant.id == child.participant_id)
            .where(child.participant_id.is_not(None), Participant.id.is_(None))
        ).scalar()
        if orphans:
            problems.append(f"{orphans} {child.__tablename__} rows of no participant")
    return problems


def _wrong_masks(connection, present) -> list[str]:
    """Each participant's attendance masks against what their registrations and effective
    check-ins say, worked out here row by row."""
    bit = dict(connection.execute(select(EventSession.id, EventSession.bit)).all())
    expected: dict[int, dict[str, int]] = {}

    def add(participant_id: int, mask: str, session_id: int) -> None:
        masks = expected.setdefault(participant_id, dict.fromkeys(MASKS, 0))
        masks[mask] |= 1 << bit[session_id]

    for participant_id, session_id, status in connection.execute(
        select(Registration.participant_id, Registration.session_id, Registration.status)
    ):
        if status == RegistrationStatus.CONFIRMED:
            add(participant_id, "seats", session_id)
        elif status == RegistrationStatus.WAITLISTED:
            add(participant_id, "waitlisted", session_id)
    for participant_id, session_id, channel in connection.execute(
        select(present.c.participant_id, present.c.session_id, present.c.channel).where(
            present.c.participant_id.is_not(None)
        )
    ):
        add(participant_id, channel, session_id)
    problems = []
    masks = [getattr(Participant, mask) for mask in MASKS]
    for participant_id, *actual in connection.execute(select(Participant.id, *masks)):
        wanted = expected.get(participant_id, dict.fromkeys(MASKS, 0))
        for mask, value in zip(MASKS, actual, strict=True):
            if value != wanted[mask]:
                problems.append(
                    f"participant {participant_id}: {mask} mask {value:b}, not {wanted[mask]:b}"
                )
    return problems
