"""Organisers' work on participants: finding them, changing their details, their privacy.

The list is filtered and paged by the database: one query for the page (with each row's seat and
check-in counts as correlated subqueries over that page only) and one for the count, so it stays
fast at 100,000 participants. Changes to sessions, cancellations and new codes reuse the
registration services (capacity and waitlist rules included) and are written to the audit log in
the same transaction; the audit log holds ids and field names, never personal data.

Erasure (:func:`erase`, and :func:`purge_expired` for events past their retention period) removes
the personal data and keeps the rows the reports count: see :meth:`Participant.erase`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import BigInteger, ColumnElement, delete, func, literal, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import audit, countries
from ..checkin.services import effective_checkins
from ..database import begin_write
from ..extensions import db
from ..mail.outbox import queue, wake_worker
from ..models import (
    CATEGORIES,
    AuditEntry,
    CheckIn,
    DeviceToken,
    Event,
    EventSession,
    ImportJob,
    MessageKind,
    MessageStatus,
    OutboxMessage,
    Participant,
    Registration,
    RegistrationStatus,
    StaffUser,
    Verdict,
)
from ..models.types import utcnow
from ..registration.services import (
    ParticipantDetails,
    RegistrationError,
    SessionSeats,
    find_by_email,
    seat_counts,
    waitlist_position,
)

PAGE_SIZE = 50
#: Words of a search; more are ignored (each word must match name, email or organisation).
MAX_SEARCH_WORDS = 6
STATUSES = {
    RegistrationStatus.CONFIRMED: "Confirmed",
    RegistrationStatus.WAITLISTED: "Waitlisted",
    RegistrationStatus.CANCELLED: "Cancelled",
}
#: Participants erased per transaction by ``flask purge-expired``: short write locks.
PURGE_BATCH = 500


class ParticipantError(RegistrationError):
    """A change an organiser asked for that cannot be made; nothing was changed."""


# -- finding participants --------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantFilter:
    """What the list is narrowed to; empty values mean "any"."""

    q: str = ""
    session_id: int | None = None
    #: With a session: the status in that session; without: holds a seat (confirmed), waits for
    #: one (waitlisted), or has cancelled everything (cancelled).
    status: str | None = None
    country: str | None = None
    category: str | None = None
    #: With a session: checked in for it; without: for any session.
    checked_in: bool | None = None

    @classmethod
    def from_args(cls, event: Event, args: Mapping[str, str]) -> ParticipantFilter:
        """From query parameters (or the badge form); anything unknown is ignored."""
        session_id = None
        if (args.get("session") or "").isdigit():
            session_id = int(args["session"])
            if session_id not in {s.id for s in event.sessions}:
                session_id = None
        status = args.get("status") if args.get("status") in STATUSES else None
        country = (args.get("country") or "").upper()
        category = args.get("category") if args.get("category") in CATEGORIES else None
        checked_in = {"yes": True, "no": False}.get(args.get("checked_in") or "")
        return cls(
            q=" ".join((args.get("q") or "").split())[:200],
            session_id=session_id,
            status=status,
            country=country if countries.lookup(country) == country else None,
            category=category,
            checked_in=checked_in,
        )

    def as_args(self) -> dict[str, str]:
        values = {
            "q": self.q,
            "session": str(self.session_id) if self.session_id else "",
            "status": self.status or "",
            "country": self.country or "",
            "category": self.category or "",
            "checked_in": {True: "yes", False: "no"}.get(self.checked_in, ""),
        }
        return {k: v for k, v in values.items() if v}

    @property
    def is_empty(self) -> bool:
        return not self.as_args()


def _among(ids, *, negate: bool = False) -> ColumnElement[bool]:
    """The participant's id is (not) among ``ids``, a one-column select of participant ids
    without NULLs.

    "Is among" is ``id IN (SELECT ...)``: SQLite reads the subquery once into a temporary index
    instead of probing it once per participant, and PostgreSQL makes it a hash semi-join.
    "Is not among" is ``NOT IN`` on SQLite for the same reason, but a correlated ``NOT EXISTS``
    on PostgreSQL, which makes that a hash anti-join: its ``NOT IN`` over a subquery too large
    for memory is a nested loop (at 100,000 participants it ran into the statement timeout)."""
    if not negate:
        return Participant.id.in_(ids)
    if db.session.get_bind().dialect.name == "sqlite":
        return Participant.id.not_in(ids)
    return not_(ids.where(ids.selected_columns[0] == Participant.id).exists())


def _checked_in(mask: int | None, *, negate: bool = False) -> ColumnElement[bool]:
    """The participant is (or, with ``negate``, is not) checked in, in the hall or online, to
    the session of ``mask`` (:attr:`EventSession.mask`), or to any with ``None``."""
    attended = Participant.attended
    if mask is not None:
        attended = attended.bitwise_and(literal(mask, BigInteger))
    return attended == 0 if negate else attended != 0


def _has_registration(*conditions, negate: bool = False) -> ColumnElement[bool]:
    return _among(select(Registration.participant_id).where(*conditions), negate=negate)


def _conditions(event: Event, f: ParticipantFilter) -> list[ColumnElement[bool]]:
    conditions = [Participant.event_id == event.id]
    for word in f.q.split()[:MAX_SEARCH_WORDS]:
        conditions.append(
            or_(
                *(
                    column.icontains(word, autoescape=True)
                    for column in (
                        Participant.full_name,
                        Participant.email,
                        Participant.organisation,
                    )
                )
            )
        )
    if f.session_id is not None:
        status = (
            Registration.status == f.status
            if f.status
            else Registration.status != RegistrationStatus.CANCELLED
        )
        conditions.append(_has_registration(Registration.session_id == f.session_id, status))
    elif f.status == RegistrationStatus.CANCELLED:
        conditions.append(_has_registration(Registration.status != f.status, negate=True))
    elif f.status:
        conditions.append(_has_registration(Registration.status == f.status))
    if f.country:
        conditions.append(Participant.country == f.country)
    if f.category:
        conditions.append(Participant.category == f.category)
    if f.checked_in is not None:
        mask = _session_mask(event, f.session_id) if f.session_id is not None else None
        conditions.append(_checked_in(mask, negate=not f.checked_in))
    return conditions


def _name_order():
    return func.lower(Participant.full_name), Participant.id


def _session_mask(event: Event, session_id: int) -> int:
    return next(s.mask for s in event.sessions if s.id == session_id)


@dataclass(frozen=True)
class ListRow:
    """A participant as the list shows them: their counts come from the attendance masks."""

    participant: Participant
    #: With a session filter: the status in that session, and that session's mask bit.
    session_status: str | None = None
    session_mask: int = 0

    @property
    def confirmed(self) -> int:
        return self.participant.seats.bit_count()

    @property
    def waitlisted(self) -> int:
        return self.participant.waitlisted.bit_count()

    @property
    def checked_in(self) -> int:
        """Sessions checked in for (in the hall or online)."""
        return self.participant.attended.bit_count()

    @property
    def session_checked_in(self) -> bool:
        return bool(self.participant.attended & self.session_mask)

    @property
    def is_cancelled(self) -> bool:
        return not (self.confirmed or self.waitlisted)


@dataclass(frozen=True)
class ListPage:
    rows: list[ListRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.per_page, self.total)

    def nearby(self, spread: int = 2) -> list[int]:
        """Page numbers to link: the first, the last, and a few around this one."""
        around = range(max(1, self.page - spread), min(self.pages, self.page + spread) + 1)
        return sorted({1, self.pages, *around})


def participant_page(
    event: Event, f: ParticipantFilter, page: int = 1, per_page: int = PAGE_SIZE
) -> ListPage:
    """One page of the participants passing ``f``, by name: a count query and a page query."""
    conditions = _conditions(event, f)
    total = db.session.scalar(select(func.count()).select_from(Participant).where(*conditions))
    page = min(max(page, 1), max(1, -(-total // per_page)))
    page_ids = (
        select(Participant.id)
        .where(*conditions)
        .order_by(*_name_order())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page_ids")
    )

    columns = [Participant]
    if f.session_id is not None:
        columns.append(
            select(Registration.status)
            .where(
                Registration.participant_id == Participant.id,
                Registration.session_id == f.session_id,
            )
            .scalar_subquery()
        )
    rows = db.session.execute(
        select(*columns).join(page_ids, page_ids.c.id == Participant.id).order_by(*_name_order())
    ).all()
    mask = _session_mask(event, f.session_id) if f.session_id is not None else 0
    return ListPage([ListRow(*row, session_mask=mask) for row in rows], total, page, per_page)


def badge_candidates(event: Event, *, ids: Iterable[int] = (), f: ParticipantFilter | None = None):
    """The participants who get a badge, by name: those chosen (``ids`` of this event, or all
    passing ``f``) who are neither erased nor cancelled, with their codes loaded."""
    conditions = [
        Participant.event_id == event.id,
        Participant.erased_at.is_(None),
        _has_registration(Registration.status != RegistrationStatus.CANCELLED),
    ]
    if f is not None:
        conditions += _conditions(event, f)
    else:
        conditions.append(Participant.id.in_(sorted(set(ids))))
    return (
        select(Participant)
        .where(*conditions)
        .options(selectinload(Participant.codes))
        .order_by(*_name_order())
    )


def countries_of(event: Event) -> list[tuple[str, str]]:
    """The countries the event's participants come from, as (code, name) by name."""
    codes = db.session.scalars(
        select(Participant.country).where(Participant.event_id == event.id).distinct()
    )
    return sorted(((c, countries.name(c)) for c in codes), key=lambda c: c[1])


