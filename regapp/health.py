"""``/healthz``: can this process serve? For load balancers, orchestrators and monitoring.

No sign-in, no personal data, no rate limit. 200 ``{"status": "ok", ...}`` when the database
answers (and Redis, when one is configured); 503 naming what failed otherwise.
"""

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .database import describe
from .extensions import csrf, db, limiter

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    checks = {"database": _database()}
    if redis_url := current_app.config["REDIS_URL"]:
        checks["redis"] = _redis(redis_url)
    healthy = all(result == "ok" for result in checks.values())
    body = {"status": "ok" if healthy else "unavailable", **checks}
    return jsonify(body), 200 if healthy else 503, {"Cache-Control": "no-store"}


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as error:
        return f"failed: {describe(error)}"
    finally:
        db.session.rollback()


def _redis(url: str) -> str:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
        return "ok"
    except redis.RedisError as error:
        return f"failed: {type(error).__name__}"
