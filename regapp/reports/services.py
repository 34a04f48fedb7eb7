"""Attendance reports: who registered and who actually came, by session, country and
organisation. Every figure is a GROUP BY in the database over the filtered people; nothing loops
over participants in Python.

"Registered" means holding a confirmed seat (the waitlist is shown apart, per session), and
"checked in" is the check-in log's verdict: an ``ok`` entry that no ``annulled`` entry undoes
(:func:`regapp.checkin.services.effective_checkins`), counted as unique people. Only confirmed
people are admitted, in the hall or online, so every rate is at most 100 %.

How the figures stay fast at 100,000 participants (``bench/README.md`` has the measurements):

- *one row per person*: each participant carries four masks of their event's sessions (a bit
  each, :attr:`EventSession.mask`): where they hold a confirmed seat, where they wait, and where
  they are checked in, in the hall and online, kept by the database with every registration
  change and check-in (:class:`~regapp.models.participants.Participant`). Every figure counts
  the people whose masks share bits with the sessions in scope, from a covering index of the
  participants by country or by organisation spelling (migration 0010), instead of joining
  registrations and the check-in log to the people;
- organisations are grouped by spelling first (a few thousand rows) and the merges applied to
  those groups, not to every person;
- the live dashboard gets the organisations with the most registered people
  (:data:`TOP_ORGANISATIONS`); the exports have them all;
- each panel's answer is kept (:func:`panel`), keyed on the filter and on :func:`data_version`,
  which changes with every scan, registration change, participant change and organisation
  merge: a change shows in the next answer.

Only the arrivals over time read the check-in log itself (the masks say whether, not when).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Row,
    Select,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased

from .. import countries
from ..checkin.services import effective_checkins
from ..extensions import db
from ..models import (
    CATEGORIES,
    AuditEntry,
    Channel,
    CheckIn,
    Event,
    EventSession,
    OrganisationAlias,
    OrganisationMerge,
    Participant,
    Registration,
    RegistrationStatus,
    Verdict,
    organisation_key,
)
from ..models.participants import seat_masks

NO_ORGANISATION = "(no organisation)"
#: How many organisations (most registered people first) the live dashboard gets.
TOP_ORGANISATIONS = 100


@dataclass(frozen=True)
class ReportFilter:
    """What every panel and export of the dashboard is narrowed to; ``None`` means all."""

    day: date | None = None
    session_id: int | None = None
    category: str | None = None
    country: str | None = None
    organisation: str | None = None

    @classmethod
    def from_args(cls, event: Event, args) -> ReportFilter:
        """From query parameters; anything unknown is ignored rather than failing a report."""
        day = session_id = None
        with suppress(ValueError):
            day = date.fromisoformat(args.get("day", ""))
        if args.get("session", "").isdigit():
            session_id = int(args["session"])
            if session_id not in {s.id for s in event.sessions}:
                session_id = None
        category = args.get("category") if args.get("category") in CATEGORIES else None
        country = (args.get("country") or "").upper() or None
        return cls(day, session_id, category, country, args.get("organisation") or None)

    def as_args(self) -> dict[str, str]:
        values = {
            "day": self.day.isoformat() if self.day else None,
            "session": str(self.session_id) if self.session_id else None,
            "category": self.category,
            "country": self.country,
            "organisation": self.organisation,
        }
        return {k: v for k, v in values.items() if v}


def sessions_in_scope(event: Event, f: ReportFilter) -> list[EventSession]:
    return [
        s
        for s in event.sessions
        if (f.session_id is None or s.id == f.session_id)
        and (f.day is None or s.local_day() == f.day)
    ]


# --- the building blocks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a report counts: the event's sessions in scope, their bits together (``mask``), and
    the conditions on the participants that the filter's category, country or organisation
    make (none when it names none)."""

    event_id: int
    sessions: list[EventSession]
    mask: int
    people: tuple


def scope(event: Event, f: ReportFilter) -> Scope:
    people = []
    if f.category:
        people.append(Participant.category == f.category)
    if f.country:
        people.append(Participant.country == f.country)
    if f.organisation:
        people.append(_organisation_is(event.id, f.organisation))
    sessions = sessions_in_scope(event, f)
    return Scope(event.id, sessions, sum(s.mask for s in sessions), tuple(people))


