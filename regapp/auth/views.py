"""Staff sign-in and sign-out, and the staff home page."""

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from .. import ratelimit
from ..extensions import db, login_manager
from ..models import Event, Role
from . import services
from .access import role_required
from .forms import LoginForm

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."

#: Requests that pages make by themselves (live counters and charts): they are not activity,
#: so a screen left open does not keep a staff session alive for ever.
AUTOMATIC_REFRESHES = frozenset({"api.counts", "reports.dashboard_data", "static"})


def _mark_active() -> None:
    session["seen_at"] = int(time.time())


@bp.before_app_request
def sign_out_idle_staff():
    """A staff member idle longer than ``STAFF_IDLE_MINUTES`` is signed out (the request goes on
    as anyone's, so a staff page then asks to sign in)."""
    if "_user_id" not in session:
        return
    minutes = current_app.config["STAFF_IDLE_MINUTES"]
    seen_at = session.get("seen_at")
    if not isinstance(seen_at, int) or time.time() - seen_at > minutes * 60:
        logout_user()
        session.pop("seen_at", None)
        flash(f"You were signed out after {minutes} minutes without activity.", "warning")
    elif request.endpoint not in AUTOMATIC_REFRESHES:
        _mark_active()


def _safe_next(target: str | None) -> str | None:
    """Only paths on this site: never send someone elsewhere after signing in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/staff/login", methods=["GET", "POST"])
@ratelimit.limit("LOGIN_LIMIT")
def login():
    form = LoginForm()
    if form.validate_on_submit():
        staff = services.authenticate(form.email.data, form.password.data)
        if staff is None:
            form.password.errors.append(services.login_refused_message())
        else:
            login_user(staff, remember=False)  # no long-lived cookie: sessions end when idle
            _mark_active()
            return redirect(_safe_next(request.args.get("next")) or url_for(".home"), 303)
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.post("/staff/logout")
@login_required
def logout():
    logout_user()
    flash("You have signed out.")
    return redirect(url_for(".login"), 303)


@bp.get("/staff/")
@role_required(Role.SCANNER)
def home():
    events = db.session.scalars(select(Event).order_by(Event.registration_closes_at, Event.id))
    return render_template(
        "auth/home.html", events=[e for e in events if current_user.can_access(e.id)]
    )
