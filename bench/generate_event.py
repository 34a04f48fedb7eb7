"""A large event for the report benchmarks, written fast with bulk inserts.

The demo forum's programme (six sessions over two days, ``regapp/demo/forum.json``) dated two
weeks back, with ``participants`` people (default 100,000) from ``countries`` countries (pycountry
codes) and ``organisations`` organisations, both spread unevenly (Zipf-like: a few big
delegations, a long tail). Each organisation is typed in several spellings ("United Nations
Development Programme", "UNDP", "U.N.D.P.", "undp", extra spaces), and the commonest
organisations' spellings are merged as organisers would merge them. People register for about
three sessions each (confirmed up to the hall's capacity, waitlisted beyond, some cancelled), and
the check-in log gets about ``checkins`` rows (default 300,000): mostly ``ok`` (a fifth online),
some ``already_checked_in`` and ``annulled`` entries referring to the ``ok`` entry they concern, and
refused scans, at times spread over each session's check-in window.

Everything is inserted straight through the driver (``COPY`` on PostgreSQL, ``executemany`` in
batches of 10,000 on SQLite), each value converted by its column's type as SQLAlchemy would, in
one transaction, with explicit primary keys so entries can refer to each other; on PostgreSQL the
id sequences are moved past them afterwards, and ``VACUUM ANALYZE`` runs. Times are made as aware
UTC datetimes and stored as :class:`~regapp.models.types.UTCDateTime` stores them (naive UTC).
Secrets are made as the application makes them (``secrets``): manage and join tokens of 256 bits,
access codes of 145 bits with their check symbol, all unique.

    .venv/bin/python bench/generate_event.py --database-url sqlite:////tmp/big.sqlite3
    .venv/bin/python bench/generate_event.py --participants 10000 --database-url postgresql+psycopg://...

As a function, inside an application context: ``generate(participants=100_000, ...)``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import sys
import time
from bisect import bisect
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pycountry
from sqlalchemy import func, select, text

from regapp.database import begin_write
from regapp.extensions import db
from regapp.models import (
    AccessCode,
    CheckIn,
    Event,
    EventSession,
    OrganisationAlias,
    OrganisationMerge,
    Participant,
    Registration,
    organisation_key,
)
from regapp.tickets.codes import ALPHABET, RANDOM_SYMBOLS, VERSION, check_symbol

GENERATOR_VERSION = 1
BATCH = 10_000
FORUM = Path(__file__).resolve().parent.parent / "regapp" / "demo" / "forum.json"

#: How many sessions a person registers for (weights): three on average.
SESSIONS_PER_PERSON = {1: 15, 2: 20, 3: 30, 4: 20, 5: 10, 6: 5}
#: How much each session of the programme draws, and its capacity as a share of that demand:
#: the small halls (panels 2 and 3) are full and keep a waitlist, the others have room.
DRAW = [1.0, 0.6, 0.45, 0.45, 0.55, 0.8]
CAPACITY_SHARE = [1.2, 1.1, 0.85, 0.9, 1.1, 1.2]
CANCELLED_SHARE = 0.06
CATEGORIES = {"delegate": 80, "guest": 10, "speaker": 5, "media": 5}
#: Shares of the check-in log.
LOG_SHARES = {"ok": 0.82, "already_checked_in": 0.09, "annulled": 0.03, "refused": 0.06}
ONLINE_SHARE = 0.2
#: The commonest organisations whose spellings organisers have merged.
MERGED_ORGANISATIONS = 300

FIRST = [
    "Amina", "Jean-Pierre", "Li", "Aigerim", "Olusegun", "María", "José", "Fatima", "Ahmed",
    "Elif", "Søren", "Zoë", "Nguyễn", "Rashid", "Ingrid", "Kwame", "Priya", "Mateus", "Yuki",
    "Anouk", "Dmitri", "Leyla", "Tomás", "Chiara", "Björn", "Aylin", "Ngozi", "Rustam", "Lucía",
    "Hiroshi", "Nadia", "François", "Gulnara", "Emeka", "Sofía", "Kamal", "Ilse", "Thandiwe",
]  # fmt: skip
LAST = [
    "Rahimova", "Élong Mbassi", "Wei", "Bekova", "Adeyemi", "García López", "Silva", "Haddad",
    "Yılmaz", "Kristensen", "Müller", "Trần", "Aliyev", "O'Connor", "Mensah", "Sharma",
    "Santos", "Tanaka", "de Vries", "Ivanov", "Məmmədova", "Núñez", "Rossi", "Lindqvist",
    "Okafor", "Nazarbayeva", "Fernández", "Suzuki", "Benali", "Dubois", "Abenova", "Eze",
    "Castro", "Hossain", "Schröder", "Dlamini", "Kowalski", "Papadopoulos",
]  # fmt: skip
JOBS = [
    "Minister", "Deputy Minister", "Director", "Head of Unit", "Senior Adviser", "Programme "
    "Officer", "Policy Analyst", "Researcher", "Journalist", "Consultant", "Chief Digital "
    "Officer", "Ambassador", "Professor", "Project Manager", "",
]  # fmt: skip
KINDS = [
    "Ministry of", "State Agency for", "National Centre for", "Institute of", "Office of",
    "Council for", "Academy of", "Foundation for", "Network for", "Association for",
]  # fmt: skip
TOPICS = [
    "Public Service", "Digital Development", "Social Innovation", "Economic Affairs", "Health",
    "Education", "E-Government", "Civil Service", "Statistics", "Regional Development",
    "Transport and Communications", "Open Data", "Public Administration", "Labour and Social "
    "Protection", "Justice", "Finance", "Innovation and Technology", "Local Governance",
]  # fmt: skip
QUALIFIERS = [
    "", "Modern", "Sustainable", "Inclusive", "Smart", "Responsive", "Agile", "Open",
]  # fmt: skip


@dataclass(frozen=True)
class Organisation:
    name: str
    acronym: str
    spellings: tuple[str, ...]


@dataclass
class Summary:
    slug: str
    event_id: int
    participants: int
    registrations: int
    checkins: int
    countries: int
    organisations: int
    spellings: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"event {self.slug!r} (id {self.event_id}): {self.participants:,} participants, "
            f"{self.registrations:,} registrations, {self.checkins:,} check-in log rows, "
            f"{self.countries} countries, {self.organisations:,} organisations "
            f"({self.spellings:,} spellings) in {self.seconds:.1f} s"
        )


def event_slug(participants: int, checkins: int, seed: int) -> str:
    """Names the data, so a benchmark can find an event it generated before and reuse it."""
    return f"scale-v{GENERATOR_VERSION}-{participants}-{checkins}-s{seed}"


def zipf_weights(n: int, exponent: float = 1.0) -> list[float]:
    return [1 / (rank**exponent) for rank in range(1, n + 1)]


def acronym(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w.lower() not in {"of", "and", "for"}]
    return "".join(w[0] for w in words).upper()


def make_organisations(n: int, rng: random.Random) -> list[Organisation]:
    """``n`` distinct organisations (the forum's own first), each with its spellings."""
    forum = json.loads(FORUM.read_text())
    named = [(o["name"], o["short"]) for o in forum["organisations_named_in_the_announcement"]]
    seen, names = set(), []
    for name, short in named:
        seen.add(name)
        names.append((name, short))
    country_names = [c.name for c in pycountry.countries]
    while len(names) < n:
        qualifier = rng.choice(QUALIFIERS)
        topic = f"{qualifier} {rng.choice(TOPICS)}".strip()
        name = f"{rng.choice(KINDS)} {topic}"
        if rng.random() < 0.7:
            name = f"{name} of {rng.choice(country_names)}"
        if name not in seen:
            seen.add(name)
            names.append((name, acronym(name)))
    organisations = []
    for name, short in names[:n]:
        dotted = ".".join(short) + "."
        variants = [name, short, dotted, name.lower(), name.upper(), f"  {name} ", name + " "]
        variants.append(name.replace(" ", "  ", 1))
        organisations.append(Organisation(name, short, tuple(dict.fromkeys(variants))))
    return organisations


#: How often each spelling of an organisation is typed (index into Organisation.spellings).
SPELLING_WEIGHTS = [55, 18, 5, 8, 2, 4, 5, 3]


def pick_countries(n: int, rng: random.Random) -> list[str]:
    """The host first (AZ), then ``n - 1`` more, in the order of their (Zipf) weight."""
    codes = sorted(c.alpha_2 for c in pycountry.countries if c.alpha_2 != "AZ")
    return ["AZ", *rng.sample(codes, n - 1)]


def access_code(rng_bytes=secrets.token_bytes) -> str:
    """As :func:`regapp.tickets.codes.new_code`, from one call for the 145 random bits."""
    bits = int.from_bytes(rng_bytes(19)) >> (19 * 8 - RANDOM_SYMBOLS * 5)
    body = VERSION + "".join(
        ALPHABET[(bits >> (5 * i)) & 31] for i in range(RANDOM_SYMBOLS - 1, -1, -1)
    )
    return body + check_symbol(body)


def make_programme(zone: ZoneInfo, first_day: date) -> tuple[dict, list[dict]]:
    forum = json.loads(FORUM.read_text())

    def at(day: int, hhmm: str) -> datetime:
        local = datetime.combine(first_day + timedelta(days=day - 1), clock.fromisoformat(hhmm))
        return local.replace(tzinfo=zone).astimezone(UTC)

    sessions = [
        {
            "title": s["title"],
            "kind": s["kind"],
            "starts_at": at(s["day"], s["start"]),
            "ends_at": at(s["day"], s["end"]),
            "room": s["room"],
            "stream_url": f"https://stream.example.org/scale/{position + 1}",
            "position": position,
        }
        for position, s in enumerate(forum["sessions"])
    ]
    return forum["event"], sessions


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _insert(connection, model, rows: list[dict]) -> None:
    """Rows straight through the driver: COPY on PostgreSQL, ``executemany`` on SQLite. Values
    go through each column type's own conversion (aware UTC datetimes become naive UTC, as
    :class:`~regapp.models.types.UTCDateTime` stores them); a column the rows leave out gets its
    model default, or NULL."""
    if not rows:
        return
    table, dialect = model.__table__, connection.dialect
    given = list(rows[0])
    defaults = {
        c.name: c.default
        for c in table.columns
        if c.name not in given and c.default is not None and not c.primary_key
    }
    names = given + list(defaults)
    processors = [table.c[name].type.bind_processor(dialect) for name in names]

    def values(row: dict):
        extra = [d.arg(None) if d.is_callable else d.arg for d in defaults.values()]
        raw = [row[name] for name in given] + extra
        return tuple(v if p is None else p(v) for v, p in zip(raw, processors, strict=True))

    driver = connection.connection.driver_connection
    columns = ", ".join(names)
    if dialect.name == "postgresql":
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(values(row))
    else:
        marks = ", ".join("?" * len(names))
        sql = f"INSERT INTO {table.name} ({columns}) VALUES ({marks})"
        for start in range(0, len(rows), BATCH):
            driver.executemany(sql, [values(row) for row in rows[start : start + BATCH]])


def generate(
    participants: int = 100_000,
    checkins: int = 300_000,
    countries: int = 150,
    organisations: int = 2_000,
    seed: int = 1,
    verbose: bool = False,
) -> Summary:
    """Create the event in the current application's database; returns what was made."""
    started = time.perf_counter()
    rng = random.Random(seed)
    say = print if verbose else (lambda *_: None)
    now = datetime.now(UTC).replace(microsecond=0)

    # The event and its sessions through the ORM: a handful of rows.
    spec, programme = make_programme(ZoneInfo("Asia/Baku"), now.date() - timedelta(days=14))
    slug = event_slug(participants, checkins, seed)
    event = Event(
        slug=slug,
        name=f"{spec['name']} ({participants:,} participants)",
        timezone=spec["timezone"],
        venue=spec["venue"],
        organiser=spec["organiser"],
        registration_opens_at=programme[0]["starts_at"] - timedelta(days=90),
        registration_closes_at=programme[-1]["ends_at"],
    )
    event.sessions = [EventSession(capacity=None, **s) for s in programme]
    db.session.add(event)
    db.session.commit()
    sessions = list(event.sessions)
    event_id = event.id
    opens = event.registration_opens_at

    # People.
    orgs = make_organisations(organisations, rng)
    codes = pick_countries(countries, rng)
    country_cum = _cumulative(zipf_weights(len(codes), 1.1))
    org_cum = _cumulative(zipf_weights(len(orgs), 0.9))
    spelling_cum = _cumulative(SPELLING_WEIGHTS)
    category_names, category_cum = list(CATEGORIES), _cumulative(CATEGORIES.values())
    first_id = _next_id(Participant)
    people, access = [], []
    person_org = []
    for n in range(participants):
        pid = first_id + n
        org = orgs[_pick(rng, org_cum)] if rng.random() > 0.02 else None
        if org is None:
            typed = ""
        else:
            index = min(_pick(rng, spelling_cum), len(org.spellings) - 1)
            typed = org.spellings[index]
        registered_at = opens + timedelta(seconds=rng.randrange(85 * 86400))
        people.append(
            {
                "id": pid,
                "event_id": event_id,
                "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "email": f"person{n}@example.org",
                "country": codes[_pick(rng, country_cum)],
                "organisation": typed,
                "job_title": rng.choice(JOBS),
                "category": category_names[_pick(rng, category_cum)],
                "consent_at": registered_at,
                "manage_token": secrets.token_urlsafe(32),
                "join_token": secrets.token_urlsafe(32),
                "created_at": registered_at,
            }
        )
        person_org.append(org)
        access.append(
            {
                "participant_id": pid,
                "code": access_code(),
                "status": "active",
                "created_at": registered_at,
            }
        )
    say(f"  people made in {time.perf_counter() - started:.1f} s")

    # Registrations: about three sessions each, weighted by each session's draw; confirmed up to
    # the capacity in order of registration, waitlisted beyond; some cancelled.
    per_person_cum = _cumulative(SESSIONS_PER_PERSON.values())
    counts = list(SESSIONS_PER_PERSON)
    choices: list[tuple[int, int]] = []  # (person index, session index)
    for n in range(participants):
        k = counts[_pick(rng, per_person_cum)]
        keyed = sorted(range(len(sessions)), key=lambda i: -(rng.random() ** (1 / DRAW[i])))
        choices.extend((n, i) for i in keyed[:k])
    choices.sort(key=lambda c: (people[c[0]]["created_at"], c[0], c[1]))
    demand = [0] * len(sessions)
    for _, i in choices:
        demand[i] += 1
    capacity = [round(demand[i] * (1 - CANCELLED_SHARE) * CAPACITY_SHARE[i]) for i in range(6)]
    confirmed = [0] * len(sessions)
    first_registration = _next_id(Registration)
    registrations, active = [], []  # active: (person index, session index, status)
    for rid, (n, i) in enumerate(choices, start=first_registration):
        when = people[n]["created_at"]
        if rng.random() < CANCELLED_SHARE:
            status = "cancelled"
        elif confirmed[i] < capacity[i]:
            status = "confirmed"
            confirmed[i] += 1
        else:
            status = "waitlisted"
        registrations.append(
            {
                "id": rid,
                "participant_id": people[n]["id"],
                "session_id": sessions[i].id,
                "status": status,
                "queued_at": when,
                "created_at": when,
                "updated_at": when,
            }
        )
        if status != "cancelled":
            active.append((n, i, status))

    # The check-in log.
    log = _checkin_log(rng, checkins, people, sessions, active, _next_id(CheckIn), now)
    _set_masks(people, sessions, active, log)
    say(f"  registrations and log made in {time.perf_counter() - started:.1f} s")

    # Merges of the commonest organisations' spellings, as an organiser would make them.
    merges, aliases = [], []
    first_merge, first_alias = _next_id(OrganisationMerge), _next_id(OrganisationAlias)
    for m, org in enumerate(orgs[:MERGED_ORGANISATIONS]):
        merges.append(
            {"id": first_merge + m, "event_id": event_id, "canonical": org.name, "created_at": now}
        )
        for key in dict.fromkeys(organisation_key(s) for s in org.spellings):
            aliases.append(
                {
                    "id": first_alias + len(aliases),
                    "merge_id": first_merge + m,
                    "event_id": event_id,
                    "variant_key": key,
                    "canonical": org.name,
                }
            )

    # One write transaction for everything (BEGIN IMMEDIATE on SQLite, as the services do).
    begin_write()
    connection = db.session.connection()
    tables = [
        (Participant, people),
        (AccessCode, access),
        (Registration, registrations),
        (CheckIn, log),
        (OrganisationMerge, merges),
        (OrganisationAlias, aliases),
    ]
    # The plain indexes are built once the rows are in (from sorted data, several times faster
    # than growing them row by row); the unique ones stay, so the rows are checked as they go.
    deferred = [i for model, _ in tables for i in model.__table__.indexes if not i.unique]
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MB, for this load only
    for index in deferred:
        index.drop(connection)
    for model, rows in tables:
        step = time.perf_counter()
        _insert(connection, model, rows)
        say(f"  {model.__tablename__}: {len(rows):,} rows in {time.perf_counter() - step:.1f} s")
    step = time.perf_counter()
    for index in deferred:
        index.create(connection)
    say(f"  {len(deferred)} indexes built in {time.perf_counter() - step:.1f} s")
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA cache_size = -2000")  # SQLite's default again
    # Each session's capacity, and the seats it counts as taken (as the services keep them).
    taken = Counter(r["session_id"] for r in registrations if r["status"] == "confirmed")
    for i, session in enumerate(sessions):
        connection.execute(
            EventSession.__table__.update()
            .where(EventSession.id == session.id)
            .values(capacity=capacity[i], seats_taken=taken[session.id])
        )
    if connection.dialect.name == "postgresql":
        for model in (
            Participant,
            AccessCode,
            Registration,
            CheckIn,
            OrganisationMerge,
            OrganisationAlias,
        ):
            table = model.__tablename__
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does a minute after a bulk load: the planner needs the statistics,
        # and index-only scans the visibility map.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for model in (Participant, AccessCode, Registration, CheckIn):
                connection.execute(text(f"VACUUM ANALYZE {model.__tablename__}"))
    return Summary(
        slug=slug,
        event_id=event_id,
        participants=len(people),
        registrations=len(registrations),
        checkins=len(log),
        countries=len({p["country"] for p in people}),
        organisations=len({o.name for o in person_org if o}),
        spellings=len({p["organisation"] for p in people}),
        seconds=time.perf_counter() - started,
    )


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn by weight (``cumulative`` as from :func:`_cumulative`)."""
    return min(bisect(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _checkin_log(rng, total, people, sessions, active, first_id, now) -> list[dict]:
    """About ``total`` rows: ``ok`` scans of people holding a confirmed seat (in the hall or
    online), repeats and undos referring to them, and refused scans."""
    wanted = {kind: round(total * share) for kind, share in LOG_SHARES.items()}
    pool = [a for a in active if a[2] == "confirmed"]  # only a seat admits, in the hall or online
    rng.shuffle(pool)
    ok_pairs = pool[: wanted["ok"]]
    rows: list[dict] = []

    def entry(n, i, verdict, channel, at, refers_to=None, message="", person=True) -> dict:
        row = {
            "id": first_id + len(rows),
            "session_id": sessions[i].id,
            "participant_id": people[n]["id"] if person else None,
            "verdict": verdict,
            "channel": channel,
            "scanned": "",
            "message": message,
            "gate": "" if channel == "online" else rng.choice(GATES),
            "refers_to_id": refers_to,
            "created_at": at,
        }
        rows.append(row)
        return row

    windows = [(s.starts_at - timedelta(hours=1), s.starts_at, s.ends_at) for s in sessions]

    def arrival(i: int, channel: str) -> datetime:
        opens, starts, closes = windows[i]
        if channel == "online":
            lo, mode = starts - timedelta(minutes=10), starts
        else:
            lo, mode = opens, starts - timedelta(minutes=10)
        seconds = rng.triangular(0, (closes - lo).total_seconds(), (mode - lo).total_seconds())
        return lo + timedelta(seconds=seconds)

    oks = []
    for n, i, _status in ok_pairs:
        channel = "online" if rng.random() < ONLINE_SHARE else "in_person"
        oks.append(entry(n, i, "ok", channel, arrival(i, channel), message="Welcome."))
    index_of = {p["id"]: n for n, p in enumerate(people)}
    session_index = {s.id: i for i, s in enumerate(sessions)}

    def later(row, minutes: int) -> datetime:
        closes = windows[session_index[row["session_id"]]][2]
        return min(row["created_at"] + timedelta(minutes=rng.uniform(0.5, minutes)), closes)

    for row in rng.sample(oks, min(wanted["annulled"], len(oks))):
        n, i = index_of[row["participant_id"]], session_index[row["session_id"]]
        entry(n, i, "annulled", row["channel"], later(row, 20), row["id"], "Scanned by mistake.")
    repeated = [r for r in oks if r["channel"] == "in_person"]
    for _ in range(min(wanted["already_checked_in"], len(repeated) * 3)):
        row = rng.choice(repeated)
        n, i = index_of[row["participant_id"]], session_index[row["session_id"]]
        entry(n, i, "already_checked_in", "in_person", later(row, 60), row["id"], "Already in.")
    for _ in range(wanted["refused"]):
        n, i = rng.randrange(len(people)), rng.randrange(len(sessions))
        verdict = rng.choice(REFUSALS)
        at = windows[i][0] - timedelta(minutes=rng.uniform(1, 120))
        if verdict != "outside_window":
            at = arrival(i, "in_person")
        entry(n, i, verdict, "in_person", at, None, "Refused.", person=verdict != "unknown_code")
    return rows


def _set_masks(people: list[dict], sessions, active, log: list[dict]) -> None:
    """Each person's attendance masks (``Participant.seats`` ...), as the application keeps
    them: their confirmed and waitlisted sessions, and those with an ``ok`` entry no undo
    refers to, per channel. (Here rather than by ``recount_masks`` after the load: on
    PostgreSQL its correlated UPDATE ran for minutes in the loading transaction, before
    ``ANALYZE``.)"""
    for person in people:
        person.update(seats=0, waitlisted=0, in_person=0, online=0)
    for n, i, status in active:
        people[n]["seats" if status == "confirmed" else "waitlisted"] |= sessions[i].mask
    undone = {row["refers_to_id"] for row in log if row["verdict"] == "annulled"}
    by_id = {person["id"]: person for person in people}
    mask = {session.id: session.mask for session in sessions}
    for row in log:
        if row["verdict"] == "ok" and row["id"] not in undone and row["participant_id"]:
            by_id[row["participant_id"]][row["channel"]] |= mask[row["session_id"]]


GATES = ["North door", "South door", "Hall A", "Hall B", "Press entrance"]
REFUSALS = ["not_registered", "unknown_code", "outside_window", "waitlisted", "revoked_code"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--checkins", type=int, help="default: three per participant")
    parser.add_argument("--countries", type=int, default=150)
    parser.add_argument("--organisations", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from regapp import create_app

    app = create_app(
        {"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "MAIL_WORKER": False}
    )
    with app.app_context():
        logging.disable(logging.WARNING)  # Alembic's INFO lines
        upgrade()
        logging.disable(logging.NOTSET)
        summary = generate(
            participants=args.participants,
            checkins=args.checkins or 3 * args.participants,
            countries=args.countries,
            organisations=args.organisations,
            seed=args.seed,
            verbose=True,
        )
    print(summary)


if __name__ == "__main__":
    sys.exit(main())
