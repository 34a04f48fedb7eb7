"""The demo forum: the programme of ``forum.json``, dated relative to the day it is loaded."""

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..extensions import db
from ..models import Event, EventSession

PROGRAMME = Path(__file__).with_name("forum.json")


def load_demo(today: datetime | None = None) -> Event:
    """Create the demo event (or replace an earlier demo event with the same slug)."""
    data = json.loads(PROGRAMME.read_text())
    spec = data["event"]
    zone = ZoneInfo(spec["timezone"])
    today = (today or datetime.now(UTC)).astimezone(zone).date()
    first_day = today + timedelta(days=spec["first_day_offset_days"])

    def at(day: int, hhmm: str) -> datetime:
        local = datetime.combine(first_day + timedelta(days=day - 1), time.fromisoformat(hhmm))
        return local.replace(tzinfo=zone).astimezone(UTC)

    if old := db.session.scalar(select(Event).where(Event.slug == spec["slug"])):
        db.session.delete(old)
        db.session.flush()
    event = Event(
        slug=spec["slug"],
        name=spec["name"],
        timezone=spec["timezone"],
        venue=spec["venue"],
        organiser=spec["organiser"],
        description=(
            "A two-day international forum on the effectiveness and accessibility of public "
            "services: an opening session, four panels and a closing session, in the hall and "
            "online."
        ),
        registration_opens_at=datetime.now(UTC) - timedelta(days=1),
    )
    for position, s in enumerate(data["sessions"]):
        event.sessions.append(
            EventSession(
                title=s["title"],
                kind=s["kind"],
                starts_at=at(s["day"], s["start"]),
                ends_at=at(s["day"], s["end"]),
                room=s["room"],
                capacity=s["capacity"],
                stream_url=f"https://stream.example.org/{spec['slug']}/{position + 1}"
                if s.get("online")
                else "",
                position=position,
            )
        )
    event.registration_closes_at = max(s.ends_at for s in event.sessions)
    db.session.add(event)
    db.session.commit()
    return event
