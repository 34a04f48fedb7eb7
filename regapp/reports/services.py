"""Attendance reports: who registered and who actually came, by session, country and
organisation. Every figure is a GROUP BY in the database over the filtered people and sessions;
nothing loops over participants in Python.

"Registered" means holding a confirmed seat (the waitlist is shown apart, per session), and
"checked in" is the check-in log's verdict: an ``ok`` entry that no ``annulled`` entry undoes
(:func:`regapp.checkin.services.effective_checkins`), counted as unique people. Only confirmed
people are admitted, in the hall or online, so every rate is at most 100 %.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import aliased

from .. import countries
from ..checkin.services import effective_checkins
from ..extensions import db
from ..models import (
    CATEGORIES,
    Channel,
    CheckIn,
    Event,
    EventSession,
    OrganisationAlias,
    Participant,
    Registration,
    RegistrationStatus,
    organisation_key,
)

NO_ORGANISATION = "(no organisation)"


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


def organisation_name(event_id):
    """The organisation as reports show it: the merged name where a merge applies."""
    alias = aliased(OrganisationAlias)
    name = func.coalesce(
        alias.canonical,
        case(
            (func.trim(Participant.organisation) == "", NO_ORGANISATION),
            else_=func.trim(Participant.organisation),
        ),
    )
    join = and_(
        alias.event_id == event_id,
        alias.variant_key == organisation_key(Participant.organisation),
    )
    return name, alias, join


def _people(event: Event, f: ReportFilter):
    """The event's participants passing the filter, with their reported organisation."""
    org, alias, join = organisation_name(event.id)
    query = (
        select(
            Participant.id.label("id"),
            Participant.country.label("country"),
            Participant.category.label("category"),
            org.label("organisation"),
        )
        .outerjoin(alias, join)
        .where(Participant.event_id == event.id)
    )
    if f.category:
        query = query.where(Participant.category == f.category)
    if f.country:
        query = query.where(Participant.country == f.country)
    if f.organisation:
        query = query.where(org == f.organisation)
    return query.subquery("people")


def _registrations(event: Event, f: ReportFilter, session_ids: list[int], waitlist=False):
    """Confirmed registrations of the filtered people (and waitlisted ones with ``waitlist``)."""
    people = _people(event, f)
    statuses = [RegistrationStatus.CONFIRMED]
    if waitlist:
        statuses.append(RegistrationStatus.WAITLISTED)
    return (
        select(
            Registration.session_id.label("session_id"),
            Registration.status.label("status"),
            people,
        )
        .join(people, people.c.id == Registration.participant_id)
        .where(Registration.session_id.in_(session_ids), Registration.status.in_(statuses))
        .subquery("regs")
    )


