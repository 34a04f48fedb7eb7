"""Recording who changed what: one call in the service that makes the change."""

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEntry, Event, StaffUser


def actor_label(staff: StaffUser) -> str:
    return f"{staff.name} <{staff.email}>"


def record(
    action: str,
    *,
    event: Event | None = None,
    target: str = "",
    details: dict | None = None,
    staff: StaffUser | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction, so it is saved with the change it describes
    (and dropped with it when the change is rolled back). The actor is ``staff``, else the
    signed-in staff member, else ``actor`` (e.g. "command line", "device Door 1")."""
    if staff is None and has_request_context() and current_user.is_authenticated:
        staff = current_user._get_current_object()
    entry = AuditEntry(
        action=action,
        event_id=event.id if event is not None else None,
        staff_user_id=staff.id if staff is not None else None,
        actor=actor or (actor_label(staff) if staff is not None else "system"),
        target=target,
        details=details or {},
        ip=(request.remote_addr or "") if has_request_context() else "",
    )
    db.session.add(entry)
    return entry
