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
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    Dialect,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, contains_eager

from ..auth.access import Device
from ..database import Compiled, begin_write
from ..extensions import db
from ..kept import DOORS, kept
from ..models import (
    AccessCode,
    Channel,
    CheckIn,
    Event,
    EventSession,
    Participant,
    Registration,
    RegistrationStatus,
    StaffUser,
    Verdict,
)
from ..models.participants import CHECK_IN_MASK
from ..models.types import utcnow
from ..tickets.codes import InvalidCode, normalise
from ..tickets.services import code_check_for
from .counts import live_counts, note_checkin


@dataclass(frozen=True)
class Door:
    """A session as its door needs it: values, not ORM objects, so that they outlive the
    request's transaction (:func:`begin_write` expires the ORM objects read before it) and a
    process can keep them between scans (:func:`find_door`)."""

    session_id: int
    event_id: int
    title: str
    mask: int
    opens: datetime
    closes: datetime
    zone: ZoneInfo

    @classmethod
    def of(cls, session: EventSession) -> Door:
        return cls(
            session.id,
            session.event_id,
            session.title,
            session.mask,
            *session.checkin_window,
            session.event.zone,
        )


class NoSuchSession(LookupError):
    """The session scanned into no longer exists."""


@dataclass
class Scan:
    """Who scanned, where, and what."""

    door: Door
    code: str | None = None
    participant_id: int | None = None
    gate: str = ""
    nonce: str | None = None
    staff: StaffUser | None = None
    device: Device | None = None
    channel: Channel = Channel.IN_PERSON


@dataclass(frozen=True)
class Person:
    """Who was scanned, as the door sees them."""

    id: int
    full_name: str
    organisation: str
    country: str
    category: str


@dataclass
class ScanResult:
    """What a scan came to. ``entry`` is the log entry as written (not in the ORM session:
    what was not set on it reads as ``None``)."""

    entry: CheckIn
    verdict: str
    message: str
    checkin_id: int
    channel: str
    #: Who was scanned; ``None`` when the code matched no one of the event.
    person: Person | None = None
    #: For ``already_checked_in``: the check-in that came first (``id``, ``created_at``, ``gate``).
    earlier: CheckIn | Row | None = None
    #: For ``not_registered`` and ``cancelled``: the sessions the person does hold.
    held: list[Registration] = field(default_factory=list)


#: Verdicts written into the SQL rather than bound, so that SQLite can use partial indexes.
_OK = literal_column(f"'{Verdict.OK}'")
_ANNULLED = literal_column(f"'{Verdict.ANNULLED}'")
_UNDO = aliased(CheckIn, name="undo")  # made once: building an alias costs a millisecond
_PERSON = (
    Participant.id,
    Participant.full_name,
    Participant.organisation,
    Participant.country,
    Participant.category,
)


def effective_checkins(*, many: bool = False, upto: int | None = None):
    """``ok`` entries that no ``annulled`` entry undoes.

    Each entry is probed for an undo (NOT EXISTS): cheapest for one person's entries. With
    ``many`` (reports over a whole event) the undone ids are read once instead (NOT IN), and
    ``upto`` reads the log as it stood when its newest entry was ``upto``: undos after it do
    not count (the caller bounds the entries themselves)."""
    if many:
        undone = select(_UNDO.refers_to_id).where(
            _UNDO.verdict == _ANNULLED, _UNDO.refers_to_id.is_not(None)
        )
        if upto is not None:
            undone = undone.where(_UNDO.id <= upto)
        return select(CheckIn).where(CheckIn.verdict == _OK, CheckIn.id.not_in(undone))
    return select(CheckIn).where(
        CheckIn.verdict == _OK,
        ~exists().where(_UNDO.refers_to_id == CheckIn.id, _UNDO.verdict == _ANNULLED),
    )