def _attendance(event: Event, f: ReportFilter, session_ids: list[int]):
    people = _people(event, f)
    present = effective_checkins().where(CheckIn.session_id.in_(session_ids)).subquery("present")
    return (
        select(
            present.c.session_id,
            present.c.channel,
            present.c.created_at,
            people,
        )
        .join(people, people.c.id == present.c.participant_id)
        .subquery("att")
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def totals(event: Event, f: ReportFilter) -> dict:
    ids = [s.id for s in sessions_in_scope(event, f)]
    regs, att = _registrations(event, f, ids), _attendance(event, f, ids)
    registered, countries_, organisations = db.session.execute(
        select(
            func.count(func.distinct(regs.c.id)),
            func.count(func.distinct(regs.c.country)),
            func.count(func.distinct(regs.c.organisation)),
        )
    ).one()
    checked_in, in_person, online = db.session.execute(
        select(
            func.count(func.distinct(att.c.id)),
            func.count(func.distinct(case((att.c.channel == Channel.IN_PERSON, att.c.id)))),
            func.count(func.distinct(case((att.c.channel == Channel.ONLINE, att.c.id)))),
        )
    ).one()
    return {
        "registered": registered,
        "checked_in": checked_in,
        "in_person": in_person,
        "online": online,
        "attendance_rate": _rate(checked_in, registered),
        "countries": countries_,
        "organisations": organisations,
    }


def sessions_table(event: Event, f: ReportFilter) -> list[dict]:
    scope = sessions_in_scope(event, f)
    ids = [s.id for s in scope]
    regs, att = _registrations(event, f, ids, waitlist=True), _attendance(event, f, ids)
    counts = {
        sid: (confirmed, waitlisted)
        for sid, confirmed, waitlisted in db.session.execute(
            select(
                regs.c.session_id,
                func.count(case((regs.c.status == RegistrationStatus.CONFIRMED, 1))),
                func.count(case((regs.c.status == RegistrationStatus.WAITLISTED, 1))),
            ).group_by(regs.c.session_id)
        )
    }
    present = {
        sid: (everyone, in_person, online)
        for sid, everyone, in_person, online in db.session.execute(
            select(
                att.c.session_id,
                func.count(func.distinct(att.c.id)),
                func.count(func.distinct(case((att.c.channel == Channel.IN_PERSON, att.c.id)))),
                func.count(func.distinct(case((att.c.channel == Channel.ONLINE, att.c.id)))),
            ).group_by(att.c.session_id)
        )
    }
    rows = []
    for s in scope:
        confirmed, waitlisted = counts.get(s.id, (0, 0))
        everyone, in_person, online = present.get(s.id, (0, 0, 0))
        rows.append(
            {
                "session_id": s.id,
                "title": s.title,
                "day": s.local_day().isoformat(),
                "starts": f"{event.local(s.starts_at):%H:%M}",
                "capacity": s.capacity,
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


def breakdown(event: Event, f: ReportFilter, by: str) -> list[dict]:
    """Registered and checked-in people per country or organisation (``by``), most first."""
    ids = [s.id for s in sessions_in_scope(event, f)]
    regs, att = _registrations(event, f, ids), _attendance(event, f, ids)
    registered = dict(
        db.session.execute(
            select(regs.c[by], func.count(func.distinct(regs.c.id))).group_by(regs.c[by])
        ).all()
    )
    present = dict(
        db.session.execute(
            select(att.c[by], func.count(func.distinct(att.c.id))).group_by(att.c[by])
        ).all()
    )
    rows = [
        {
            "key": key,
            "name": countries.name(key) if by == "country" else key,
            "registered": n,
            "checked_in": present.get(key, 0),
            "attendance_rate": _rate(present.get(key, 0), n),
        }
        for key, n in registered.items()
    ]
    return sorted(rows, key=lambda r: (-r["registered"], r["name"]))


def matrix(event: Event, f: ReportFilter, by: str) -> dict:
    """Registered and checked-in people per (country or organisation) x session."""
    scope = sessions_in_scope(event, f)
    ids = [s.id for s in scope]
    regs, att = _registrations(event, f, ids), _attendance(event, f, ids)
    cells: dict[str, dict[int, dict[str, int]]] = {}
    for key, sid, n in db.session.execute(
        select(regs.c[by], regs.c.session_id, func.count(func.distinct(regs.c.id))).group_by(
            regs.c[by], regs.c.session_id
        )
    ):
        cells.setdefault(key, {})[sid] = {"registered": n, "checked_in": 0}
    for key, sid, n in db.session.execute(
        select(att.c[by], att.c.session_id, func.count(func.distinct(att.c.id))).group_by(
            att.c[by], att.c.session_id
        )
    ):
        cells.setdefault(key, {}).setdefault(sid, {"registered": 0, "checked_in": 0})[
            "checked_in"
        ] = n
    people = dict(
        db.session.execute(
            select(regs.c[by], func.count(func.distinct(regs.c.id))).group_by(regs.c[by])
        ).all()
    )
    rows = [
        {
            "key": key,
            "name": countries.name(key) if by == "country" else key,
            "cells": {str(sid): cell for sid, cell in by_session.items()},
            "registered": people.get(key, 0),
        }
        for key, by_session in cells.items()
    ]
    return {
        "sessions": [{"id": s.id, "title": s.title} for s in scope],
        "rows": sorted(rows, key=lambda r: (-r["registered"], r["name"])),
    }


def _bucket(column, minutes: int):
    """The start of the ``minutes``-long slot a time falls in, as seconds since the epoch."""
    seconds = minutes * 60
    if db.engine.dialect.name == "postgresql":
        epoch = func.extract("epoch", column)
    else:
        epoch = func.strftime("%s", column)
    return func.floor(func.cast(epoch, db.Integer) / literal(seconds)) * literal(seconds)


def arrivals(event: Event, f: ReportFilter, minutes: int = 5) -> list[dict]:
    """Check-ins per ``minutes`` (first arrival of each person per session), per channel."""
    ids = [s.id for s in sessions_in_scope(event, f)]
    att = _attendance(event, f, ids)
    slot = _bucket(att.c.created_at, minutes).label("slot")
    rows = db.session.execute(
        select(
            slot,
            func.count(case((att.c.channel == Channel.IN_PERSON, 1))),
            func.count(case((att.c.channel == Channel.ONLINE, 1))),
        )
        .group_by(slot)
        .order_by(slot)
    ).all()
    return [
        {
            "time": datetime.fromtimestamp(int(t), tz=event.zone).isoformat(),
            "label": f"{datetime.fromtimestamp(int(t), tz=event.zone):%d %b %H:%M}",
            "in_person": in_person,
            "online": online,
        }
        for t, in_person, online in rows
    ]


def filter_choices(event: Event) -> dict:
    """What the filter menus offer: days, sessions, categories, countries, organisations."""
    people = _people(event, ReportFilter())
    country_codes = db.session.scalars(select(people.c.country).distinct())
    organisations = db.session.scalars(
        select(people.c.organisation).distinct().order_by(people.c.organisation).limit(5000)
    )
    return {
        "days": sorted({s.local_day() for s in event.sessions}),
        "sessions": event.sessions,
        "categories": CATEGORIES,
        "countries": sorted(((c, countries.name(c)) for c in country_codes), key=lambda c: c[1]),
        "organisations": list(organisations),
    }


PANELS = {
    "totals": totals,
    "sessions": sessions_table,
    "countries": lambda e, f: breakdown(e, f, "country"),
    "organisations": lambda e, f: breakdown(e, f, "organisation"),
    "country-matrix": lambda e, f: matrix(e, f, "country"),
    "organisation-matrix": lambda e, f: matrix(e, f, "organisation"),
    "arrivals": arrivals,
}


def dashboard(event: Event, f: ReportFilter) -> dict:
    """Every panel at once, for the live dashboard's one request, and when it was counted."""
    as_of = datetime.now(event.zone)
    return {
        **{name: panel(event, f) for name, panel in PANELS.items()},
        "as_of": as_of.isoformat(),
        "as_of_label": f"{as_of:%d %b %Y %H:%M:%S} ({event.timezone})",
    }
