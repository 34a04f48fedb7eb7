"""Organiser administration: events, sessions, staff, devices, the audit log.

Event pages (``/e/<slug>/admin/...``) are for organisers of that event and admins; installation
pages (``/staff/users``, ``/staff/audit``) for admins; ``/staff/events`` for organisers, who
see the events they work on. Every change is a POST, whose CSRF token Flask-WTF's CSRFProtect
checks for the whole app (buttons send just the token). A secret (a generated password, a device
token) is shown once, in the answer to the POST, and never stored in plain.
"""

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user

from ..auth.access import role_required
from ..events.views import get_event_or_404
from ..extensions import db
from ..models import Event, EventSession, Role, StaffUser
from ..registration.services import programme
from ..web import attach_error, flash_outcome
from . import services
from .forms import DeviceForm, EventForm, NewStaffForm, SessionForm, StaffForm
from .services import AdminError

bp = Blueprint("admin", __name__)


def _page(template: str, form=None, **context):
    """The page, with 422 when the form it shows has errors."""
    status = 422 if form is not None and form.errors else 200
    return render_template(template, form=form, **context), status


def _shown_once(template: str, **context):
    """A page holding a secret: never cached, never stored by the browser for later."""
    response = make_response(render_template(template, **context))
    response.headers["Cache-Control"] = "no-store"
    return response


def _me() -> StaffUser:
    return current_user._get_current_object()


# ----------------------------------------------------------------------------------- events


@bp.get("/staff/events")
@role_required(Role.ORGANISER)
def events():
    return render_template("admin/events.html", events=services.events_for(_me()))


