"""Staff accounts: signing in, creating accounts."""

import secrets

from sqlalchemy import func, select

from ..extensions import db
from ..models import Role, StaffUser


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active staff member with these credentials, or ``None``."""
    staff = find_staff(email)
    if staff is None or not staff.active or not staff.check_password(password):
        return None
    return staff


def create_staff(email: str, role: Role, password: str, name: str = "") -> StaffUser:
    """Create an account, or update the role and password of an existing one."""
    staff = find_staff(email) or StaffUser(email=email)
    staff.name = name or staff.name or email.split("@")[0]
    staff.role = Role(role)
    staff.active = True
    staff.set_password(password)
    db.session.add(staff)
    db.session.commit()
    return staff


def new_password() -> str:
    return secrets.token_urlsafe(12)  # 96 bits, easy to copy
