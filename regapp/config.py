"""Settings. Defaults here; every one can be overridden by an environment variable prefixed
``REGAPP_`` (``REGAPP_DATABASE_URL``, ``REGAPP_SECRET_KEY`` ...), read by Flask's
``from_prefixed_env`` so that JSON values (numbers, booleans) arrive typed."""

import secrets
from pathlib import Path


class DefaultConfig:
    #: SQLAlchemy URL; empty means the embedded SQLite file ``instance/regapp.sqlite3``.
    DATABASE_URL = ""
    #: Signs sessions and CSRF tokens; empty means generated once, kept in ``instance/secret_key``.
    SECRET_KEY = ""
    #: Seconds a writer waits for SQLite's write lock before giving up.
    SQLITE_BUSY_TIMEOUT = 30
    #: Serialise seat allocation (row locks on PostgreSQL, BEGIN IMMEDIATE on SQLite). Only the
    #: negative-control test turns this off, to prove that the capacity test can see a race.
    SEAT_LOCKING = True
    #: Public forms send at most this much.
    MAX_CONTENT_LENGTH = 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # a registration form left open over lunch still submits


def instance_secret_key(instance_path: str) -> str:
    """A secret key that survives restarts of a development server without anyone setting one."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
