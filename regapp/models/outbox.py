"""Outgoing email, queued in the same transaction as the change it reports.

A message is written here first and sent afterwards by :mod:`regapp.mail.outbox`, so a slow or
broken mail server never blocks or breaks a registration, and nothing is lost when it is down.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .participants import Participant
from .types import UTCDateTime, utcnow


class MessageKind(enum.StrEnum):
    CONFIRMATION = "confirmation"
    SESSIONS_CHANGED = "sessions_changed"
    CANCELLED = "cancelled"
    PROMOTED = "promoted"
    NEW_CODE = "new_code"
    MANAGE_LINK = "manage_link"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  #: waiting for its (next) attempt
    SENDING = "sending"  #: claimed by a sender; back to due if that sender dies
    SENT = "sent"
    FAILED = "failed"  #: gave up after the last attempt


class OutboxMessage(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(254))
    #: For a ``promoted`` message: the session whose seat was given.
    session_title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When a pending message is due, or when a sending one's claim runs out.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    participant: Mapped[Participant | None] = relationship()

    def mark_sent(self, now: datetime) -> None:
        self.status = MessageStatus.SENT
        self.sent_at = now
        self.last_error = ""

    def mark_failed(self, error: str, now: datetime, max_attempts: int) -> None:
        """Retry later, waiting twice as long each time (30 s, 1 min, 2 min ... at most an hour),
        or give up after ``max_attempts``."""
        self.last_error = error[:2000]
        if self.attempts >= max_attempts:
            self.status = MessageStatus.FAILED
            return
        self.status = MessageStatus.PENDING
        self.next_attempt_at = now + retry_delay(self.attempts)


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
