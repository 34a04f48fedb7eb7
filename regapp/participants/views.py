"""Organisers manage participants: list, detail, privacy export and erasure, badges."""

from flask import Blueprint

from ..auth.access import role_required
from ..models import Role

bp = Blueprint("participants", __name__)


@bp.get("/e/<slug>/admin/participants")
@role_required(Role.ORGANISER)
def index(slug: str):
    return "Not built yet", 501
