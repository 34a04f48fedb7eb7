"""Public event pages: the list of events, an event's programme, its privacy notice."""

from flask import Blueprint, abort, render_template
from sqlalchemy import bindparam, select

from ..extensions import db
from ..models import Event
from ..models.types import utcnow
from ..registration.services import programme

bp = Blueprint("events", __name__)


#: Built once: every public page runs it, and building a statement costs more than running it.
_EVENT_BY_SLUG = select(Event).where(Event.slug == bindparam("slug"))


def get_event_or_404(slug: str) -> Event:
    event = db.session.scalar(_EVENT_BY_SLUG, {"slug": slug})
    if event is None:
        abort(404)
    return event


@bp.get("/")
def index():
    events = db.session.scalars(
        select(Event)
        .where(Event.archived_at.is_(None))  # archived events stay visible to staff only
        .order_by(Event.registration_closes_at, Event.id)
    )
    return render_template("events/index.html", events=list(events))


@bp.get("/e/<slug>/")
def event_page(slug: str):
    event = get_event_or_404(slug)
    return render_template(
        "events/event.html",
        event=event,
        days=programme(event),
        closed_reason=event.registration_closed_reason(utcnow()),
    )


@bp.get("/e/<slug>/privacy")
def privacy(slug: str):
    return render_template("events/privacy.html", event=get_event_or_404(slug))
