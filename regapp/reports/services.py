"""Attendance reports: who registered and who actually came, by session, country and
organisation. Every figure is a GROUP BY in the database over the filtered people and sessions;
nothing loops over participants in Python.

"Registered" means holding a confirmed seat (the waitlist is shown apart, per session), and
"checked in" is the check-in log's verdict: an ``ok`` entry that no ``annulled`` entry undoes
(:func:`regapp.checkin.services.effective_checkins`), counted as unique people. Only confirmed
people are admitted, in the hall or online, so every rate is at most 100 %.

How the figures stay fast at 100,000 participants (``bench/README.md`` has the measurements):

- *ids first*: a figure starts from the participant ids an index holds (the confirmed seats of
  the sessions in scope, the effective check-ins), makes them unique per person (or per person
  and session) with a GROUP BY, and counts rows, never ``count(DISTINCT ...)`` over a join;
- participants are joined only when a figure is broken down by their country or organisation, or
  when the filter names a category, country or organisation;
- organisations are grouped by spelling first (a few thousand rows) and the merges applied to
  those groups, not to every person;
- the check-in verdicts are written into the SQL as literals, so that the partial indexes on them
  (migration 0006) apply;
- the live dashboard gets the organisations with the most registered people
  (:data:`TOP_ORGANISATIONS`); the exports have them all;
- each panel's answer is kept (:func:`panel`), keyed on the filter and on :func:`data_version`,
  which changes with every scan, registration change, participant change and organisation
  merge: a change shows in the next answer;
- after scans, the kept figures over the check-in log are brought up to date from the people
  scanned since, not counted again (:func:`_attended`), and the figures over registrations are
  kept until registrations change (:func:`_seat_rows`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union,
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
    organisation_key,
)

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
    """What a report counts: the sessions in scope, and the people the filter names (a query of
    participant ids), or ``None`` when it names no category, country or organisation.

    Kept figures (:func:`_kept_figures`) narrow it further: to the check-in log as it stood
    when its newest entry was ``upto``, to the people registered when the newest was
    ``people_upto``, to the registrations as they stood when the latest change to one was
    ``seats_at``, and to the people ``only`` names."""

    session_ids: tuple[int, ...]
    people: Select | None
    upto: int | None = None
    people_upto: int | None = None
    seats_at: datetime | None = None
    only: tuple[int, ...] | None = None


def scope(event: Event, f: ReportFilter) -> Scope:
    conditions = []
    if f.category:
        conditions.append(Participant.category == f.category)
    if f.country:
        conditions.append(Participant.country == f.country)
    if f.organisation:
        conditions.append(_organisation_is(event.id, f.organisation))
    people = (
        select(Participant.id).where(Participant.event_id == event.id, *conditions)
        if conditions
        else None
    )
    return Scope(tuple(s.id for s in sessions_in_scope(event, f)), people)


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


def _of_people(query: Select, participant_id, s: Scope) -> Select:
    if s.people is not None:
        query = query.where(participant_id.in_(s.people))
    if s.only is not None:
        query = query.where(participant_id.in_(s.only))
    return query


def _seats(s: Scope, *statuses: str) -> Select:
    """Registrations in scope with one of ``statuses``: (pid, sid, status). One per person and
    session (a unique constraint), so rows count people."""
    status = Registration.status if s.seats_at is None else _status_at(s.seats_at)
    query = select(
        Registration.participant_id.label("pid"),
        Registration.session_id.label("sid"),
        status.label("status"),
    )
    # A few people's seats are found by person, not by reading the sessions' ("+ 0").
    sid = Registration.session_id if s.only is None else Registration.session_id + 0
    query = query.where(sid.in_(s.session_ids), status.in_(statuses))
    if s.people_upto is not None and s.only is not None:  # the planners prefer the ids alone
        s = replace(s, only=tuple(pid for pid in s.only if pid <= s.people_upto))
    elif s.people_upto is not None:
        query = query.where(Registration.participant_id <= s.people_upto)
    return _of_people(query, Registration.participant_id, s)


def _status_at(moment: datetime):
    """A registration's status when the latest change to any was ``moment``: its status if it
    has not changed since, else the one it had before (``NULL``, no seat, for a registration
    made since). Only for registrations changed at most once since (:func:`_changed_people`)."""
    return case(
        (Registration.updated_at <= moment, Registration.status),
        (Registration.previous_changed_at <= moment, Registration.previous_status),
        else_=None,
    )


def _log(s: Scope) -> Subquery:
    """The effective check-ins in scope (:func:`effective_checkins`, the log as it stood at
    ``upto``), as (pid, sid, channel, at).

    (Counting every ``ok`` entry, less the people an undo touched, plus their entries that
    stand, gives the same counts without testing each entry for an undo; measured at 100,000
    people with 3 % of the entries undone, it took 5 to 60 % longer on both databases.)

    An entry whose participant was deleted has no ``pid``; the counts leave it out (testing for
    it here would lead SQLite to a worse index)."""
    query = effective_checkins(many=True, upto=s.upto).with_only_columns(
        CheckIn.participant_id.label("pid"),
        CheckIn.session_id.label("sid"),
        CheckIn.channel.label("channel"),
        CheckIn.created_at.label("at"),
    )
    if s.upto is not None:
        query = query.where(CheckIn.id <= s.upto)
    # A few people's entries are found by person, not by reading the sessions' ("+ 0").
    sid = CheckIn.session_id if s.only is None else CheckIn.session_id + 0
    query = query.where(sid.in_(s.session_ids))
    return _of_people(query, CheckIn.participant_id, s).subquery()


def _flag(condition):
    """1 where ``condition`` holds, else 0: summed or maxed per group."""
    return case((condition, 1), else_=0)


def _people(rows, *per) -> Subquery:
    """One row per person (and per ``per``, e.g. session) of ``rows``."""
    return select(rows.c.pid, *per).group_by(*per, rows.c.pid).subquery()


def _registered_by(event_id: int, by: str):
    """For :func:`_seat_rows`: the people holding a confirmed seat for a session in scope, per
    country or organisation (``by``)."""
    return lambda s: _count_by(
        event_id, _seats(s, RegistrationStatus.CONFIRMED).subquery(), by, few=s.only is not None
    )


def _count_by(event_id: int, people, by: str, *per, few: bool = False) -> Select:
    """People counted per country or organisation (``by``) and ``per``: (key, *per, n).

    With ``per``, ``people`` is a subquery of one row per person and ``per``, joined to the
    participants. Without it, ``people`` is any subquery of rows with a ``pid`` (a person may
    have several): the event's people are read in the order of their country (or spelling) from
    an index and kept when they are among them (a plain semi-join: grouping the rows per person
    first made PostgreSQL take twice as long), or when they are ``few``, joined to them."""
    column = Participant.country if by == "country" else Participant.organisation
    if few and not per:
        people = _people(people)
    if per or few:
        query = select(column.label("key"), *per, func.count().label("n")).join(
            people, people.c.pid == Participant.id
        )
    else:
        query = select(column.label("key"), func.count().label("n")).where(
            Participant.event_id == event_id, Participant.id.in_(select(people.c.pid))
        )
    query = query.group_by(column, *per)
    if by == "country":
        return query
    # Per spelling first, then the merged names over those groups.
    spelled = query.subquery()
    name, alias, join = organisation_name(event_id, spelled.c.key)
    outer_per = [spelled.c[c.name] for c in per]
    return (
        select(name.label("key"), *outer_per, func.sum(spelled.c.n).label("n"))
        .select_from(spelled)
        .outerjoin(alias, join)
        .group_by(name, *outer_per)
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _name(by: str, key: str) -> str:
    return countries.name(key) if by == "country" else key


# --- the panels -------------------------------------------------------------------------------


def totals(event: Event, f: ReportFilter) -> dict:
    s = scope(event, f)
    # Per country and per organisation (sums over people, which kept figures need), then how
    # many of them have anyone.
    by_country = _seat_rows(s, _registered_by(event.id, "country"), keys=1)
    by_organisation = _seat_rows(s, _registered_by(event.id, "organisation"), keys=1)
    registered = sum(n for (n,) in by_country.values())
    countries_ = sum(1 for (code,), (n,) in by_country.items() if code is not None and n)
    organisations = sum(1 for (n,) in by_organisation.values() if n)

    def per_person(rows, _):
        person = (
            select(
                rows.c.pid,
                func.max(_flag(rows.c.channel == Channel.IN_PERSON)).label("in_person"),
                func.max(_flag(rows.c.channel == Channel.ONLINE)).label("online"),
            )
            .group_by(rows.c.pid)
            .subquery()
        )
        return select(
            func.count(person.c.pid).label("people"),
            func.coalesce(func.sum(person.c.in_person), 0).label("in_person"),
            func.coalesce(func.sum(person.c.online), 0).label("online"),
        )

    checked_in, in_person, online = _attended(s, per_person)[()]
    return {
        "registered": registered,
        "checked_in": int(checked_in),
        "in_person": int(in_person),
        "online": int(online),
        "attendance_rate": _rate(int(checked_in), registered),
        "countries": countries_,
        "organisations": organisations,
    }


def sessions_table(event: Event, f: ReportFilter) -> list[dict]:
    s = scope(event, f)

    def per_status(s: Scope) -> Select:
        seats = _seats(s, RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED).subquery()
        return select(seats.c.sid, seats.c.status, func.count()).group_by(
            seats.c.sid, seats.c.status
        )

    counts = {key: n for key, (n,) in _seat_rows(s, per_status, keys=2).items()}

    # Distinct people per session, and per session and channel, as the index orders them.
    def per_session(rows, _):
        return select(rows.c.sid, func.count(func.distinct(rows.c.pid))).group_by(rows.c.sid)

    def per_channel(rows, _):
        people = func.count(func.distinct(rows.c.pid))
        return select(rows.c.sid, rows.c.channel, people).group_by(rows.c.sid, rows.c.channel)

    people = {sid: n for (sid,), (n,) in _attended(s, per_session, keys=1).items()}
    channels = {key: n for key, (n,) in _attended(s, per_channel, keys=2).items()}
    rows = []
    for session in sessions_in_scope(event, f):
        confirmed = counts.get((session.id, RegistrationStatus.CONFIRMED), 0)
        everyone = int(people.get(session.id, 0))
        rows.append(
            {
                "session_id": session.id,
                "title": session.title,
                "day": session.local_day().isoformat(),
                "starts": f"{event.local(session.starts_at):%H:%M}",
                "capacity": session.capacity,
                "confirmed": confirmed,
                "waitlisted": counts.get((session.id, RegistrationStatus.WAITLISTED), 0),
                "checked_in": everyone,
                "in_person": int(channels.get((session.id, Channel.IN_PERSON), 0)),
                "online": int(channels.get((session.id, Channel.ONLINE), 0)),
                "no_shows": max(confirmed - everyone, 0),
                "attendance_rate": _rate(everyone, confirmed),
            }
        )
    return rows


def breakdown(event: Event, f: ReportFilter, by: str) -> list[dict]:
    """Registered and checked-in people per country or organisation (``by``), most first."""
    s = scope(event, f)
    registered = {key: n for (key,), (n,) in _seat_rows(s, _registered_by(event.id, by), 1).items()}

    def per_key(rows, scope_):
        return _count_by(event.id, rows, by, few=scope_.only is not None)

    per_key = _attended(s, per_key, keys=1)
    present = {key: n for (key,), (n,) in per_key.items()}
    rows = [
        {
            "key": key,
            "name": _name(by, key),
            "registered": int(n),
            "checked_in": int(present.get(key, 0)),
            "attendance_rate": _rate(int(present.get(key, 0)), int(n)),
        }
        for key, n in registered.items()
        if n
    ]
    return sorted(rows, key=lambda r: (-r["registered"], r["name"]))


def matrix(event: Event, f: ReportFilter, by: str, limit: int | None = None) -> dict:
    """Registered and checked-in people per (country or organisation) x session: the ``limit``
    rows (all with ``None``) with the most registered people, and how many there are in all."""
    sessions = sessions_in_scope(event, f)
    s = scope(event, f)

    def per_session_seats(s: Scope) -> Select:
        seats = _seats(s, RegistrationStatus.CONFIRMED).subquery()
        return _count_by(event.id, seats, by, seats.c.sid)

    registered = [(*cell, n) for cell, (n,) in _seat_rows(s, per_session_seats, 2).items() if n]

    def per_session(rows, _):
        people = _people(rows, rows.c.sid)
        return _count_by(event.id, people, by, people.c.sid)

    present = {cell: n for cell, (n,) in _attended(s, per_session, keys=2).items() if n}
    people = {key: n for (key,), (n,) in _seat_rows(s, _registered_by(event.id, by), 1).items()}
    ranked = sorted(
        {key for key, _, _ in registered} | {key for key, _ in present},
        key=lambda key: (-people.get(key, 0), _name(by, key)),
    )
    # Cells only for the rows sent (the organisations have thousands).
    cells: dict[str, dict[str, dict[str, int]]] = {key: {} for key in ranked[:limit]}
    for key, sid, n in registered:
        if key in cells:
            cells[key][str(sid)] = {"registered": int(n), "checked_in": 0}
    for (key, sid), n in present.items():
        if key in cells:
            cell = cells[key].setdefault(str(sid), {"registered": 0, "checked_in": 0})
            cell["checked_in"] = n
    rows = [
        {
            "key": key,
            "name": _name(by, key),
            "cells": cells[key],
            "registered": int(people.get(key, 0)),
        }
        for key in cells
    ]
    return {
        "sessions": [{"id": x.id, "title": x.title} for x in sessions],
        "rows": rows,
        "count": len(ranked),
    }


def _minute(column):
    """The minute a time falls in: the text "YYYY-MM-DD HH:MM" as SQLite stores times (cheaper
    to cut than to convert, row by row), the truncated time on PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.date_trunc("minute", column)
    return func.substr(column, 1, 16)


