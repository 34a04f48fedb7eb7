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

    #: Where participants reach the app; links in emails start with it.
    BASE_URL = "http://127.0.0.1:5000"
    #: "smtp", or "files" (development: each message becomes an .eml file in instance/outbox/).
    MAIL_BACKEND = "smtp"
    #: Folder of the "files" backend; empty means instance/outbox/.
    MAIL_OUTBOX_DIR = ""
    MAIL_FROM = "regapp <noreply@localhost>"
    SMTP_HOST = "localhost"
    SMTP_PORT = 25
    #: "none", "starttls" or "ssl".
    SMTP_SECURITY = "none"
    SMTP_USERNAME = ""
    SMTP_PASSWORD = ""
    SMTP_TIMEOUT = 10
    #: Certificate authorities to trust for the mail server (a file); empty means the system's.
    SMTP_CA_FILE = ""
    #: Run a background sender in each serving process.
    MAIL_WORKER = True
    #: Seconds between two looks at the outbox (a new message wakes the sender at once).
    MAIL_POLL_SECONDS = 15
    #: Attempts before a message is given up (the waits double from 30 s to an hour).
    MAIL_MAX_ATTEMPTS = 12

    #: Flask-Limiter storage: memory:// counts per process; use redis:// with several processes.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    #: "Send me my link again", per client address.
    RESEND_LINK_LIMIT = "5 per hour"


def instance_secret_key(instance_path: str) -> str:
    """A secret key that survives restarts of a development server without anyone setting one."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
