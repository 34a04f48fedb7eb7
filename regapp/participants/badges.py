"""Printable badges for the participants an organiser picks (the sheet is drawn by
:func:`regapp.tickets.pdf.badge_sheet_pdf`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..extensions import db
from ..models import Event
from ..tickets.pdf import badge_sheet_pdf
from .services import ParticipantFilter, badge_candidates, record_badges

#: Badges in one file (500 sheets): enough for a large event's invitees, small enough to
#: make in well under a minute; a larger print is split by a filter (country, category ...).
MAX_BADGES = 2_000


@dataclass(frozen=True)
class BadgeRun:
    pdf: bytes | None
    count: int
    #: Why nothing was made, for the organiser.
    problem: str = ""


def print_badges(
    event: Event, *, ids: Iterable[int] = (), f: ParticipantFilter | None = None
) -> BadgeRun:
    """The badge sheet for the chosen participants of ``event`` (``ids``, or everyone passing
    ``f``), by name. Erased and cancelled participants get no badge."""
    query = badge_candidates(event, ids=ids, f=f).limit(MAX_BADGES + 1)
    people = [p for p in db.session.scalars(query) if p.active_code is not None]
    if not people:
        return BadgeRun(
            None,
            0,
            "None of these participants can have a badge: cancelled and erased participants "
            "get none. Tick participants in the list, or change the filter.",
        )
    if len(people) > MAX_BADGES:
        return BadgeRun(
            None,
            len(people),
            f"That is more than {MAX_BADGES:,} badges. Narrow the list first (by country, "
            "category or session, for example) and print it in parts.",
        )
    pdf = badge_sheet_pdf(event, [(p, p.active_code.code) for p in people])
    record_badges(event, len(people))
    return BadgeRun(pdf, len(people))