def _bucket(minute, minutes: int):
    """The start of the ``minutes``-long slot a :func:`_minute` falls in, as seconds since the
    epoch."""
    seconds = minutes * 60
    if db.engine.dialect.name == "postgresql":
        epoch = func.extract("epoch", minute)
    else:
        epoch = func.strftime("%s", minute)
    return func.floor(func.cast(epoch, db.Integer) / literal(seconds)) * literal(seconds)


def arrivals(event: Event, f: ReportFilter, minutes: int = 5) -> list[dict]:
    """Check-ins per ``minutes``, per channel: counted per minute, then per slot."""

    def per_slot(rows, _):
        minute = _minute(rows.c.at)
        person = rows.c.pid.is_not(None)
        per = (
            select(
                minute.label("minute"),
                func.sum(_flag(and_(person, rows.c.channel == Channel.IN_PERSON))).label("in"),
                func.sum(_flag(and_(person, rows.c.channel == Channel.ONLINE))).label("online"),
            )
            .group_by(minute)
            .subquery()
        )
        slot = _bucket(per.c.minute, minutes).label("slot")
        return select(slot, func.sum(per.c["in"]), func.sum(per.c.online)).group_by(slot)

    per = _attended(scope(event, f), per_slot, keys=1)
    rows = sorted((slot, *counts) for (slot,), counts in per.items() if any(counts))
    return [
        {
            "time": datetime.fromtimestamp(int(t), tz=event.zone).isoformat(),
            "label": f"{datetime.fromtimestamp(int(t), tz=event.zone):%d %b %H:%M}",
            "in_person": int(in_person),
            "online": int(online),
        }
        for t, in_person, online in rows
    ]


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


