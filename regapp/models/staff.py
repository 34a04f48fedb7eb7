"""Staff accounts (people who sign in) and device tokens (scanners that call the API)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .events import Event
from .types import UTCDateTime, utcnow


class Role(enum.StrEnum):
    SCANNER = "scanner"  #: check-in only
    ORGANISER = "organiser"  #: plus reports and event administration
    ADMIN = "admin"  #: plus staff management


_RANK = {Role.SCANNER: 1, Role.ORGANISER: 2, Role.ADMIN: 3}

#: The events an organiser or scanner works on; admins work on every event.
staff_events = Table(
    "staff_events",
    db.metadata,
    Column("staff_user_id", ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_users"
    __table_args__ = (Index("uq_staff_users_email", text("lower(email)"), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(20), default=Role.SCANNER)
    #: A disabled account cannot sign in, and its open sessions stop working.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Failed sign-ins since the last success; enough of them lock the account for a while.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    events: Mapped[list[Event]] = relationship(secondary=staff_events, order_by=Event.id)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What a signed-in session keeps (Flask-Login's user id): the account's id and a
        fingerprint of its password, so that a new password ends the sessions signed in with
        the old one (``regapp.auth.access.load_staff`` compares them)."""
        return f"{self.id}:{self.password_fingerprint()}"

    def password_fingerprint(self) -> str:
        """A keyed digest of the password hash: it changes with the password and tells nothing
        about it (the session cookie is signed, not encrypted)."""
        key = current_app.secret_key
        key = key.encode() if isinstance(key, str) else key
        return hmac.new(key, (self.password_hash or "").encode(), hashlib.sha256).hexdigest()[:32]

    def has_role(self, role: Role) -> bool:
        """True for this role and every role above it."""
        return _RANK[Role(self.role)] >= _RANK[role]

    def can_access(self, event_id: int) -> bool:
        """Admins work on every event; organisers and scanners on the events assigned to them."""
        return self.has_role(Role.ADMIN) or any(e.id == event_id for e in self.events)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def record_failed_login(self, now: datetime, max_failures: int, lock_for: timedelta) -> bool:
        """Count a failed sign-in; the ``max_failures``-th in a row locks the account for
        ``lock_for`` (and starts a new count). True when this failure locked it."""
        self.failed_logins = (self.failed_logins or 0) + 1
        if self.failed_logins < max_failures:
            return False
        self.failed_logins, self.locked_until = 0, now + lock_for
        return True

    def record_login(self) -> None:
        """A successful sign-in (or an administrator's unlock) forgets the failures."""
        self.failed_logins, self.locked_until = 0, None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DeviceToken(db.Model):
    """A bearer token for one scanning device, valid for the check-in API of one event.
    Only its hash is stored: the token is shown once, when it is made."""

    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()

    @classmethod
    def issue(cls, event: Event, name: str, created_by: StaffUser | None = None):
        """A new device and its token (256 bits from ``secrets``), returned in plain once."""
        token = secrets.token_urlsafe(32)
        device = cls(event=event, name=name, token_hash=hash_token(token), created_by_id=None)
        if created_by is not None:
            device.created_by_id = created_by.id
        return device, token

    def revoke(self) -> None:
        self.revoked_at = utcnow()

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None
