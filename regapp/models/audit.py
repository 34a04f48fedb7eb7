"""The audit log: who changed what and when. Rows are only ever added."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .events import Event
from .staff import StaffUser
from .types import UTCDateTime, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: The event the change belongs to; ``None`` for installation-wide changes (staff accounts).
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="SET NULL"), index=True
    )
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    #: Who acted, as shown: kept as text so the entry survives the account's removal.
    actor: Mapped[str] = mapped_column(String(300))
    #: A dotted verb, e.g. ``session.update``, ``participant.erase``, ``staff.disable``.
    action: Mapped[str] = mapped_column(String(60), index=True)
    #: What was acted on, e.g. ``participant 42``; ids, never personal data.
    target: Mapped[str] = mapped_column(String(200), default="")
    #: Further facts (changed field names, counts, ...); never personal data.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The client's address, for security events such as failed sign-ins.
    ip: Mapped[str] = mapped_column(String(45), default="")

    event: Mapped[Event | None] = relationship()
    staff_user: Mapped[StaffUser | None] = relationship()
