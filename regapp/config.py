"""Settings. Defaults here; every one can be overridden by an environment variable prefixed
``REGAPP_`` (``REGAPP_DATABASE_URL``, ``REGAPP_SECRET_KEY`` ...), read by Flask's
``from_prefixed_env`` so that JSON values (numbers, booleans) arrive typed."""

import contextlib
import os
import secrets
from pathlib import Path


class DefaultConfig:
    #: SQLAlchemy URL; empty means the embedded SQLite file ``instance/regapp.sqlite3``.
    DATABASE_URL = ""
    #: Signs sessions and CSRF tokens; empty means generated once, kept in ``instance/secret_key``.
    SECRET_KEY = ""
    #: Seconds a request waits for a lock (SQLite's write lock: the busy timeout; a row lock on
    #: PostgreSQL: lock_timeout) before it gives up and the visitor gets a 503 "try again".
    #: Writers queue far shorter than this under load (each holds the lock for milliseconds).
    DATABASE_LOCK_TIMEOUT = 10
    #: PostgreSQL only: seconds any statement may run (0: no limit), and seconds to wait for a
    #: connection to the server before it counts as unreachable.
    DATABASE_STATEMENT_TIMEOUT = 30
    DATABASE_CONNECT_TIMEOUT = 3
    #: Seconds a request waits for a free connection in the process's pool.
    DATABASE_POOL_TIMEOUT = 5
    #: PostgreSQL only: a pooled connection left unused this many seconds is tested (a round
    #: trip) before a request gets it, and replaced if the server dropped it meanwhile.
    DATABASE_PING_AFTER_IDLE = 5.0
    #: Redis (``redis://host:6379/0``) for state that several processes must share: the rate
    #: limits. Empty means each process counts its own (fine for one process, ``make run``).
    REDIS_URL = ""
    #: Serialise seat allocation (row locks on PostgreSQL, BEGIN IMMEDIATE on SQLite). Only the
    #: negative-control test turns this off, to prove that the capacity test can see a race.
    SEAT_LOCKING = True
    #: Public forms send at most this much.
    MAX_CONTENT_LENGTH = 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: Send the session cookie over HTTPS only; ``None`` means "when BASE_URL starts with https".
    SESSION_COOKIE_SECURE = None
    #: Behind a reverse proxy: how many proxies in front set X-Forwarded-For and -Proto (0: none,
    #: the client talks to us directly). Client addresses (rate limits, audit log) and HTTPS
    #: detection (HSTS) come from those headers only when this is set.
    PROXY_FIX = 0
    #: Strict-Transport-Security max-age, sent on HTTPS requests (0: no header).
    HSTS_SECONDS = 31_536_000
    #: A signed-in staff member idle this long is signed out (automatic refreshes don't count).
    STAFF_IDLE_MINUTES = 60
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

    #: Rate limits (regapp/ratelimit.py). When their storage (Redis) is unreachable the app
    #: serves without them and logs it, rather than refuse every registration meanwhile.
    RATELIMIT_ENABLED = True
    #: Where the counts are kept: memory:// counts per process; REDIS_URL, when set, replaces it.
    RATELIMIT_STORAGE_URI = "memory://"
    #: Put before every count's key: instances sharing a Redis but not their counts differ here.
    RATELIMIT_KEY_PREFIX = ""
    #: "Send me my link again", per client address.
    RESEND_LINK_LIMIT = "5 per hour"
    #: Registration form submissions per client address (a whole office may share one).
    REGISTER_LIMIT = "10 per minute; 100 per hour"
    #: Staff sign-in attempts per client address.
    LOGIN_LIMIT = "10 per minute; 50 per hour"
    #: Wrong passwords in a row that lock a staff account, and for how long.
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    #: Unknown codes one scanning device or staff member may scan before being made to wait.
    UNKNOWN_CODE_LIMIT = "20 per minute"
    #: Seconds a server process reuses a session's door counts (people in, seats) before reading
    #: them again; its own scans count at once (see regapp/checkin/counts.py). 0: every scan.
    CHECKIN_COUNTS_MAX_AGE = 1.0
    #: Seconds a server process reuses a scanned session's times and a scanning device's token
    #: as it read them (see regapp/kept.py): a change made on another server process
    #: shows within that time. 0: read at every scan.
    CHECKIN_LOOKUP_MAX_AGE = 1.0
    #: Seconds at most that the dashboard reuses a panel's answer while nothing it counts has
    #: changed, before it counts it afresh: a backstop for changes its version probe cannot
    #: see, such as one made straight in the database (see regapp/reports/services.py). Every
    #: change made through regapp shows in the next answer whatever this is. 0: count every time.
    REPORT_CACHE_SECONDS = 300
    #: Seconds a server process reuses the registration form as a first visit shows it (the
    #: programme with its seats left, the suggestion lists) for the next visitors who are not
    #: signed in (see regapp/registration/page.py), and, for the POST, whether the event takes
    #: registrations (see regapp/kept.py); the POST counts the seats again under a lock. 0:
    #: rendered and read every time.
    REGISTRATION_PAGE_MAX_AGE = 1.0


def instance_secret_key(instance_path: str) -> str:
    """A secret key that survives restarts of a development server without anyone setting one."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        # Several server processes may start at once: each writes a candidate, and only the
        # first link to the real name wins, so every process ends up reading the same key.
        candidate = path.with_name(f"secret_key.{secrets.token_hex(8)}")
        candidate.write_text(secrets.token_hex(32))
        candidate.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
        candidate.unlink()
    return path.read_text().strip()
