"""Rate limits: how often one client address may send the forms people could abuse
(registering, asking for a private link again, signing in), and how many unknown codes one
scanner may try (:mod:`regapp.checkin.throttle`).

The `limits` library counts: fixed windows, in memory per process, or in Redis shared by every
process and machine when ``REDIS_URL`` is set. This module only says what is counted: the POSTs
of a view decorated with :func:`limit`, per client address, against the limits a setting names
(``"10 per minute; 100 per hour"``). A refusal is a 429 with ``Retry-After``.

When the storage cannot be reached, requests go through without limits and the failure is
logged: refusing every registration during a Redis outage would do more harm than a few extra
attempts.

(Flask-Limiter did this before. Its request hook and its decorator ran on every request, limited
or not, and cost an eighth of a registration's instructions and a tenth of a door scan's;
bench/README.md has the figures.)
"""

import math
import time
from functools import cache, wraps

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

_EXTENSION = "regapp_ratelimit"


def init_app(app: Flask) -> None:
    """Count in Redis when ``REDIS_URL`` is set, else in ``RATELIMIT_STORAGE_URI``; nothing is
    counted when ``RATELIMIT_ENABLED`` is false."""
    counter = None
    if app.config["RATELIMIT_ENABLED"]:
        if redis_url := app.config["REDIS_URL"]:
            # A Redis that hangs must not hang requests: give up after a second.
            options = {"socket_connect_timeout": 1, "socket_timeout": 1}
            storage = storage_from_string(redis_url, wrap_exceptions=True, **options)
        else:
            storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"], wrap_exceptions=True)
        counter = FixedWindowRateLimiter(storage)
    app.extensions[_EXTENSION] = counter


def counter() -> FixedWindowRateLimiter | None:
    """The app's counter; ``None`` when rate limits are off."""
    return current_app.extensions[_EXTENSION]


def key(*identifiers: str) -> tuple[str, ...]:
    """What a count is kept under: ``RATELIMIT_KEY_PREFIX`` (instances that share a Redis but
    not their counts tell theirs apart by it) and ``identifiers``."""
    return current_app.config["RATELIMIT_KEY_PREFIX"], *identifiers


def seconds_to_wait(item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
    """Seconds until the window of ``item`` lets one more in (at least 1)."""
    reset_at = counter().get_window_stats(item, *identifiers).reset_time
    return max(1, math.ceil(reset_at - time.time()))


def limit(setting: str):
    """Limit the POSTs of the decorated view, per client address, to the limits in the setting
    named ``setting``; an address over any of them gets 429 with ``Retry-After``."""

    def decorate(view):
        @wraps(view)
        def limited(*args, **kwargs):
            if request.method == "POST" and (limiter := counter()) is not None:
                _count(limiter, current_app.config[setting], key(setting, request.remote_addr))
            return view(*args, **kwargs)

        return limited

    return decorate


def _count(limiter: FixedWindowRateLimiter, limits: str, identifiers: tuple[str, ...]) -> None:
    try:
        for item in items(limits):
            if not limiter.hit(item, *identifiers):
                raise TooManyRequests(retry_after=seconds_to_wait(item, identifiers))
    except StorageError as error:
        current_app.logger.warning("Rate limits not counted, storage unreachable: %s", error)


@cache
def items(limits: str) -> tuple[RateLimitItem, ...]:
    """The limits of a setting (``"10 per minute; 100 per hour"``), parsed once."""
    return tuple(parse_many(limits))
