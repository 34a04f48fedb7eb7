"""``/healthz``: can this process serve? For load balancers, orchestrators and monitoring.

No sign-in, no personal data, no rate limit. 200 ``{"status": "ok", ...}`` when the database
answers; 503 naming what failed otherwise. A configured Redis that does not answer makes the
status ``degraded`` but still 200: the app serves without shared rate limits then, and one
Redis shared by every instance must not take all of them out of the load balancer at once.
"""

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .database import describe
from .extensions import csrf, db

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    checks = {"database": _database()}
    if redis_url := current_app.config["REDIS_URL"]:
        checks["redis"] = _redis(redis_url)
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif checks.get("redis", "ok") != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return jsonify({"status": status, **checks}), code, {"Cache-Control": "no-store"}


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
