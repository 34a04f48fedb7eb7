"""Participants, their registrations for sessions, and their access codes."""

from __future__ import annotations

import enum
import secrets
from collections import Counter
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    bindparam,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import get_history

from ..extensions import db
from ..tickets.codes import new_code
from .events import Event, EventSession
from .types import UTCDateTime, utcnow

CATEGORIES = {
    "delegate": "Delegate",
    "speaker": "Speaker",
    "media": "Media",
    "guest": "Guest",
}


#: A participant's attendance masks (:class:`Participant`).
MASKS = ("seats", "waitlisted", "in_person", "online")

#: What an erased participant is called wherever a name is shown.
ERASED_NAME = "Erased participant"


def new_manage_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


class Participant(db.Model):
    __tablename__ = "participants"
    __table_args__ = (
        # One registration per person and event, whatever the case of the email.
        Index("uq_participants_event_email", "event_id", text("lower(email)"), unique=True),
        Index("uq_participants_join_token", "join_token", unique=True),
        # Reports (migration 0010): every figure from one of these, by country or by spelling.
        Index(
            "ix_participants_event_country",
            "event_id",
            "country",
            "organisation",
            "category",
            *MASKS,
        ),
        Index(
            "ix_participants_event_organisation",
            "event_id",
            "organisation",
            "country",
            "category",
            *MASKS,
        ),
        # The organisers' list, a page at a time in its order (migration 0008).
        Index("ix_participants_event_name", "event_id", text("lower(full_name)"), "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of their own for event_id, country and organisation: each leads or follows
    # event_id in an index above, and every query names the event (migration 0013).
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    #: ISO 3166-1 alpha-2.
    country: Mapped[str] = mapped_column(String(2))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(20), default="delegate")
    #: When they accepted the event's privacy notice.
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Secret of the private manage link; a different secret from the access code, so that a
    #: photographed ticket does not let anyone change the registration.
    manage_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_manage_token)
    #: Secret of the personal links that join a session's stream (and record online attendance);
    #: a third secret, so a forwarded join link neither admits at the door nor edits anything.
    join_token: Mapped[str] = mapped_column(String(64), default=new_manage_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The sessions (their :attr:`EventSession.mask` bits) where they hold a confirmed seat, where
    #: they wait for one, and where they are checked in, in the hall and online. Kept by the
    #: database with every registration change (below) and check-in
    #: (:mod:`regapp.checkin.services`), each a change of the row's own value, so that
    #: concurrent changes to one person's sessions do not undo each other; what the dashboard
    #: counts (:mod:`regapp.reports.services`).
    seats: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    waitlisted: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    in_person: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    online: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: When the personal data was erased (on request or after the event's retention period);
    #: the row stays so that aggregate counts do not change.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="participant", cascade="all, delete-orphan"
    )
    codes: Mapped[list[AccessCode]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", order_by="AccessCode.id"
    )

    @hybrid_property
    def attended(self) -> int:
        """The sessions (mask bits) they are checked in to, in the hall or online; in a query,
        the same as an SQL expression."""
        return self.in_person | self.online

    @attended.inplace.expression
    @classmethod
    def _attended_expression(cls):
        return cls.in_person.bitwise_or(cls.online)

    @property
    def active_code(self) -> AccessCode | None:
        return next((c for c in self.codes if c.status == CodeStatus.ACTIVE), None)

    def issue_code(self) -> AccessCode:
        """Revoke the current access code, if any, and give the participant a new one."""
        if current := self.active_code:
            current.revoke()
        code = AccessCode(status=CodeStatus.ACTIVE)
        self.codes.append(code)
        return code

    def registration_for(self, session: EventSession) -> Registration | None:
        return next((r for r in self.registrations if r.session is session), None)

    def join_session(self, session: EventSession, seat_available: bool) -> Registration:
        """Join (or re-join) a session; the registration row is reused, never duplicated."""
        registration = self.registration_for(session)
        if registration is None:
            registration = Registration(session=session)
            self.registrations.append(registration)
        registration.join(seat_available)
        return registration

    @property
    def is_cancelled(self) -> bool:
        return all(r.status == RegistrationStatus.CANCELLED for r in self.registrations)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def erase(self, now: datetime | None = None) -> None:
        """Remove the personal data and keep what the counts need: the row, its registrations
        and check-ins, country, organisation and category stay, so reports do not change.
        New secrets make every old link (manage, join) lead nowhere; every code is revoked.
        The caller deals with the outbox (:func:`regapp.participants.services.erase`)."""
        if self.is_erased:
            return
        self.full_name = ERASED_NAME
        # Unique per event as the index wants, and undeliverable: .invalid is reserved (RFC 2606).
        self.email = f"erased-{self.id}@erased.invalid"
        self.job_title = ""
        self.manage_token = new_manage_token()
        self.join_token = new_manage_token()
        if current := self.active_code:
            current.revoke()
        self.erased_at = now or utcnow()


class RegistrationStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Registration(db.Model):
    """A participant's place in one session. The status changes only through the methods."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint(
            "participant_id", "session_id", name="uq_registrations_participant_session"
        ),
        # Seat counts and the waitlist order are read per session and status.
        Index("ix_registrations_session_status", "session_id", "status", "queued_at"),
        # Reports (migration 0006): seats per session and per person from the index alone, and
        # the latest change (what tells the reports that their kept answers are out of date).
        Index("ix_registrations_session_status_person", "session_id", "status", "participant_id"),
        Index("ix_registrations_status_person", "status", "participant_id", "session_id"),
        Index("ix_registrations_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("event_sessions.id", ondelete="CASCADE"))
    #: ``active_history``: a change loads the status it replaces, which tells whether a seat
    #: was given back (:func:`_keep_seats`).
    status: Mapped[str] = mapped_column(String(20), active_history=True)
    #: When the registration last joined the session (confirmed or waitlisted): the waitlist order.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    participant: Mapped[Participant] = relationship(back_populates="registrations")
    session: Mapped[EventSession] = relationship()

    def join(self, seat_available: bool) -> None:
        """(Re)join the session: a seat if there is one, else the end of the waitlist."""
        self.status = (
            RegistrationStatus.CONFIRMED if seat_available else RegistrationStatus.WAITLISTED
        )
        self.queued_at = utcnow()

    def promote(self) -> None:
        assert self.status == RegistrationStatus.WAITLISTED, self.status
        self.status = RegistrationStatus.CONFIRMED

    def cancel(self) -> None:
        self.status = RegistrationStatus.CANCELLED

    @property
    def is_active(self) -> bool:
        return self.status != RegistrationStatus.CANCELLED


class CodeStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class AccessCode(db.Model):
    """The secret in the participant's QR. A new code revokes the old one."""

    __tablename__ = "access_codes"
    __table_args__ = (
        Index(
            "uq_access_codes_one_active",
            "participant_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    #: Canonical form, see :mod:`regapp.tickets.codes`.
    code: Mapped[str] = mapped_column(String(40), unique=True, default=new_code)
    status: Mapped[str] = mapped_column(String(10), default=CodeStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    participant: Mapped[Participant] = relationship(back_populates="codes")

    def revoke(self) -> None:
        self.status = CodeStatus.REVOKED
        self.revoked_at = utcnow()


def _keep_masks(*masks: str):
    """An UPDATE of one participant (``pid``) that keeps the bits ``keep`` of each of ``masks``
    and sets those of its parameter ``set_<mask>``: a change of the row's own value, which
    PostgreSQL applies to the row as the transaction that committed just before left it, so
    that concurrent changes to one person's sessions do not undo each other."""
    keep = bindparam("keep", type_=BigInteger)
    values = {
        mask: getattr(Participant, mask)
        .bitwise_and(keep)
        .bitwise_or(bindparam(f"set_{mask}", type_=BigInteger))
        for mask in masks
    }
    return update(Participant).where(Participant.id == bindparam("pid")).values(values)


#: Sets (or clears) a session's bit in a participant's ``in_person`` or ``online`` mask.
CHECK_IN_MASK = {mask: _keep_masks(mask) for mask in ("in_person", "online")}
_SEAT_MASKS = _keep_masks("seats", "waitlisted")


def seat_masks(status: str):
    """A participant's ``seats`` (or ``waitlisted``) mask worked out in SQL from their
    registrations of ``status``: a scalar subquery of the row it is compared with or set on.
    The sessions' bits differ, so their sum is their union."""
    return (
        select(func.coalesce(func.sum(EventSession.mask), 0))
        .select_from(Registration)
        .join(EventSession, EventSession.id == Registration.session_id)
        .where(Registration.participant_id == Participant.id, Registration.status == status)
        .scalar_subquery()
    )


#: Adds ``delta`` to the seats taken of the session ``sid``.
_COUNT_SEATS = (
    update(EventSession)
    .where(EventSession.id == bindparam("sid"))
    .values(seats_taken=EventSession.seats_taken + bindparam("delta"))
)


@event.listens_for(Session, "after_flush")
def _keep_seats(session: Session, _context) -> None:
    """Every registration written through the ORM (joined, promoted, cancelled, moved to the
    waitlist, deleted) keeps what depends on its status: its session's bit in its participant's
    ``seats`` and ``waitlisted`` masks (set in the one its status names, cleared in the other;
    both cleared when deleted), and its session's ``seats_taken``, one UPDATE per session
    whatever the number of registrations. (:func:`register_values`, which writes without the
    ORM, keeps both in SQL.)"""
    changed = []  # (registration, status before, status now), None where there is none
    for item in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(item, Registration) or item.participant_id is None:
            continue
        if item in session.new:
            changed.append((item, None, item.status))
        elif (history := get_history(item, "status")).has_changes() or item in session.deleted:
            # The status as the database holds it: loaded before any change (active_history).
            before = history.deleted[0] if history.deleted else item.status
            changed.append((item, before, None if item in session.deleted else item.status))
    if not changed:
        return
    masks, seats = [], Counter()
    for item, before, now in changed:
        bit = item.session.mask
        masks.append(
            {
                "pid": item.participant_id,
                "keep": ~bit,
                "set_seats": bit if now == RegistrationStatus.CONFIRMED else 0,
                "set_waitlisted": bit if now == RegistrationStatus.WAITLISTED else 0,
            }
        )
        seats[item.session_id] += (now == RegistrationStatus.CONFIRMED) - (
            before == RegistrationStatus.CONFIRMED
        )
    connection = session.connection()
    connection.execute(_SEAT_MASKS, masks)
    # In id order, as the sessions are locked (regapp.registration.services._lock_sessions).
    if counts := [{"sid": sid, "delta": n} for sid, n in sorted(seats.items()) if n]:
        connection.execute(_COUNT_SEATS, counts)
