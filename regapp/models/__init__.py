"""The data model, one module per aggregate."""

from .events import Event, EventSession, SessionKind
from .outbox import MessageKind, MessageStatus, OutboxMessage
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
    "MessageKind",
    "MessageStatus",
    "OutboxMessage",
    "Participant",
    "Registration",
    "RegistrationStatus",
    "SessionKind",
]
