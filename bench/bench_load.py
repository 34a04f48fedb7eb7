"""Load through gunicorn: a registration rush and a door rush, on SQLite and PostgreSQL.

For each database this script migrates a fresh schema, starts gunicorn itself and sends load
from a separate process on loopback (:mod:`loadgen`, asyncio), bounded in count and time:

1. **Registration burst**: ``--clients`` (50) participants register at once into one session
   of a new event, each GETting the form (CSRF token and session cookie) and POSTing it. The
   session's capacity is below the number of registrations, so the waitlist is used too; after
   the run the database must hold exactly one participant per success and no more confirmed
   seats than the capacity (the oversell check).
2. **The same load against** :mod:`minimal_app` (Flask + Flask-SQLAlchemy, a form with a CSRF
   token and one INSERT), served by the same gunicorn settings on the same database: the ratio
   of the two rates is what regapp's own work costs. Both are served at once and take the burst
   in turns (``ROUNDS`` rounds), so that the machine's changes of speed fall on both alike.
3. **Check-in API**: 1, 8 and 32 scanners POST ``/api/v1/checkins`` with a device token, each
   scan a code nobody scanned before (a real ``ok``, written to the log), for a session whose
   check-in is open, among ``--participants`` people registered for it.

It prints a table per part, with the rate, the latency percentiles (nearest rank), the errors
and the peak RSS of each gunicorn worker (``VmHWM``), and appends a dated section with the
machine and the targets met or missed to ``bench/README.md``, unless told ``--no-record``.

    .venv/bin/python bench/bench_load.py [--quick] [--databases sqlite,postgresql] [--no-record]

The PostgreSQL database (``--database-url``, else ``REGAPP_BENCH_LOAD_DATABASE_URL``, else a
database named ``bench_load`` on the local server) is created when missing and its ``public``
schema is dropped and made again on every run: point it only at a database kept for this.
Rate limits are counted in Redis (``--redis-url``), as in production.

gunicorn runs as ``make serve`` runs it (``regapp/gunicorn_conf.py``): 3 ``gthread`` workers of
2 threads on the 2 cores. One process per core plus one keeps both cores busy while a process
waits; the threads overlap each request's waits for the database (a PostgreSQL commit, a row
lock, SQLite's write lock) inside a process, with far less memory than more processes. Measured
on the 2-core machine: 3 x 4 threads served about a fifth more scans per second than 3 sync
workers (session 9), and 3 x 2 as many as 3 x 4 with a shorter tail (session 13).
``--workers``, ``--worker-class`` and ``--threads`` try others; the minimal app always gets the
same settings as regapp.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, text

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from bench_reports import drop_schema, ensure_postgres_database  # noqa: E402
from machine import (  # noqa: E402
    add_record_option,
    describe,
    load_average,
    markdown_table,
    packages,
    percentile,
    record,
)
from minimal_app import TABLE as MINIMAL_TABLE  # noqa: E402
from minimal_app import create_table  # noqa: E402

from regapp import create_app  # noqa: E402
from regapp.extensions import db  # noqa: E402
from regapp.models import (  # noqa: E402
    AccessCode,
    CheckIn,
    DeviceToken,
    Event,
    EventSession,
    Participant,
    Registration,
    RegistrationStatus,
    Verdict,
)
from regapp.models.participants import new_manage_token  # noqa: E402
from regapp.tickets.codes import new_code  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_load"
GUNICORN = Path(sys.executable).parent / "gunicorn"
#: The issue's targets (2-core machine, load generator on it too).
TARGET_RATIO = 0.70
TARGET_CHECKIN_RATE = 410  # 10 x pretix's 41 redeems/s at 8 and at 32 scanners
TARGET_SINGLE_P50_MS = 5
TARGET_P99_AT_32_MS = 100
#: The registration burst's rounds: regapp and the minimal app in turns (run_registration).
ROUNDS = 4
REGISTRATION_FORM = {
    "country": "Azerbaijan",
    "job_title": "Head of Innovation",
    "category": "delegate",
    "consent": "y",
}
ORGANISATIONS = [
    "ASAN Service",
    "UNDP",
    "Astana Civil Service Hub",
    "Ministry of Digital Development",
    "State Agency for Public Service and Social Innovations",
    "UN DESA",
    "OECD",
    "World Bank",
]


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> dict[int, float]:
    """CPU time (user + system) each process has used so far."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


