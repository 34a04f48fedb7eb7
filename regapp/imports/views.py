"""Importing invited participants from CSV: preview, then an idempotent import."""

from flask import Blueprint

from ..auth.access import role_required
from ..models import Role

bp = Blueprint("imports", __name__)


@bp.get("/e/<slug>/admin/import")
@role_required(Role.ORGANISER)
def start(slug: str):
    return "Not built yet", 501
