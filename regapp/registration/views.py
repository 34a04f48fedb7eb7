"""The participant's journey: register, see the confirmation, manage or cancel."""

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)

from .. import ratelimit
from ..events.views import get_event_or_404
from ..models.types import utcnow
from ..web import attach_error
from . import page, services
from .forms import ConfirmForm, RegistrationForm, ResendLinkForm, SessionsForm

bp = Blueprint("registration", __name__)


#: For a private link that finds no one: mistyped, or its registration's data was erased (then
#: its secrets were replaced, so an old link can never find the record again).
LINK_NOT_FOUND = (
    "This private link does not work. Check that you copied all of it from your email. If the "
    "registration's personal data was erased, on request or after the event, its links no "
    "longer work: register again if you still want to attend."
)


def participant_or_404(token: str):
    participant = services.find_participant(token)
    if participant is None or participant.is_erased:
        page = render_template("error.html", title="Link not found", message=LINK_NOT_FOUND)
        abort(make_response(page, 404))
    return participant


@bp.route("/e/<slug>/register", methods=["GET", "POST"])
@ratelimit.limit("REGISTER_LIMIT")
def register(slug: str):
    if (kept := page.kept_page(slug)) is not None:
        return kept
    form = RegistrationForm()
    if form.validate_on_submit():
        window = page.window(slug)
        if form.filled_by_a_bot():
            # Looks like success (a redirect and a thank-you) so the bot moves on; nothing saved.
            flash("Thank you for registering.", "success")
            return redirect(url_for("events.event_page", slug=slug), 303)
        try:
            written = services.register_values(window, form.details(), form.sessions.data)
        except services.RegistrationError as error:
            attach_error(form, error)
        else:
            return redirect(url_for(".confirmation", token=written["manage_token"]), 303)
    event = get_event_or_404(slug)
    rendered = render_template(
        "registration/register.html",
        event=event,
        form=form,
        closed_reason=event.registration_closed_reason(utcnow()),
        event_part=page.event_part(event, form),
    )
    page.keep(slug, rendered)
    return rendered, (422 if form.errors else 200)


@bp.get("/manage/<token>/confirmation")
def confirmation(token: str):
    return _manage_page(participant_or_404(token), confirmation=True)


@bp.get("/manage/<token>")
def manage(token: str):
    return _manage_page(participant_or_404(token))


@bp.post("/manage/<token>/sessions")
def change_sessions(token: str):
    participant = participant_or_404(token)
    form = SessionsForm()
    if form.validate_on_submit():
        try:
            services.change_sessions(participant, form.sessions.data)
        except services.RegistrationError as error:
            attach_error(form, error)
        else:
            flash("Your sessions have been updated.", "success")
            return redirect(url_for(".manage", token=token), 303)
    return _manage_page(participant, sessions_form=form, status=422)


@bp.route("/manage/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str):
    """Asks first (GET), cancels on the confirming POST."""
    participant = participant_or_404(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        services.cancel_participation(participant)
        flash("Your registration has been cancelled. Your seats went to people on the waitlist.")
        return redirect(url_for(".manage", token=token), 303)
    response = make_response(
        render_template(
            "registration/cancel.html", participant=participant, event=participant.event, form=form
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/manage/<token>/new-code")
def new_code(token: str):
    participant = participant_or_404(token)
    if ConfirmForm().validate_on_submit():
        services.issue_new_code(participant)
        flash("Here is your new access code. The old one no longer works.", "success")
    return redirect(url_for(".manage", token=token), 303)


@bp.route("/e/<slug>/resend", methods=["GET", "POST"])
@ratelimit.limit("RESEND_LINK_LIMIT")
def resend_link(slug: str):
    """The same answer whether or not the email is registered."""
    event = get_event_or_404(slug)
    form = ResendLinkForm()
    if form.validate_on_submit():
        services.resend_manage_link(event, form.email.data)
        flash(
            f"If {form.email.data} is registered for this event, its private link is on its way. "
            "Check your inbox, and your spam folder.",
            "success",
        )
        return redirect(url_for(".resend_link", slug=slug), 303)
    return render_template("registration/resend.html", event=event, form=form), (
        422 if form.errors else 200
    )


def _manage_page(participant, *, confirmation=False, sessions_form=None, status=200):
    if sessions_form is None:
        sessions_form = SessionsForm(
            formdata=None,
            sessions=[r.session_id for r in participant.registrations if r.is_active],
        )
    registrations = sorted(
        participant.registrations, key=lambda r: (r.session.starts_at, r.session.position)
    )
    positions = {
        r.id: services.waitlist_position(r) for r in registrations if r.status == "waitlisted"
    }
    response = make_response(
        render_template(
            "registration/manage.html",
            participant=participant,
            event=participant.event,
            registrations=[r for r in registrations if r.is_active],
            positions=positions,
            confirmation=confirmation,
            sessions_form=sessions_form,
            confirm_form=ConfirmForm(),
            days=services.programme(participant.event),
        ),
        status,
    )
    # The page holds a private link and personal data: keep it out of shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response
