"""A server killed outright (SIGKILL: a power cut, the out-of-memory killer) in the middle of a
registration and scanning load loses nothing it had confirmed, and leaves nothing half-written.

gunicorn serves the app as in production (``tests/test_serving.py``'s ``Server``), on the test
database (SQLite in one pass, PostgreSQL in the other). Browsers register through the form with
real CSRF tokens and doors scan through the API from threads; when enough has been answered, the
master and every worker get SIGKILL at the same instant, with requests still in flight. After a
restart every registration that got its redirect and every scan that got its verdict is in the
database, each participant is whole, and the database passes its integrity checks.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from pathlib import Path

from sqlalchemy import func, make_url, select

from regapp.extensions import db
from regapp.models import (
    CheckIn,
    CodeStatus,
    DeviceToken,
    MessageKind,
    OutboxMessage,
    Participant,
)
from regapp.registration.services import ParticipantDetails, register
from tests.conftest import registration_form
from tests.dbstate import broken_invariants
from tests.test_serving import Server, Visitor, stop, wait_for

NOW = datetime.now(UTC).replace(microsecond=0)
REGISTRARS, DOORS = 4, 3
#: Answers to wait for before the kill: enough that the load is in full swing.
ANSWERED_BEFORE_KILL = 10


def kill_hard(server: Server) -> None:
    """SIGKILL for the gunicorn master and all its workers at once: no one cleans up."""
    pids = [server.process.pid, *children(server.process.pid)]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    server.process.wait()


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # a process that ended meanwhile
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


class Load:
    """Registrations and scans from threads, noting every one answered with success."""

    def __init__(self, server: Server, event, token: str, codes: list[str]):
        self.server, self.event, self.token, self.codes = server, event, token, codes
        self.register_url = f"{server.url}/e/{event.slug}/register"
        self.form = registration_form(event, [s.id for s in event.sessions])
        self.registered: list[str] = []  # emails that got their 303
        self.scanned: list[dict] = []  # scans that got their verdict, with the nonce sent
        self.unexpected: list[tuple[int, str]] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.registrar, args=(n,)) for n in range(REGISTRARS)
        ] + [threading.Thread(target=self.door, args=(n,)) for n in range(DOORS)]

    def answered(self) -> int:
        return min(len(self.registered), len(self.scanned))

    def registrar(self, n: int) -> None:
        visitor = Visitor()
        visitor.open_form(self.register_url)
        for i in itertools.count():
            email = f"load-{n}-{i}@example.org"
            try:
                status = visitor.submit(self.register_url, {**self.form, "email": email})
            except (OSError, HTTPException):  # the server is gone: the outcome is unknown
                if self.stopping.is_set():
                    return
                continue
            if status == 303:
                self.registered.append(email)
            else:
                self.unexpected.append((status, email))

    def door(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        sessions = [s.id for s in self.event.sessions]
        for i in itertools.count():
            scan = {
                "code": self.codes[(n * 7 + i) % len(self.codes)],
                "session_id": sessions[i % len(sessions)],
                "gate": f"Door {n}",
                "nonce": f"door-{n}-scan-{i}",
            }
            try:
                status, body = Visitor().request(
                    f"{self.server.url}/api/v1/checkins", json.dumps(scan).encode(), headers
                )
            except (OSError, HTTPException):  # gone, or killed in the middle of its answer
                if self.stopping.is_set():
                    return
                continue
            if status == 200:
                self.scanned.append({**json.loads(body), "nonce": scan["nonce"]})
            else:
                self.unexpected.append((status, body))


def person(event, i: int) -> Participant:
    details = ParticipantDetails(
        full_name=f"Guest {i}",
        email=f"guest-{i}@example.org",
        country="KZ",
        organisation="Astana Civil Service Hub",
        job_title="",
        category="delegate",
    )
    return register(event, details, [s.id for s in event.sessions])


def test_a_server_killed_mid_load_loses_no_answered_registration_or_scan(
    app, make_event, migrated_database, tmp_path
):
    running = {"starts_at": NOW - timedelta(minutes=10), "ends_at": NOW + timedelta(hours=2)}
    event = make_event(
        {"title": "Opening", "capacity": 25, **running}, {"title": "Panel", **running}
    )
    codes = [person(event, i).active_code.code for i in range(12)]
    device, token = DeviceToken.issue(event, "Door")
    db.session.add(device)
    db.session.commit()
    # The load comes from one address: no rate limits. Two workers of four threads each.
    settings = {"REGAPP_RATELIMIT_ENABLED": "false", "REGAPP_WORKERS": "2"}

    server = Server(tmp_path, migrated_database, **settings)
    server.wait_until_healthy()
    load = Load(server, event, token, codes)
    try:
        for thread in load.threads:
            thread.start()
        wait_for(lambda: load.answered() >= ANSWERED_BEFORE_KILL, 60, "the load to get going")
        kill_hard(server)  # with requests in flight
    finally:
        load.stopping.set()
        if server.process.poll() is None:
            kill_hard(server)
        for thread in load.threads:
            thread.join()
    assert load.unexpected == [], server.log.read_text()[-4000:]  # the server's warnings say why

    restarted = Server(tmp_path, migrated_database, **settings)
    try:
        assert restarted.wait_until_healthy()["database"] == "ok"
        db.session.rollback()  # see what the killed server committed

        # Every answered registration is there, whole: both sessions, a code, its confirmation.
        participants = {
            p.email: p
            for p in db.session.scalars(select(Participant).where(Participant.event_id == event.id))
        }
        assert set(load.registered) <= set(participants)
        for participant in participants.values():  # answered or not: whole, or not there
            assert len(participant.registrations) == 2, participant.email
            assert [c.status for c in participant.codes] == [CodeStatus.ACTIVE]
            assert (
                db.session.scalar(
                    select(func.count()).where(
                        OutboxMessage.participant_id == participant.id,
                        OutboxMessage.kind == MessageKind.CONFIRMATION,
                    )
                )
                == 1
            )

        # Every answered scan is in the log as it was answered.
        logged = {
            c.nonce: c
            for c in db.session.scalars(select(CheckIn).where(CheckIn.nonce.is_not(None)))
        }
        for answer in load.scanned:
            entry = logged[answer["nonce"]]
            assert (entry.id, entry.verdict) == (answer["checkin_id"], answer["status"])

        assert broken_invariants(db.session) == []
        url = make_url(migrated_database)
        if url.get_backend_name() == "sqlite":
            with sqlite3.connect(url.database) as connection:
                assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert connection.execute("PRAGMA foreign_key_check").fetchall() == []

        # ... and the restarted server carries on where the other stopped.
        visitor = Visitor()
        visitor.open_form(load.register_url.replace(server.url, restarted.url))
        form = {**load.form, "email": "after-the-crash@example.org"}
        assert visitor.submit(f"{restarted.url}/e/{event.slug}/register", form) == 303
        db.session.rollback()
        assert db.session.scalar(
            select(Participant.full_name).where(Participant.email == form["email"])
        )
    finally:
        stop(restarted)
    assert "Traceback" not in restarted.log.read_text()
    print(  # shown with -s: how much was under way when the server died
        f"answered before the kill: {len(load.registered)} registrations, "
        f"{len(load.scanned)} scans; {len(participants)} participants found"
    )
