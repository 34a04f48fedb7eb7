"""The data model, one module per aggregate."""

from .audit import AuditEntry
from .checkins import Channel, CheckIn, Verdict
from .events import MAX_SESSIONS, Event, EventSession, SessionKind
from .imports import ImportJob, ImportStatus
from .organisations import OrganisationAlias, OrganisationMerge, organisation_key
from .outbox import MessageKind, MessageStatus, OutboxMessage
from .participants import (
    CATEGORIES,
    AccessCode,
    CodeStatus,
    Participant,
    Registration,
    RegistrationStatus,
)
from .staff import DeviceToken, Role, StaffUser, hash_token, staff_events

__all__ = [
    "MAX_SESSIONS",
    "AuditEntry",
    "CATEGORIES",
    "AccessCode",
    "Channel",
    "CheckIn",
    "DeviceToken",
    "Role",
    "StaffUser",
    "Verdict",
    "hash_token",
    "staff_events",
    "CodeStatus",
    "Event",
    "EventSession",
    "ImportJob",
    "ImportStatus",
    "MessageKind",
    "MessageStatus",
    "OrganisationAlias",
    "OrganisationMerge",
    "OutboxMessage",
    "organisation_key",
    "Participant",
    "Registration",
    "RegistrationStatus",
    "SessionKind",
]
