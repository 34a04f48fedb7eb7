"""Production serving: gunicorn with ``regapp/gunicorn_conf.py``, as ``make serve`` runs it.

Real server processes on free loopback ports, real HTTP with cookies and CSRF tokens. One
instance (any database) shows the configuration serving, each worker's outbox sender delivering
after the fork, and the warning about per-worker rate limits. Two instances on one PostgreSQL
and one Redis (PostgreSQL only) race registrations for the last seats and scans of the same
codes across both, and share one rate limit.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, make_url, select

from regapp.extensions import db
from regapp.models import (
    AccessCode,
    CheckIn,
    DeviceToken,
    MessageStatus,
    OutboxMessage,
    Participant,
    Registration,
    RegistrationStatus,
    Verdict,
)
from tests.conftest import REDIS_URL, ROOT, registration_form
from tests.dbstate import broken_invariants
from tests.mailserver import free_port

CONFIG = ROOT / "regapp" / "gunicorn_conf.py"
SECRET_KEY = "serving-test-" + uuid.uuid4().hex  # shared by the instances, as behind a balancer
NOW = datetime.now(UTC).replace(microsecond=0)


class Server:
    """One gunicorn instance: ``REGAPP_WORKERS`` processes of ``REGAPP_THREADS`` threads."""

    def __init__(self, folder: Path, database_url: str, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"gunicorn-{self.port}.log"
        (folder / "instance").mkdir(exist_ok=True)
        environment = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "REGAPP_WORKERS": "2",
            "REGAPP_THREADS": "4",
            "REGAPP_ACCESS_LOG": "",
            "REGAPP_DATABASE_URL": database_url,
            "REGAPP_SECRET_KEY": SECRET_KEY,
            "REGAPP_INSTANCE_PATH": str(folder / "instance"),
            "REGAPP_BASE_URL": self.url,
            "REGAPP_MAIL_BACKEND": "files",
            "REGAPP_MAIL_OUTBOX_DIR": str(folder / "outbox"),
            **settings,
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", str(CONFIG)],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_healthy(self, seconds: float = 40) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited:\n{self.log.read_text()}"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    return json.load(response)
            except OSError:  # not listening yet, or no worker booted to answer
                time.sleep(0.2)
        raise AssertionError(f"gunicorn not healthy in {seconds} s:\n{self.log.read_text()}")


def stop(*servers: Server) -> None:
    for server in servers:
        server.process.send_signal(signal.SIGTERM)  # graceful: workers finish what they hold
    for server in servers:
        try:
            server.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def sockets_on(port: int, state: str) -> set[str]:
    """The sockets of 127.0.0.1:``port`` in ``state`` (``0A``: listening, ``01``: connected),
    as ``socket:[inode]``, from the kernel's own table."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return {f"socket:[{row[9]}]" for row in rows if row[1] == local and row[3] == state}


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` (on 127.0.0.1)."""
    return len(sockets_on(port, "0A"))


def connections_per_worker(server: Server) -> list[int]:
    """How many connections from clients each worker of ``server`` holds, from the kernel's
    tables: the established sockets on the port, found among each worker's descriptors."""
    sockets = sockets_on(server.port, "01")
    counts = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != server.process.pid:
                continue  # not a worker of this server (the field after the state is the parent)
            held = {os.readlink(fd) for fd in (stat.parent / "fd").iterdir()}
        except (FileNotFoundError, ProcessLookupError):
            continue  # a process that ended meanwhile
        counts.append(len(sockets & held))
    return counts


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 is an answer to look at, not to follow


class Visitor:
    """A browser's part: cookies (one jar for every instance, as one site behind a balancer)
    and the CSRF token of the last form it loaded."""

    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirects()
        )
        self.csrf_token = ""

    def request(self, url: str, data: bytes | None = None, headers=None) -> tuple[int, str]:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def open_form(self, url: str) -> None:
        status, page = self.request(url)
        assert status == 200, page
        self.csrf_token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]

    def submit(self, url: str, form: dict) -> int:
        body = urlencode({**form, "csrf_token": self.csrf_token}, doseq=True).encode()
        return self.request(url, body)[0]


def scan(server: Server, token: str, code: str, session_id: int) -> str:
    body = json.dumps({"code": code, "session_id": session_id, "gate": f"port {server.port}"})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, answer = Visitor().request(f"{server.url}/api/v1/checkins", body.encode(), headers)
    assert status == 200, answer
    return json.loads(answer)["status"]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting, after {seconds} s, for {what}"
        time.sleep(0.2)


def test_healthz_answers_anyone_as_often_as_asked_and_tells_nothing_personal(make_app, make_event):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        make_event()
    client = app.test_client()

    answers = [client.get("/healthz") for _ in range(5)] + [client.head("/healthz")]

    assert [a.status_code for a in answers] == [200] * 6
    assert answers[0].get_json() == {"status": "ok", "database": "ok"}
    assert answers[0].headers["Cache-Control"] == "no-store"


def test_healthz_reports_an_unreachable_redis_but_keeps_the_instance_in_service(make_app):
    # Nothing listens on port 1: the rate limits would not be shared, but the app still serves.
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["redis"].startswith("failed")


def sent_messages() -> int:
    db.session.rollback()  # see what the servers committed since
    return db.session.scalar(select(func.count()).where(OutboxMessage.status == MessageStatus.SENT))


def test_gunicorn_serves_the_app_and_each_worker_sends_mail(
    app, make_event, migrated_database, tmp_path
):
    event = make_event()
    form = registration_form(event)
    server = Server(tmp_path, migrated_database)
    try:
        assert server.wait_until_healthy() == {"status": "ok", "database": "ok"}
        visitor = Visitor()
        visitor.open_form(f"{server.url}/e/{event.slug}/register")
        assert visitor.submit(f"{server.url}/e/{event.slug}/register", form) == 303

        # The worker that answered sends the confirmation from its own outbox thread.
        wait_for(lambda: sent_messages() == 1, 15, "the confirmation to be sent")
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
        # Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads the
        # connections over them, instead of the first worker awake taking them all.
        assert listening_sockets(server.port) == 2
    finally:
        stop(server)
    log = server.log.read_text()
    assert "regapp: 2 workers x 4 threads" in log
    assert "Rate limits are counted in memory by each of the 2 workers" in log
    assert "Traceback" not in log


def test_two_instances_on_one_database_keep_every_invariant(
    app, make_event, migrated_database, tmp_path, shared_redis
):
    if make_url(migrated_database).get_backend_name() != "postgresql":
        pytest.skip("several app instances need PostgreSQL (SQLite lives on one machine)")
    capacity, taken, racers = 10, 6, 24
    event = make_event(
        {
            "title": "Opening session",
            "capacity": capacity,
            "starts_at": NOW - timedelta(minutes=5),
            "ends_at": NOW + timedelta(hours=1),
        }
    )
    session_id = event.sessions[0].id
    device, token = DeviceToken.issue(event, "Door")
    db.session.add(device)
    db.session.commit()
    limits = {
        "REGAPP_REDIS_URL": REDIS_URL,
        "REGAPP_RATELIMIT_KEY_PREFIX": shared_redis,
        "REGAPP_REGISTER_LIMIT": "1000 per minute",
        "REGAPP_RESEND_LINK_LIMIT": "5 per hour",
    }
    servers = [Server(tmp_path, migrated_database, **limits) for _ in range(2)]
    try:
        for server in servers:
            health = server.wait_until_healthy()
            assert health == {"status": "ok", "database": "ok", "redis": "ok"}
        register_url = f"/e/{event.slug}/register"
        form = registration_form(event, [session_id])

        def register(i: int, email: str, barrier=None) -> int:
            # The form comes from one instance and is sent to the other: the session cookie and
            # its CSRF token hold across instances because they share the secret key.
            visitor = Visitor()
            visitor.open_form(servers[i % 2].url + register_url)
            if barrier:
                barrier.wait()
            return visitor.submit(servers[(i + 1) % 2].url + register_url, {**form, "email": email})

        for i in range(taken):
            assert register(i, f"early-{i}@example.org") == 303
        barrier = threading.Barrier(racers)
        with ThreadPoolExecutor(racers) as pool:
            answers = list(
                pool.map(lambda i: register(i, f"racer-{i}@example.org", barrier), range(racers))
            )
        assert answers == [303] * racers

        db.session.rollback()
        statuses = Counter(
            db.session.scalars(
                select(Registration.status).where(Registration.session_id == session_id)
            )
        )
        assert statuses == {
            RegistrationStatus.CONFIRMED: capacity,
            RegistrationStatus.WAITLISTED: taken + racers - capacity,
        }

        # Every seated person's code is scanned at once by four doors, two on each instance.
        codes = list(
            db.session.scalars(
                select(AccessCode.code)
                .join(Registration, Registration.participant_id == AccessCode.participant_id)
                .where(Registration.status == RegistrationStatus.CONFIRMED)
            )
        )
        doors = [(servers[d % 2], code) for code in codes for d in range(4)]
        barrier = threading.Barrier(len(doors))

        def door(job):
            server, code = job
            barrier.wait()
            return code, scan(server, token, code, session_id)

        with ThreadPoolExecutor(len(doors)) as pool:
            verdicts = list(pool.map(door, doors))
        for code in codes:
            mine = Counter(verdict for c, verdict in verdicts if c == code)
            assert mine == {Verdict.OK: 1, Verdict.ALREADY_CHECKED_IN: 3}, mine

        db.session.rollback()
        ok_rows = select(func.count()).where(CheckIn.verdict == Verdict.OK)
        assert db.session.scalar(ok_rows) == capacity

        # One limit across both instances (and their four workers): 5 an hour in all.
        visitor = Visitor()
        visitor.open_form(f"{servers[0].url}/e/{event.slug}/resend")
        resend = [
            visitor.submit(
                f"{servers[i % 2].url}/e/{event.slug}/resend", {"email": "x@example.org"}
            )
            for i in range(8)
        ]
        assert resend == [303] * 5 + [429] * 3

        # Four outbox senders, each message sent once: one file per message.
        everyone = taken + racers
        wait_for(lambda: sent_messages() == everyone, 20, "every confirmation to be sent")
        files = Counter(p.name.split("-")[1] for p in (tmp_path / "outbox").glob("*.eml"))
        assert len(files) == everyone and set(files.values()) == {1}
        assert db.session.scalar(select(func.count()).select_from(Participant)) == everyone
        assert broken_invariants(db.session) == []
    finally:
        stop(*servers)
    for server in servers:
        assert "Traceback" not in server.log.read_text()


def test_the_workers_share_the_kept_alive_connections(migrated_database, tmp_path):
    # The kernel hashes each new connection to one worker's socket at random; a worker holding
    # more than its share of all the connections closes one after answering on it, and the
    # client's next connection is hashed again, until no worker holds more than its share.
    server = Server(tmp_path, migrated_database, REGAPP_WORKERS="3")
    clients = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(24)]
    try:
        server.wait_until_healthy()
        for _ in range(40):  # rounds: each client asks once, keeping its connection if it may
            closed = 0
            for client in clients:
                client.request("GET", "/healthz")
                answer = client.getresponse()
                assert answer.status == 200
                answer.read()
                closed += answer.will_close  # reconnected at the client's next request
            if not closed:
                break
        assert not closed, "the workers' shares never settled"
        counts = connections_per_worker(server)
    finally:
        for client in clients:
            client.close()
        stop(server)
    assert sorted(counts) == [8, 8, 8]
