"""Staff accounts: signing in (with a lock-out after repeated failures), creating accounts."""

import secrets
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit
from ..database import begin_write
from ..extensions import db
from ..models import Event, Role, StaffUser
from ..models.types import utcnow

#: Who tried to sign in, as the audit log says until they succeed (the address is logged too).
ANONYMOUS = "sign-in form"


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))


@cache
def _decoy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def _password_matches(staff: StaffUser | None, password: str) -> bool:
    """Always hashes, even for an unknown email, so that the answer takes as long either way."""
    if staff is None or not staff.password_hash:
        check_password_hash(_decoy_hash(), password)
        return False
    return staff.check_password(password)


def login_refused_message() -> str:
    """One message for every refusal: it must not tell whether the email has an account."""
    config = current_app.config
    return (
        f"Wrong email or password. After {config['LOGIN_MAX_FAILURES']} wrong attempts in a row "
        f"an account is locked for {config['LOGIN_LOCK_MINUTES']} minutes."
    )


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active, unlocked staff member with these credentials, or ``None``.

    Every attempt goes into the audit log with the client's address. A run of
    ``LOGIN_MAX_FAILURES`` failures locks the account for ``LOGIN_LOCK_MINUTES`` (even the right
    password is refused meanwhile); a success forgets the failures. The account's row is locked
    while it is counted, so parallel guesses cannot slip past the limit."""
    found = find_staff(email)
    password_ok = _password_matches(found, password)  # outside the write lock: hashing is slow
    begin_write()
    if found is None:
        audit.record("staff.login_failed", details={"reason": "unknown_account"}, actor=ANONYMOUS)
        db.session.commit()
        return None
    staff = db.session.get(StaffUser, found.id, with_for_update=True, populate_existing=True)
    now, config, target = utcnow(), current_app.config, f"staff {found.id}"
    signed_in = None
    if staff.is_locked(now):
        audit.record(
            "staff.login_failed", target=target, details={"reason": "locked"}, actor=ANONYMOUS
        )
    elif not (password_ok and staff.active):
        reason = "disabled" if password_ok else "wrong_password"
        audit.record(
            "staff.login_failed", target=target, details={"reason": reason}, actor=ANONYMOUS
        )
        lock_for = timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
        if staff.record_failed_login(now, config["LOGIN_MAX_FAILURES"], lock_for):
            audit.record(
                "staff.locked",
                target=target,
                details={
                    "failures": config["LOGIN_MAX_FAILURES"],
                    "minutes": config["LOGIN_LOCK_MINUTES"],
                },
            )
    else:
        staff.record_login()
        audit.record("staff.login", target=target, staff=staff)
        signed_in = staff
    db.session.commit()
    return signed_in


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
