"""Registering participants for sessions: seats, waitlists, changes and cancellations.

Seat allocation is serialised per session: on PostgreSQL each transaction that gives out or frees
seats first locks the rows of the sessions it touches (``SELECT ... FOR NO KEY UPDATE``; a new
registration's ``FOR UPDATE``: :func:`_chosen`), always in id order, and only then counts the seats
taken; on SQLite the whole transaction holds the write lock from ``BEGIN IMMEDIATE``
(:func:`regapp.database.begin_write`). Two people can therefore never take the same last seat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from time import monotonic
from typing import NoReturn

from flask import current_app
from sqlalchemy import (
    CTE,
    JSON,
    Boolean,
    Dialect,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import audit
from ..checkin.counts import registrations_committed
from ..database import (
    Compiled,
    begin_write,
    insert_rows,
    is_deadlock,
    is_unique_violation,
    row_defaults,
    writing,
)
from ..errors import Refusal
from ..extensions import db
from ..inputs import is_token
from ..mail.outbox import queue, wake_worker
from ..models import (
    AccessCode,
    Event,
    EventSession,
    MessageKind,
    OutboxMessage,
    Participant,
    Registration,
    RegistrationStatus,
)
from ..models.events import RegistrationWindow
from ..models.participants import new_manage_token
from ..models.types import utcnow


class RegistrationError(Refusal):
    """A registration that cannot be made."""


class UnknownSession(RegistrationError):
    """A chosen session that is not one of the event's (perhaps removed a moment ago)."""


@dataclass(frozen=True)
class ParticipantDetails:
    full_name: str
    email: str
    country: str
    organisation: str
    job_title: str
    category: str


@dataclass(frozen=True)
class SessionSeats:
    session: EventSession
    confirmed: int
    waitlisted: int

    @property
    def seats_left(self) -> int | None:
        """``None`` for an unlimited session."""
        if self.session.capacity is None:
            return None
        return max(self.session.capacity - self.confirmed, 0)