@bp.route("/staff/events/new", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def new_event():
    form = EventForm()
    if form.validate_on_submit():
        try:
            event = services.create_event(form.values(), _me())
        except AdminError as error:
            attach_error(form, error)
        else:
            flash(f"“{event.name}” is created. Add its sessions next.", "success")
            return redirect(url_for(".sessions", slug=event.slug), 303)
    return _page("admin/event_form.html", form, event=None)


@bp.route("/e/<slug>/admin/", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def event_settings(slug: str):
    event = get_event_or_404(slug)
    form = EventForm.from_event(event)
    if form.validate_on_submit():
        try:
            changed = services.update_event(event, form.values())
        except AdminError as error:
            attach_error(form, error)
        else:
            flash("Settings saved." if changed else "Nothing to change.", "success")
            return redirect(url_for(".event_settings", slug=event.slug), 303)
    return _page("admin/event_form.html", form, event=event)


@bp.post("/e/<slug>/admin/archive")
@role_required(Role.ORGANISER)
def archive(slug: str):
    return _set_archived(get_event_or_404(slug), True)


@bp.post("/e/<slug>/admin/unarchive")
@role_required(Role.ORGANISER)
def unarchive(slug: str):
    return _set_archived(get_event_or_404(slug), False)


def _set_archived(event: Event, archived: bool):
    services.set_archived(event, archived)
    flash(
        f"“{event.name}” is archived: it is off the public list and takes no registrations."
        if archived
        else f"“{event.name}” is back on the public list.",
        "success",
    )
    return redirect(url_for(".event_settings", slug=event.slug), 303)


# --------------------------------------------------------------------------------- sessions


def _event_session_or_404(slug: str, session_id: int) -> tuple[Event, EventSession]:
    """The event of the URL and its session (a session of another event is not found)."""
    event = get_event_or_404(slug)
    session = services.event_session_or_none(event, session_id)
    if session is None:
        abort(404)
    return event, session


@bp.route("/e/<slug>/admin/sessions", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def sessions(slug: str):
    """The programme with seats, move buttons, and the form to add a session."""
    event = get_event_or_404(slug)
    form = SessionForm()
    if form.validate_on_submit():
        try:
            session = services.add_session(event, form.values(event))
        except AdminError as error:
            attach_error(form, error)
        else:
            flash(f"“{session.title}” is added.", "success")
            return redirect(url_for(".sessions", slug=slug, _anchor=f"session-{session.id}"), 303)
    return _page("admin/sessions.html", form, event=event, days=programme(event))


@bp.post("/e/<slug>/admin/sessions/<int:session_id>/move")
@role_required(Role.ORGANISER)
def move_session(slug: str, session_id: int):
    _, session = _event_session_or_404(slug, session_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400)
    flash_outcome(
        lambda: services.move_session(session, direction),
        f"“{session.title}” moved {direction}.",
        AdminError,
    )
    return redirect(url_for(".sessions", slug=slug, _anchor=f"session-{session_id}"), 303)


@bp.route("/e/<slug>/admin/sessions/<int:session_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def edit_session(slug: str, session_id: int):
    event, session = _event_session_or_404(slug, session_id)
    form = SessionForm.from_session(session)
    if form.validate_on_submit():
        try:
            promoted = services.update_session(session, form.values(event))
        except AdminError as error:
            attach_error(form, error)
        else:
            message = f"“{session.title}” is saved."
            if promoted:
                n = len(promoted)
                message += (
                    f" {n} {'person' if n == 1 else 'people'} moved from the waitlist to a "
                    f"seat and {'is' if n == 1 else 'are'} being emailed."
                )
            flash(message, "success")
            return redirect(url_for(".sessions", slug=slug, _anchor=f"session-{session_id}"), 303)
    seats = next(i for _day, items in programme(event) for i in items if i.session is session)
    return _page(
        "admin/session_edit.html",
        form,
        event=event,
        session=session,
        seats=seats,
    )


@bp.post("/e/<slug>/admin/sessions/<int:session_id>/registration")
@role_required(Role.ORGANISER)
def session_registration(slug: str, session_id: int):
    _, session = _event_session_or_404(slug, session_id)
    open_ = request.form.get("open") == "1"
    services.set_session_registration(session, open_)
    flash(f"Registration for “{session.title}” is {'open' if open_ else 'closed'}.", "success")
    return redirect(url_for(".edit_session", slug=slug, session_id=session_id), 303)


@bp.post("/e/<slug>/admin/sessions/<int:session_id>/remove")
@role_required(Role.ORGANISER)
def remove_session(slug: str, session_id: int):
    _, session = _event_session_or_404(slug, session_id)
    removed = flash_outcome(
        lambda: services.remove_session(session), f"“{session.title}” is removed.", AdminError
    )
    if not removed:
        return redirect(url_for(".edit_session", slug=slug, session_id=session_id), 303)
    return redirect(url_for(".sessions", slug=slug), 303)


# ---------------------------------------------------------------------------------- devices


@bp.route("/e/<slug>/admin/devices", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def devices(slug: str):
    event = get_event_or_404(slug)
    form = DeviceForm()
    if form.validate_on_submit():
        device, token = services.create_device(event, form.name.data, _me())
        return _shown_once("admin/device_token.html", event=event, device=device, token=token)
    return _page(
        "admin/devices.html",
        form,
        event=event,
        devices=services.devices(event),
    )


@bp.post("/e/<slug>/admin/devices/<int:device_id>/revoke")
@role_required(Role.ORGANISER)
def revoke_device(slug: str, device_id: int):
    device = services.revoke_device(get_event_or_404(slug), device_id)
    if device is None:
        abort(404)
    flash(f"The token of “{device.name}” is revoked: it no longer works.", "success")
    return redirect(url_for(".devices", slug=slug), 303)


# ------------------------------------------------------------------------------------ staff


def _staff_or_404(staff_id: int) -> StaffUser:
    return db.get_or_404(StaffUser, staff_id)


def _all_events() -> list[Event]:
    return services.events_for(_me())


@bp.get("/staff/users")
@role_required(Role.ADMIN)
def staff_list():
    return render_template("admin/staff_list.html", accounts=services.staff_accounts())


@bp.route("/staff/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_staff():
    form = NewStaffForm()
    form.set_events(_all_events())
    if form.validate_on_submit():
        try:
            staff, password = services.add_staff(form.values(), form.password.data or None)
        except AdminError as error:
            attach_error(form, error)
        else:
            return _shown_once(
                "admin/staff_password.html", staff=staff, password=password, new=True
            )
    return _page("admin/staff_new.html", form)


@bp.route("/staff/users/<int:staff_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_staff(staff_id: int):
    staff = _staff_or_404(staff_id)
    form = StaffForm.from_staff(staff, _all_events())
    if form.validate_on_submit():
        try:
            services.update_staff(staff, form.values())
        except AdminError as error:
            attach_error(form, error)
        else:
            flash(f"{staff.name}'s account is saved.", "success")
            return redirect(url_for(".edit_staff", staff_id=staff_id), 303)
    return _page("admin/staff_edit.html", form, staff=staff)


@bp.post("/staff/users/<int:staff_id>/password")
@role_required(Role.ADMIN)
def reset_password(staff_id: int):
    staff = _staff_or_404(staff_id)
    password = services.reset_password(staff)
    if staff.id == _me().id:
        login_user(staff)  # the new password ends the account's other sessions, not this one
    return _shown_once("admin/staff_password.html", staff=staff, password=password, new=False)


@bp.post("/staff/users/<int:staff_id>/disable")
@role_required(Role.ADMIN)
def disable_staff(staff_id: int):
    return _set_active(_staff_or_404(staff_id), False)


@bp.post("/staff/users/<int:staff_id>/enable")
@role_required(Role.ADMIN)
def enable_staff(staff_id: int):
    return _set_active(_staff_or_404(staff_id), True)


def _set_active(staff: StaffUser, active: bool):
    flash_outcome(
        lambda: services.set_active(staff, active),
        f"{staff.name} can sign in again."
        if active
        else f"{staff.name}'s account is disabled: they are signed out and cannot sign in.",
        AdminError,
    )
    return redirect(url_for(".edit_staff", staff_id=staff.id), 303)


# -------------------------------------------------------------------------------- audit log


def _audit_page(event: Event | None):
    action = request.args.get("action", "")
    actions = services.audit_actions(event)
    if action not in actions:
        action = ""
    return render_template(
        "admin/audit.html",
        event=event,
        action=action,
        actions=actions,
        entries=services.audit_log(event, action, request.args.get("page", 1, type=int)),
    )


@bp.get("/e/<slug>/admin/audit")
@role_required(Role.ORGANISER)
def event_audit(slug: str):
    return _audit_page(get_event_or_404(slug))


@bp.get("/staff/audit")
@role_required(Role.ADMIN)
def audit_log():
    return _audit_page(None)
