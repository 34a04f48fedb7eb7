"""Door check-in: every scan gets a verdict and a line in the log.

A scan of one person for one session is serialised with every other scan of that person: on
PostgreSQL the participant's row is locked (``SELECT ... FOR UPDATE``) before the log is read, on
SQLite the transaction holds the write lock (:func:`regapp.database.begin_write`). So two doors
scanning the same code at the same instant record exactly one ``ok`` and one
``already_checked_in``. A scan sent twice with the same nonce is recorded once: the second insert
fails on the unique index, and the first answer is given again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..database import begin_write
from ..extensions import db
from ..models import (
    Channel,
    CheckIn,
    DeviceToken,
    Event,
    EventSession,
    Participant,
    Registration,
    RegistrationStatus,
    StaffUser,
    Verdict,
)
from ..models.types import utcnow
from ..tickets.services import check_code


@dataclass
class Scan:
    """Who scanned, where, and what."""

    session: EventSession
    code: str | None = None
    participant_id: int | None = None
    gate: str = ""
    nonce: str | None = None
    staff: StaffUser | None = None
    device: DeviceToken | None = None
    channel: Channel = Channel.IN_PERSON


@dataclass
class ScanResult:
    entry: CheckIn
    #: For ``already_checked_in``: the check-in that came first.
    earlier: CheckIn | None = None
    #: For ``not_registered`` and ``cancelled``: the sessions the person does hold.
    held: list[Registration] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.entry.verdict


def effective_checkins():
    """``ok`` entries that no ``annulled`` entry undoes."""
    undo = aliased(CheckIn)
    return select(CheckIn).where(
        CheckIn.verdict == Verdict.OK,
        ~exists().where(undo.refers_to_id == CheckIn.id, undo.verdict == Verdict.ANNULLED),
    )


def record_scan(scan: Scan, now: datetime | None = None) -> ScanResult:
    now = now or utcnow()
    if scan.nonce and (earlier := _by_nonce(scan.nonce)):
        return explain(earlier)
    begin_write()
    entry = CheckIn(
        session_id=scan.session.id,
        channel=scan.channel,
        scanned=(scan.code or "")[:64],
        staff_user_id=scan.staff.id if scan.staff else None,
        device_id=scan.device.id if scan.device else None,
        gate=scan.gate[:80],
        nonce=scan.nonce,
        created_at=now,
    )
    participant = _identify(scan, entry)
    if participant is not None:
        _judge(entry, participant, scan.session, now)
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        # The same nonce arrived twice at once: the other request recorded it first.
        db.session.rollback()
        if scan.nonce and (earlier := _by_nonce(scan.nonce)):
            return explain(earlier)
        raise
    return explain(entry)


def _identify(scan: Scan, entry: CheckIn) -> Participant | None:
    """The participant scanned, locked against concurrent scans; sets a refusal on ``entry``
    when the code is unknown or revoked."""
    if scan.code is not None:
        checked = check_code(scan.code)
        if checked.status != "ok":
            entry.verdict, entry.message = checked.status, checked.message
            entry.participant_id = checked.participant.id if checked.participant else None
            return None
        participant_id = checked.participant.id
    else:
        participant_id = scan.participant_id
    query = select(Participant).where(
        Participant.id == participant_id, Participant.event_id == scan.session.event_id
    )
    if current_app.config["SEAT_LOCKING"]:
        query = query.with_for_update()
    participant = db.session.scalar(query)
    if participant is None:
        entry.verdict, entry.message = Verdict.UNKNOWN_CODE, "No participant of this event."
    entry.participant_id = participant.id if participant else None
    return participant


def _judge(entry: CheckIn, participant: Participant, session: EventSession, now: datetime) -> None:
    registration = db.session.scalar(
        select(Registration).where(
            Registration.participant_id == participant.id,
            Registration.session_id == session.id,
        )
    )
    opens, closes = session.checkin_window
    zone = session.event.local
    if not session.checkin_open(now):
        entry.verdict = Verdict.OUTSIDE_WINDOW
        entry.message = (
            f"Check-in for “{session.title}” is open from {zone(opens):%H:%M} "
            f"to {zone(closes):%H:%M} ({zone(opens):%d %b})."
        )
    elif registration is None:
        entry.verdict, entry.message = Verdict.NOT_REGISTERED, "Not registered for this session."
    elif registration.status == RegistrationStatus.CANCELLED:
        entry.verdict = Verdict.CANCELLED
        entry.message = "Cancelled their registration for this session."
    elif registration.status == RegistrationStatus.WAITLISTED:  # no seat, in the hall or online
        entry.verdict, entry.message = Verdict.WAITLISTED, "On the waitlist: no seat yet."
    elif earlier := _checked_in(participant.id, session.id, entry.channel):
        entry.verdict = Verdict.ALREADY_CHECKED_IN
        entry.refers_to_id = earlier.id
        entry.message = f"Already checked in at {zone(earlier.created_at):%H:%M}" + (
            f", {earlier.gate}." if earlier.gate else "."
        )
    else:
        entry.verdict, entry.message = Verdict.OK, "Welcome."


def _checked_in(participant_id: int, session_id: int, channel: str) -> CheckIn | None:
    return db.session.scalar(
        effective_checkins()
        .where(
            CheckIn.participant_id == participant_id,
            CheckIn.session_id == session_id,
            CheckIn.channel == channel,
        )
        .order_by(CheckIn.id)
        .limit(1)
    )


def _by_nonce(nonce: str) -> CheckIn | None:
    return db.session.scalar(select(CheckIn).where(CheckIn.nonce == nonce))


def explain(entry: CheckIn) -> ScanResult:
    """The full answer for a log entry (also for a repeated nonce: the first answer again)."""
    result = ScanResult(entry)
    if entry.verdict == Verdict.ALREADY_CHECKED_IN:
        result.earlier = entry.refers_to
    if entry.verdict in (Verdict.NOT_REGISTERED, Verdict.CANCELLED) and entry.participant:
        result.held = sorted(
            (r for r in entry.participant.registrations if r.is_active),
            key=lambda r: r.session.starts_at,
        )
    return result


def annul(entry: CheckIn, reason: str, staff: StaffUser | None, device=None) -> CheckIn:
    """Undo a check-in made by mistake: a new ``annulled`` entry; the person counts as not
    checked in again. Annulling twice, or anything but an effective ``ok``, is refused."""
    begin_write()
    entry = db.session.get(CheckIn, entry.id)
    if entry.verdict != Verdict.OK:
        raise ValueError("Only a successful check-in can be undone.")
    if db.session.scalar(
        select(CheckIn.id).where(
            CheckIn.refers_to_id == entry.id, CheckIn.verdict == Verdict.ANNULLED
        )
    ):
        raise ValueError("This check-in has already been undone.")
    undo = CheckIn(
        session_id=entry.session_id,
        participant_id=entry.participant_id,
        verdict=Verdict.ANNULLED,
        channel=entry.channel,
        message=reason[:500] or "Undone.",
        staff_user_id=staff.id if staff else None,
        device_id=device.id if device else None,
        gate=entry.gate,
        refers_to_id=entry.id,
    )
    db.session.add(undo)
    db.session.commit()
    return undo


def session_counts(session: EventSession) -> dict[str, int]:
    """People checked in (in person) and confirmed registrations for a session."""
    present = (
        effective_checkins()
        .where(CheckIn.session_id == session.id, CheckIn.channel == Channel.IN_PERSON)
        .subquery()
    )
    checked_in = db.session.scalar(select(func.count(func.distinct(present.c.participant_id))))
    registered = db.session.scalar(
        select(func.count()).where(
            Registration.session_id == session.id,
            Registration.status == RegistrationStatus.CONFIRMED,
        )
    )
    return {"checked_in": checked_in, "registered": registered}


def search_participants(session: EventSession, query: str, limit: int = 20) -> list[dict]:
    """People of the session's event whose name, email or organisation contains ``query``."""
    needle = query.lower()
    registration = aliased(Registration)
    rows = db.session.execute(
        select(Participant, registration.status)
        .outerjoin(
            registration,
            and_(
                registration.participant_id == Participant.id,
                registration.session_id == session.id,
            ),
        )
        .where(
            Participant.event_id == session.event_id,
            or_(
                func.lower(Participant.full_name).contains(needle, autoescape=True),
                func.lower(Participant.email).contains(needle, autoescape=True),
                func.lower(Participant.organisation).contains(needle, autoescape=True),
            ),
        )
        .order_by(Participant.full_name)
        .limit(limit)
    ).all()
    ids = [p.id for p, _ in rows]
    checked = set(
        db.session.scalars(
            select(CheckIn.participant_id).where(
                CheckIn.id.in_(
                    effective_checkins()
                    .where(
                        CheckIn.session_id == session.id,
                        CheckIn.participant_id.in_(ids),
                        CheckIn.channel == Channel.IN_PERSON,
                    )
                    .with_only_columns(CheckIn.id)
                )
            )
        )
    )
    return [
        {"participant": p, "registration": status, "checked_in": p.id in checked}
        for p, status in rows
    ]


def current_session(event: Event, now: datetime | None = None) -> EventSession | None:
    """The session whose check-in is open now (the latest to open), else the next one."""
    now = now or utcnow()
    open_now = [s for s in event.sessions if s.checkin_open(now)]
    if open_now:
        return max(open_now, key=lambda s: s.checkin_window[0])
    upcoming = [s for s in event.sessions if s.starts_at > now]
    return min(upcoming, key=lambda s: s.starts_at) if upcoming else None


def find_session(session_id: int) -> EventSession | None:
    return db.session.get(EventSession, session_id)


def find_checkin(checkin_id: int) -> CheckIn | None:
    return db.session.get(CheckIn, checkin_id)
