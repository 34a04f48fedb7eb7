"""Organiser administration: events, sessions, staff accounts, device tokens and the audit log.

Each service makes one change in one write transaction (:func:`regapp.database.begin_write`) and
records it in the audit log in that same transaction (:func:`regapp.audit.record`), with ids and
field names only, never names or email addresses. A change that cannot be made raises
:class:`AdminError` having changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import audit
from ..auth.services import find_staff, new_password
from ..database import begin_write
from ..errors import Refusal
from ..extensions import db
from ..mail.outbox import wake_worker
from ..models import (
    MAX_SESSIONS,
    AuditEntry,
    CheckIn,
    DeviceToken,
    Event,
    EventSession,
    Registration,
    RegistrationStatus,
    Role,
    StaffUser,
    staff_events,
)
from ..registration.services import RegistrationError, set_capacity

AUDIT_PAGE_SIZE = 50


class AdminError(Refusal):
    """A change to an event, a session, a staff account or a device refused."""


def _assign(obj, values: dict) -> list[str]:
    """Set the attributes; return the names of those whose value changed."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return sorted(changed)


def _fail(error: AdminError) -> AdminError:
    db.session.rollback()
    return error


# ----------------------------------------------------------------------------------- events


def events_for(staff: StaffUser) -> list[Event]:
    """The events ``staff`` works on (admins: all), current ones first, newest first."""
    query = (
        select(Event)
        .options(selectinload(Event.sessions))
        .order_by(Event.archived_at.is_not(None), Event.created_at.desc(), Event.id.desc())
    )
    if not staff.has_role(Role.ADMIN):
        query = query.join(staff_events).where(staff_events.c.staff_user_id == staff.id)
    return list(db.session.scalars(query))


def _slug_taken(slug: str) -> AdminError:
    return AdminError(
        f"The address “{slug}” is taken by another event. Choose another one.", field="slug"
    )


def _refuse_taken_slug(slug: str, event_id: int | None = None) -> None:
    query = select(Event.id).where(func.lower(Event.slug) == slug.lower())
    if event_id is not None:
        query = query.where(Event.id != event_id)
    if db.session.scalar(query) is not None:
        raise _slug_taken(slug)


def create_event(values: dict, creator: StaffUser) -> Event:
    """A new event; an organiser who creates it is assigned to it (admins see every event)."""
    begin_write()
    try:
        _refuse_taken_slug(values["slug"])
        event = Event(**values)
        db.session.add(event)
        if not creator.has_role(Role.ADMIN):
            creator.events.append(event)
        db.session.flush()
        audit.record(
            "event.create",
            event=event,
            target=f"event {event.id}",
            details={"fields": sorted(k for k, v in values.items() if v not in (None, ""))},
        )
        db.session.commit()
    except AdminError as error:
        raise _fail(error) from None
    except IntegrityError:  # the same slug, saved by someone else a moment ago
        raise _fail(_slug_taken(values["slug"])) from None
    return event


def update_event(event: Event, values: dict) -> list[str]:
    """Change the event's settings; returns the names of the fields that changed."""
    begin_write()
    try:
        _refuse_taken_slug(values["slug"], event.id)
        fields = _assign(event, values)
        if fields:
            audit.record(
                "event.update", event=event, target=f"event {event.id}", details={"fields": fields}
            )
        db.session.commit()
    except AdminError as error:
        raise _fail(error) from None
    except IntegrityError:
        raise _fail(_slug_taken(values["slug"])) from None
    return fields


def set_archived(event: Event, archived: bool) -> None:
    """Archive the event (off the public list, no new registrations) or bring it back."""
    begin_write()
    if archived and not event.is_archived:
        event.archive()
        audit.record("event.archive", event=event, target=f"event {event.id}")
    elif not archived and event.is_archived:
        event.unarchive()
        audit.record("event.unarchive", event=event, target=f"event {event.id}")
    db.session.commit()


# --------------------------------------------------------------------------------- sessions


def event_session_or_none(event: Event, session_id: int) -> EventSession | None:
    session = db.session.get(EventSession, session_id)
    return session if session is not None and session.event_id == event.id else None


def add_session(event: Event, values: dict) -> EventSession:
    """A new session, after the others that start at the same time; refused when the event has
    :data:`MAX_SESSIONS` already (each session has a bit of its own in the attendance masks)."""
    begin_write()
    # The event locked: two sessions added at once would take the same bit.
    db.session.scalar(select(Event.id).where(Event.id == event.id).with_for_update())
    if len(event.sessions) >= MAX_SESSIONS:
        raise _fail(
            AdminError(
                f"“{event.name}” has {len(event.sessions)} sessions, the most an event can have. "
                "Remove a session that nobody registered for, or create another event."
            )
        )
    position = db.session.scalar(
        select(func.coalesce(func.max(EventSession.position), -1) + 1).where(
            EventSession.event_id == event.id
        )
    )
    session = EventSession(event=event, position=position, **values)
    db.session.add(session)
    db.session.flush()
    audit.record("session.create", event=event, target=f"session {session.id}")
    db.session.commit()
    return session


