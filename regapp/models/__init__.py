"""The data model, one module per aggregate."""

from .events import Event, EventSession, SessionKind
from .participants import (
    CATEGORIES,
    AccessCode,
    CodeStatus,
    Participant,
    Registration,
    RegistrationStatus,
)

__all__ = [
    "CATEGORIES",
    "AccessCode",
    "CodeStatus",
    "Event",
    "EventSession",
    "Participant",
    "Registration",
    "RegistrationStatus",
    "SessionKind",
]