#: Where each participant is checked in, in the hall or online.
ATTENDED = Participant.attended


def _having(column, mask: int, people=None):
    """How many of the rows' people have any of ``mask``'s sessions in ``column``; ``people``:
    how many people a row stands for (a column), when it is a group of them.

    Counted with ``FILTER``, not a sum of ``CASE``: SQLite runs the organisation matrix's
    fourteen counts over 100,000 people in a fifth fewer instructions (995 to 812 million,
    bench/README.md, "Dashboard, session 19"); PostgreSQL takes about the same time."""
    having = column.bitwise_and(mask) != 0
    if people is None:
        return func.count().filter(having)
    return func.coalesce(func.sum(people).filter(having), 0)


def _people(s: Scope, *columns) -> Select:
    """``columns`` over the people in scope who hold a seat, wait for one or are checked in
    for a session in scope (the others count nowhere)."""
    anywhere = Participant.seats.bitwise_or(Participant.waitlisted).bitwise_or(ATTENDED)
    of_event = Participant.event_id == s.event_id
    return select(*columns).where(of_event, *s.people, anywhere.bitwise_and(s.mask) != 0)


def _as_typed(spelling):
    """A spelling as reports show it when no merge applies: outer spaces trimmed."""
    trimmed = func.trim(spelling)
    return case((trimmed == "", NO_ORGANISATION), else_=trimmed)


def organisation_name(event_id: int, spelling=Participant.organisation):
    """The organisation as reports show it, for a column of spellings: the merged name where a
    merge applies. Returns the name, the alias table to outer-join, and the join condition."""
    alias = aliased(OrganisationAlias)
    join = and_(alias.event_id == event_id, alias.variant_key == organisation_key(spelling))
    return func.coalesce(alias.canonical, _as_typed(spelling)), alias, join


def _organisation_is(event_id: int, name: str):
    """Participants whose organisation is reported as ``name``: a spelling merged into it, or a
    spelling no merge applies to that reads ``name`` itself."""
    key = organisation_key(Participant.organisation)
    merged = select(OrganisationAlias.variant_key).where(OrganisationAlias.event_id == event_id)
    return or_(
        key.in_(merged.where(OrganisationAlias.canonical == name)),
        and_(key.not_in(merged), _as_typed(Participant.organisation) == name),
    )