def get_participant(event: Event, participant_id: int) -> Participant | None:
    """The participant with this id, if they belong to ``event``."""
    return db.session.scalar(
        select(Participant).where(
            Participant.id == participant_id, Participant.event_id == event.id
        )
    )


# -- one participant ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionLine:
    """A session of the event as seen from one participant."""

    seats: SessionSeats
    registration: Registration | None
    waitlist_position: int | None
    checked_in: bool

    @property
    def session(self) -> EventSession:
        return self.seats.session

    @property
    def can_promote(self) -> bool:
        """Waitlisted, and the session has a free seat to give."""
        return (
            self.registration is not None
            and self.registration.status == RegistrationStatus.WAITLISTED
            and (self.seats.seats_left is None or self.seats.seats_left > 0)
        )


def session_lines(participant: Participant) -> list[SessionLine]:
    """The sessions the participant holds, waits for or cancelled, in programme order."""
    registrations = {r.session_id: r for r in participant.registrations}
    sessions = [s for s in participant.event.sessions if s.id in registrations]
    counts = seat_counts(registrations)
    present = set(
        db.session.scalars(
            effective_checkins()
            .where(CheckIn.participant_id == participant.id)
            .with_only_columns(CheckIn.session_id)
            .distinct()
        )
    )
    lines = []
    for session in sessions:
        taken = counts.get(session.id, {})
        registration = registrations[session.id]
        waiting = registration.status == RegistrationStatus.WAITLISTED
        lines.append(
            SessionLine(
                SessionSeats(
                    session,
                    taken.get(RegistrationStatus.CONFIRMED, 0),
                    taken.get(RegistrationStatus.WAITLISTED, 0),
                ),
                registration,
                waitlist_position(registration) if waiting else None,
                session.id in present,
            )
        )
    return lines


