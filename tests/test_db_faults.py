"""A database that is locked or briefly unreachable: the visitor gets a clean 503 with
``Retry-After`` within a few seconds (never a hung worker, never a half-written record), and the
app serves again by itself once the database is back, without a restart.

The lock is real: another connection holds SQLite's write lock (``BEGIN IMMEDIATE``) or, on
PostgreSQL, the very row the request must lock (``SELECT ... FOR UPDATE``). The outage is real
too: on PostgreSQL the app reaches the server through a TCP proxy that the test stops and
starts again; on SQLite the database's folder is moved away and back.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.pool import NullPool

from regapp import create_app
from regapp.errors import RETRY_AFTER
from regapp.extensions import db
from regapp.models import AccessCode, DeviceToken, Participant
from tests.conftest import make_config, registration_form
from tests.dbstate import broken_invariants, snapshot
from tests.mailserver import free_port

LOCK_TIMEOUT = 1  # seconds; production waits longer (DATABASE_LOCK_TIMEOUT, 10 s)
#: How long past the lock timeout an answer may take on a busy machine.
SLACK = 4
#: Seconds idle after which the flaky app tests a pooled PostgreSQL connection before use.
PING_AFTER_IDLE = 0.5
NOW = datetime.now(UTC).replace(microsecond=0)


@contextlib.contextmanager
def held_lock(table: str, row_id: int):
    """Another connection holds what a write needs, until the block ends: SQLite's write lock
    (the whole database), or on PostgreSQL the lock of one row of ``table``."""
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as holder:
        holder.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE"), {"id": row_id})
        try:
            yield
        finally:
            holder.rollback()
    engine.dispose()


def timed(request):
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


@pytest.fixture
def locked_app(make_app, make_event):
    """An app that waits one second for a lock; an event whose session is open for check-in."""
    app = make_app(DATABASE_LOCK_TIMEOUT=LOCK_TIMEOUT)
    with app.app_context():
        event = make_event(
            {"starts_at": NOW - timedelta(minutes=5), "ends_at": NOW + timedelta(hours=1)}
        )
        yield app, event


def test_registration_while_the_database_stays_locked_gets_503_and_saves_nothing(locked_app):
    app, event = locked_app
    client = app.test_client()
    form = registration_form(event)
    before = snapshot()

    with held_lock("event_sessions", event.sessions[0].id):
        response, seconds = timed(lambda: client.post(f"/e/{event.slug}/register", data=form))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert "Please try again" in response.text and "Nothing was saved" in response.text
    assert LOCK_TIMEOUT * 0.9 <= seconds < LOCK_TIMEOUT + SLACK
    assert snapshot() == before

    # The lock is gone: the same form goes through, on the same app and pool.
    assert client.post(f"/e/{event.slug}/register", data=form).status_code == 303
    assert db.session.scalar(select(Participant.email)) == form["email"]
    assert broken_invariants(db.session) == []


def test_scan_while_the_participant_is_locked_gets_a_json_503(locked_app):
    app, event = locked_app
    client = app.test_client()
    assert client.post(f"/e/{event.slug}/register", data=registration_form(event)).status_code
    participant = db.session.scalar(select(Participant))
    code = db.session.scalar(select(AccessCode.code).where(AccessCode.participant == participant))
    device, token = DeviceToken.issue(event, "North door")
    db.session.add(device)
    db.session.commit()
    scan = {"code": code, "session_id": event.sessions[0].id, "gate": "North door"}
    auth = {"Authorization": f"Bearer {token}"}
    before = snapshot()

    with held_lock("participants", participant.id):
        response, seconds = timed(lambda: client.post("/api/v1/checkins", json=scan, headers=auth))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.get_json() == {
        "status": "error",
        "code": "unavailable",
        "message": "The service is very busy or briefly unreachable. Nothing was saved.",
    }
    assert seconds < LOCK_TIMEOUT + SLACK
    assert snapshot() == before

    retry = client.post("/api/v1/checkins", json=scan, headers=auth)
    assert retry.status_code == 200 and retry.get_json()["status"] == "ok"


class TcpProxy:
    """Forwards a loopback port to the database server; :meth:`stop` cuts every connection
    and refuses new ones (the server is "gone"), :meth:`start` serves the same port again."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._stopped = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stopped.clear()
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR
        self._listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def flaky_database(app, database_url, tmp_path):
    """An app whose database can be taken away: ``(app, outage)``, where ``outage()`` is a
    context manager during which the database cannot be reached."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # A database of its own in a folder that can be moved away.
        folder = tmp_path / "data"
        folder.mkdir()
        with sqlite3.connect(url.database) as source, sqlite3.connect(folder / "db") as copy:
            source.backup(copy)
        flaky = create_app(make_config(f"sqlite:///{folder / 'db'}"))

        @contextlib.contextmanager
        def outage():
            folder.rename(tmp_path / "away")
            # Connections already open keep the moved file (a file lives while it is open);
            # what fails is opening it, as every new worker and every recycled pool does.
            with flaky.app_context():
                db.engine.dispose()
            try:
                yield
            finally:
                (tmp_path / "away").rename(folder)

    else:
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        proxy.start()
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        flaky = create_app(
            make_config(
                proxied.render_as_string(hide_password=False),
                DATABASE_CONNECT_TIMEOUT=1,
                DATABASE_PING_AFTER_IDLE=PING_AFTER_IDLE,
            )
        )

        @contextlib.contextmanager
        def outage():
            proxy.stop()
            try:
                yield
            finally:
                proxy.start()

    yield flaky, outage
    with flaky.app_context():
        db.engine.dispose()
    if url.get_backend_name() != "sqlite":
        proxy.stop()


@pytest.fixture
def flaky_site(flaky_database, make_event):
    """The flaky app with an event, a registration form for it and a client whose pool holds a
    connection: ``(app, client, event, form, outage)``."""
    flaky, outage = flaky_database
    with flaky.app_context():
        event = make_event()
        form = registration_form(event)
    client = flaky.test_client()
    assert client.get(f"/e/{event.slug}/").status_code == 200
    return flaky, client, event, form, outage


def test_database_briefly_unreachable_gives_a_503_page_then_recovers_by_itself(flaky_site):
    flaky, client, event, form, outage = flaky_site
    with outage():
        page, seconds = timed(lambda: client.get(f"/e/{event.slug}/"))
        posted = client.post(f"/e/{event.slug}/register", data=form)
        health = client.get("/healthz")

    assert page.status_code == 503 and posted.status_code == 503
    assert page.headers["Retry-After"] == str(RETRY_AFTER)
    assert "Please try again" in page.text and "Traceback" not in page.text
    assert seconds < SLACK
    assert health.status_code == 503
    assert health.get_json()["status"] == "unavailable"
    assert health.get_json()["database"].startswith("failed: OperationalError")

    # Back again: the same app, never restarted, serves and saves.
    assert client.get(f"/e/{event.slug}/").status_code == 200
    assert client.post(f"/e/{event.slug}/register", data=form).status_code == 303
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    with flaky.app_context():
        assert db.session.scalar(select(Participant.email)) == form["email"]
        assert broken_invariants(db.session) == []


def test_a_connection_the_server_dropped_while_idle_is_replaced_unnoticed(database_url, flaky_site):
    if make_url(database_url).get_backend_name() == "sqlite":
        pytest.skip("SQLite has no server that could drop a connection")
    _, client, event, form, outage = flaky_site
    with outage():
        time.sleep(0.3)  # the server goes away and comes back while nobody asks anything

    time.sleep(PING_AFTER_IDLE)
    assert client.get(f"/e/{event.slug}/").status_code == 200
    assert client.post(f"/e/{event.slug}/register", data=form).status_code == 303