def _top(rows: list[dict], limit: int | None) -> dict:
    """The first ``limit`` rows (all with ``None``) and how many there are in all."""
    return {"rows": rows if limit is None else rows[:limit], "count": len(rows)}


#: The dashboard's panels, each a function of (event, filter) giving what its endpoint sends.
#: The breakdowns and matrices say how many rows there are in all (``count``); organisations
#: are cut to the :data:`TOP_ORGANISATIONS` with the most registered people.
PANELS = {
    "totals": totals,
    "sessions": sessions_table,
    "countries": lambda e, f: _top(breakdown(e, f, "country"), None),
    "organisations": lambda e, f: _top(breakdown(e, f, "organisation"), TOP_ORGANISATIONS),
    "country-matrix": lambda e, f: matrix(e, f, "country"),
    "organisation-matrix": lambda e, f: matrix(e, f, "organisation", TOP_ORGANISATIONS),
    "arrivals": arrivals,
}


# --- answers kept while nothing changes, brought up to date after scans ----------------------


#: How far below the newest row (ids, or seconds of ``updated_at``) :func:`data_version` also
#: counts rows, to see a write that committed after a later one.
RECENT_ROWS, RECENT_SECONDS = 1000, 60
#: Kept check-in figures are brought up to date when at most this many people were scanned since
#: they were counted; after more, they are counted again.
DELTA_PEOPLE = 500


