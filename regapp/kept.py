"""What a request looks up before it does its work, kept per process for a moment.

Some values are read by nearly every request of a rush and hardly ever change during one:

- every door scan names its session and, from a scanning device, carries the device's token.
  Reading both cost two of a scan's eight round trips and a fifth of its CPU in the app. The
  session is kept as a :class:`~regapp.checkin.services.Door`, the device by the hash of its
  token, for ``CHECKIN_LOOKUP_MAX_AGE`` seconds;
- every door scan asks whether its device (or staff account) has used up its unknown codes
  (:mod:`regapp.checkin.throttle`), a round trip to Redis. That it has not is kept by the
  device's (or account's) key for ``CHECKIN_LOOKUP_MAX_AGE`` seconds; that it has is never kept;
- every registration (the form's POST) reads its event to know whether registration is open:
  a tenth of the POST's CPU, for an ORM object of which it needs five values. The event's
  :class:`~regapp.models.events.RegistrationWindow` is kept by slug for
  ``REGISTRATION_PAGE_MAX_AGE`` seconds, as long as the form's page itself
  (:mod:`regapp.registration.page`).

Each is read again once older than its setting (0 reads at every request). A change made
through the app in this process (a session's times, a revoked device, an event's registration
dates, unknown codes used up) drops what the process keeps of that kind at once; other
processes see it within that time: a device revoked or slowed down on one server may still scan
for up to a second on another (with every unknown code still logged and counted), as a
session's check-in window, or an event's registration, may open or close up to a second late
there. What is not found (an unknown session or event, a token that is not valid) is never
kept, so it is looked up again at every try.
"""

from collections.abc import Callable, Hashable
from itertools import chain
from time import monotonic
from typing import TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .models import DeviceToken, Event, EventSession

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

DOORS, DEVICES, WINDOWS = "regapp_kept_doors", "regapp_kept_devices", "regapp_kept_windows"
SCANNERS_ALLOWED = "regapp_kept_scanners_allowed"
#: The setting that says how long each kind is kept.
MAX_AGE = {
    DOORS: "CHECKIN_LOOKUP_MAX_AGE",
    DEVICES: "CHECKIN_LOOKUP_MAX_AGE",
    SCANNERS_ALLOWED: "CHECKIN_LOOKUP_MAX_AGE",
    WINDOWS: "REGISTRATION_PAGE_MAX_AGE",
}


def kept(kind: str, key: K, read: Callable[[K], T | None]) -> T | None:
    """``read(key)``, or its value as this process read it more recently than the kind's
    setting (:data:`MAX_AGE`) says."""
    max_age = current_app.config[MAX_AGE[kind]]
    values = current_app.extensions.setdefault(kind, {})
    when, value = values.get(key, (None, None))
    if when is not None and monotonic() - when < max_age:
        return value
    value = read(key)
    if value is not None and max_age > 0:
        values[key] = (monotonic(), value)
    return value


def forget(kind: str, key: Hashable) -> None:
    """Drop what this process keeps of ``kind`` under ``key``."""
    current_app.extensions.get(kind, {}).pop(key, None)


@event.listens_for(Session, "after_flush")
def _forget_changes(session: Session, _context) -> None:
    """A session, an event or a device token written through the ORM: this process drops
    what it keeps of that kind."""
    if not has_app_context():
        return
    for item in chain(session.new, session.dirty, session.deleted):
        for kind in _OUT_OF_DATE.get(type(item), ()):
            current_app.extensions.get(kind, {}).clear()


#: What a write to each model may make out of date.
_OUT_OF_DATE = {Event: (DOORS, WINDOWS), EventSession: (DOORS,), DeviceToken: (DEVICES,)}