VERDICTS = {
    Verdict.OK: ("✓", "Checked in"),
    Verdict.ALREADY_CHECKED_IN: ("↺", "Already checked in"),
    Verdict.NOT_REGISTERED: ("✕", "Not registered for this session"),
    Verdict.WAITLISTED: ("✕", "Waitlisted: no seat"),
    Verdict.CANCELLED: ("✕", "Cancelled"),
    Verdict.REVOKED_CODE: ("✕", "Old (revoked) code"),
    Verdict.UNKNOWN_CODE: ("✕", "Unknown code"),
    Verdict.OUTSIDE_WINDOW: ("✕", "Outside the check-in window"),
    Verdict.ANNULLED: ("⟲", "Undone"),
}


@dataclass(frozen=True)
class ScanLine:
    entry: CheckIn
    session_title: str
    staff_name: str | None
    device_name: str | None
    #: An ``ok`` entry that a later ``annulled`` entry undid.
    undone: bool

    @property
    def symbol(self) -> str:
        return VERDICTS.get(self.entry.verdict, ("•", ""))[0]

    @property
    def label(self) -> str:
        return VERDICTS.get(self.entry.verdict, ("", self.entry.verdict))[1]

    @property
    def by(self) -> str:
        if self.staff_name:
            return self.staff_name
        if self.device_name:
            return f"Device “{self.device_name}”"
        return "Online join link" if self.entry.channel == "online" else "—"


def scan_history(participant: Participant, limit: int = 500) -> list[ScanLine]:
    """Every check-in log entry about the participant, newest first."""
    rows = db.session.execute(
        select(CheckIn, EventSession.title, StaffUser.name, DeviceToken.name)
        .join(EventSession, EventSession.id == CheckIn.session_id)
        .outerjoin(StaffUser, StaffUser.id == CheckIn.staff_user_id)
        .outerjoin(DeviceToken, DeviceToken.id == CheckIn.device_id)
        .where(CheckIn.participant_id == participant.id)
        .order_by(CheckIn.created_at.desc(), CheckIn.id.desc())
        .limit(limit)
    ).all()
    undone = {e.refers_to_id for e, *_ in rows if e.verdict == Verdict.ANNULLED}
    return [ScanLine(e, title, staff, device, e.id in undone) for e, title, staff, device in rows]