class Backends:
    """The PostgreSQL server processes serving our database (none for SQLite, whose work is
    done inside the app's workers)."""

    def __init__(self, url: str):
        self.engine = None if url.startswith("sqlite") else create_engine(url)

    def pids(self) -> list[int]:
        if self.engine is None:
            return []
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            )

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class Server:
    """A gunicorn master with its workers, started for one part of the benchmark."""

    def __init__(self, app: str, env: dict[str, str], args, folder: Path, chdir: Path = ROOT):
        self.port = free_port()
        self.log = folder / f"gunicorn-{self.port}.log"
        command = [
            str(GUNICORN),
            f"--config={ROOT / 'regapp' / 'gunicorn_conf.py'}",  # what `make serve` runs
            app,
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={args.workers}",
            f"--worker-class={args.worker_class}",
            f"--threads={args.threads}",
            *([f"--keep-alive={args.keep_alive}"] if args.keep_alive is not None else []),
            f"--chdir={chdir}",
            f"--error-logfile={self.log}",
            "--log-level=warning",
            "--graceful-timeout=5",
        ]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {timeout} s: {self.log.read_text()}")

    def workers(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def peak_rss_mb(self) -> list[float]:
        """Each worker's peak resident memory (``VmHWM``) so far, in MB."""
        peaks = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
            peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def serving(app: str, env: dict[str, str], args, folder: Path, ready: str, chdir: Path = ROOT):
    server = Server(app, env, args, folder, chdir)
    try:
        server.wait_ready(ready)
        yield server
    finally:
        server.stop()


def server_env(args, **settings: str) -> dict[str, str]:
    """The environment of a gunicorn for the benchmark: no access log (a line per request would
    cost as much as a scan), Redis for the rate limits as in production."""
    return {**os.environ, "REGAPP_ACCESS_LOG": "", "REGAPP_REDIS_URL": args.redis_url, **settings}


def regapp_env(url: str, folder: Path, args) -> dict[str, str]:
    return server_env(
        args,
        REGAPP_DATABASE_URL=url,
        REGAPP_SECRET_KEY=secrets.token_hex(32),  # one key for every worker
        REGAPP_INSTANCE_PATH=str(folder / "instance"),
        # Confirmations are queued in the registration's transaction (measured); sending them,
        # a PDF ticket each, is the outbox sender's work, not the request's: it stays off here.
        REGAPP_MAIL_WORKER="false",
        REGAPP_MAIL_BACKEND="files",
        # Every client comes from 127.0.0.1: the limit is still counted (in Redis) on every
        # registration, as in production, but set high enough never to refuse the benchmark.
        REGAPP_REGISTER_LIMIT="1000000 per minute",
    )


# --- the load generator -----------------------------------------------------------------------


@dataclass
class Outcome:
    part: str
    database: str
    app: str
    clients: int
    seconds: float
    latencies: list[float]
    errors: int
    examples: list[str]
    rss_mb: list[float] = field(default_factory=list)
    note: str = ""
    #: CPU seconds spent by the app's workers, the database's processes, the load generator.
    cpu: dict[str, float] = field(default_factory=dict)
    #: Each client's mean latency (check-in: each scanner's), ms.
    client_means: list[float] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def p(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) if self.latencies else math.nan

    def cpu_ms(self) -> str:
        """CPU milliseconds per operation: app + database + load generator."""
        if not self.done or not self.cpu:
            return ""
        parts = [self.cpu[k] * 1000 / self.done for k in ("app", "database", "client")]
        return " + ".join(f"{x:.1f}" for x in parts)

    def ceiling(self) -> str:
        """Operations per second that the machine's cores could give at this CPU cost."""
        if not self.done or not self.cpu:
            return ""
        total = sum(self.cpu.values()) / self.done
        return f"{(os.cpu_count() or 1) / total:.0f}" if total else ""


def load(spec: dict, server: Server | None = None, backends: Backends | None = None) -> dict:
    """Run :mod:`loadgen` in its own process; its JSON answer, with the CPU seconds that the
    server's workers, the database's server processes and the load generator spent meanwhile
    (a figure that other work on the machine does not change, unlike the rate)."""
    workers = server.workers() if server else []
    database = backends.pids() if backends else []
    before = cpu_seconds(workers), cpu_seconds(database)
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, str(BENCH / "loadgen.py")],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=spec["seconds"] + 120,
        check=True,
    )
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    answer = json.loads(done.stdout)
    answer["cpu"] = {
        "app": spent(before[0], cpu_seconds(server.workers() if server else [])),
        "database": spent(before[1], cpu_seconds(backends.pids() if backends else [])),
        "client": client_after.ru_utime
        + client_after.ru_stime
        - client_before.ru_utime
        - client_before.ru_stime,
    }
    return answer


