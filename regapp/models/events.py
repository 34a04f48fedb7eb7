"""An event and its sessions (the programme)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    literal,
)
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

DEFAULT_CHECKIN_LEAD = timedelta(minutes=60)
#: Sessions an event can have: each has a bit of its own in the participants' attendance masks
#: (:class:`~regapp.models.participants.Participant`), a signed 64-bit integer.
MAX_SESSIONS = 63


class SessionKind(enum.StrEnum):
    OPENING = "opening"
    PANEL = "panel"
    CLOSING = "closing"
    OTHER = "other"


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The event's address: ``/e/<slug>/``.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: IANA time zone name; every time is stored in UTC and shown in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    venue: Mapped[str] = mapped_column(String(200), default="")
    organiser: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    #: Shown behind the consent checkbox; empty means the built-in notice.
    privacy_notice: Mapped[str] = mapped_column(Text, default="")
    #: Registration window; ``None`` leaves that side open.
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Days after the event's last session ends when personal data is erased (``flask
    #: purge-expired``); ``None`` keeps it until an organiser erases it.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    #: An archived event leaves the public list and takes no registrations; its data stays.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sessions: Mapped[list[EventSession]] = relationship(
        back_populates="event",
        order_by="(EventSession.starts_at, EventSession.position, EventSession.id)",
        cascade="all, delete-orphan",
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def archive(self) -> None:
        self.archived_at = utcnow()

    def unarchive(self) -> None:
        self.archived_at = None

    @property
    def registration_window(self) -> RegistrationWindow:
        return RegistrationWindow(
            self.id,
            self.timezone,
            self.registration_opens_at,
            self.registration_closes_at,
            self.is_archived,
        )

    def registration_closed_reason(self, now: datetime) -> str | None:
        """Why registration is not possible at ``now``, or ``None`` when it is open."""
        return self.registration_window.registration_closed_reason(now)


@dataclass(frozen=True)
class RegistrationWindow:
    """When event ``id`` takes registrations: values, not an ORM object, so that a server
    process can keep them between requests (:mod:`regapp.kept`)."""

    id: int
    timezone: str
    opens_at: datetime | None
    closes_at: datetime | None
    archived: bool

    def registration_closed_reason(self, now: datetime) -> str | None:
        """Why registration is not possible at ``now``, or ``None`` when it is open."""
        if self.archived:
            return "This event is archived: it takes no new registrations."
        if self.opens_at and now < self.opens_at:
            opens = self.opens_at.astimezone(ZoneInfo(self.timezone))
            return f"Registration opens on {opens:%d %B %Y at %H:%M} ({self.timezone})."
        if self.closes_at and now >= self.closes_at:
            return "Registration for this event has closed."
        return None


class EventSession(db.Model):
    """One session of an event: the opening, a panel, the closing ..."""

    __tablename__ = "event_sessions"
    __table_args__ = (UniqueConstraint("event_id", "bit", name="uq_event_sessions_event_bit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=SessionKind.OTHER)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    room: Mapped[str] = mapped_column(String(100), default="")
    #: Seats for confirmed registrations; ``None`` means unlimited.
    capacity: Mapped[int | None] = mapped_column(Integer)
    #: The confirmed registrations, kept with every change of a registration's status (the
    #: ORM's flushes, :func:`regapp.models.participants._keep_seats`, and the registration's
    #: own SQL, :func:`regapp.registration.services.register_values`), so that giving a seat
    #: reads one number instead of counting the seats already given: a count that grew with the
    #: session, read under the seat lock that every registration for the session waits for.
    #: Read it in SQL, in the transaction that holds the lock (deferred: an object loaded
    #: earlier would show an old figure).
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0", deferred=True)
    #: Where online attendees watch; empty for in-person only.
    stream_url: Mapped[str] = mapped_column(String(500), default="")
    #: Organisers close a session to new registrations without touching the event's window.
    registration_open: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Order among sessions that start at the same time.
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Check-in window; ``None`` means the default: from an hour before the start to the end.
    checkin_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The session's bit in its participants' attendance masks, 0 to ``MAX_SESSIONS - 1``,
    #: unique within the event; given when the session is first saved (see below).
    bit: Mapped[int] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="sessions")

    @hybrid_property
    def mask(self) -> int:
        """The session's bit as a number (also in SQL), to add to a mask."""
        return 1 << self.bit

    @mask.inplace.expression
    @classmethod
    def _mask_expression(cls):
        return literal(1, BigInteger).op("<<")(cls.bit)

    def local_day(self) -> date:
        return self.event.local(self.starts_at).date()

    @property
    def checkin_window(self) -> tuple[datetime, datetime]:
        return (
            self.checkin_opens_at or self.starts_at - DEFAULT_CHECKIN_LEAD,
            self.checkin_closes_at or self.ends_at,
        )

    def checkin_open(self, now: datetime) -> bool:
        opens, closes = self.checkin_window
        return opens <= now < closes

    @hybrid_method
    def takes_registrations(self, now: datetime) -> bool:
        """Whether the session takes new registrations at ``now`` (also in SQL): the opposite
        of :meth:`closed_reason`."""
        return self.registration_open & (self.ends_at > now)

    def closed_reason(self, now: datetime) -> str | None:
        """Why this session takes no new registrations at ``now``, or ``None``."""
        if not self.registration_open:
            return f"Registration for “{self.title}” is closed."
        if now >= self.ends_at:
            return f"“{self.title}” has already taken place."
        return None


@event.listens_for(Session, "before_flush")
def _give_new_sessions_a_bit(session: Session, _context, _instances) -> None:
    """Each new session takes the lowest bit its event's sessions leave free (a removed
    session's bit is free again: nobody held a seat in it or was checked in to it)."""
    for item in session.new:
        if isinstance(item, EventSession) and item.bit is None:
            taken = {s.bit for s in item.event.sessions if s.bit is not None}
            free = [bit for bit in range(MAX_SESSIONS) if bit not in taken]
            if not free:
                raise ValueError(f"An event has at most {MAX_SESSIONS} sessions.")
            item.bit = free[0]
