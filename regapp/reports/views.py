"""The organisers' dashboard, its live data, exports, and organisation merges."""

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from ..auth.access import role_required
from ..events.views import get_event_or_404
from ..models import Role
from . import exports, merges, services
from .services import ReportFilter

bp = Blueprint("reports", __name__)


@bp.get("/e/<slug>/dashboard")
@role_required(Role.ORGANISER)
def dashboard(slug: str):
    event = get_event_or_404(slug)
    report_filter = ReportFilter.from_args(event, request.args)
    return render_template(
        "reports/dashboard.html",
        event=event,
        report_filter=report_filter,
        choices=services.filter_choices(event),
        data=services.dashboard(event, report_filter),
        exports=exports.DATASETS,
    )


@bp.get("/e/<slug>/dashboard/data")
@bp.get("/e/<slug>/dashboard/data/<panel>")
@role_required(Role.ORGANISER)
def dashboard_data(slug: str, panel: str | None = None):
    """One panel's figures (what the page polls, each panel in its own request), or every
    panel at once without ``panel``."""
    event = get_event_or_404(slug)
    if panel is not None and panel not in services.PANELS:
        abort(404)
    report_filter = ReportFilter.from_args(event, request.args)
    if panel is None:
        data = services.dashboard(event, report_filter)
    else:
        data = {"panel": panel, "data": services.panel(event, report_filter, panel)}
        data |= services.stamp(event)
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/e/<slug>/dashboard/export/<dataset>.<fmt>")
@role_required(Role.ORGANISER)
def export(slug: str, dataset: str, fmt: str):
    event = get_event_or_404(slug)
    if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
        abort(404)
    content, mimetype, filename = exports.export(
        event, ReportFilter.from_args(event, request.args), dataset, fmt
    )
    response = Response(content, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/e/<slug>/organisations")
@role_required(Role.ORGANISER)
def organisations(slug: str):
    event = get_event_or_404(slug)
    return render_template(
        "reports/organisations.html",
        event=event,
        spellings=merges.spellings(event),
        suggestions=merges.suggestions(event),
        history=merges.history(event),
    )


@bp.post("/e/<slug>/organisations/merge")
@role_required(Role.ORGANISER)
def merge(slug: str):
    event = get_event_or_404(slug)
    try:
        done = merges.merge(
            event,
            request.form.get("canonical", ""),
            request.form.getlist("variants"),
            current_user,
        )
    except merges.MergeError as error:
        flash(str(error), "error")
    else:
        flash(f"{len(done.aliases)} spellings now count as “{done.canonical}”.", "success")
    return redirect(url_for(".organisations", slug=slug), 303)


@bp.post("/e/<slug>/organisations/merges/<int:merge_id>/undo")
@role_required(Role.ORGANISER)
def undo_merge(slug: str, merge_id: int):
    event = get_event_or_404(slug)
    try:
        undone = merges.undo(event, merge_id)
    except merges.MergeError as error:
        flash(str(error), "error")
    else:
        flash(f"The merge into “{undone.canonical}” is undone.", "success")
    return redirect(url_for(".organisations", slug=slug), 303)
