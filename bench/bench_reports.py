"""How long the attendance dashboard and its exports take at scale, on SQLite and PostgreSQL.

For each database: migrates it (``flask_migrate.upgrade``), generates a large event with
:mod:`generate_event` (100,000 participants and 300,000 check-in log rows by default; on
PostgreSQL an event generated earlier with the same parameters is reused), then times, for every
dashboard panel of :data:`regapp.reports.services.PANELS`, its SQL (the panel counted from
scratch: :data:`~regapp.reports.services.FRESH`) and its JSON endpoint
``/e/<slug>/dashboard/data/<panel>`` through the Flask test client signed in as an organiser:
counted afresh (nothing kept: the first answer, after a change to the people, and at least every
``REPORT_CACHE_SECONDS``), with nothing changed (the answer kept from the run before),
after a scan (a new ``ok`` entry and its mask written before each run, as a door writes them:
what every refresh costs while the doors are busy), after a newcomer registers, and after a
registration changed (cancelled or rejoined through the model); then every panel at once
(``/e/<slug>/dashboard/data``, counted afresh) and every export
(``/e/<slug>/dashboard/export/<dataset>.<fmt>``), with no filter, a country filter (the largest
delegation) and a session filter (Panel 1). It prints the median and
95th percentile (nearest rank) in milliseconds and appends a dated section with the machine and the
figures to ``bench/README.md``, unless told ``--no-record``.

    .venv/bin/python bench/bench_reports.py [--participants N] [--database-url URL] [--no-record]

The PostgreSQL database (``--database-url``, else ``REGAPP_DATABASE_URL``, else a database named
``bench`` on the local server) is created when missing, through the ``postgres`` maintenance
database. ``--fresh`` drops and recreates its ``public`` schema first: point it only at a database
kept for benchmarks.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_event import event_slug, generate  # noqa: E402
from machine import (  # noqa: E402
    add_record_option,
    describe,
    load_average,
    markdown_table,
    packages,
    percentile,
    record,
)

from regapp import create_app  # noqa: E402
from regapp.auth.services import create_staff  # noqa: E402
from regapp.extensions import db  # noqa: E402
from regapp.models import CheckIn, Event, EventSession, Participant, Registration, Role  # noqa: E402
from regapp.models.participants import CHECK_IN_MASK  # noqa: E402
from regapp.registration.services import ParticipantDetails, register  # noqa: E402
from regapp.reports import exports, services  # noqa: E402
from regapp.reports.services import ReportFilter  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
TARGET_MS = 200
ORGANISER = ("bench-organiser@example.org", "bench organiser password")


@dataclass
class Result:
    case: str
    filter: str
    times: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        return percentile(self.times, 0.95)


@dataclass
class DatabaseRun:
    label: str
    setup: str
    results: list[Result] = field(default_factory=list)
    version: str = ""


def measure(
    work: Callable[[], object], runs: int, budget: float, before: Callable[[], object] = None
) -> list[float]:
    """Milliseconds of up to ``runs`` warm runs, after one untimed warm-up run, stopping once
    ``budget`` seconds are spent (at least three runs); ``before`` runs, untimed, before each. A
    case whose warm-up takes more than half the budget is not run again: the warm-up is its one
    figure (the cases before it read the same tables, so it is warm too), which keeps a run at
    100,000 participants bounded."""
    before = before or (lambda: None)
    before()
    start = time.perf_counter()
    work()
    warm_up = time.perf_counter() - start
    if warm_up > budget / 2:
        return [warm_up * 1000]
    times: list[float] = []
    spent = 0.0
    while len(times) < runs and (len(times) < 3 or spent < budget):
        before()
        start = time.perf_counter()
        work()
        elapsed = time.perf_counter() - start
        times.append(elapsed * 1000)
        spent += elapsed
    return times


# --- databases --------------------------------------------------------------------------------


def ensure_postgres_database(url: str) -> None:
    """Create the database of ``url`` when missing, from the ``postgres`` maintenance database."""
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                name = target.database.replace('"', '""')
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                print(f"created database {target.database}")
    finally:
        engine.dispose()


def drop_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_app(url: str):
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "MAIL_WORKER": False,
            "SERVER_NAME": "regapp.bench",
        }
    )


def prepare(app, args) -> tuple[Event, str]:
    """The benchmark event: found from an earlier run, else generated. Says which."""
    logging.disable(logging.WARNING)  # Alembic's INFO lines
    upgrade()
    logging.disable(logging.NOTSET)
    slug = event_slug(args.participants, args.checkins, args.seed)
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is not None:
        return event, f"reused the event generated earlier ({slug})"
    print(f"  generating {args.participants:,} participants ...", flush=True)
    summary = generate(
        participants=args.participants,
        checkins=args.checkins,
        countries=args.countries,
        organisations=args.organisations,
        seed=args.seed,
    )
    print(f"  {summary}", flush=True)
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    return event, f"generated in {summary.seconds:.1f} s: {summary}"


def filters(event: Event) -> list[tuple[str, dict]]:
    top_country = db.session.scalar(
        select(Participant.country)
        .where(Participant.event_id == event.id)
        .group_by(Participant.country)
        .order_by(func.count().desc())
        .limit(1)
    )
    panel = event.sessions[1] if len(event.sessions) > 1 else event.sessions[0]
    return [
        ("none", {}),
        (f"country={top_country}", {"country": top_country}),
        (f"session={panel.title.split(':')[0]}", {"session": str(panel.id)}),
    ]


def run_database(label: str, url: str, args) -> DatabaseRun:
    print(f"\n{label}: {url}", flush=True)
    app = make_app(url)
    with app.app_context():
        event, setup = prepare(app, args)
        run = DatabaseRun(label, setup, version=server_version())
        create_staff(ORGANISER[0], Role.ORGANISER, ORGANISER[1], events=[event])
        client = app.test_client()
        login = client.post("/staff/login", data={"email": ORGANISER[0], "password": ORGANISER[1]})
        assert login.status_code == 303, login.status

        def get(path: str, query: dict) -> Callable[[], bytes]:
            def work() -> bytes:
                response = client.get(path, query_string=query)
                assert response.status_code == 200, (path, response.status)
                return response.data

            return work

        def cold(work: Callable[[], object]) -> Callable[[], object]:
            """Counted afresh: nothing kept from the run before (the first answer, after a
            change to the people, and at least every ``REPORT_CACHE_SECONDS``)."""

            def run_cold() -> object:
                services.forget_answers()
                return work()

            return run_cold

        seats = db.session.execute(
            select(Registration.id, Registration.participant_id, Registration.session_id)
            .join(EventSession)
            .where(EventSession.event_id == event.id, Registration.status == "confirmed")
        ).all()
        pick = random.Random(1)
        masks = {s.id: s.mask for s in event.sessions}

        def scan() -> None:
            """What a door's ``ok`` writes: one log entry for someone holding a seat."""
            _, person, session = pick.choice(seats)
            db.session.execute(
                insert(CheckIn).values(
                    session_id=session, participant_id=person, verdict="ok", channel="in_person"
                )
            )
            mark = {"pid": person, "keep": -1, "set_in_person": masks[session]}
            db.session.execute(CHECK_IN_MASK["in_person"], mark)
            db.session.commit()

        def newcomer() -> None:
            """Someone new registers (as an organiser adds them: the event's window is past)."""
            n = next(newcomers)
            # Unique whatever runs came before on the same database (a count from the clock
            # was not: a run that made more newcomers than seconds had passed collided).
            email = f"newcomer-{secrets.token_hex(8)}@example.org"
            details = ParticipantDetails(f"Newcomer {n}", email, "AZ", "UNDP", "", "delegate")
            register(event, details, [seats[n % len(seats)][2]], notify=False, by_organiser=True)

        newcomers = itertools.count()

        def registration_change() -> None:
            """A registration changed through the model, as a cancellation or a rejoin does."""
            registration = db.session.get(Registration, pick.choice(seats)[0])
            if registration.is_active:
                registration.cancel()
            else:
                registration.join(seat_available=True)
            db.session.commit()

        for filter_label, query in filters(event):
            report_filter = ReportFilter.from_args(event, query)
            cases: list[tuple] = []  # (case, work) or (case, work, what to do before each run)
            for name, panel in services.FRESH.items():
                endpoint = get(f"/e/{event.slug}/dashboard/data/{name}", query)
                cases += [
                    (f"panel {name}: SQL", lambda p=panel, f=report_filter: p(event, f)),
                    (f"GET data/{name}: counted afresh", cold(endpoint)),
                    (f"GET data/{name}: unchanged", endpoint),
                    (f"GET data/{name}: after a scan", endpoint, scan),
                    (f"GET data/{name}: after a newcomer", endpoint, newcomer),
                    (f"GET data/{name}: after a registration", endpoint, registration_change),
                ]
            cases.append(
                (
                    "GET data (every panel): counted afresh",
                    cold(get(f"/e/{event.slug}/dashboard/data", query)),
                )
            )
            if not args.skip_exports:
                for dataset in exports.DATASETS:
                    for fmt in sorted(exports.FORMATS):
                        path = f"/e/{event.slug}/dashboard/export/{dataset}.{fmt}"
                        cases.append((f"export {dataset}.{fmt}", get(path, query)))
            for case, work, *before in cases:
                times = measure(work, args.runs, args.budget, *before)
                result = Result(case, filter_label, times)
                run.results.append(result)
                print(
                    f"  {case:40} {filter_label:18} median {result.median:9.1f} ms  "
                    f"p95 {result.p95:9.1f} ms  ({len(times)} runs)",
                    flush=True,
                )
        db.session.remove()
        db.engine.dispose()
    return run


