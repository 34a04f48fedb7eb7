"""The scanner page for door staff, and participants' personal join links for online sessions."""

from flask import Blueprint, abort, redirect, render_template
from flask_login import current_user
from sqlalchemy import select

from ..auth.access import role_required
from ..events.views import get_event_or_404
from ..extensions import db
from ..inputs import is_token
from ..models import Channel, Participant, Role, Verdict
from ..models.types import utcnow
from . import services
from .services import Door, Scan

bp = Blueprint("checkin", __name__)


@bp.get("/e/<slug>/checkin")
@role_required(Role.SCANNER)
def scanner(slug: str):
    event = get_event_or_404(slug)
    current = services.current_session(event)
    return render_template(
        "checkin/scanner.html",
        event=event,
        sessions=event.sessions,
        current_session_id=current.id if current else None,
        staff=current_user,
        can_walk_in=current_user.has_role(Role.ORGANISER),
    )


@bp.get("/join/<token>/<int:session_id>")
def join(token: str, session_id: int):
    """Opening the link during the session records online attendance and goes to the stream.
    (The one GET that records something: attendance, never a change to a registration.)"""
    if not is_token(token):
        abort(404)
    participant = db.session.scalar(select(Participant).where(Participant.join_token == token))
    session = services.find_session(session_id)
    if participant is None or session is None or session.event_id != participant.event_id:
        abort(404)
    if not session.stream_url:
        abort(404)
    result = services.record_scan(
        Scan(Door.of(session), participant_id=participant.id, channel=Channel.ONLINE)
    )
    if result.verdict in (Verdict.OK, Verdict.ALREADY_CHECKED_IN):
        return redirect(session.stream_url, 303)
    opens, closes = session.checkin_window
    return render_template(
        "checkin/join_refused.html",
        event=session.event,
        session=session,
        result=result,
        opens=opens,
        closes=closes,
        now=utcnow(),
    ), 403
