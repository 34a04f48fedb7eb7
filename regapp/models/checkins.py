"""The check-in log: every scan, refused ones too, appended and never changed.

Whether someone is checked in for a session is derived from the log: they are when an ``ok``
entry for them exists that no ``annulled`` entry refers to. An undo is a new ``annulled`` entry.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .events import EventSession
from .participants import Participant
from .types import UTCDateTime, utcnow


class Verdict(enum.StrEnum):
    OK = "ok"
    ALREADY_CHECKED_IN = "already_checked_in"
    NOT_REGISTERED = "not_registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    REVOKED_CODE = "revoked_code"
    UNKNOWN_CODE = "unknown_code"
    OUTSIDE_WINDOW = "outside_window"
    ANNULLED = "annulled"  #: log entries only: undoes the ``ok`` entry it refers to


class Channel(enum.StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"


class CheckIn(db.Model):
    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_session_participant", "session_id", "participant_id", "verdict"),
        Index("ix_checkins_session_time", "session_id", "created_at"),
        # Reports (migration 0006): effective check-ins per session and per person, read from
        # the index alone (the verdict is a column too, so SQLite sees the index as covering),
        # and the undone entries.
        Index(
            "ix_checkins_ok_session",
            "session_id",
            "verdict",
            "channel",
            "participant_id",
            "created_at",
            sqlite_where=text("verdict = 'ok'"),
            postgresql_where=text("verdict = 'ok'"),
        ),
        Index(
            "ix_checkins_ok_participant",
            "verdict",
            "participant_id",
            "session_id",
            "channel",
            "created_at",  # the arrivals of a filter's people, from the index alone (0012)
            sqlite_where=text("verdict = 'ok'"),
            postgresql_where=text("verdict = 'ok'"),
        ),
        Index(
            "ix_checkins_annulled",
            "verdict",
            "refers_to_id",
            sqlite_where=text("verdict = 'annulled'"),
            postgresql_where=text("verdict = 'annulled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("event_sessions.id", ondelete="CASCADE"))
    #: ``None`` when the code matched no one.
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    verdict: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(12), default=Channel.IN_PERSON)
    #: What was scanned or typed (cut short); empty for a check-in from a search.
    scanned: Mapped[str] = mapped_column(String(64), default="")
    #: The short human explanation given with the verdict.
    message: Mapped[str] = mapped_column(Text, default="")
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_tokens.id", ondelete="SET NULL")
    )
    gate: Mapped[str] = mapped_column(String(80), default="")
    #: Sent by the device; the same nonce twice records one scan (the unique index says so).
    nonce: Mapped[str | None] = mapped_column(String(80), unique=True)
    #: For ``already_checked_in``: the check-in that came first; for ``annulled``: the one undone.
    refers_to_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[EventSession] = relationship()
    participant: Mapped[Participant | None] = relationship()
    refers_to: Mapped[CheckIn | None] = relationship(remote_side=[id])