@dataclass(frozen=True)
class Version:
    """What the figures were counted from (:func:`data_version`). ``people`` changes with what
    the check-in figures depend on besides the log: changes to people who are there (made by
    organisers, so audited; people cannot change their own details), organisation merges and
    the sessions; ``seats`` with new people and registrations, which only the figures over
    registrations count (a new person has no check-in yet); ``log`` is how far the check-in log
    went: its newest entry's id, and how many entries lie in the :data:`RECENT_ROWS` ids up to
    it."""

    people: tuple
    seats: tuple
    log: tuple[int, int]


def _recent(column, newest) -> Select:
    """Rows in the :data:`RECENT_ROWS` ids up to ``newest``: one committed late, below the
    newest, changes the count."""
    return select(func.count()).where(column > (newest or 0) - RECENT_ROWS, column <= (newest or 0))


def data_version(event: Event) -> Version:
    """Changes whenever something a report counts changes: the newest check-in log entry (every
    scan and every undo adds one), the newest registration and the latest change to one
    (``updated_at``), the newest participant, the newest audit-log entry (organisers' changes to
    people are audited), the newest organisation merge and merge undo, and the sessions.

    Writers that commit out of order (several at once, on PostgreSQL) can add a row below the
    newest one without changing it; so the rows just below the newest are counted too (the last
    :data:`RECENT_ROWS` ids, the last :data:`RECENT_SECONDS` of changes). Each figure is read
    from the end of an index: the two queries cost about a millisecond at any size."""
    newest = db.session.execute(
        select(
            *(
                select(func.max(column)).scalar_subquery()
                for column in (
                    CheckIn.id,
                    Participant.id,
                    AuditEntry.id,
                    OrganisationMerge.id,
                    OrganisationMerge.undone_at,
                    Registration.id,
                    Registration.updated_at,
                )
            )
        )
    ).one()
    checkin, participant, audit, merge, undone, registration, changed = newest
    recent = [_recent(CheckIn.id, checkin), _recent(Participant.id, participant)]
    recent.append(_recent(AuditEntry.id, audit))
    if changed is not None:
        since = changed - timedelta(seconds=RECENT_SECONDS)
        recent.append(select(func.count()).where(Registration.updated_at >= since))
    log, participants, audits, *seats = db.session.execute(
        select(*(q.scalar_subquery() for q in recent))
    ).one()
    sessions = tuple((s.id, s.title, s.capacity, s.starts_at, s.ends_at) for s in event.sessions)
    return Version(
        people=(audit, audits, merge, undone, sessions),
        seats=(participant, participants, registration, changed, *seats),
        log=(checkin or 0, log),
    )


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
    """The app's whole answers per (event, filter, panel), and the parts they were counted from
    (figures over registrations, and over the check-in log) per (event, filter, panel, part)."""
    keeper = current_app.extensions.get("regapp.reports")
    return keeper or current_app.extensions.setdefault("regapp.reports", _Keeper(2048))


