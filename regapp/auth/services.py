"""Staff accounts: signing in, creating accounts."""

import secrets
from collections.abc import Iterable

from sqlalchemy import func, select

from ..extensions import db
from ..models import Event, Role, StaffUser


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active staff member with these credentials, or ``None``."""
    staff = find_staff(email)
    if staff is None or not staff.active or not staff.check_password(password):
        return None
    return staff


def create_staff(
    email: str, role: Role, password: str, name: str = "", events: Iterable[Event] = ()
) -> StaffUser:
    """Create an account, or update the role and password of an existing one; ``events`` are
    added to the events it works on (admins work on every event anyway)."""
    staff = find_staff(email) or StaffUser(email=email)
    staff.name = name or staff.name or email.split("@")[0]
    staff.role = Role(role)
    staff.active = True
    staff.set_password(password)
    staff.events.extend(e for e in events if e not in staff.events)
    db.session.add(staff)
    db.session.commit()
    return staff


def new_password() -> str:
    return secrets.token_urlsafe(12)  # 96 bits, easy to copy