def emails(participant: Participant) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.participant_id == participant.id)
            .order_by(OutboxMessage.id.desc())
        )
    )


# -- changes ---------------------------------------------------------------------------------


def _target(participant: Participant) -> str:
    return f"participant {participant.id}"


def _locked(participant: Participant) -> Participant:
    """The participant again, inside the write transaction, locked against concurrent changes
    (a row lock on PostgreSQL; SQLite's transaction already holds the write lock)."""
    query = select(Participant).where(Participant.id == participant.id)
    if current_app.config["SEAT_LOCKING"]:
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))


ERASED = (
    "This participant's personal data has been erased: their record is kept for the counts "
    "only and can no longer be changed."
)


def refuse_if_erased(participant: Participant) -> None:
    if participant.is_erased:
        raise ParticipantError(ERASED)


def update_details(participant: Participant, details: ParticipantDetails) -> list[str]:
    """Change the participant's details; returns the names of the fields that changed. The
    email stays unique per event: another participant's address is refused, naming them."""
    begin_write()
    try:
        participant = _locked(participant)
        refuse_if_erased(participant)
        other = find_by_email(participant.event, details.email)
        if other is not None and other.id != participant.id:
            raise _email_taken(other)
        changed = [k for k, v in vars(details).items() if getattr(participant, k) != v]
        for name in changed:
            setattr(participant, name, getattr(details, name))
        if changed:
            audit.record(
                "participant.update",
                event=participant.event,
                target=_target(participant),
                details={"fields": changed},
            )
        db.session.commit()
    except IntegrityError:
        # Someone took the address between our check and our update.
        db.session.rollback()
        raise ParticipantError(
            "Another participant of this event already has this email address.", field="email"
        ) from None
    except RegistrationError:
        db.session.rollback()
        raise
    return changed


def _email_taken(other: Participant) -> ParticipantError:
    return ParticipantError(
        f"Participant #{other.id} of this event already has this email address; each "
        "participant needs their own. Correct the address, or open that participant instead.",
        field="email",
    )


def resend_confirmation(participant: Participant) -> None:
    """Send the confirmation email again (sessions, code, ticket and private link), to the
    address the participant has now."""
    begin_write()
    participant = _locked(participant)
    try:
        refuse_if_erased(participant)
        if participant.is_cancelled:
            raise ParticipantError(
                "This registration is cancelled: there is nothing to confirm. Add a session "
                "first, which sends the participant an email by itself."
            )
    except ParticipantError:
        db.session.rollback()
        raise
    queue(MessageKind.CONFIRMATION, participant)
    audit.record(
        "participant.resend_confirmation", event=participant.event, target=_target(participant)
    )
    db.session.commit()
    wake_worker()


# -- privacy ---------------------------------------------------------------------------------


def _erase_rows(participants: list[Participant], now: datetime) -> None:
    """Erase ``participants`` (locked, codes loaded) and what the outbox holds about them:
    messages still waiting are dropped, the address is blanked on the others (sent, failed, or
    in a sender's hands right now)."""
    for participant in participants:
        participant.erase(now)
    ids = [p.id for p in participants]
    db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.participant_id.in_(ids), OutboxMessage.status == MessageStatus.PENDING
        )
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.participant_id.in_(ids))
        .values(recipient="", last_error="")
    )


def erase(participant: Participant, now: datetime | None = None) -> bool:
    """Erase one participant's personal data on request; ``False`` if it already was."""
    begin_write()
    participant = _locked(participant)
    if participant.is_erased:
        db.session.rollback()
        return False
    _erase_rows([participant], now or utcnow())
    audit.record("participant.erase", event=participant.event, target=_target(participant))
    db.session.commit()
    return True


@dataclass(frozen=True)
class Retention:
    event: Event
    #: When the event's last session ended; ``None`` for an event without sessions.
    ended_at: datetime | None
    #: When its personal data is due for erasure; ``None`` when never (no sessions).
    due_at: datetime | None
    erased: int = 0


def retention(event: Event) -> Retention:
    ended = db.session.scalar(
        select(func.max(EventSession.ends_at)).where(EventSession.event_id == event.id)
    )
    days = event.retention_days
    due = ended + timedelta(days=days) if ended is not None and days is not None else None
    return Retention(event, ended, due)