def server_version() -> str:
    if db.engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    full = db.session.scalar(text("SHOW server_version"))
    return f"PostgreSQL {full.split()[0]}"


# --- report -----------------------------------------------------------------------------------


def is_target(case: str) -> bool:
    """The 200 ms target is for each panel's endpoint, with or without a kept answer."""
    return case.startswith("GET data/")


def table(runs: list[DatabaseRun]) -> str:
    """One row per case and filter, a median and a p95 column per database; a panel endpoint's
    figure over the 200 ms target is marked with an asterisk."""
    header = ["case", "filter"]
    for run in runs:
        header += [f"{run.label} median ms", f"{run.label} p95 ms", "runs"]
    rows = []
    for case, filter_label in dict.fromkeys(
        (r.case, r.filter) for run in runs for r in run.results
    ):
        row = [case, filter_label]
        for run in runs:
            found = next(
                (r for r in run.results if (r.case, r.filter) == (case, filter_label)), None
            )
            if found is None:
                row += ["", "", ""]
                continue
            mark = "*" if is_target(case) and found.median > TARGET_MS else ""
            row += [f"{found.median:.1f}{mark}", f"{found.p95:.1f}", len(found.times)]
        rows.append(row)
    return markdown_table(header, "ll" + "rrr" * len(runs), rows)


