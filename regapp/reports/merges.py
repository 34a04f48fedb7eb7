"""Merging spellings of one organisation ("UNDP", "U.N.D.P.", "United Nations Development
Programme"), with suggestions ranked by similarity (rapidfuzz), and undoing a merge."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils
from sqlalchemy import func, select

from ..database import begin_write
from ..errors import Refusal
from ..extensions import db
from ..models import Event, OrganisationAlias, OrganisationMerge, Participant, organisation_key


class MergeError(Refusal):
    """A merge, or its undo, refused."""


@dataclass(frozen=True)
class Spelling:
    name: str  #: as typed (outer spaces aside)
    key: str
    participants: int
    reported_as: str  #: the merged name, or the spelling itself


def spellings(event: Event) -> list[Spelling]:
    """Every spelling in the event, with how many participants typed it and what reports call it."""
    typed = func.trim(Participant.organisation)
    rows = db.session.execute(
        select(typed, func.count())
        .where(Participant.event_id == event.id, typed != "")
        .group_by(typed)
    ).all()
    aliases = dict(
        db.session.execute(
            select(OrganisationAlias.variant_key, OrganisationAlias.canonical).where(
                OrganisationAlias.event_id == event.id
            )
        ).all()
    )
    return sorted(
        (
            Spelling(name, organisation_key(name), n, aliases.get(organisation_key(name), name))
            for name, n in rows
        ),
        key=lambda s: (s.reported_as.lower(), -s.participants),
    )


def _comparable(name: str) -> str:
    """For similarity: lower case, no punctuation, and dotted initials joined (U.N.D.P. → undp)."""
    return utils.default_process(re.sub(r"(?<=\b\w)\.", "", name))


def _initials(name: str) -> str:
    words = [
        w
        for w in re.findall(r"[^\W\d_]+", name)
        if w.lower() not in {"of", "and", "the", "for", "de", "la"}
    ]
    return "".join(w[0] for w in words).lower() if len(words) > 1 else ""


def suggestions(event: Event, threshold: float = 85, limit: int = 50) -> list[dict]:
    """Groups of spellings that look like one organisation, most likely first: near-identical
    names (token set ratio), and acronyms of longer names ("UNDP" for "United Nations
    Development Programme"). Spellings already reported under one name are not suggested again."""
    items = spellings(event)
    if len(items) < 2:
        return []
    names = [_comparable(s.name) for s in items]
    acronyms = {i: _initials(s.name) for i, s in enumerate(items)}
    groups: list[dict] = []
    seen: set[frozenset[int]] = set()
    for i in range(len(items)):
        scores = {
            j: score
            for _, score, j in process.extract(
                names[i], names, scorer=fuzz.token_set_ratio, score_cutoff=threshold, limit=None
            )
            if j != i
        }
        scores |= {
            j: 100.0
            for j, acronym in acronyms.items()
            if j != i and acronym and acronym == names[i].replace(" ", "")
        }
        similar = set(scores)
        members = frozenset({i, *similar})
        if len(members) < 2 or members in seen:
            continue
        if len({items[m].reported_as for m in members}) < 2:
            continue  # already merged
        seen.add(members)
        best = max(members, key=lambda m: (items[m].participants, len(items[m].name)))
        score = max(scores.values())
        groups.append(
            {
                "canonical": items[best].reported_as,
                "spellings": sorted((items[m] for m in members), key=lambda s: -s.participants),
                "score": round(float(score)),
            }
        )
    return sorted(groups, key=lambda g: -g["score"])[:limit]


def merge(event: Event, canonical: str, variants: list[str], staff=None) -> OrganisationMerge:
    """Report every spelling in ``variants`` (and ``canonical`` itself) as ``canonical``."""
    canonical = canonical.strip()
    if not canonical or len(canonical) > 200:
        raise MergeError("Give the name to report them under (at most 200 characters).")
    spelled = {v.strip() for v in variants if v.strip()} | {canonical}
    if len(spelled) < 2:
        raise MergeError("Choose at least two different spellings to merge.")
    keys = {organisation_key(v) for v in spelled}
    begin_write()
    done = OrganisationMerge(
        event_id=event.id, canonical=canonical, created_by_id=staff.id if staff else None
    )
    # A spelling belongs to one merge at a time: re-merging moves it to the new name.
    for old in db.session.scalars(
        select(OrganisationAlias).where(
            OrganisationAlias.event_id == event.id, OrganisationAlias.variant_key.in_(keys)
        )
    ):
        db.session.delete(old)
    db.session.flush()
    for key in sorted(keys):
        done.aliases.append(
            OrganisationAlias(event_id=event.id, variant_key=key, canonical=canonical)
        )
    db.session.add(done)
    db.session.commit()
    return done


def undo(event: Event, merge_id: int) -> OrganisationMerge:
    begin_write()
    done = db.session.get(OrganisationMerge, merge_id)
    if done is None or done.event_id != event.id:
        raise MergeError("No such merge.")
    if done.undone_at:
        raise MergeError("This merge was already undone.")
    done.undo()
    db.session.commit()
    return done


def history(event: Event) -> list[OrganisationMerge]:
    return list(
        db.session.scalars(
            select(OrganisationMerge)
            .where(OrganisationMerge.event_id == event.id)
            .order_by(OrganisationMerge.id.desc())
            .limit(50)
        )
    )
