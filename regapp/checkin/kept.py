"""What a door scan looks up before it looks at the code, kept per process for a moment.

Every scan names its session and, from a scanning device, carries the device's token. Reading
both from the database cost two of a scan's eight round trips and a fifth of its CPU in the
app, for values that hardly ever change during a door rush. So each server process keeps what
it read (the session as a :class:`~regapp.checkin.services.Door`, the device by the hash of its
token) for ``CHECKIN_LOOKUP_MAX_AGE`` seconds (1 by default; 0 reads them at every scan).

A change made through the app in this process (a session's times, a revoked device) drops what
the process keeps at once; other processes see it within that time: a device revoked on one
server may still scan for up to a second on another, as a session's check-in window may open
or close up to a second late. What is not found (an unknown session, a token that is not
valid) is never kept, so it is looked up again at every try.
"""

from collections.abc import Callable, Hashable
from itertools import chain
from time import monotonic
from typing import TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..models import DeviceToken, Event, EventSession

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

DOORS, DEVICES = "regapp_checkin_doors", "regapp_checkin_devices"


def kept(kind: str, key: K, read: Callable[[K], T | None]) -> T | None:
    """``read(key)``, or its value as this process read it less than
    ``CHECKIN_LOOKUP_MAX_AGE`` seconds ago."""
    max_age = current_app.config["CHECKIN_LOOKUP_MAX_AGE"]
    values = current_app.extensions.setdefault(kind, {})
    when, value = values.get(key, (None, None))
    if when is not None and monotonic() - when < max_age:
        return value
    value = read(key)
    if value is not None and max_age > 0:
        values[key] = (monotonic(), value)
    return value


@event.listens_for(Session, "after_flush")
def _forget_changes(session: Session, _context) -> None:
    """A session, an event or a device token written through the ORM: this process drops
    what it keeps of that kind."""
    if not has_app_context():
        return
    for item in chain(session.new, session.dirty, session.deleted):
        if isinstance(item, EventSession | Event):
            current_app.extensions.get(DOORS, {}).clear()
        elif isinstance(item, DeviceToken):
            current_app.extensions.get(DEVICES, {}).clear()
