"""Slowing down a scanner that tries codes at random.

Guessing a 128-bit code is hopeless, but a device or staff account that keeps scanning unknown
codes is broken or probing. Each one may scan ``UNKNOWN_CODE_LIMIT`` unknown codes (e.g. 20 a
minute); after that the check-in API answers 429 ``too_many_unknown_codes`` with Retry-After until
the window has passed, without looking the codes up. The check-in log keeps every unknown code
scanned (who, which device, when); the audit log gets one ``checkin.unknown_codes_throttled``
entry per burst, so organisers see it without reading the whole log.

The counts live in the rate limiter's storage (shared by all processes when it is Redis).
"""

import math
import time

from flask import current_app, jsonify
from limits import parse

from .. import audit
from ..auth.access import Actor
from ..database import begin_write
from ..extensions import db, limiter
from ..models import EventSession, Verdict
from .services import ScanResult

NAMESPACE = "unknown-codes"


def _key(actor: Actor) -> str:
    return f"device:{actor.device.id}" if actor.device else f"staff:{actor.staff.id}"


def _in_force() -> bool:
    return limiter.enabled and limiter.initialized


def refusal(actor: Actor):
    """A 429 answer when ``actor`` has used up its unknown codes for now, else ``None``."""
    if not _in_force():
        return None
    item = parse(current_app.config["UNKNOWN_CODE_LIMIT"])
    try:
        if limiter.limiter.test(item, NAMESPACE, _key(actor)):
            return None
        reset_at = limiter.limiter.get_window_stats(item, NAMESPACE, _key(actor)).reset_time
    except Exception:  # the limit storage is down: scanning goes on, as for the other limits
        current_app.logger.exception("unknown-code throttle: storage unreachable")
        return None
    wait = max(1, math.ceil(reset_at - time.time()))
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


def count(actor: Actor, session_id: int, result: ScanResult) -> None:
    """Count an unknown code against ``actor``; the one that uses up its allowance goes into
    the audit log. (Other verdicts cost nothing here: not even a query.)"""
    if result.verdict != Verdict.UNKNOWN_CODE or not _in_force():
        return
    limit = current_app.config["UNKNOWN_CODE_LIMIT"]
    item = parse(limit)
    try:
        limiter.limiter.hit(item, NAMESPACE, _key(actor))
        used_up = not limiter.limiter.test(item, NAMESPACE, _key(actor))
    except Exception:
        current_app.logger.exception("unknown-code throttle: storage unreachable")
        return
    if used_up:
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