def purge_expired(now: datetime | None = None, batch: int = PURGE_BATCH) -> list[Retention]:
    """Erase every participant of the events whose retention period has passed (counted from the
    end of their last session), in batches of ``batch`` per transaction; running it again
    finds nothing more to erase. Returns every event that has a retention period, with how many
    participants were erased now."""
    now = now or utcnow()
    events = db.session.scalars(
        select(Event).where(Event.retention_days.is_not(None)).order_by(Event.id)
    ).all()
    results = []
    for event in events:
        due = retention(event)
        erased = 0
        while due.due_at is not None and due.due_at <= now:
            begin_write()
            query = (
                select(Participant)
                .where(Participant.event_id == event.id, Participant.erased_at.is_(None))
                .order_by(Participant.id)
                .limit(batch)
                .options(selectinload(Participant.codes))
            )
            if current_app.config["SEAT_LOCKING"]:
                query = query.with_for_update(of=Participant)
            participants = list(db.session.scalars(query))
            if not participants:
                db.session.rollback()
                break
            _erase_rows(participants, now)
            audit.record(
                "participant.purge",
                event=event,
                details={
                    "participants": len(participants),
                    "retention_days": event.retention_days,
                },
                actor="flask purge-expired",
            )
            db.session.commit()
            erased += len(participants)
        if due.due_at is not None and due.due_at <= now:
            # Unfinished imports still hold the rows of their file: personal data too.
            begin_write()
            db.session.execute(delete(ImportJob).where(ImportJob.event_id == event.id))
            db.session.commit()
        results.append(Retention(event, due.ended_at, due.due_at, erased))
    return results


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export(participant: Participant) -> dict:
    """Everything held about the participant, for them (a subject access request): their
    details, registrations, codes' status, check-ins, emails and the organisers' changes to
    their record. Nothing about other people (no staff names), and no live secrets."""
    event = participant.event
    registrations = sorted(participant.registrations, key=lambda r: (r.session.starts_at, r.id))
    changes = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.event_id == event.id, AuditEntry.target == _target(participant))
        .order_by(AuditEntry.id)
    )
    return {
        "export": {
            "format": "regapp participant data, version 1",
            "created_at": _iso(utcnow()),
            "times": "ISO 8601, in UTC",
            "not_included": (
                "The access code, the private manage link and the join links are secrets that "
                "work as keys: the participant has them in their confirmation email. Names of "
                "staff who scanned or changed the record are other people's data."
            ),
        },
        "event": {"slug": event.slug, "name": event.name, "time_zone": event.timezone},
        "participant": {
            "id": participant.id,
            "full_name": participant.full_name,
            "email": participant.email,
            "country": participant.country,
            "country_name": countries.name(participant.country),
            "organisation": participant.organisation,
            "job_title": participant.job_title,
            "category": participant.category,
            "registered_at": _iso(participant.created_at),
            "consent_to_privacy_notice_at": _iso(participant.consent_at),
            "erased_at": _iso(participant.erased_at),
        },
        "registrations": [
            {
                "session_id": r.session_id,
                "session": r.session.title,
                "starts_at": _iso(r.session.starts_at),
                "ends_at": _iso(r.session.ends_at),
                "status": r.status,
                "queued_at": _iso(r.queued_at),
                "created_at": _iso(r.created_at),
                "updated_at": _iso(r.updated_at),
            }
            for r in registrations
        ],
        "access_codes": [
            {"status": c.status, "issued_at": _iso(c.created_at), "revoked_at": _iso(c.revoked_at)}
            for c in participant.codes
        ],
        "check_ins": [
            {
                "at": _iso(line.entry.created_at),
                "session_id": line.entry.session_id,
                "session": line.session_title,
                "verdict": line.entry.verdict,
                "undone": line.undone,
                "channel": line.entry.channel,
                "gate": line.entry.gate,
                "message": line.entry.message,
            }
            for line in reversed(scan_history(participant, limit=100_000))
        ],
        "emails": [
            {
                "kind": m.kind,
                "status": m.status,
                "to": m.recipient,
                "session": m.session_title,
                "queued_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
                "attempts": m.attempts,
            }
            for m in reversed(emails(participant))
        ],
        "changes_by_organisers": [
            {"action": e.action, "at": _iso(e.created_at), "details": e.details} for e in changes
        ],
    }


def record_export(participant: Participant) -> None:
    """Note in the audit log that an organiser downloaded the participant's data."""
    begin_write()
    audit.record("participant.export", event=participant.event, target=_target(participant))
    db.session.commit()


def record_badges(event: Event, count: int) -> None:
    begin_write()
    audit.record("badges.print", event=event, details={"badges": count})
    db.session.commit()
