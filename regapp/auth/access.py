"""Who may use a route: staff roles for pages, and staff or device tokens for the API."""

import hmac
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user
from sqlalchemy import bindparam, select

from ..extensions import csrf, db, login_manager
from ..kept import DEVICES, kept
from ..models import DeviceToken, Event, Role, StaffUser, hash_token


@login_manager.user_loader
def load_staff(user_id: str) -> StaffUser | None:
    """The signed-in staff member, from what :meth:`StaffUser.get_id` left in the session;
    ``None`` for a disabled account, or when the password has changed since the sign-in: the
    account's open sessions thereby stop working at once (Flask-Login checks ``is_active`` only
    when signing in)."""
    staff_id, _, fingerprint = user_id.partition(":")
    staff = db.session.get(StaffUser, int(staff_id)) if staff_id.isdigit() else None
    if staff is None or not staff.active:
        return None
    same_password = hmac.compare_digest(fingerprint.encode(), staff.password_fingerprint().encode())
    return staff if same_password else None


def role_required(role: Role):
    """Pages for staff with at least ``role``: others are sent to sign in, or refused (403).
    On a page of one event (a ``slug`` in the URL) the staff member must also work on that event;
    an unknown event is a 404 for everyone."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(role):
                abort(403)
            if "slug" in kwargs:
                event = db.session.scalar(select(Event).where(Event.slug == kwargs["slug"]))
                if event is None:
                    abort(404)
                if not current_user.can_access(event.id):
                    abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


class ApiAuthError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Device:
    """A scanning device (a valid :class:`DeviceToken`) as an API call needs it: three columns
    read at every scan, cheaper than loading the whole ORM object."""

    id: int
    event_id: int
    name: str


@dataclass(frozen=True)
class Actor:
    """Who is calling the API: a signed-in staff member, or a scanning device."""

    staff: StaffUser | None = None
    device: Device | None = None

    def may_use(self, event_id: int, role: Role = Role.SCANNER) -> bool:
        if self.device is not None:
            return self.device.event_id == event_id and role == Role.SCANNER
        return self.staff.has_role(role) and self.staff.can_access(event_id)


def _valid_device(token_hash: str) -> Device | None:
    found = db.session.connection().execute(_VALID_DEVICE_BY_HASH, {"hash": token_hash})
    return Device(*row) if (row := found.first()) else None


#: Built once: every scan runs it, and building a statement costs more than running it.
_VALID_DEVICE_BY_HASH = select(DeviceToken.id, DeviceToken.event_id, DeviceToken.name).where(
    DeviceToken.token_hash == bindparam("hash"), DeviceToken.revoked_at.is_(None)
)


def api_actor() -> Actor:
    """The caller of an API request: a device's bearer token, or the staff session cookie with
    its CSRF token. Raises :class:`ApiAuthError` (401) when neither is valid."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        device = kept(DEVICES, hash_token(header[7:].strip()), _valid_device)
        if device is None:
            raise ApiAuthError(401, "unauthenticated", "This device token is unknown or revoked.")
        return Actor(device=device)
    if current_user.is_authenticated:
        if current_app.config["WTF_CSRF_ENABLED"]:
            csrf.protect()  # cookie-authenticated calls must prove they come from our own pages
        return Actor(staff=current_user._get_current_object())
    raise ApiAuthError(401, "unauthenticated", "Sign in, or send a device token.")