def seat_counts(session_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Confirmed and waitlisted registrations per session, counted by the database."""
    db.session.flush()  # what the ORM has pending counts too
    rows = db.session.connection().execute(_SEAT_COUNTS, {"ids": list(session_ids)})
    counts: dict[int, dict[str, int]] = {}
    for session_id, status, count in rows:
        counts.setdefault(session_id, {})[status] = count
    return counts


_SEAT_COUNTS = (
    select(Registration.session_id, Registration.status, func.count())
    .where(
        Registration.session_id.in_(bindparam("ids", expanding=True)),
        Registration.status != RegistrationStatus.CANCELLED,
    )
    .group_by(Registration.session_id, Registration.status)
)


def confirmed_counts(session_ids: Iterable[int]) -> dict[int, int]:
    """The seats taken (confirmed registrations) per session, as each session keeps them
    (:attr:`EventSession.seats_taken`): one number per session however full it is. Read in the
    caller's transaction, after what the ORM has pending (flushed, which counts it)."""
    ids = list(session_ids)
    if not ids:
        return {}
    db.session.flush()
    return dict(db.session.connection().execute(_CONFIRMED, {"ids": ids}).all())


_CONFIRMED = select(EventSession.id, EventSession.seats_taken).where(
    EventSession.id.in_(bindparam("ids", expanding=True))
)


def recount_seats_taken() -> int:
    """Every session's seats taken counted again from its registrations (``flask
    recount-attendance``, after registrations were changed straight in the database, which the
    figure does not follow). Returns how many sessions changed; the caller commits."""
    confirmed = (
        select(func.count())
        .where(
            Registration.session_id == EventSession.id,
            Registration.status == RegistrationStatus.CONFIRMED,
        )
        .scalar_subquery()
    )
    query = (
        update(EventSession)
        .where(EventSession.seats_taken != confirmed)
        .values(seats_taken=confirmed)
    )
    return db.session.execute(query, execution_options={"synchronize_session": False}).rowcount


def programme(event: Event) -> list[tuple[date, list[SessionSeats]]]:
    """The event's sessions with their seats, grouped by day in the event's time zone."""
    counts = seat_counts(s.id for s in event.sessions)
    days: dict[date, list[SessionSeats]] = {}
    for session in event.sessions:
        taken = counts.get(session.id, {})
        days.setdefault(session.local_day(), []).append(
            SessionSeats(
                session,
                taken.get(RegistrationStatus.CONFIRMED, 0),
                taken.get(RegistrationStatus.WAITLISTED, 0),
            )
        )
    return list(days.items())


def known_organisations(event: Event, limit: int = 500) -> list[str]:
    """Organisations already registered for the event, to suggest while typing."""
    return list(
        db.session.scalars(
            select(Participant.organisation)
            .where(Participant.event_id == event.id, Participant.organisation != "")
            .group_by(Participant.organisation)
            .order_by(func.count().desc(), Participant.organisation)
            .limit(limit)
        )
    )


def find_participant(token: str) -> Participant | None:
    if not is_token(token):
        return None
    return db.session.scalar(select(Participant).where(Participant.manage_token == token))


def waitlist_position(registration: Registration) -> int:
    """1 for the first person waiting for the session."""
    ahead = db.session.scalar(
        select(func.count()).where(
            Registration.session_id == registration.session_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            or_(
                Registration.queued_at < registration.queued_at,
                and_(
                    Registration.queued_at == registration.queued_at,
                    Registration.id < registration.id,
                ),
            ),
        )
    )
    return ahead + 1


def register(
    event: Event | RegistrationWindow,
    details: ParticipantDetails,
    session_ids: Iterable[int],
    now: datetime | None = None,
    **options: bool,
) -> Participant:
    """:func:`register_values`, returning the participant as an ORM object, read back (for a
    caller that goes on with it: the tests, mostly)."""
    written = register_values(event, details, session_ids, now, **options)
    return find_participant(written["manage_token"])


def register_values(
    event: Event | RegistrationWindow,
    details: ParticipantDetails,
    session_ids: Iterable[int],
    now: datetime | None = None,
    *,
    notify: bool = True,
    by_organiser: bool = False,
) -> dict:
    """Register a new participant for sessions of ``event`` (or of the event whose registration
    window that is: the form keeps it per process): a seat where one is left, the
    waitlist where not. Commits, or raises :class:`RegistrationError` having changed nothing.
    Returns the participant's columns as given (not their ``id``): all the registration form
    needs is the private link's token.

    ``notify=False`` queues no confirmation email. ``by_organiser`` (an organiser adds them, as
    the CSV import does): the registration window and a session's closed flag do not apply;
    capacity and the waitlist do.

    The rows are written in SQL (:func:`_registration`), without the ORM's unit of work (which
    cost more than the rest of the registration together). A second registration of the same
    email is refused by the unique index on (event, lower(email)). The seats are given in SQL
    too: each registration is confirmed if its session has a seat left (its ``seats_taken``
    below its capacity) and waitlisted if not, and the participant's row is refused unless
    every chosen session took the registration. On PostgreSQL all of it is one statement, which
    the server commits as it ends (:func:`~regapp.database.writing`): one round trip, and
    the seat lock, which every registration for the session waits for, is held for the
    server's work and not for the app's: in a registration rush that lock is what bounds the
    rate."""
    now = now or utcnow()
    if not by_organiser and (reason := event.registration_closed_reason(now)):
        raise RegistrationError(reason)
    event_id = event.id  # read before writing() lets go of what the request read
    ids = sorted(set(session_ids))
    written = {"event_id": event_id, "consent_at": now, "manage_token": new_manage_token()}
    written |= vars(details)
    # Named apart from every column of the tables written: SQLAlchemy adds the parameters of an
    # UPDATE that are named after its table's columns to its SET.
    values = {"event": event_id, "ids": ids, "wanted": len(ids), "now": now}
    values |= {"any_state": by_organiser, "message_kind": MessageKind.CONFIRMATION}
    values |= {f"new_{key}": value for key, value in written.items()}
    values |= row_defaults(Participant, Registration, AccessCode, OutboxMessage)
    statements = _registration(db.engine.dialect, current_app.config["SEAT_LOCKING"], notify)
    sent = monotonic()
    try:
        _write(statements, values)
    except IntegrityError as error:
        if is_unique_violation(error):
            # The email is registered already (perhaps a moment ago, by a request racing this
            # one): refused by the unique index on (event, lower(email)).
            raise _duplicate_email() from None
        # A chosen session did not take the registration (the participant's seats were NULL):
        # say which, and why.
        _refuse(event_id, ids, now, by_organiser)
    registrations_committed(ids, sent)
    wake_worker()
    return written


#: How many times a registration is sent in all when PostgreSQL fails it to end a deadlock.
DEADLOCK_TRIES = 3


def _write(statements: list[Compiled], values: dict) -> None:
    """Run a registration's statements (:func:`_registration`) in one transaction.

    PostgreSQL may end a deadlock between registrations of the same sessions by failing one of
    them, after a second's wait (``deadlock_timeout``). Nothing of that one was written, so it
    is sent again, up to :data:`DEADLOCK_TRIES` times in all, rather than answered with a 503.
    (Such deadlocks came from door scans sharing the sessions' rows: :func:`_chosen`. None has
    been seen since, but a registration must not fail for one.)"""
    participant, *rest = statements
    for attempt in range(1, DEADLOCK_TRIES + 1):
        try:
            with writing(one_statement=True) as connection:
                returned = participant.execute(connection, values)
                if rest:  # SQLite: one statement each, with the participant's id
                    [(values["pid"],)] = returned
                    for statement in rest:
                        statement.execute(connection, values)
            return
        except OperationalError as error:
            if not is_deadlock(error) or attempt == DEADLOCK_TRIES:
                raise
            current_app.logger.warning(
                "A registration was failed to end a deadlock; sent again (attempt %d of %d)",
                attempt + 1,
                DEADLOCK_TRIES,
            )


#: The participant's columns :func:`register_values` gives (the rest have their defaults).
_WRITTEN = ("event_id", "consent_at", "manage_token", *ParticipantDetails.__dataclass_fields__)


@lru_cache(maxsize=8)
def _registration(dialect: Dialect, locking: bool, notify: bool) -> list[Compiled]:
    """What :func:`register_values` writes: the participant with their masks, their
    registrations, access code and confirmation email (if ``notify``), and the seats taken,
    worked out from the chosen sessions as :func:`_chosen` gives them. On PostgreSQL one
    statement does it all, each part a CTE, the participant's id drawn from its sequence first:
    the server gets one statement to plan and run, and the app one to send, instead of seven.
    On SQLite, which has no INSERT or UPDATE in a CTE, the participant's INSERT returns the id
    the other statements take (``pid``), and the seats are taken last (the others read the
    seats left before). Compiled once per database engine's dialect (:class:`Compiled`)."""
    postgresql = dialect.name == "postgresql"
    chosen = _chosen(postgresql, lock=locking and postgresql)
    if postgresql:
        sequence = func.pg_get_serial_sequence(Participant.__tablename__, "id")
        new_id = select(func.nextval(sequence).label("id")).cte("new_id")
        person = select(new_id.c.id).scalar_subquery()
    else:
        person = bindparam("pid", type_=Integer)
    # NULL, which the table refuses, unless every chosen session takes the registration: the
    # transaction fails before its COMMIT, which on PostgreSQL travels with it.
    seats = case((func.count() == bindparam("wanted"), _masks_where(chosen, chosen.c.has_seat)))
    columns = Participant.__table__.c
    details = {key: bindparam(f"new_{key}", type_=columns[key].type) for key in _WRITTEN}
    participant = insert_rows(
        Participant,
        chosen,
        **({"id": person} if postgresql else {}),
        **details,
        seats=seats,
        waitlisted=_masks_where(chosen, ~chosen.c.has_seat),
    )
    status = case(
        (chosen.c.has_seat, RegistrationStatus.CONFIRMED.value),
        else_=RegistrationStatus.WAITLISTED.value,
    )
    registrations = insert_rows(
        Registration, chosen, participant_id=person, session_id=chosen.c.id, status=status
    )
    code = insert_rows(AccessCode, participant_id=person)
    message = insert_rows(
        OutboxMessage,
        participant_id=person,
        kind=bindparam("message_kind", type_=String),
        recipient=bindparam("new_email", type_=String),
    )
    take_seats = (
        update(EventSession)
        .where(EventSession.id.in_(select(chosen.c.id).where(chosen.c.has_seat)))
        .values(seats_taken=EventSession.seats_taken + 1)
    )
    rest = [registrations, code, *([message] if notify else []), take_seats]
    if postgresql:
        parts = (part.cte(f"part_{n}") for n, part in enumerate(rest))
        statements = [participant.add_cte(new_id, *parts)]
    else:
        statements = [participant.returning(Participant.id), *rest]
    return [Compiled(statement, dialect) for statement in statements]


def _chosen(postgresql: bool, *, lock: bool) -> CTE:
    """The chosen sessions (``ids``) that take the registration: the event's, and open unless
    ``any_state``; each with its bit (``mask``) and whether it has a seat left (``has_seat``).
    ``lock``: PostgreSQL's row locks (in id order), which every registration for the session
    waits for. A row locked after a wait is read as the transaction that held the lock left it,
    so ``has_seat`` counts every seat given before, though the rest of the statement sees the
    database as it was when the statement began (SQLite's transaction holds the whole
    database's write lock since its ``BEGIN IMMEDIATE``: :func:`~regapp.database.writing`).

    ``FOR UPDATE``, not ``FOR NO KEY UPDATE``: the weaker lock lets door scans' foreign-key
    checks (``FOR KEY SHARE`` on the session, for the new check-in) share the row, and with them
    PostgreSQL deadlocked registrations of the same sessions although they lock in id order:
    16 in 40 s of registrations and scans together, each registration failed after a second's
    wait (bench/README.md, "Registration deadlocks, session 20"). With ``FOR UPDATE`` a scan's
    check waits for the registration's one statement instead, and none deadlocked. A scan
    never waits the other way: a registration locks no one else's participant row."""
    query = (
        select(
            EventSession.id,
            EventSession.mask.label("mask"),
            or_(
                EventSession.capacity.is_(None), EventSession.capacity > EventSession.seats_taken
            ).label("has_seat"),
        )
        .where(
            EventSession.event_id == bindparam("event"),
            _among_ids(EventSession.id, postgresql),
            or_(
                bindparam("any_state", type_=Boolean),
                EventSession.takes_registrations(bindparam("now")),
            ),
        )
        .order_by(EventSession.id)
    )
    return (query.with_for_update() if lock else query).cte("chosen")


def _among_ids(column, postgresql: bool):
    """``column`` is one of the parameter ``ids`` (a list), given as one parameter: an array on
    PostgreSQL, JSON on SQLite. SQLAlchemy rewrites a statement with an expanding ``IN`` at
    every run: on SQLite, where three of a registration's statements hold it, that cost 0.06 ms
    of the app's CPU per registration in-process, a thirtieth of the POST (bench/README.md,
    "Registration, session 17")."""
    if postgresql:
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    ids = func.json_each(bindparam("ids", type_=JSON)).table_valued("value")
    return column.in_(select(ids.c.value))


def _masks_where(chosen: CTE, condition):
    """The union of the bits of the ``chosen`` sessions where ``condition`` holds."""
    return func.coalesce(func.sum(case((condition, chosen.c.mask), else_=0)), 0)


def _refuse(event_id: int, ids: list[int], now: datetime, by_organiser: bool) -> NoReturn:
    """Raise why the sessions ``ids`` did not all take the registration: one is not the
    event's, or (unless ``by_organiser``) closed. Reads them after the registration's
    transaction rolled back: nothing to lock."""
    # Raises for a session that is not the event's.
    sessions = _lock_sessions(event_id, ids, lock=False)
    if not by_organiser:
        _refuse_closed(sessions, now)
    # Nothing refuses it now: a session changed in the meantime.
    raise RegistrationError(NO_SUCH_SESSION, field="sessions")


def change_sessions(
    participant: Participant,
    session_ids: Iterable[int],
    now: datetime | None = None,
    *,
    audit_as: str | None = None,
    details: ParticipantDetails | None = None,
    notify: bool = True,
    by_organiser: bool = False,
) -> None:
    """Make ``session_ids`` the participant's sessions: join the new ones, leave the others (which
    hands their seats to the waitlist). Commits, or raises having changed nothing. ``audit_as``
    (organisers' changes) records the change in the audit log under that action. ``details``
    replace the participant's details in the same transaction; ``notify=False`` queues no
    "sessions changed" email (promotions from the waitlist are always sent); ``by_organiser``
    as for :func:`register`."""
    now = now or utcnow()
    wanted = set(session_ids)
    if not wanted:
        raise RegistrationError("Choose at least one session, or cancel your registration.")
    begin_write()
    current = {r.session_id: r for r in participant.registrations}
    active = {sid for sid, r in current.items() if r.is_active}
    try:
        sessions = {s.id: s for s in _lock_sessions(participant.event_id, wanted | active)}
        added = wanted - active
        if not by_organiser:
            if reason := (added and participant.event.registration_closed_reason(now)):
                raise RegistrationError(reason)
            _refuse_closed([sessions[sid] for sid in added], now)
        if details is not None:
            for field, value in vars(details).items():
                setattr(participant, field, value)
        for sid in active - wanted:
            current[sid].cancel()
        db.session.flush()
        free = _free_seats([sessions[sid] for sid in added])
        for sid in sorted(added):
            participant.join_session(sessions[sid], seat_available=free[sid] > 0)
        for sid in active - wanted:
            _fill_from_waitlist(sessions[sid])
        if notify:
            queue(MessageKind.SESSIONS_CHANGED, participant)
        if audit_as:
            _audit(audit_as, participant, added=sorted(added), dropped=sorted(active - wanted))
        db.session.commit()
    except RegistrationError:
        db.session.rollback()
        raise
    wake_worker()


def cancel_participation(participant: Participant, *, audit_as: str | None = None) -> None:
    """Cancel every session of the participant, handing their seats to the waitlists."""
    begin_write()
    active = [r for r in participant.registrations if r.is_active]
    sessions = _lock_sessions(participant.event_id, (r.session_id for r in active))
    for registration in active:
        registration.cancel()
    db.session.flush()
    for session in sessions:
        _fill_from_waitlist(session)
    queue(MessageKind.CANCELLED, participant)
    if audit_as:
        _audit(audit_as, participant, sessions=[s.id for s in sessions])
    db.session.commit()
    wake_worker()


def set_capacity(session: EventSession, capacity: int | None) -> list[Registration]:
    """Give ``session`` ``capacity`` seats (``None``: unlimited), locked as a cancellation is.

    Fewer seats than the confirmed registrations is refused (:class:`RegistrationError` naming
    the count, nothing changed); more seats promote the earliest waitlisted people, each with
    their promotion email, exactly as a cancellation does. Starts the write transaction and
    leaves it open, so that the caller saves its other changes (the session's other settings,
    the audit entry) with this one: the caller commits, then calls :func:`wake_worker`.
    Returns the promoted registrations."""
    begin_write()
    (locked,) = _lock_sessions(session.event_id, [session.id])
    confirmed = confirmed_counts([locked.id]).get(locked.id, 0)
    if capacity is not None and capacity < confirmed:
        db.session.rollback()
        raise RegistrationError(
            f"{confirmed} {'person holds a' if confirmed == 1 else 'people hold'} confirmed "
            f"seat{'s' if confirmed != 1 else ''} in “{locked.title}”, so the capacity cannot "
            f"go below {confirmed}. Cancel registrations first, or choose at least {confirmed}.",
            field="capacity",
        )
    locked.capacity = capacity
    return _fill_from_waitlist(locked)


def issue_new_code(participant: Participant, *, audit_as: str | None = None) -> None:
    """Revoke the participant's access code and send them the new one."""
    begin_write()
    participant.issue_code()
    queue(MessageKind.NEW_CODE, participant)
    if audit_as:
        _audit(audit_as, participant)
    db.session.commit()
    wake_worker()


def promote_from_waitlist(
    participant: Participant, session_id: int, *, audit_as: str | None = None
) -> None:
    """Give a waitlisted participant a free seat of the session ahead of the queue (organisers).
    Only a free seat: the capacity is the room's limit and is never exceeded. Commits and sends
    the promotion email, or raises :class:`RegistrationError` having changed nothing."""
    begin_write()
    try:
        (session,) = _lock_sessions(participant.event_id, [session_id])
        registration = participant.registration_for(session)
        if registration is None or registration.status != RegistrationStatus.WAITLISTED:
            raise RegistrationError(f"Not on the waitlist of “{session.title}”.")
        if _free_seats([session])[session.id] <= 0:
            raise RegistrationError(
                f"“{session.title}” has no free seat: all {session.capacity} are taken. "
                "Raise the session's capacity, or wait for a cancellation."
            )
        registration.promote()
        queue(MessageKind.PROMOTED, participant, session_title=session.title)
        if audit_as:
            _audit(audit_as, participant, session=session.id)
        db.session.commit()
    except RegistrationError:
        db.session.rollback()
        raise
    wake_worker()


def _audit(action: str, participant: Participant, **details) -> None:
    """An organiser's change to a participant, in the audit log: ids only, no personal data."""
    audit.record(
        action, event=participant.event, target=f"participant {participant.id}", details=details
    )


def resend_manage_link(event: Event, email: str) -> None:
    """Email the private link to ``email`` if it is registered for ``event``; silently nothing
    otherwise, so the answer tells no one who is registered."""
    participant = find_by_email(event, email)
    if participant is None:
        return
    begin_write()
    queue(MessageKind.MANAGE_LINK, participant)
    db.session.commit()
    wake_worker()


NO_SUCH_SESSION = "One of the chosen sessions does not exist."


def _lock_sessions(
    event_id: int, session_ids: Iterable[int], *, lock: bool = True
) -> list[EventSession]:
    """The event's sessions with these ids, locked for seat allocation (unless ``lock`` is
    false: only read), in id order."""
    ids = sorted(set(session_ids))
    query = _LOCK_SESSIONS if lock and current_app.config["SEAT_LOCKING"] else _SESSIONS
    sessions = list(db.session.scalars(query, {"event_id": event_id, "ids": ids}))
    if len(sessions) != len(ids):
        raise UnknownSession(NO_SUCH_SESSION, field="sessions")
    return sessions


_SESSIONS = (
    select(EventSession)
    .where(
        EventSession.event_id == bindparam("event_id"),
        EventSession.id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(EventSession.id)
)
_LOCK_SESSIONS = _SESSIONS.with_for_update(key_share=True)


def _refuse_closed(sessions: Iterable[EventSession], now: datetime) -> None:
    for session in sessions:
        if reason := session.closed_reason(now):
            raise RegistrationError(reason, field="sessions")


def _free_seats(sessions: list[EventSession]) -> dict[int, float]:
    """Seats left per session; call only with the sessions locked. An unlimited session is not
    counted at all."""
    taken = confirmed_counts(s.id for s in sessions if s.capacity is not None)
    return {
        s.id: float("inf") if s.capacity is None else s.capacity - taken.get(s.id, 0)
        for s in sessions
    }


def _fill_from_waitlist(session: EventSession) -> list[Registration]:
    """Promote the earliest waitlisted into the free seats; call with the session locked."""
    free = _free_seats([session])[session.id]
    if free <= 0:
        return []
    query = (
        select(Registration)
        .where(
            Registration.session_id == session.id,
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .order_by(Registration.queued_at, Registration.id)
    )
    if free != float("inf"):
        query = query.limit(int(free))
    promoted = list(db.session.scalars(query))
    for registration in promoted:
        registration.promote()
        queue(MessageKind.PROMOTED, registration.participant, session_title=session.title)
    return promoted


def find_by_email(event: Event, email: str) -> Participant | None:
    return db.session.scalar(
        select(Participant).where(
            Participant.event_id == event.id, func.lower(Participant.email) == email.lower()
        )
    )


def _duplicate_email() -> RegistrationError:
    return RegistrationError(
        "This email is already registered for this event. Use the private link in your "
        "confirmation to change your sessions.",
        field="email",
    )


def add_walk_in(participant_id: int, event_id: int, session_id: int) -> None:
    """Register someone of event ``event_id`` for its session ``session_id`` at the door, only
    into a free seat."""
    begin_write()
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.event_id != event_id:
        raise RegistrationError("No such participant for this event.")
    (locked,) = _lock_sessions(event_id, [session_id])
    registration = participant.registration_for(locked)
    if registration is not None and registration.status == RegistrationStatus.CONFIRMED:
        db.session.rollback()
        return
    if _free_seats([locked])[locked.id] <= 0:
        db.session.rollback()
        raise RegistrationError(f"No seats left in “{locked.title}”.")
    participant.join_session(locked, seat_available=True)
    queue(MessageKind.SESSIONS_CHANGED, participant)
    db.session.commit()
    wake_worker()