def _grouped(s: Scope, by: str, *counts) -> Select:
    """``counts`` (labelled aggregates over participants) per country or organisation (``by``),
    as (key, *counts). Organisations are counted per spelling first, then per merged name over
    those groups (sums)."""
    column = Participant.country if by == "country" else Participant.organisation
    query = _people(s, column.label("key"), *counts).group_by(column)
    if by == "country":
        return query
    spelled = query.subquery()
    name, alias, join = organisation_name(s.event_id, spelled.c.key)
    sums = [func.sum(c).label(c.name) for c in spelled.c if c.name != "key"]
    return (
        select(name.label("key"), *sums).select_from(spelled).outerjoin(alias, join).group_by(name)
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _name(by: str, key: str) -> str:
    return countries.name(key) if by == "country" else key


def recount_masks() -> int:
    """Every participant's attendance masks worked out again from their registrations and the
    check-in log, in one UPDATE (the bench's generator, and ``flask recount-attendance`` after
    changes made straight in the database, which the masks do not follow). Returns how many
    rows changed. The caller commits."""

    def checked_in(channel: str):
        log = effective_checkins(many=True).where(
            CheckIn.participant_id == Participant.id, CheckIn.channel == channel
        )
        added = func.coalesce(func.sum(func.distinct(EventSession.mask)), 0)
        query = log.with_only_columns(added).select_from(CheckIn)
        return query.join(EventSession, EventSession.id == CheckIn.session_id).scalar_subquery()

    values = {
        "seats": seat_masks(RegistrationStatus.CONFIRMED),
        "waitlisted": seat_masks(RegistrationStatus.WAITLISTED),
        "in_person": checked_in(Channel.IN_PERSON),
        "online": checked_in(Channel.ONLINE),
    }
    wrong = or_(*(getattr(Participant, name) != value for name, value in values.items()))
    query = update(Participant).where(wrong).values(values)
    if db.engine.dialect.name == "postgresql":  # seconds at 100,000 people: a maintenance task
        db.session.execute(text("SET LOCAL statement_timeout = 0"))
    return db.session.execute(query, execution_options={"synchronize_session": False}).rowcount


# --- the panels -------------------------------------------------------------------------------


def _rows(query: Select) -> list:
    # On the connection: the ORM session would run its result machinery over every row.
    return db.session.connection().execute(query).all()


def totals(event: Event, f: ReportFilter) -> dict:
    s = scope(event, f)
    # Counted per country (about 150 groups), then added up: cheaper than counting distinct
    # countries over every person (a sort, which PostgreSQL spilled to disk at 100,000).
    counts = [
        _having(Participant.seats, s.mask).label("registered"),
        _having(ATTENDED, s.mask).label("checked_in"),
        _having(Participant.in_person, s.mask).label("in_person"),
        _having(Participant.online, s.mask).label("online"),
    ]
    per_country = _grouped(s, "country", *counts).subquery().c
    registered, checked_in, in_person, online, countries_ = _rows(
        select(
            *(func.coalesce(func.sum(per_country[c.name]), 0) for c in counts),
            func.count(case((per_country.registered != 0, 1))),
        )
    )[0]
    by_organisation = _grouped(s, "organisation", _having(Participant.seats, s.mask).label("n"))
    by_organisation = by_organisation.subquery()
    organisations = _rows(select(func.count()).where(by_organisation.c.n != 0))[0][0]
    return {
        "registered": int(registered),
        "checked_in": int(checked_in),
        "in_person": int(in_person),
        "online": int(online),
        "attendance_rate": _rate(int(checked_in), int(registered)),
        "countries": countries_,
        "organisations": organisations,
    }


def sessions_table(event: Event, f: ReportFilter) -> list[dict]:
    s = scope(event, f)
    if not s.sessions:
        return []
    # People with the same masks count alike: the database groups them first (about 4,000
    # groups at 100,000 people), then tests each session's bit once per group, not per person.
    kinds = (Participant.seats, Participant.waitlisted, Participant.in_person, Participant.online)
    groups = _people(s, *kinds, func.count().label("people")).group_by(*kinds).subquery()
    seats, waitlisted, in_person, online, people = groups.c
    masks = (seats, waitlisted, in_person.bitwise_or(online), in_person, online)
    counts = _rows(select(*(_having(m, x.mask, people) for x in s.sessions for m in masks)))[0]
    rows = []
    for i, session in enumerate(s.sessions):
        confirmed, waitlisted, everyone, in_person, online = map(int, counts[5 * i : 5 * i + 5])
        rows.append(
            {
                "session_id": session.id,
                "title": session.title,
                "day": session.local_day().isoformat(),
                "starts": f"{event.local(session.starts_at):%H:%M}",
                "capacity": session.capacity,
                "confirmed": confirmed,
                "waitlisted": waitlisted,
                "checked_in": everyone,
                "in_person": in_person,
                "online": online,
                "no_shows": max(confirmed - everyone, 0),
                "attendance_rate": _rate(everyone, confirmed),
            }
        )
    return rows


def _ranked(s: Scope, by: str, counts: list, limit: int | None) -> tuple[list, int]:
    """:func:`_grouped` ``counts`` (the first labelled ``n``, the last ``keep``) for the rows
    whose ``keep`` is not 0, without ``keep``, and how many there are. With a ``limit`` the
    database ranks them (most ``n`` first) and sends only the first ``limit``, with how many
    there are in all: the organisations have ten thousand, which cost more to carry into Python
    than to count."""
    grouped = _grouped(s, by, *counts).subquery()
    columns = grouped.c[:-1]
    query = select(*columns).where(grouped.c.keep != 0)
    if limit is None:
        found = _rows(query)
        return found, len(found)
    query = query.add_columns(func.count().over())
    found = _rows(query.order_by(grouped.c.n.desc(), grouped.c.key).limit(limit))
    return [row[: len(columns)] for row in found], found[0][-1] if found else 0


def breakdown(event: Event, f: ReportFilter, by: str, limit: int | None = None) -> dict:
    """Registered and checked-in people per country or organisation (``by``), most first: the
    ``limit`` rows (all with ``None``) with the most registered people, and how many there are
    in all."""
    s = scope(event, f)
    seats = _having(Participant.seats, s.mask)
    counts = [seats.label("n"), _having(ATTENDED, s.mask).label("c"), seats.label("keep")]
    found, count = _ranked(s, by, counts, limit)
    rows = [
        {
            "key": key,
            "name": _name(by, key),
            "registered": int(n),
            "checked_in": int(present),
            "attendance_rate": _rate(int(present), int(n)),
        }
        for key, n, present in found
    ]
    rows.sort(key=lambda r: (-r["registered"], r["name"]))
    return {"rows": rows, "count": count}


def matrix(event: Event, f: ReportFilter, by: str, limit: int | None = None) -> dict:
    """Registered and checked-in people per (country or organisation) x session: the ``limit``
    rows (all with ``None``) with the most registered people, and how many there are in all."""
    s = scope(event, f)
    counts = [_having(Participant.seats, s.mask).label("n")]
    for i, x in enumerate(s.sessions):
        counts.append(_having(Participant.seats, x.mask).label(f"r{i}"))
        counts.append(_having(ATTENDED, x.mask).label(f"c{i}"))
    # Rows with anyone registered or checked in (not only waiting) for a session in scope.
    counts.append(_having(Participant.seats.bitwise_or(ATTENDED), s.mask).label("keep"))
    found, count = _ranked(s, by, counts, limit)
    found = [
        (key, int(people), [(int(r), int(c)) for r, c in zip(cells[::2], cells[1::2], strict=True)])
        for key, people, *cells in found
    ]
    found.sort(key=lambda row: (-row[1], _name(by, row[0])))
    rows = [
        {
            "key": key,
            "name": _name(by, key),
            "cells": {
                str(x.id): {"registered": r, "checked_in": c}
                for x, (r, c) in zip(s.sessions, cells, strict=True)
                if r or c
            },
            "registered": people,
        }
        for key, people, cells in found
    ]
    return {
        "sessions": [{"id": x.id, "title": x.title} for x in s.sessions],
        "rows": rows,
        "count": count,
    }


def _minute(column):
    """The minute a time falls in: the text "YYYY-MM-DD HH:MM" as SQLite stores times (cheaper
    to cut than to convert, row by row; written with constants, as in the index of migration
    0011, so that SQLite can use it), the truncated time on PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.date_trunc("minute", column)
    return func.substr(column, literal_column("1"), literal_column("16"))


def arrivals(event: Event, f: ReportFilter, minutes: int = 5) -> list[dict]:
    """Check-ins per ``minutes``, per channel: the effective check-ins in scope counted per
    session, minute and channel by the database (a few thousand rows at most), then added up
    per slot. Grouped by session first, SQLite reads them in the order of an index (migration
    0011) instead of sorting them. Counts the whole log: :func:`live_arrivals` keeps what it
    counted and reads only the newer entries."""
    return _slots(event, _per_minute(_rows(_arrivals_query(scope(event, f)))), minutes)


def _arrivals_query(s: Scope) -> Select:
    """The effective check-ins in scope per session, minute and channel, as (minute, channel,
    count)."""
    minute = _minute(CheckIn.created_at).label("minute")
    query = (
        effective_checkins(many=True)
        # Entries whose participant was deleted are not counted (testing for them in the WHERE
        # would lead SQLite to an index three times slower here).
        .with_only_columns(minute, CheckIn.channel, func.count(CheckIn.participant_id))
        .where(CheckIn.session_id.in_([x.id for x in s.sessions]))
        .group_by(CheckIn.session_id, minute, CheckIn.channel)
    )
    if s.people:  # the filter names a category, country or organisation
        query = query.where(CheckIn.participant_id.in_(_people_in(s)))
    return query


def _people_in(s: Scope) -> Select:
    """The ids of the event's people that the filter's category, country or organisation
    takes in."""
    return select(Participant.id).where(Participant.event_id == s.event_id, *s.people)


def _per_minute(rows) -> Counter:
    """``rows`` of :func:`_arrivals_query` added up per (minute, channel)."""
    counts = Counter()
    for at, channel, n in rows:
        counts[at, channel] += n
    return counts


def _slots(event: Event, counts: Counter, minutes: int) -> list[dict]:
    slots: dict[datetime, dict[str, int]] = {}
    seconds = minutes * 60
    for (at, channel), n in counts.items():
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        epoch = at.replace(tzinfo=UTC).timestamp()
        slot = datetime.fromtimestamp(epoch - epoch % seconds, tz=event.zone)
        if n:
            counts_at = slots.setdefault(slot, {Channel.IN_PERSON: 0, Channel.ONLINE: 0})
            counts_at[channel] += n
    return [
        {
            "time": slot.isoformat(),
            "label": f"{slot:%d %b %H:%M}",
            "in_person": counts_at[Channel.IN_PERSON],
            "online": counts_at[Channel.ONLINE],
        }
        for slot, counts_at in sorted(slots.items())
    ]


#: :func:`live_arrivals` counts the whole log again rather than read more newer entries.
RECOUNT = 10_000


@dataclass(frozen=True)
class _Counted:
    """Arrivals counted up to the log entry ``upto``, which had ``below`` entries in the
    :data:`RECENT_ROWS` ids up to it then."""

    upto: int
    below: int
    counts: Counter


def live_arrivals(event: Event, f: ReportFilter, minutes: int = 5) -> list[dict]:
    """:func:`arrivals`, without reading the whole log at every change: the counts up to the
    newest entry are kept (per process, event and filter), and each answer brings them up to
    date from the entries logged since: their effective check-ins added, the check-ins they
    undo taken away. The log only grows, and an undo is an entry of its own, so those entries
    are all that can change the counts, except:

    - an entry committed after a later one (several writers on PostgreSQL): one below the kept
      entry changes how many entries lie in the :data:`RECENT_ROWS` ids up to it, as for
      :func:`data_version`, and the log is counted again;
    - who is in the filter, or which sessions (organisers' changes to people are audited, and
      merges are kept): counted again when those change;
    - past :data:`RECOUNT` newer entries, and ``REPORT_CACHE_SECONDS`` after the last count
      (a backstop, as for every kept answer)."""
    seconds = current_app.config["REPORT_CACHE_SECONDS"]
    if not seconds:
        return arrivals(event, f, minutes)
    s = scope(event, f)
    key, version = (event.id, f, "arrivals counted"), _people_version(s)
    kept = _kept().get(key, version)
    newest = select(func.max(CheckIn.id)).scalar_subquery()
    newest_and_below = (newest, _recent(CheckIn.id, newest).scalar_subquery())
    below_kept = _recent(CheckIn.id, kept.value.upto if kept else 0).scalar_subquery()
    last, below_last, below_upto = db.session.execute(select(*newest_and_below, below_kept)).one()
    last = last or 0
    if kept and below_upto == kept.value.below and last - kept.value.upto <= RECOUNT:
        counted = _Counted(last, below_last, _logged_since(s, kept.value, last))
        expires = kept.expires
    else:
        # The newest entry read in the counting statement itself, from the same snapshot: an
        # entry committed meanwhile is either counted or newer than it, never both.
        rows = _rows(_arrivals_query(s).add_columns(*newest_and_below))
        upto, below_upto = rows[0][3:] if rows else (last, below_last)
        counted = _Counted(upto, below_upto, _per_minute(row[:3] for row in rows))
        expires = time.monotonic() + seconds
    _kept().put(key, version, counted, expires)
    return _slots(event, counted.counts, minutes)


def _logged_since(s: Scope, counted: _Counted, upto: int) -> Counter:
    """``counted`` brought up to the log entry ``upto``. The newer entries are read by their
    ids alone (a range of the primary key, whatever other index the planner might prefer) and
    judged here: few rows, where a query grouping them would have SQLite read the whole log in
    the order of its minute index."""
    minute = _minute(CheckIn.created_at).label("minute")
    columns = (CheckIn.id, CheckIn.verdict, CheckIn.session_id, CheckIn.channel, minute)
    columns += (CheckIn.participant_id, CheckIn.refers_to_id)
    since = _rows(select(*columns).where(CheckIn.id > counted.upto, CheckIn.id <= upto))
    undone = {e.refers_to_id for e in since if e.verdict == Verdict.ANNULLED}
    added = [e for e in since if e.verdict == Verdict.OK and e.id not in undone]
    # Check-ins counted before, undone since (unless undone before as well).
    earlier = [i for i in undone if i is not None and i <= counted.upto]
    removed = []
    if earlier:
        twice = select(CheckIn.refers_to_id).where(
            CheckIn.verdict == Verdict.ANNULLED,
            CheckIn.refers_to_id.in_(earlier),
            CheckIn.id <= counted.upto,
        )
        earlier = set(earlier) - set(db.session.scalars(twice))
        removed = _rows(select(*columns).where(CheckIn.id.in_(earlier)))
        removed = [e for e in removed if e.verdict == Verdict.OK]
    sessions = {x.id for x in s.sessions}
    entries = [e for e in added + removed if e.session_id in sessions and e.participant_id]
    if s.people and entries:
        scanned = {e.participant_id for e in entries}
        people = set(db.session.scalars(_people_in(s).where(Participant.id.in_(scanned))))
        entries = [e for e in entries if e.participant_id in people]
    counts = counted.counts.copy()
    for e in entries:
        counts[e.minute, e.channel] += -1 if e.id in undone else 1
    return counts


def _people_version(s: Scope) -> tuple:
    """Changes when the people a filter takes in can have changed (organisers' changes to
    people are audited; merges), and with the sessions in scope."""
    newest = _newest(AuditEntry.id, OrganisationMerge.id, OrganisationMerge.undone_at)
    return (*newest, tuple(x.id for x in s.sessions))


def filter_choices(event: Event) -> dict:
    """What the filter menus offer: days, sessions, categories, countries, organisations."""
    country_codes = db.session.scalars(
        select(Participant.country).where(Participant.event_id == event.id).distinct()
    )
    spellings = (
        select(Participant.organisation.label("spelling"))
        .where(Participant.event_id == event.id)
        .group_by(Participant.organisation)
        .subquery()
    )
    name, alias, join = organisation_name(event.id, spellings.c.spelling)
    organisations = db.session.scalars(
        select(name)
        .select_from(spellings)
        .outerjoin(alias, join)
        .distinct()
        .order_by(name)
        .limit(5000)
    )
    return {
        "days": sorted({s.local_day() for s in event.sessions}),
        "sessions": event.sessions,
        "categories": CATEGORIES,
        "countries": sorted(((c, countries.name(c)) for c in country_codes), key=lambda c: c[1]),
        "organisations": list(organisations),
    }


#: The dashboard's panels, each a function of (event, filter) giving what its endpoint sends.
#: The breakdowns and matrices say how many rows there are in all (``count``); organisations
#: are cut to the :data:`TOP_ORGANISATIONS` with the most registered people.
PANELS = {
    "totals": totals,
    "sessions": sessions_table,
    "countries": lambda e, f: breakdown(e, f, "country"),
    "organisations": lambda e, f: breakdown(e, f, "organisation", TOP_ORGANISATIONS),
    "country-matrix": lambda e, f: matrix(e, f, "country"),
    "organisation-matrix": lambda e, f: matrix(e, f, "organisation", TOP_ORGANISATIONS),
    "arrivals": live_arrivals,
}
#: Each panel counted from scratch: what a kept or brought-up-to-date answer must equal.
FRESH = {**PANELS, "arrivals": arrivals}


# --- answers kept while nothing changes ------------------------------------------------------


#: How far below the newest row (ids, or seconds of ``updated_at``) :func:`data_version` also
#: counts rows, to see a write that committed after a later one.
RECENT_ROWS, RECENT_SECONDS = 1000, 60


def _recent(column, newest) -> Select:
    """Rows in the :data:`RECENT_ROWS` ids up to ``newest`` (a value, ``None`` for an empty
    table, or a SQL expression): one committed late, below the newest, changes the count."""
    upto = 0 if newest is None else newest
    return select(func.count()).where(column > upto - RECENT_ROWS, column <= upto)


def _newest(*columns) -> Row:
    """The largest value of each column, in one statement (each read from the end of an
    index)."""
    return db.session.execute(
        select(*(select(func.max(column)).scalar_subquery() for column in columns))
    ).one()


def data_version(event: Event) -> tuple:
    """Changes whenever something a report counts changes: the newest check-in log entry (every
    scan and every undo adds one), the newest registration and the latest change to one
    (``updated_at``), the newest participant, the newest audit-log entry (organisers' changes to
    people are audited), the newest organisation merge and merge undo, and the sessions.

    Writers that commit out of order (several at once, on PostgreSQL) can add a row below the
    newest one without changing it; so the rows just below the newest are counted too (the last
    :data:`RECENT_ROWS` ids, the last :data:`RECENT_SECONDS` of changes). Each figure is read
    from the end of an index: the two queries cost about a millisecond at any size."""
    newest = _newest(
        CheckIn.id,
        Participant.id,
        AuditEntry.id,
        OrganisationMerge.id,
        OrganisationMerge.undone_at,
        Registration.id,
        Registration.updated_at,
    )
    checkin, participant, audit, _merge, _undone, _registration, changed = newest
    recent = [_recent(CheckIn.id, checkin), _recent(Participant.id, participant)]
    recent.append(_recent(AuditEntry.id, audit))
    if changed is not None:
        since = changed - timedelta(seconds=RECENT_SECONDS)
        recent.append(select(func.count()).where(Registration.updated_at >= since))
    counts = db.session.execute(select(*(q.scalar_subquery() for q in recent))).one()
    sessions = tuple((s.id, s.title, s.capacity, s.starts_at, s.ends_at) for s in event.sessions)
    return (*newest, *counts, sessions)


@dataclass
class _Kept:
    version: object
    value: object
    expires: float


class _Keeper:
    """Values kept per key, each for the version it was counted at and until it expires; the
    least recently used go first. Shared by a process's threads."""

    def __init__(self, size: int):
        self.size = size
        self.values: OrderedDict[tuple, _Kept] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple, version) -> _Kept | None:
        with self.lock:
            kept = self.values.get(key)
            if kept is None or kept.version != version or kept.expires <= time.monotonic():
                return None
            self.values.move_to_end(key)
            return kept

    def put(self, key: tuple, version, value, expires: float) -> None:
        with self.lock:
            self.values[key] = _Kept(version, value, expires)
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.values.clear()


