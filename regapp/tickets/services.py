"""Looking up a scanned or typed access code."""

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import AccessCode, CodeStatus, Participant
from .codes import InvalidCode, normalise


@dataclass(frozen=True)
class CodeCheck:
    #: "ok", "revoked_code" or "unknown_code" (the check-in verdict vocabulary).
    status: str
    message: str
    participant: Participant | None = None


def check_code(typed: str) -> CodeCheck:
    """What a code is worth. A malformed code is caught by its check symbol before the database
    is asked."""
    try:
        code = normalise(typed)
    except InvalidCode as error:
        return CodeCheck("unknown_code", str(error))
    found = db.session.scalar(select(AccessCode).where(AccessCode.code == code))
    if found is None:
        return code_check_for(None)
    return code_check_for(found.status, found.participant)


def code_check_for(status: str | None, participant: Participant | None = None) -> CodeCheck:
    """What a code found with ``status`` is worth (``None``: no such code)."""
    if status is None:
        return CodeCheck("unknown_code", "No participant has this code.")
    if status == CodeStatus.REVOKED:
        return CodeCheck("revoked_code", "This code was replaced by a newer one.", participant)
    return CodeCheck("ok", "Valid code.", participant)