@dataclass
class _Counting:
    """A panel being counted by :func:`panel`: its key, the version read before counting, when
    the answer expires (the earliest of its parts'), and who changed since a kept state (asked
    once per panel, whatever number of its parts need it)."""

    key: tuple
    version: Version
    expires: float
    parts: int = 0
    changed: dict = field(default_factory=dict)

    def part(self, kind: str) -> tuple:
        self.parts += 1
        return (*self.key, kind, self.parts)


_counting: ContextVar[_Counting | None] = ContextVar("report_counting", default=None)


def _seat_rows(s: Scope, count, keys: int = 0) -> dict[tuple, tuple[int, ...]]:
    """``count(s)``, a query over registrations and people (not the check-in log) of ``keys``
    key columns and then counts, as {keys: counts}: kept while a panel is counted
    (:func:`_kept_figures`); after new people register, brought up to date with their share."""
    return _kept_figures("seats", s, count, keys)


def _attended(s: Scope, aggregate, keys: int = 0) -> dict[tuple, tuple[int, ...]]:
    """``aggregate`` over the effective check-ins in scope: ``aggregate(rows, s)`` makes, from
    :func:`_log`'s rows, a query of ``keys`` key columns and then counts, grouped by the keys.
    Its rows, as {keys: counts}, are kept while a panel is counted (:func:`_kept_figures`);
    after scans, brought up to date with the share of the people scanned."""
    return _kept_figures("log", s, lambda s: aggregate(_log(s), s), keys)