def machine(runs: list[DatabaseRun]) -> str:
    return describe(
        f"load average {load_average()} at the end",
        ", ".join(r.version for r in runs),
        packages("SQLAlchemy", "psycopg", "XlsxWriter"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--checkins", type=int, help="check-in log rows (default: 3 per person)")
    parser.add_argument("--countries", type=int, default=150)
    parser.add_argument("--organisations", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", "-n", type=int, default=20, help="timed runs per case at most")
    parser.add_argument(
        "--budget", type=float, default=3.0, help="seconds of timed runs per case at most"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REGAPP_DATABASE_URL") or DEFAULT_POSTGRES,
        help="PostgreSQL database (created if missing)",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="which to run: sqlite, postgresql or both"
    )
    parser.add_argument("--sqlite-file", help="keep (and reuse) the SQLite database here")
    parser.add_argument(
        "--fresh", action="store_true", help="drop the PostgreSQL database's schema first"
    )
    parser.add_argument("--skip-exports", action="store_true")
    add_record_option(parser)
    args = parser.parse_args()
    args.checkins = args.checkins or 3 * args.participants
    wanted = {d.strip() for d in args.databases.split(",")}

    started = time.perf_counter()
    runs: list[DatabaseRun] = []
    if "sqlite" in wanted:
        if args.sqlite_file:
            runs.append(
                run_database("SQLite", f"sqlite:///{Path(args.sqlite_file).resolve()}", args)
            )
        else:
            with tempfile.TemporaryDirectory() as folder:
                runs.append(run_database("SQLite", f"sqlite:///{folder}/bench.sqlite3", args))
    if "postgresql" in wanted:
        try:
            ensure_postgres_database(args.database_url)
        except OperationalError as error:
            print(f"\nPostgreSQL unreachable, skipped: {error.orig}")
        else:
            if args.fresh:
                drop_schema(args.database_url)
            runs.append(run_database("PostgreSQL", args.database_url, args))
    if not runs:
        return 1

    scale = f"{args.participants:,} participants, {args.checkins:,} check-in log rows"
    result = table(runs)
    setups = "\n".join(f"- {r.label}: {r.setup}" for r in runs)
    total = time.perf_counter() - started
    summary = (
        f"{machine(runs)}\n\n{scale}; filters: none, the largest country, one panel; "
        f"at most {args.runs} runs or {args.budget:g} s per case; "
        f"whole run {total / 60:.1f} min.\n\n{setups}\n\n"
        f"`*`: a panel endpoint's figure over the {TARGET_MS} ms target.\n\n{result}"
    )
    print("\n" + summary)
    if args.record:
        record(": reports", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