def _kept() -> _Keeper:
    """The app's answers per (event, filter, panel)."""
    keeper = current_app.extensions.get("regapp.reports")
    return keeper or current_app.extensions.setdefault("regapp.reports", _Keeper(2048))


def panel(event: Event, f: ReportFilter, name: str):
    """The panel ``name`` for ``f``: the answer kept from before while nothing it counts has
    changed (:func:`data_version`), and at most ``REPORT_CACHE_SECONDS`` (a backstop for a
    change no probe sees, such as one made straight in the database)."""
    seconds = current_app.config["REPORT_CACHE_SECONDS"]
    if not seconds:
        return PANELS[name](event, f)
    # Read before counting: a change committed in between is then counted under the older
    # version, and counted again by the next request, which sees the newer one.
    version = data_version(event)
    key = (event.id, f, name)
    kept = _kept().get(key, version)
    if kept is not None:
        return kept.value
    value = PANELS[name](event, f)
    _kept().put(key, version, value, time.monotonic() + seconds)
    return value


def forget_answers() -> None:
    """Drop every kept answer and figure (the benchmarks time counting from scratch)."""
    _kept().clear()


def stamp(event: Event) -> dict:
    """When the figures were counted, for the page and the JSON."""
    as_of = datetime.now(event.zone)
    return {
        "as_of": as_of.isoformat(),
        "as_of_label": f"{as_of:%d %b %Y %H:%M:%S} ({event.timezone})",
    }


def dashboard(event: Event, f: ReportFilter) -> dict:
    """Every panel at once (the page, and ``/dashboard/data``), and when it was counted."""
    return {**{name: panel(event, f, name) for name in PANELS}, **stamp(event)}
