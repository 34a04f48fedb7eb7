"""Organisers manage participants: list, detail, privacy export and erasure, badges.

Every route is for organisers (and admins) who work on the event named in the URL; a
participant of another event is a 404. Every change is a POST with its CSRF token.
"""

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from ..auth.access import role_required
from ..events.views import get_event_or_404
from ..models import CATEGORIES, Event, Participant, Role
from ..registration import services as registration
from ..registration.forms import ConfirmForm, SessionsForm
from ..tickets.pdf import badges_filename
from ..web import attach_error, flash_outcome
from . import services
from .badges import print_badges
from .forms import CancelForm, DetailsForm, PromoteForm
from .services import ParticipantFilter, RegistrationError

bp = Blueprint("participants", __name__)


def _event_participant_or_404(slug: str, participant_id: int) -> tuple[Event, Participant]:
    """The event of the URL and its participant (one of another event is not found)."""
    event = get_event_or_404(slug)
    participant = services.get_participant(event, participant_id)
    if participant is None:
        abort(404)
    return event, participant


def _changeable(slug: str, participant_id: int) -> tuple[Event, Participant]:
    """The event and participant of a change: an erased record cannot be changed."""
    event, participant = _event_participant_or_404(slug, participant_id)
    if participant.is_erased:
        flash(services.ERASED, "error")
        abort(_back_to(participant))
    return event, participant