def _count_rows(query: Select, keys: int) -> dict[tuple, tuple[int, ...]]:
    # On the connection: the session would run its ORM result machinery over every row (for the
    # organisation matrix at 100,000 people, 65,000 rows and a quarter of its Python calls).
    rows = db.session.connection().execute(query).all()
    return {tuple(row[:keys]): tuple(int(n) for n in row[keys:]) for row in rows}


#: Before any registration had changed (:func:`_as_of`).
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def _as_of(kind: str, s: Scope, state: tuple, past: bool = False) -> Scope:
    """``s`` narrowed to the data as it stood at ``state`` (the log's, or the seats', of a
    :class:`Version`): the log entries up to its newest id, or the people up to theirs; when
    it is ``past`` (not the state the data are in now), their registrations as they stood."""
    if kind == "log":
        return replace(s, upto=state[0])
    seats_at = (state[3] or _NEVER) if past else None
    return replace(s, people_upto=state[0] or 0, seats_at=seats_at)


def _kept_figures(kind: str, s: Scope, count, keys: int) -> dict[tuple, tuple[int, ...]]:
    """``count(s)`` as {keys: counts}; ``kind`` says what it counts: ``log``, the check-in log,
    or ``seats``, the registrations.

    While a panel is counted (:func:`panel`), the figures are kept with the state of the data
    they were counted at (counted only up to that state's newest row), until the people
    change. Every figure is a sum over people (each person counts, or their entries or seats
    count, in their own groups), so when only some people's data changed since, only their
    share can have changed: it is counted as the data stand now and as they stood then, and
    the difference added, instead of counting everyone again (:func:`_changed_people` says who,
    or that it must be counted afresh)."""
    counting = _counting.get()
    if counting is None:
        return _count_rows(count(s), keys)
    key = counting.part(kind)
    state = counting.version.log if kind == "log" else counting.version.seats
    kept = _kept().get(key, counting.version.people)
    figures = None
    if kept is not None:
        then, figures = kept.value
        if then != state:
            if (kind, then) not in counting.changed:
                counting.changed[kind, then] = _changed_people(kind, then, state, s)
            people = counting.changed[kind, then]
            figures = _brought_up_to_date(kind, then, state, figures, people, s, count, keys)
    expires = kept.expires if figures is not None else counting.expires
    if figures is None:
        figures = _count_rows(count(_as_of(kind, s, state)), keys)
    _kept().put(key, counting.version.people, (state, figures), expires)
    counting.expires = min(counting.expires, expires)
    return figures


def _brought_up_to_date(kind: str, then, now, figures, people, s: Scope, count, keys: int):
    """``figures``, counted at the state ``then``, brought to the state ``now`` by adding the
    change in the share of ``people`` (:func:`_changed_people`); ``None`` when they must be
    counted afresh."""
    if people is None:
        return None
    if not people:
        return figures
    s = replace(s, people=None, only=people)
    figures = dict(figures)  # the kept ones may be in use by another thread
    for weight, state, past in ((1, now, False), (-1, then, True)):
        for key, counts in _count_rows(count(_as_of(kind, s, state, past)), keys).items():
            before = figures.get(key, (0,) * len(counts))
            figures[key] = tuple(a + weight * b for a, b in zip(before, counts, strict=True))
    return figures


