"""The participant's access code as images and a PDF ticket, for the holder of the manage link.

The images are cached by the browser under a strong ETag made from the code itself, and
revalidated on every use (``Cache-Control: private, no-cache``): reopening the page costs a 304
and no image work, while a revoked and reissued code shows at once. The ETag is checked before
anything is drawn.
"""

import hashlib

from flask import Blueprint, Response, abort, request

from ..registration.views import participant_or_404
from . import pdf
from .qr import qr_png, qr_svg

bp = Blueprint("tickets", __name__)

#: Part of every image ETag: bump it when the images change look, so browsers fetch them again.
IMAGE_RENDERING = "1"


def _active_code(token: str) -> str:
    code = participant_or_404(token).active_code
    if code is None:
        abort(404)
    return code.code


def image_etag(code: str, kind: str) -> str:
    """A strong validator for the image of ``code`` in format ``kind``; reveals nothing of it."""
    digest = hashlib.sha256(f"{IMAGE_RENDERING}:{kind}:{code}".encode()).hexdigest()
    return digest[:32]


def _cached_image(token: str, kind: str, mimetype: str, render) -> Response:
    code = _active_code(token)
    etag = image_etag(code, kind)
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(render(code), mimetype=mimetype)
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


@bp.get("/manage/<token>/qr.svg")
def qr_svg_image(token: str):
    return _cached_image(token, "svg", "image/svg+xml", qr_svg)


@bp.get("/manage/<token>/qr.png")
def qr_png_image(token: str):
    return _cached_image(token, "png", "image/png", qr_png)


@bp.get("/manage/<token>/ticket.pdf")
def ticket_pdf(token: str):
    participant = participant_or_404(token)
    if participant.active_code is None:
        abort(404)
    layout = request.args.get("layout", "a4")
    if layout not in pdf.LAYOUTS:
        abort(404)
    response = Response(pdf.ticket_pdf(participant, layout), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{pdf.ticket_filename(participant.event)}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