def _private(response: Response) -> Response:
    """Pages and files with personal data stay out of shared caches."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/e/<slug>/admin/participants")
@role_required(Role.ORGANISER)
def index(slug: str):
    event = get_event_or_404(slug)
    f = ParticipantFilter.from_args(event, request.args)
    listing = services.participant_page(event, f, request.args.get("page", 1, type=int))
    return _private(
        make_response(
            render_template(
                "participants/index.html",
                event=event,
                f=f,
                listing=listing,
                statuses=services.STATUSES,
                categories=CATEGORIES,
                countries=services.countries_of(event),
                session_titles={s.id: s.title for s in event.sessions},
            )
        )
    )


@bp.get("/e/<slug>/admin/participants/<int:participant_id>")
@role_required(Role.ORGANISER)
def detail(slug: str, participant_id: int):
    return _detail_page(*_event_participant_or_404(slug, participant_id))


@bp.post("/e/<slug>/admin/participants/<int:participant_id>")
@role_required(Role.ORGANISER)
def update(slug: str, participant_id: int):
    event, participant = _changeable(slug, participant_id)
    form = DetailsForm()
    if form.validate_on_submit():
        try:
            changed = services.update_details(participant, form.details())
        except RegistrationError as error:
            attach_error(form, error)
        else:
            flash("Details saved." if changed else "Nothing changed.", "success")
            return _back_to(participant)
    return _detail_page(event, participant, details_form=form, status=422)


@bp.post("/e/<slug>/admin/participants/<int:participant_id>/sessions")
@role_required(Role.ORGANISER)
def change_sessions(slug: str, participant_id: int):
    event, participant = _changeable(slug, participant_id)
    form = SessionsForm()
    if form.validate_on_submit():
        try:
            registration.change_sessions(
                participant,
                form.sessions.data,
                audit_as="participant.sessions",
                by_organiser=True,
            )
        except RegistrationError as error:
            attach_error(form, error)
        else:
            flash("Sessions saved; the participant has been emailed the change.", "success")
            return _back_to(participant)
    return _detail_page(event, participant, sessions_form=form, status=422)


@bp.post("/e/<slug>/admin/participants/<int:participant_id>/promote")
@role_required(Role.ORGANISER)
def promote(slug: str, participant_id: int):
    event, participant = _changeable(slug, participant_id)
    form = PromoteForm()
    if not form.validate_on_submit():
        flash("Choose a session to give a seat in.", "error")
        return _back_to(participant)
    return _act(
        participant,
        lambda: registration.promote_from_waitlist(
            participant, form.session_id.data, audit_as="participant.promote"
        ),
        "Seat given; the participant has been emailed.",
    )


@bp.post("/e/<slug>/admin/participants/<int:participant_id>/cancel")
@role_required(Role.ORGANISER)
def cancel(slug: str, participant_id: int):
    event, participant = _changeable(slug, participant_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _detail_page(event, participant, cancel_form=form, status=422)
    if participant.is_cancelled:
        flash("This registration was already cancelled.", "info")
        return _back_to(participant)
    return _act(
        participant,
        lambda: registration.cancel_participation(participant, audit_as="participant.cancel"),
        "Registration cancelled; the seats went to the waitlists and the participant has been "
        "emailed.",
    )


@bp.post("/e/<slug>/admin/participants/<int:participant_id>/resend")
@role_required(Role.ORGANISER)
def resend(slug: str, participant_id: int):
    event, participant = _changeable(slug, participant_id)
    return _act(
        participant,
        lambda: services.resend_confirmation(participant),
        "The confirmation email is on its way.",
    )


@bp.post("/e/<slug>/admin/participants/<int:participant_id>/new-code")
@role_required(Role.ORGANISER)
def new_code(slug: str, participant_id: int):
    event, participant = _changeable(slug, participant_id)

    def issue():
        services.refuse_if_erased(participant)
        registration.issue_new_code(participant, audit_as="participant.new_code")

    return _act(participant, issue, "New code issued and emailed; the old one no longer works.")


@bp.get("/e/<slug>/admin/participants/<int:participant_id>/export.json")
@role_required(Role.ORGANISER)
def export(slug: str, participant_id: int):
    event, participant = _event_participant_or_404(slug, participant_id)
    data = services.export(participant)
    services.record_export(participant)
    response = Response(
        json.dumps(data, ensure_ascii=False, indent=2) + "\n",
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="participant-{participant_id}-{event.slug}.json"'
    )
    return _private(response)


@bp.route("/e/<slug>/admin/participants/<int:participant_id>/erase", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def erase(slug: str, participant_id: int):
    """Asks first (GET: what goes and what stays), erases on the confirming POST."""
    event, participant = _event_participant_or_404(slug, participant_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        if services.erase(participant):
            flash("Personal data erased. The counts in reports are unchanged.", "success")
        else:
            flash("This participant's personal data had already been erased.", "info")
        return _back_to(participant)
    return _private(
        make_response(
            render_template(
                "participants/erase.html", event=event, participant=participant, form=form
            )
        )
    )


@bp.post("/e/<slug>/admin/badges.pdf")
@role_required(Role.ORGANISER)
def badges(slug: str):
    """Badges of the ticked participants (``scope=selected``, ids in ``ids``), or of everyone
    passing the list's filter (``scope=filter``, the filter in the form's hidden fields)."""
    event = get_event_or_404(slug)
    f = ParticipantFilter.from_args(event, request.form)
    back = redirect(url_for(".index", slug=slug, **f.as_args()), 303)
    if request.form.get("scope") == "filter":
        run = print_badges(event, f=f)
    else:
        ids = [int(v) for v in request.form.getlist("ids") if v.isdigit()]
        if not ids:
            flash(
                "Tick the participants whose badges you want first, or print all of "
                "those matching the filter.",
                "error",
            )
            return back
        run = print_badges(event, ids=ids)
    if run.pdf is None:
        flash(run.problem, "error")
        return back
    response = Response(run.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{badges_filename(event)}"'
    return _private(response)


# -- helpers -------------------------------------------------------------------------------------


def _back_to(participant: Participant):
    return redirect(
        url_for(".detail", slug=participant.event.slug, participant_id=participant.id), 303
    )


def _act(participant: Participant, action, done: str):
    """Run a one-button action: its message on success, its reason on refusal."""
    flash_outcome(action, done, RegistrationError)
    return _back_to(participant)


def _detail_page(
    event: Event,
    participant: Participant,
    *,
    details_form: DetailsForm | None = None,
    sessions_form: SessionsForm | None = None,
    cancel_form: CancelForm | None = None,
    status: int = 200,
):
    if sessions_form is None:
        sessions_form = SessionsForm(
            formdata=None,
            sessions=[r.session_id for r in participant.registrations if r.is_active],
        )
    return _private(
        make_response(
            render_template(
                "participants/detail.html",
                event=event,
                participant=participant,
                details_form=details_form or DetailsForm(formdata=None, participant=participant),
                sessions_form=sessions_form,
                cancel_form=cancel_form or CancelForm(formdata=None),
                confirm_form=ConfirmForm(formdata=None),
                promote_form=PromoteForm(formdata=None),
                lines=services.session_lines(participant),
                scans=services.scan_history(participant),
                emails=services.emails(participant),
                days=registration.programme(event),
            ),
            status,
        )
    )