def _changed_people(kind: str, then: tuple, now: tuple, s: Scope) -> tuple[int, ...] | None:
    """The people of the filter whose share of the figures may differ between the states
    ``then`` and ``now``, or ``None`` when the figures must be counted afresh: when that cannot
    be told, or more than :data:`DELTA_PEOPLE` changed.

    ``log``: the people with entries since; unless a row committed late below the newest
    ``then`` saw (the count of the :data:`RECENT_ROWS` ids up to it changed). ``seats``: the
    people who registered since, and those whose registrations changed since (``updated_at``);
    unless a row committed late below the newest then, or a registration changed twice since
    (what it was then is no longer known: :func:`_status_at`)."""
    newest, recent, *rest = then
    if kind == "log":
        if now[0] < newest or db.session.scalar(_recent(CheckIn.id, newest)) != recent:
            return None
        since = select(CheckIn.participant_id).where(
            CheckIn.id > newest, CheckIn.id <= now[0], CheckIn.participant_id.is_not(None)
        )
    else:
        newest, changed = newest or 0, rest[1]
        if (now[0] or 0) < newest or db.session.scalar(_recent(Participant.id, newest)) != recent:
            return None
        if not _seats_then_known(newest, changed, rest[2:]):
            return None
        changed_since = Registration.participant_id <= newest
        if changed is not None:
            changed_since = and_(changed_since, Registration.updated_at > changed)
        newcomer = and_(
            Registration.participant_id > newest, Registration.participant_id <= (now[0] or 0)
        )
        # One index each (newcomers by participant id, changes by ``updated_at``): SQLite read
        # every registration for the two conditions joined by OR.
        in_scope = (Registration.session_id + 0).in_(s.session_ids)
        either = union(
            *(
                select(Registration.participant_id).where(c, in_scope)
                for c in (newcomer, changed_since)
            )
        ).subquery()
        since = select(either.c.participant_id)
    people = db.session.scalars(since.distinct().limit(DELTA_PEOPLE + 1)).all()
    if len(people) > DELTA_PEOPLE:
        return None
    if people and s.people is not None:  # the filter's people among them
        people = db.session.scalars(s.people.where(Participant.id.in_(people))).all()
    return tuple(sorted(people))


def _seats_then_known(newest: int, changed: datetime | None, window: list[int]) -> bool:
    """Whether the registrations of the people up to ``newest`` can still be told as they
    stood when the latest change to one was ``changed`` (:func:`_status_at`): no row committed
    late below it (the rows changed in the last seconds up to it are as many as then, but for
    those changed since, which left them), and none changed twice since."""
    then = changed or _NEVER
    if changed is not None:
        earlier = changed - timedelta(seconds=RECENT_SECONDS)
        late = select(func.count()).where(Registration.updated_at.between(earlier, changed))
        left = select(func.count()).where(
            Registration.updated_at > changed,
            Registration.previous_changed_at.between(earlier, changed),
        )
        if [db.session.scalar(select(late.scalar_subquery() + left.scalar_subquery()))] != window:
            return False
    twice = select(func.count()).where(
        Registration.participant_id <= newest,
        Registration.updated_at > then,
        Registration.created_at <= then,
        or_(Registration.previous_changed_at.is_(None), Registration.previous_changed_at > then),
    )
    return not db.session.scalar(twice)


def panel(event: Event, f: ReportFilter, name: str):
    """The panel ``name`` for ``f``: the answer kept from before while nothing it counts has
    changed (:func:`data_version`); after scans, the kept figures over the registrations and
    the check-in log brought up to date rather than counted again (:func:`_attended`). Kept
    figures are counted afresh at least every ``REPORT_CACHE_SECONDS`` (a backstop for a change
    no probe sees, such as one made straight in the database)."""
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
    counting = _Counting(key, version, time.monotonic() + seconds)
    token = _counting.set(counting)
    try:
        value = PANELS[name](event, f)
    finally:
        _counting.reset(token)
    _kept().put(key, version, value, counting.expires)
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