def record_scan(scan: Scan, now: datetime | None = None) -> ScanResult:
    now = now or utcnow()
    if scan.nonce and (earlier := _by_nonce(scan.nonce)):
        return explain(earlier)
    door = scan.door
    entry = CheckIn(
        session_id=door.session_id,
        channel=scan.channel,
        scanned=(scan.code or "")[:64],
        staff_user_id=scan.staff.id if scan.staff else None,
        device_id=scan.device.id if scan.device else None,
        gate=scan.gate[:80],
        nonce=scan.nonce,
        created_at=now,
    )
    begin_write(durable=False)  # a scan lost to a power cut is scanned again at the door
    person, registration, here, valid = _identify(scan, entry, door)
    earlier = _judge(entry, person.id, registration, here, door, now) if valid else None
    try:
        _insert(entry)
        if entry.verdict == Verdict.OK:
            _mark_checked_in(entry, door.mask, True)
    except IntegrityError:
        # The same nonce arrived twice at once: the other request recorded it first.
        db.session.rollback()
        if scan.nonce and (first := _by_nonce(scan.nonce)):
            return explain(first)
        if find_session(door.session_id) is None:
            # Removed (by an organiser, on another server process) since the door was read.
            raise NoSuchSession from None
        raise
    result = ScanResult(
        entry,
        entry.verdict,
        entry.message,
        entry.id,
        entry.channel,
        person if entry.verdict != Verdict.UNKNOWN_CODE else None,
        earlier,
    )
    db.session.commit()
    if result.verdict in (Verdict.NOT_REGISTERED, Verdict.CANCELLED):
        result.held = _held(person.id)
    return result


def _insert(entry: CheckIn) -> None:
    """INSERT the new log entry without the ORM's unit of work (which costs three times what
    the INSERT does, at every scan). ``entry`` stays outside the ORM session, with its new
    id: the scan's answer reads what was set on it, and nothing ever reads it back (attaching
    it to the session cost 4 % of a scan's instructions)."""
    session = db.session()
    connection = session.connection()
    given = entry.__dict__  # what was set; a column's constant default for the rest
    values = {parameter: given.get(column, unset) for column, parameter, unset in _INSERTED}
    [(entry.id,)] = _insert_statement(connection.dialect).execute(connection, values)
    note_checkin(session, entry)


_COLUMNS = (
    "session_id",
    "participant_id",
    "verdict",
    "channel",
    "scanned",
    "message",
    "staff_user_id",
    "device_id",
    "gate",
    "nonce",
    "refers_to_id",
    "created_at",
)


def _unset(name: str):
    """The value of a column that an entry has not set: its constant default, or ``None``."""
    default = CheckIn.__table__.c[name].default
    return default.arg if default is not None and not default.is_callable else None


#: Each column the INSERT writes, with its parameter's name and its value when the entry has
#: none set.
_INSERTED = [(name, f"new_{name}", _unset(name)) for name in _COLUMNS]


def _mark_checked_in(entry: CheckIn, mask: int, on: bool) -> None:
    """Set (or clear) the session's bit in the participant's mask for the entry's channel
    (:attr:`Participant.in_person`, :attr:`Participant.online`), in the entry's transaction."""
    params = {"pid": entry.participant_id, "keep": -1 if on else ~mask}
    params[f"set_{entry.channel}"] = mask if on else 0
    connection = db.session.connection()
    _mask_statement(entry.channel, connection.dialect).execute(connection, params)


def _identify(
    scan: Scan, entry: CheckIn, door: Door
) -> tuple[Person | None, str | None, bool, bool]:
    """The participant scanned, their registration's status for the session, whether their
    attendance mask has them checked in to it on the scan's channel already, and whether the
    code is valid for this event, in one query that also locks the participant against
    concurrent scans. Sets the refusal on ``entry`` when the code is unknown or revoked (a
    revoked code still names whose it was)."""
    params = {"session_id": door.session_id}
    if scan.code is not None:
        try:
            params["code"] = normalise(scan.code)
        except InvalidCode as error:
            entry.verdict, entry.message = Verdict.UNKNOWN_CODE, str(error)
            return None, None, False, False
    else:
        params["participant_id"] = scan.participant_id
    connection = db.session.connection()
    locking = current_app.config["SEAT_LOCKING"]
    query = _identify_statement(scan.code is not None, locking, connection.dialect)
    row = (query.execute(connection, params) or [None])[0]
    person = row and Person(row.id, row.full_name, row.organisation, row.country, row.category)
    if scan.code is not None:
        checked = code_check_for(row.code_status if row else None)
        if checked.status != "ok":
            entry.verdict, entry.message = checked.status, checked.message
            entry.participant_id = row.id if row else None
            return person, None, False, False
    if row is None or row.event_id != door.event_id:
        entry.verdict, entry.message = Verdict.UNKNOWN_CODE, "No participant of this event."
        entry.participant_id = None
        return None, None, False, False
    entry.participant_id = row.id
    return person, row.registration, bool(getattr(row, entry.channel) & door.mask), True