def measured(part, database, app, clients, answer, server) -> Outcome:
    outcome = Outcome(
        part,
        database,
        app,
        clients,
        answer["seconds"],
        answer["latencies"],
        answer["errors"],
        answer["examples"],
        server.peak_rss_mb(),
        cpu=answer.get("cpu", {}),
        client_means=answer.get("client_means", []),
    )
    for example in outcome.examples:
        print(f"    error: {example}")
    return outcome


# --- databases --------------------------------------------------------------------------------


def make_app(url: str, folder: Path):
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(folder / "instance"),
            "MAIL_WORKER": False,
        }
    )


def fresh_database(kind: str, args, folder: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'load.sqlite3'}"
    else:
        url = args.database_url
        ensure_postgres_database(url)
        drop_schema(url)
    app = make_app(url, folder)
    with app.app_context():
        logging.disable(logging.WARNING)  # Alembic's INFO lines
        upgrade()
        logging.disable(logging.NOTSET)
        db.engine.dispose()
    return url


def server_version(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(url)
    with engine.connect() as connection:
        full = connection.scalar(text("SHOW server_version"))
    engine.dispose()
    return f"PostgreSQL {full.split()[0]}"


def make_event(slug: str, capacity: int | None, starts_at: datetime) -> EventSession:
    event = Event(
        slug=slug,
        name="Global Web Forum on Agile Government Response",
        timezone="Asia/Baku",
        venue="Baku",
        registration_opens_at=datetime.now(UTC) - timedelta(days=1),
        registration_closes_at=datetime.now(UTC) + timedelta(days=30),
    )
    session = EventSession(
        title="Opening session",
        kind="plenary",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        room="Hall A",
        capacity=capacity,
    )
    event.sessions.append(session)
    db.session.add(event)
    db.session.commit()
    return session


# --- 1 and 2: the registration burst ----------------------------------------------------------


def registration_spec(port: int, slug: str, session_id: int, clients: int, count: int, args):
    return {
        "scenario": "register",
        "port": port,
        "slug": slug,
        "clients": clients,
        "count": count,
        "seconds": args.seconds * 3,
        "tag": secrets.token_hex(4),
        "form": {**REGISTRATION_FORM, "sessions": [str(session_id)]},
        "organisations": ORGANISATIONS,
    }


def warm_up(server: Server, slug: str, session_id: int, args) -> int:
    """A few registrations, so that every worker has loaded its templates and connected; how
    many went through."""
    spec = registration_spec(server.port, slug, session_id, 4, args.workers * 4, args)
    return len(load(spec)["latencies"])


def combined(answers: list[dict]) -> dict:
    """The answers of several rounds of one app as one."""
    return {
        "seconds": sum(a["seconds"] for a in answers),
        "latencies": [x for a in answers for x in a["latencies"]],
        "errors": sum(a["errors"] for a in answers),
        "examples": [x for a in answers for x in a["examples"]][:5],
        "cpu": {key: sum(a["cpu"][key] for a in answers) for key in answers[0]["cpu"]},
    }


def run_registration(kind: str, url: str, args, folder: Path) -> tuple[list[Outcome], str]:
    """regapp and the minimal app, both served at once, take the burst in turns: ``ROUNDS``
    rounds of an equal share each, the order swapped every round, so that a change in the
    machine's speed during the run (seen here: the minimal app's rate moving by half from one
    minute to the next) falls on both alike."""
    app = make_app(url, folder)
    with app.app_context():
        capacity = int(args.registrations * 0.6)
        session = make_event("registration-rush", capacity, datetime.now(UTC) + timedelta(days=10))
        slug, session_id = session.event.slug, session.id
        db.engine.dispose()
    create_table(url)
    minimal_env = server_env(
        args, MINIMAL_DATABASE_URL=url, MINIMAL_SECRET_KEY=secrets.token_hex(32)
    )
    if kind == "sqlite":
        minimal_env["MINIMAL_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous

    backends = Backends(url)
    form = f"/e/{slug}/register"
    with (
        serving("regapp:create_app()", regapp_env(url, folder, args), args, folder, form) as ours,
        serving("minimal_app:create_app()", minimal_env, args, folder, form, BENCH) as base,
    ):
        servers = {"regapp": ours, "minimal": base}
        warmed = warm_up(ours, slug, session_id, args)
        warm_up(base, slug, session_id, args)
        answers = {name: [] for name in servers}
        share = math.ceil(args.registrations / ROUNDS)
        for round_ in range(ROUNDS):
            for name in sorted(servers, reverse=round_ % 2 == 1):
                spec = registration_spec(
                    servers[name].port, slug, session_id, args.clients, share, args
                )
                answers[name].append(load(spec, servers[name], backends))
        outcomes = {
            name: measured("registration", kind, name, args.clients, combined(got), servers[name])
            for name, got in answers.items()
        }
    backends.close()

    with app.app_context():
        confirmed, waitlisted = (
            db.session.scalar(
                select(func.count()).where(
                    Registration.session_id == session_id, Registration.status == status
                )
            )
            for status in (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
        )
        people = db.session.scalar(select(func.count()).select_from(Participant))
        db.session.remove()
        db.engine.dispose()
    ours, minimal = outcomes["regapp"], outcomes["minimal"]
    expected = warmed + ours.done
    oversold = max(confirmed - capacity, 0)
    check = (
        f"capacity {capacity}: {confirmed} confirmed, {waitlisted} waitlisted, "
        f"{people} participants for {expected} successful registrations"
    )
    consistent = people == expected and confirmed == min(capacity, expected)
    ours.note = f"oversold {oversold}" + ("" if consistent else " (counts do not add up)")
    print(f"  {kind} regapp: {check}; {ours.note}")

    engine = create_engine(url)
    with engine.begin() as connection:
        rows = connection.scalar(text(f"SELECT count(*) FROM {MINIMAL_TABLE}"))
        connection.execute(text(f"DROP TABLE {MINIMAL_TABLE}"))
    engine.dispose()
    minimal.note = f"{rows} rows"
    return [ours, minimal], check


# --- 3: the check-in API ----------------------------------------------------------------------


def door_rush_setup(url: str, folder: Path, participants: int) -> tuple[int, str, list[str]]:
    """A session open for check-in now, ``participants`` confirmed people with a code each, and
    a device token. Rows go in with bulk inserts (the scans are measured, not the setup)."""
    app = make_app(url, folder)
    with app.app_context():
        now = datetime.now(UTC)
        session = make_event("door-rush", None, now + timedelta(minutes=20))
        device, token = DeviceToken.issue(session.event, "Bench door")
        db.session.add(device)
        db.session.commit()
        event_id, session_id = session.event_id, session.id
        codes = []
        batch = 5000
        for first in range(0, participants, batch):
            people = [
                {
                    "event_id": event_id,
                    "full_name": f"Participant {n}",
                    "email": f"door-{n}@example.org",
                    "country": "AZ",
                    "organisation": ORGANISATIONS[n % len(ORGANISATIONS)],
                    "job_title": "",
                    "category": "delegate",
                    "consent_at": now,
                    "manage_token": new_manage_token(),
                    "join_token": new_manage_token(),
                    "created_at": now,
                }
                for n in range(first, min(first + batch, participants))
            ]
            ids = list(db.session.scalars(insert(Participant).returning(Participant.id), people))
            chunk = [new_code() for _ in ids]
            codes += chunk
            db.session.execute(
                insert(AccessCode),
                [
                    {"participant_id": i, "code": c, "status": "active", "created_at": now}
                    for i, c in zip(ids, chunk, strict=True)
                ],
            )
            db.session.execute(
                insert(Registration),
                [
                    {
                        "participant_id": i,
                        "session_id": session_id,
                        "status": RegistrationStatus.CONFIRMED,
                        "queued_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))  # what autovacuum would do a minute later
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return session_id, token, codes


def run_checkin(kind: str, url: str, args, folder: Path) -> tuple[list[Outcome], str]:
    per_level = int(args.seconds * args.max_rate)
    warm = args.workers * 8
    needed = len(args.scanners) * (per_level + warm)
    start = time.perf_counter()
    session_id, token, codes = door_rush_setup(url, folder, needed)
    setup = f"{needed:,} participants set up in {time.perf_counter() - start:.1f} s"
    print(f"  {kind}: {setup}")
    outcomes = []
    backends = Backends(url)
    with serving("regapp:create_app()", regapp_env(url, folder, args), args, folder, "/") as server:
        for scanners in args.scanners:
            spec = {
                "scenario": "checkin",
                "port": server.port,
                "token": token,
                "session_id": session_id,
            }
            load({**spec, "clients": min(scanners, warm), "codes": codes[:warm], "seconds": 30})
            del codes[:warm]
            mine, codes = codes[:per_level], codes[per_level:]
            answer = load(
                {**spec, "clients": scanners, "codes": mine, "seconds": args.seconds},
                server,
                backends,
            )
            outcomes.append(measured("checkin", kind, "regapp", scanners, answer, server))
            print(f"  {kind}: {scanners} scanners: {outcomes[-1].rate:.0f} scans/s")
    backends.close()
    app = make_app(url, folder)
    with app.app_context():
        oks = db.session.scalar(
            select(func.count()).where(
                CheckIn.session_id == session_id, CheckIn.verdict == Verdict.OK
            )
        )
        db.session.remove()
        db.engine.dispose()
    scans = sum(o.done + o.errors for o in outcomes) + warm * len(args.scanners)
    return outcomes, f"{setup}; {oks:,} `ok` entries in the log after {scans:,} scans"


# --- report -----------------------------------------------------------------------------------


def rss(outcome: Outcome) -> str:
    return f"{max(outcome.rss_mb):.0f}" if outcome.rss_mb else ""


#: The columns both tables end with.
CPU_COLUMNS = ["CPU ms each: app + db + client", "CPU ceiling per s", "peak RSS per worker MB"]


def registration_table(outcomes: list[Outcome]) -> str:
    header = ["database", "app", "clients", "registrations", "per s", "p50 ms", "p95 ms"]
    return markdown_table(
        [*header, "p99 ms", "errors", *CPU_COLUMNS, "check"],
        "llrrrrrrrrrrl",
        [
            [o.database, o.app, o.clients, o.done, f"{o.rate:.1f}", f"{o.p(0.5):.0f}"]
            + [f"{o.p(0.95):.0f}", f"{o.p(0.99):.0f}", o.errors, o.cpu_ms(), o.ceiling()]
            + [rss(o), o.note]
            for o in outcomes
        ],
    )


def checkin_table(outcomes: list[Outcome]) -> str:
    header = ["database", "scanners", "scans", "per s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    return markdown_table(
        [*header, "scanners' mean waits ms", *CPU_COLUMNS],
        "lrrrrrrrrrrr",
        [
            [o.database, o.clients, o.done, f"{o.rate:.0f}", f"{o.p(0.5):.1f}"]
            + [f"{o.p(0.95):.1f}", f"{o.p(0.99):.1f}", o.errors, spread(o.client_means)]
            + [o.cpu_ms(), o.ceiling(), rss(o)]
            for o in outcomes
        ],
    )


def spread(values: list[float]) -> str:
    """The lowest and highest of ``values`` (ms): how unevenly the clients were served."""
    return f"{min(values):.1f}-{max(values):.1f}" if values else ""


def verdicts(registrations: list[Outcome], checkins: list[Outcome]) -> list[str]:
    """Each target, met or missed, with the figure."""
    lines = []

    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    for database in dict.fromkeys(o.database for o in registrations):
        ours = next(o for o in registrations if o.database == database and o.app == "regapp")
        base = next(o for o in registrations if o.database == database and o.app == "minimal")
        ratio = ours.rate / base.rate if base.rate else 0
        lines.append(
            f"- registration on {database}: {ratio:.0%} of the minimal app's rate "
            f"({ours.rate:.1f} / {base.rate:.1f} per s), {ours.errors} errors, {ours.note}: "
            + mark(ratio >= TARGET_RATIO and ours.errors == 0 and ours.note == "oversold 0")
        )
    for o in checkins:
        checks = []
        if o.clients in (8, 32):
            rate = f"{o.rate:.0f} scans/s (target {TARGET_CHECKIN_RATE})"
            checks.append((rate, o.rate >= TARGET_CHECKIN_RATE))
        if o.clients == 1:
            p50 = f"p50 {o.p(0.5):.1f} ms (target < {TARGET_SINGLE_P50_MS})"
            checks.append((p50, o.p(0.5) < TARGET_SINGLE_P50_MS))
        if o.clients == 32:
            p99 = f"p99 {o.p(0.99):.1f} ms (target < {TARGET_P99_AT_32_MS})"
            checks.append((p99, o.p(0.99) < TARGET_P99_AT_32_MS))
        checks.append((f"{o.errors} errors", o.errors == 0))
        for label, ok in checks:
            lines.append(f"- check-in on {o.database}, {o.clients} scanners: {label}: {mark(ok)}")
    return lines


def machine(versions: list[str], load_before: str) -> str:
    return describe(
        f"load average {load_before} before the run, {load_average()} at the end",
        ", ".join(versions),
        packages("gunicorn", "Flask", "SQLAlchemy", "psycopg"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer registrations, 3 s levels")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--parts", default="registration,checkin")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REGAPP_BENCH_LOAD_DATABASE_URL") or DEFAULT_POSTGRES,
        help="PostgreSQL database (created if missing, its schema dropped and made again)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (gthread)")
    parser.add_argument(
        "--keep-alive", type=int, help="seconds gunicorn keeps an idle connection (0: none)"
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent registrants")
    parser.add_argument("--registrations", type=int, default=1000, help="per app and database")
    parser.add_argument("--scanners", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=8.0, help="per check-in level")
    parser.add_argument(
        "--max-rate", type=float, default=1200, help="codes per second of a level, at most"
    )
    parser.add_argument("--sqlite-synchronous", default="FULL")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REGAPP_REDIS_URL") or "redis://127.0.0.1:6379/0",
        help="rate-limit storage of the servers, as in production ('' for none)",
    )
    add_record_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.registrations, args.seconds = min(args.registrations, 300), min(args.seconds, 3)
    args.scanners = [int(n) for n in args.scanners.split(",")]
    databases = [d.strip() for d in args.databases.split(",")]
    parts = [p.strip() for p in args.parts.split(",")]

    if args.redis_url:
        try:
            redis.Redis.from_url(args.redis_url, socket_connect_timeout=3).ping()
        except redis.RedisError as error:
            parser.error(
                f"Redis at {args.redis_url} does not answer ({error}); --redis-url ''"
                " runs without it"
            )
    load_before = load_average()
    began = time.perf_counter()
    registrations, checkins, notes, versions = [], [], [], []
    for kind in databases:
        with tempfile.TemporaryDirectory(prefix=f"regapp-load-{kind}-") as name:
            folder = Path(name)
            if "registration" in parts:
                url = fresh_database(kind, args, folder)
                print(f"{kind}: registration burst")
                outcomes, check = run_registration(kind, url, args, folder)
                registrations += outcomes
                notes.append(f"{kind} registration: {check}")
            if "checkin" in parts:
                url = fresh_database(kind, args, folder)
                print(f"{kind}: check-in API")
                outcomes, check = run_checkin(kind, url, args, folder)
                checkins += outcomes
                notes.append(f"{kind} check-in: {check}")
            versions.append(server_version(url))
    minutes = (time.perf_counter() - began) / 60

    described = machine(versions, load_before)
    setup = (
        f"gunicorn {args.workers} {args.worker_class} workers"
        + (f" x {args.threads} threads" if args.threads > 1 else "")
        + f", load from one asyncio process on loopback; whole run {minutes:.1f} min."
    )
    sections = [described, setup]
    if registrations:
        sections.append(
            f"Registration burst: {args.clients} clients, {args.registrations} registrations "
            "per app (GET the form + POST it; latency of the pair):\n\n"
            + registration_table(registrations)
        )
    if checkins:
        sections.append(
            f"Check-in API: a new code per scan (every answer an `ok` written to the log), "
            f"{args.seconds:g} s per level:\n\n" + checkin_table(checkins)
        )
    sections.append("\n".join(f"- {n}" for n in notes))
    sections.append("Targets:\n\n" + "\n".join(verdicts(registrations, checkins)))
    result = "\n\n".join(sections)
    print()
    print(result)
    if args.record:
        record(": load", result)


if __name__ == "__main__":
    sys.exit(main())