def update_session(session: EventSession, values: dict) -> list[Registration]:
    """Change a session's settings in one transaction. Its capacity changes as
    :func:`regapp.registration.services.set_capacity` says: never below the confirmed seats,
    and more seats promote waitlisted people (returned), who are emailed."""
    values = dict(values)
    capacity = values.pop("capacity")
    old_capacity = session.capacity
    try:
        promoted = set_capacity(session, capacity)  # begins the transaction, locks the row
    except RegistrationError as error:
        raise AdminError(error.message, error.field) from None
    fields = _assign(session, values)
    if capacity != old_capacity:
        fields = sorted([*fields, "capacity"])
    if fields or promoted:
        details: dict = {"fields": fields}
        if promoted:
            details["promoted_registrations"] = [r.id for r in promoted]
        audit.record(
            "session.update", event=session.event, target=f"session {session.id}", details=details
        )
    db.session.commit()
    wake_worker()
    return promoted


def set_session_registration(session: EventSession, open_: bool) -> None:
    """Open or close one session to new registrations; those registered keep their place."""
    begin_write()
    if session.registration_open != open_:
        session.registration_open = open_
        audit.record(
            "session.update",
            event=session.event,
            target=f"session {session.id}",
            details={"fields": ["registration_open"]},
        )
    db.session.commit()


def move_session(session: EventSession, direction: str) -> None:
    """Move a session one place up or down among the sessions that start at the same time
    (the programme lists sessions by start time; ``position`` orders the parallel ones)."""
    begin_write()
    group = list(
        db.session.scalars(
            select(EventSession)
            .where(
                EventSession.event_id == session.event_id,
                EventSession.starts_at == session.starts_at,
            )
            .order_by(EventSession.position, EventSession.id)
            .with_for_update()
        )
    )
    here = next(i for i, s in enumerate(group) if s.id == session.id)
    there = here - 1 if direction == "up" else here + 1
    if not 0 <= there < len(group):
        raise _fail(
            AdminError(
                f"“{session.title}” is already {'first' if direction == 'up' else 'last'} "
                "among the sessions that start at the same time."
            )
        )
    group[here], group[there] = group[there], group[here]
    for position, member in enumerate(group):
        member.position = position
    audit.record(
        "session.move",
        event=session.event,
        target=f"session {session.id}",
        details={"direction": direction},
    )
    db.session.commit()


def remove_session(session: EventSession) -> None:
    """Delete a session nobody holds, waits for or was scanned into. Otherwise refused, with
    the counts: its registrations and the check-in log must stay (close registration instead)."""
    begin_write()
    db.session.scalar(
        select(EventSession.id).where(EventSession.id == session.id).with_for_update()
    )
    held = db.session.scalar(
        select(func.count()).where(
            Registration.session_id == session.id,
            Registration.status != RegistrationStatus.CANCELLED,
        )
    )
    scans = db.session.scalar(select(func.count()).where(CheckIn.session_id == session.id))
    if held or scans:
        reasons = []
        if held:
            if held == 1:
                reasons.append("1 person holds a seat in it or waits for one")
            else:
                reasons.append(f"{held} people hold a seat in it or wait for one")
        if scans:
            reasons.append(f"{scans} check-in{'s are' if scans != 1 else ' is'} recorded for it")
        raise _fail(
            AdminError(
                f"“{session.title}” cannot be removed: {' and '.join(reasons)}. Close its "
                "registration instead: nobody new can register, and those registered keep "
                "their place."
            )
        )
    audit.record(
        "session.delete",
        event=session.event,
        target=f"session {session.id}",
        details={"title": session.title},
    )
    db.session.delete(session)
    db.session.commit()


# ------------------------------------------------------------------------------------ staff


def staff_accounts() -> list[StaffUser]:
    return list(
        db.session.scalars(
            select(StaffUser)
            .options(selectinload(StaffUser.events))
            .order_by(StaffUser.active.desc(), func.lower(StaffUser.name), StaffUser.id)
        )
    )


def _email_taken() -> AdminError:
    return AdminError("Another account already uses this email address.", field="email")


def _events(event_ids: Iterable[int]) -> list[Event]:
    ids = sorted(set(event_ids))
    return list(db.session.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.id)))


def _lock_active_admins() -> None:
    """On PostgreSQL, hold the active admins' rows, so that two admins stepping down at once
    cannot both see the other one still there (SQLite's write lock serialises already)."""
    db.session.execute(
        select(StaffUser.id)
        .where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True))
        .with_for_update()
    )


def _refuse_no_admin_left(field: str | None = None) -> None:
    db.session.flush()
    admins = db.session.scalar(
        select(func.count()).where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True))
    )
    if not admins:
        raise AdminError(
            "That would leave no active admin, and nobody could manage staff accounts any "
            "more. Make another account an admin first.",
            field=field,
        )