# The statements of a scan are built once (building one costs more than running it) and
# compiled once (:class:`~regapp.database.Compiled`: a scan took 4.55 million instructions
# with SQLAlchemy's execution of them, 4.39 compiled once, 4.05 run on a driver cursor too),
# and run on the session's connection.
# They read columns, not ORM objects: text and numbers, which the drivers give as stored.


@lru_cache(maxsize=16)
def _identify_statement(by_code: bool, locking: bool, dialect: Dialect) -> Compiled:
    return Compiled(_identify_query(by_code, locking, dialect.name), dialect)


@lru_cache(maxsize=8)
def _insert_statement(dialect: Dialect) -> Compiled:
    columns = {
        name: bindparam(parameter, type_=CheckIn.__table__.c[name].type)
        for name, parameter, _ in _INSERTED
    }
    return Compiled(insert(CheckIn).values(columns).returning(CheckIn.id), dialect)


@lru_cache(maxsize=8)
def _mask_statement(channel: str, dialect: Dialect) -> Compiled:
    return Compiled(CHECK_IN_MASK[channel], dialect)


def _identify_query(by_code: bool, locking: bool, dialect: str) -> Select:
    columns = (
        Participant.event_id,
        *_PERSON,
        Participant.in_person,
        Participant.online,
        Registration.status.label("registration"),
    )
    if dialect == "postgresql":
        # The scan's COMMIT does not wait for the disk (see begin_write's ``durable``): said
        # for this transaction only, by its first statement, since a statement of its own
        # would cost a round trip, about what the wait costs.
        columns += (func.set_config("synchronous_commit", "off", True).label("no_wait"),)
    if by_code:
        query = (
            select(AccessCode.status.label("code_status"), *columns)
            .join(Participant, Participant.id == AccessCode.participant_id)
            .where(AccessCode.code == bindparam("code"))
        )
    else:
        query = select(*columns).where(Participant.id == bindparam("participant_id"))
    query = query.outerjoin(
        Registration,
        and_(
            Registration.participant_id == Participant.id,
            Registration.session_id == bindparam("session_id"),
        ),
    )
    return query.with_for_update(of=Participant) if locking else query


@cache
def _checked_in_query() -> Select:
    return (
        effective_checkins()
        .with_only_columns(CheckIn.id, CheckIn.created_at, CheckIn.gate)
        .where(
            CheckIn.participant_id == bindparam("participant_id"),
            CheckIn.session_id == bindparam("session_id"),
            CheckIn.channel == bindparam("channel"),
        )
        .order_by(CheckIn.id)
        .limit(1)
    )


@cache
def _count_query() -> Select:
    checked_in = (
        effective_checkins()
        .with_only_columns(func.count(func.distinct(CheckIn.participant_id)))
        .where(CheckIn.session_id == bindparam("session_id"), CheckIn.channel == Channel.IN_PERSON)
        .scalar_subquery()
    )
    registered = (
        select(func.count())
        .where(
            Registration.session_id == bindparam("session_id"),
            Registration.status == RegistrationStatus.CONFIRMED,
        )
        .scalar_subquery()
    )
    return select(checked_in, registered)


def _judge(
    entry: CheckIn,
    participant_id: int,
    registration: str | None,
    here: bool,
    door: Door,
    now: datetime,
) -> Row | None:
    """Sets the verdict on ``entry``; returns the earlier check-in for ``already_checked_in``.

    The log is read for that earlier check-in only when the participant's attendance mask
    (``here``, read with the participant's row locked) says there is one: the first scan of
    each person, most of a door rush, costs a statement fewer."""
    zone = door.zone
    if not door.opens <= now < door.closes:
        entry.verdict = Verdict.OUTSIDE_WINDOW
        entry.message = (
            f"Check-in for “{door.title}” is open from {door.opens.astimezone(zone):%H:%M} "
            f"to {door.closes.astimezone(zone):%H:%M} ({door.opens.astimezone(zone):%d %b})."
        )
    elif registration is None:
        entry.verdict, entry.message = Verdict.NOT_REGISTERED, "Not registered for this session."
    elif registration == RegistrationStatus.CANCELLED:
        entry.verdict = Verdict.CANCELLED
        entry.message = "Cancelled their registration for this session."
    elif registration == RegistrationStatus.WAITLISTED:  # no seat, in the hall or online
        entry.verdict, entry.message = Verdict.WAITLISTED, "On the waitlist: no seat yet."
    elif here and (earlier := _checked_in(participant_id, door.session_id, entry.channel)):
        entry.verdict = Verdict.ALREADY_CHECKED_IN
        entry.refers_to_id = earlier.id
        entry.message = f"Already checked in at {earlier.created_at.astimezone(zone):%H:%M}" + (
            f", {earlier.gate}." if earlier.gate else "."
        )
        return earlier
    else:
        entry.verdict, entry.message = Verdict.OK, "Welcome."
    return None


