"""Staff sign-in and sign-out, and the staff home page."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..extensions import db, login_manager
from ..models import Event, Role
from . import services
from .access import role_required
from .forms import LoginForm

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."


def _safe_next(target: str | None) -> str | None:
    """Only paths on this site: never send someone elsewhere after signing in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/staff/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        staff = services.authenticate(form.email.data, form.password.data)
        if staff is None:
            form.password.errors.append("Wrong email or password.")
        else:
            login_user(staff)
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
        "auth/home.html", events=[e for e in events if current_user.can_access(e)]
    )