def add_staff(values: dict, password: str | None = None) -> tuple[StaffUser, str | None]:
    """A new account; returns it and the generated password when none was given (shown once)."""
    generated = None if password else new_password()
    begin_write()
    try:
        if find_staff(values["email"]) is not None:
            raise _email_taken()
        staff = StaffUser(
            name=values["name"], email=values["email"], role=Role(values["role"]), active=True
        )
        staff.set_password(password or generated)
        staff.events = _events(values["event_ids"])
        db.session.add(staff)
        db.session.flush()
        audit.record(
            "staff.create",
            target=f"staff {staff.id}",
            details={
                "role": staff.role,
                "event_ids": [e.id for e in staff.events],
                "password": "generated" if generated else "set by admin",
            },
        )
        db.session.commit()
    except AdminError as error:
        raise _fail(error) from None
    except IntegrityError:
        raise _fail(_email_taken()) from None
    return staff, generated


def update_staff(staff: StaffUser, values: dict) -> None:
    """Change an account's name, email, role and events; never leaves no active admin."""
    begin_write()
    try:
        _lock_active_admins()
        if (other := find_staff(values["email"])) is not None and other.id != staff.id:
            raise _email_taken()
        fields = _assign(
            staff, {"name": values["name"], "email": values["email"], "role": values["role"]}
        )
        before = {e.id for e in staff.events}
        staff.events = _events(values["event_ids"])
        after = {e.id for e in staff.events}
        _refuse_no_admin_left(field="role")
        if fields or before != after:
            audit.record(
                "staff.update",
                target=f"staff {staff.id}",
                details={
                    "fields": fields,
                    "events_added": sorted(after - before),
                    "events_removed": sorted(before - after),
                },
            )
        db.session.commit()
    except AdminError as error:
        raise _fail(error) from None
    except IntegrityError:
        raise _fail(_email_taken()) from None


def reset_password(staff: StaffUser) -> str:
    """A new password for the account (returned, to be shown once); any sign-in lockout ends,
    and so do the sessions signed in with the old password (see ``StaffUser.get_id``)."""
    password = new_password()
    begin_write()
    staff.set_password(password)
    staff.record_login()  # a sign-in lockout ends too
    audit.record("staff.password_reset", target=f"staff {staff.id}")
    db.session.commit()
    return password


def set_active(staff: StaffUser, active: bool) -> None:
    """Enable or disable an account; a disabled one cannot sign in and its open sessions end."""
    begin_write()
    try:
        _lock_active_admins()
        if staff.active != active:
            staff.active = active
            _refuse_no_admin_left()
            audit.record(f"staff.{'enable' if active else 'disable'}", target=f"staff {staff.id}")
        db.session.commit()
    except AdminError as error:
        raise _fail(error) from None


# ---------------------------------------------------------------------------------- devices


def devices(event: Event) -> list[tuple[DeviceToken, str | None]]:
    """The event's device tokens with the name of who made each; valid ones first."""
    return list(
        db.session.execute(
            select(DeviceToken, StaffUser.name)
            .outerjoin(StaffUser, StaffUser.id == DeviceToken.created_by_id)
            .where(DeviceToken.event_id == event.id)
            .order_by(DeviceToken.revoked_at.is_not(None), DeviceToken.created_at.desc())
        )
    )


def create_device(
    event: Event, name: str, created_by: StaffUser | None = None, actor: str | None = None
) -> tuple[DeviceToken, str]:
    """A token for a scanning device of ``event``; the plain token is returned once. The audit
    log names the signed-in staff member, else ``actor`` (the command line)."""
    begin_write()
    device, token = DeviceToken.issue(event, name, created_by=created_by)
    db.session.add(device)
    db.session.flush()
    audit.record("device.create", event=event, target=f"device {device.id}", actor=actor)
    db.session.commit()
    return device, token


def revoke_device(
    event: Event | None, device_id: int, actor: str | None = None
) -> DeviceToken | None:
    """Stop a device token from working, at once; ``None`` if there is no such device, or when
    ``event`` is given (an event's pages), no such device of that event."""
    begin_write()
    device = db.session.get(DeviceToken, device_id)
    if device is None or (event is not None and device.event_id != event.id):
        db.session.rollback()
        return None
    if device.is_valid:
        device.revoke()
        audit.record("device.revoke", event=device.event, target=f"device {device.id}", actor=actor)
    db.session.commit()
    return device


# -------------------------------------------------------------------------------- audit log


def audit_log(event: Event | None = None, action: str = "", page: int = 1) -> Pagination:
    """Audit entries, newest first, a page at a time: of one event, or of the installation."""
    query = select(AuditEntry).options(selectinload(AuditEntry.event))
    if event is not None:
        query = query.where(AuditEntry.event_id == event.id)
    if action:
        query = query.where(AuditEntry.action == action)
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    return db.paginate(query, page=max(page, 1), per_page=AUDIT_PAGE_SIZE, error_out=False)


def audit_actions(event: Event | None = None) -> list[str]:
    """The actions that occur in the log, to filter by."""
    query = select(AuditEntry.action).distinct().order_by(AuditEntry.action)
    if event is not None:
        query = query.where(AuditEntry.event_id == event.id)
    return list(db.session.scalars(query))
