"""Importing invited participants from CSV: preview, then an idempotent import.

The import runs in batches, each a POST to ``…/<job>/batch`` that the page's script sends again
until the job is done (``static/js/import.js``); without JavaScript a "Continue" button does
the same. The job's state is in the database, so any server process can run the next batch and
a reloaded page carries on where the import was.
"""

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.access import role_required
from ..events.views import get_event_or_404
from ..models import Event, ImportStatus, Role
from . import services
from .forms import BatchForm, StartForm, UploadForm

bp = Blueprint("imports", __name__)


def _job_or_404(event: Event, job_id: int):
    job = services.find_job(event, job_id)
    if job is None:
        abort(404)
    return job


def _upload_page(event: Event, form: UploadForm, status: int = 200):
    return render_template(
        "imports/start.html",
        event=event,
        form=form,
        columns=services.COLUMNS,
        jobs=services.recent_jobs(event),
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
    ), status


@bp.get("/e/<slug>/admin/import")
@role_required(Role.ORGANISER)
def start(slug: str):
    return _upload_page(get_event_or_404(slug), UploadForm())


@bp.post("/e/<slug>/admin/import")
@role_required(Role.ORGANISER)
def upload(slug: str):
    event = get_event_or_404(slug)
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            checked = services.check_file(event, upload.read())
            job = services.create_job(event, checked, upload.filename or "", staff=current_user)
        except services.ImportFileError as error:
            form.file.errors.append(error.message)
        else:
            return redirect(url_for(".job", slug=slug, job_id=job.id), 303)
    return _upload_page(event, form, 422)


@bp.errorhandler(RequestEntityTooLarge)
def file_too_large(error):
    """A file over the size limit is refused before any view runs (the CSRF check reads the
    form); staff who may import get the upload page saying so, anyone else the plain 413."""
    event = services.event_by_slug((request.view_args or {}).get("slug", ""))
    allowed = (
        event is not None
        and current_user.is_authenticated
        and current_user.has_role(Role.ORGANISER)
        and current_user.can_access(event.id)
    )
    if not allowed or request.endpoint != "imports.upload":
        return render_template("error.html", title="Too large", message=error.description), 413
    form = UploadForm(formdata=None)
    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    form.file.errors = [
        f"The file is larger than {limit} MB. Split it into smaller files and import each."
    ]
    return _upload_page(event, form, 413)


@bp.get("/e/<slug>/admin/import/template.csv")
@role_required(Role.ORGANISER)
def template(slug: str):
    get_event_or_404(slug)
    response = Response(services.template_csv(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="participants-template.csv"'
    return response


@bp.get("/e/<slug>/admin/import/<int:job_id>")
@role_required(Role.ORGANISER)
def job(slug: str, job_id: int):
    event = get_event_or_404(slug)
    job = _job_or_404(event, job_id)
    return render_template(
        "imports/job.html",
        event=event,
        job=job,
        plan=services.plan(event, job.rows) if job.status == ImportStatus.PREVIEW else None,
        start_form=StartForm(),
        batch_form=BatchForm(),
    )


@bp.post("/e/<slug>/admin/import/<int:job_id>/start")
@role_required(Role.ORGANISER)
def begin(slug: str, job_id: int):
    event = get_event_or_404(slug)
    job = _job_or_404(event, job_id)
    form = StartForm()
    if form.validate_on_submit():
        try:
            services.start(job, form.send_confirmations.data)
        except services.ImportFileError as error:
            flash(error.message, "error")
    return redirect(url_for(".job", slug=slug, job_id=job_id), 303)


@bp.post("/e/<slug>/admin/import/<int:job_id>/batch")
@role_required(Role.ORGANISER)
def batch(slug: str, job_id: int):
    """Import the next rows. The page's script gets the progress as JSON (``busy`` when another
    request is importing this job's rows right now); a form post goes back to the page."""
    event = get_event_or_404(slug)
    job = _job_or_404(event, job_id)
    imported = services.run_batch(job)
    job = _job_or_404(event, job_id)
    if request.accept_mimetypes.best == "application/json":
        busy = not imported and job.status == ImportStatus.RUNNING
        response = jsonify({**services.progress(job), "busy": busy})
        response.headers["Cache-Control"] = "no-store"
        return response
    return redirect(url_for(".job", slug=slug, job_id=job_id), 303)
