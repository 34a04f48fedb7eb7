"""Slowing down a scanner that tries codes at random.

Guessing a 128-bit code is hopeless, but a device or staff account that keeps scanning unknown
codes is broken or probing. Each one may scan ``UNKNOWN_CODE_LIMIT`` unknown codes (e.g. 20 a
minute); after that the check-in API answers 429 ``too_many_unknown_codes`` with Retry-After until
the window has passed, without looking the codes up. The check-in log keeps every unknown code
scanned (who, which device, when); the audit log gets one ``checkin.unknown_codes_throttled``
entry per burst, so organisers see it without reading the whole log.

The counts are kept with the rate limits' (:mod:`regapp.ratelimit`): shared by every process
when in Redis. Asking Redis at every scan cost a round trip, so that a scanner is within its
allowance is kept per process for ``CHECKIN_LOOKUP_MAX_AGE`` seconds (:mod:`regapp.kept`), as
its device is: the process that counts the last unknown code refuses the next scan at once,
the others within that time.
"""

from functools import partial

from flask import current_app, jsonify
from limits import RateLimitItem
from limits.errors import StorageError
from limits.strategies import FixedWindowRateLimiter

from .. import audit, ratelimit
from ..auth.access import Actor
from ..database import begin_write
from ..extensions import db
from ..kept import SCANNERS_ALLOWED, forget, kept
from ..models import EventSession, Verdict
from .services import ScanResult

NAMESPACE = "unknown-codes"


def _key(actor: Actor) -> tuple[str, ...]:
    return ratelimit.key(
        NAMESPACE, f"device:{actor.device.id}" if actor.device else f"staff:{actor.staff.id}"
    )


def refusal(actor: Actor):
    """A 429 answer when ``actor`` has used up its unknown codes for now, else ``None``."""
    if (counter := ratelimit.counter()) is None:
        return None
    item = ratelimit.items(current_app.config["UNKNOWN_CODE_LIMIT"])[0]
    if kept(SCANNERS_ALLOWED, _key(actor), partial(_allowed, counter, item)):
        return None
    try:
        wait = ratelimit.seconds_to_wait(item, _key(actor))
    except StorageError:  # unreachable since it was asked: scanning goes on
        return None
    response = jsonify(
        status="error",
        code="too_many_unknown_codes",
        message=f"Too many unknown codes from this scanner. Wait {wait} seconds, then scan "
        "again; if the codes are genuine, ask an organiser.",
        retry_after=wait,
    )
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def _allowed(counter: FixedWindowRateLimiter, item: RateLimitItem, key: tuple) -> bool | None:
    """``True`` while the scanner is within its allowance (or the count cannot be read:
    scanning goes on, as for the other limits); ``None``, which is never kept, once not."""
    try:
        return counter.test(item, *key) or None
    except StorageError:
        current_app.logger.warning("unknown-code throttle: storage unreachable")
        return True


def count(actor: Actor, session_id: int, result: ScanResult) -> None:
    """Count an unknown code against ``actor``; the one that uses up its allowance goes into
    the audit log. (Other verdicts cost nothing here: not even a query.)"""
    if result.verdict != Verdict.UNKNOWN_CODE or (counter := ratelimit.counter()) is None:
        return
    limit = current_app.config["UNKNOWN_CODE_LIMIT"]
    item = ratelimit.items(limit)[0]
    try:
        counter.hit(item, *_key(actor))
        used_up = not counter.test(item, *_key(actor))
    except StorageError:
        current_app.logger.warning("unknown-code throttle: storage unreachable")
        return
    if used_up:
        forget(SCANNERS_ALLOWED, _key(actor))
        begin_write()
        audit.record(
            "checkin.unknown_codes_throttled",
            event=db.session.get(EventSession, session_id).event,
            target=f"device {actor.device.id}" if actor.device else f"staff {actor.staff.id}",
            details={
                "limit": limit,
                "session_id": session_id,
                "last_checkin_id": result.checkin_id,
            },
            staff=actor.staff,
            actor=f"device {actor.device.name}" if actor.device else None,
        )
        db.session.commit()