def _checked_in(participant_id: int, session_id: int, channel: str) -> Row | None:
    params = {"participant_id": participant_id, "session_id": session_id, "channel": channel}
    return db.session.connection().execute(_checked_in_query(), params).first()


def _held(participant_id: int) -> list[Registration]:
    """The participant's active registrations, in the order of their sessions."""
    return list(
        db.session.scalars(
            select(Registration)
            .join(Registration.session)
            .options(contains_eager(Registration.session))
            .where(
                Registration.participant_id == participant_id,
                Registration.status != RegistrationStatus.CANCELLED,
            )
            .order_by(EventSession.starts_at, Registration.id)
        )
    )


def _by_nonce(nonce: str) -> CheckIn | None:
    return db.session.scalar(select(CheckIn).where(CheckIn.nonce == nonce))


def explain(entry: CheckIn) -> ScanResult:
    """The full answer for a log entry (also for a repeated nonce: the first answer again)."""
    participant = entry.participant if entry.verdict != Verdict.UNKNOWN_CODE else None
    result = ScanResult(
        entry,
        entry.verdict,
        entry.message,
        entry.id,
        entry.channel,
        participant
        and Person(
            participant.id,
            participant.full_name,
            participant.organisation,
            participant.country,
            participant.category,
        ),
    )
    if entry.verdict == Verdict.ALREADY_CHECKED_IN:
        result.earlier = entry.refers_to
    if entry.verdict in (Verdict.NOT_REGISTERED, Verdict.CANCELLED) and participant:
        result.held = _held(participant.id)
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
    _mark_checked_in(entry, entry.session.mask, False)
    db.session.commit()
    return undo


def session_counts(session_id: int) -> dict[str, int]:
    """People checked in (in person) and confirmed registrations for a session: from this
    process's live counts (:mod:`regapp.checkin.counts`), read again when too old."""
    return live_counts().get(session_id, _count)


def _count(session_id: int) -> tuple[int, int]:
    return tuple(db.session.connection().execute(_count_query(), {"session_id": session_id}).one())


def search_participants(door: Door, query: str, limit: int = 20) -> list[dict]:
    """People of the door's event whose name, email or organisation contains ``query``, with
    their registration for its session and whether they are checked in to it in the hall."""
    needle = query.lower()
    registration = aliased(Registration)
    rows = db.session.execute(
        select(Participant, registration.status)
        .outerjoin(
            registration,
            and_(
                registration.participant_id == Participant.id,
                registration.session_id == door.session_id,
            ),
        )
        .where(
            Participant.event_id == door.event_id,
            or_(
                func.lower(Participant.full_name).contains(needle, autoescape=True),
                func.lower(Participant.email).contains(needle, autoescape=True),
                func.lower(Participant.organisation).contains(needle, autoescape=True),
            ),
        )
        .order_by(Participant.full_name)
        .limit(limit)
    ).all()
    return [
        {"participant": p, "registration": status, "checked_in": bool(p.in_person & door.mask)}
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
    """The session with its event (one query: a scan needs both)."""
    return db.session.scalar(_session_query(), {"id": session_id})


def find_door(session_id: int) -> Door | None:
    """The session ``session_id`` as its door needs it, kept by the process for a moment
    (:mod:`regapp.kept`)."""
    return kept(DOORS, session_id, _read_door)


def _read_door(session_id: int) -> Door | None:
    session = find_session(session_id)
    return Door.of(session) if session is not None else None


@cache
def _session_query() -> Select:
    return (
        select(EventSession)
        .join(EventSession.event)
        .options(contains_eager(EventSession.event))
        .where(EventSession.id == bindparam("id"))
    )


def find_checkin(checkin_id: int) -> CheckIn | None:
    return db.session.get(CheckIn, checkin_id)
