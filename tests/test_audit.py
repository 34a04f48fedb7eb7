"""The audit log: every organiser and admin change is recorded (ids and field names, never a
person's name or email), and read, never changed, per event and for the whole installation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from regapp import audit
from regapp.extensions import db
from regapp.models import AuditEntry, DeviceToken, Event, EventSession, Role, StaffUser
from tests.test_admin_events import (  # noqa: F401 - a fixture
    NEW_EVENT,
    SESSION,
    person,
    sign_in,
)

ROW = re.compile(r"<tr>\s*<td class=\"nowrap\">", re.S)
ACTION_CELL = re.compile(r'<td><span class="mono">([a-z_.]+)</span></td>')


def rows(html: str) -> int:
    return len(ROW.findall(html))


def actions_shown(html: str) -> list[str]:
    return ACTION_CELL.findall(html)


def add_entries(event: Event | None, action: str, n: int, start: datetime) -> None:
    for i in range(n):
        entry = audit.record(action, event=event, target=f"thing {i}", actor="system")
        entry.created_at = start + timedelta(minutes=i)
    db.session.commit()


@pytest.fixture
def admin(client, app):
    return sign_in(client, "ada@example.org", Role.ADMIN, name="Ada Lovelace")


def test_every_change_in_the_admin_pages_is_recorded_without_personal_data(client, admin):
    """A day of administration through the forms; then the log holds each change, by whom, and
    no name or email of anyone in its targets and details."""
    client.post("/staff/events/new", data=NEW_EVENT)
    event = db.session.scalar(select(Event))
    base = "/e/forum-2027/admin"
    client.post(f"{base}/", data={**NEW_EVENT, "venue": "Baku"})
    for title in ("Panel A", "Panel B"):
        client.post(f"{base}/sessions", data={**SESSION, "title": title})
    panel_a, panel_b = db.session.scalars(select(EventSession).order_by(EventSession.id))
    client.post(f"{base}/sessions/{panel_b.id}/move", data={"direction": "up"})
    client.post(
        f"{base}/sessions/{panel_a.id}",
        data={**SESSION, "title": "Panel A", "capacity": "40"},
    )
    client.post(f"{base}/sessions/{panel_a.id}/registration", data={"open": "0"})
    client.post(f"{base}/sessions/{panel_b.id}/remove")
    client.post(f"{base}/devices", data={"name": "Door 1 phone"})
    device = db.session.scalar(select(DeviceToken))
    client.post(f"{base}/devices/{device.id}/revoke")
    client.post(f"{base}/archive")
    client.post(f"{base}/unarchive")
    client.post(
        "/staff/users/new",
        data={
            "name": "Sam Scanner",
            "email": "sam@example.org",
            "role": "scanner",
            "events": [str(event.id)],
        },
    )
    sam = db.session.scalar(select(StaffUser).where(StaffUser.email == "sam@example.org"))
    client.post(
        f"/staff/users/{sam.id}",
        data={"name": "Sam Organiser", "email": "sam@example.org", "role": "organiser"},
    )
    client.post(f"/staff/users/{sam.id}/password")
    client.post(f"/staff/users/{sam.id}/disable")
    client.post(f"/staff/users/{sam.id}/enable")

    db.session.rollback()
    log = list(
        db.session.scalars(
            select(AuditEntry)
            .where(~AuditEntry.action.startswith("staff.login"))
            .order_by(AuditEntry.id)
        )
    )
    assert [e.action for e in log] == [
        "event.create",
        "event.update",
        "session.create",
        "session.create",
        "session.move",
        "session.update",
        "session.update",
        "session.delete",
        "device.create",
        "device.revoke",
        "event.archive",
        "event.unarchive",
        "staff.create",
        "staff.update",
        "staff.password_reset",
        "staff.disable",
        "staff.enable",
    ]
    assert {e.staff_user_id for e in log} == {admin.id}
    assert {e.actor for e in log} == {"Ada Lovelace <ada@example.org>"}
    assert {e.event_id for e in log if not e.action.startswith("staff.")} == {event.id}
    assert {e.event_id for e in log if e.action.startswith("staff.")} == {None}
    personal = ("Sam", "sam@", "Ada", "ada@", "Lovelace")
    for entry in log:
        written = f"{entry.target} {entry.details}"
        assert not any(p in written for p in personal), (entry.action, written)
    update = next(e for e in log if e.action == "event.update")
    assert update.details == {"fields": ["venue"]}


def test_device_commands_are_recorded_like_the_pages_as_the_command_line(runner, make_event):
    forum = make_event()

    added = runner.invoke(args=["device", "add", "forum", "Door 2 tablet"])
    device = db.session.scalar(select(DeviceToken))
    revoked = runner.invoke(args=["device", "revoke", str(device.id)])
    again = runner.invoke(args=["device", "revoke", str(device.id)])
    unknown = runner.invoke(args=["device", "revoke", str(device.id + 1)])

    assert added.exit_code == revoked.exit_code == again.exit_code == 0
    assert unknown.exit_code != 0 and f"no device #{device.id + 1}" in unknown.output
    db.session.rollback()
    log = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.target) for e in log] == [
        ("device.create", f"device {device.id}"),
        ("device.revoke", f"device {device.id}"),  # once: revoking again changes nothing
    ]
    assert {(e.event_id, e.staff_user_id, e.actor) for e in log} == {
        (forum.id, None, "command line")
    }
    assert db.session.get(DeviceToken, device.id).revoked_at is not None


def test_the_event_log_shows_its_own_entries_newest_first(client, make_event):
    forum, other = make_event(), make_event(slug="other")
    start = datetime(2027, 5, 20, 6, 0, tzinfo=UTC)
    add_entries(forum, "session.update", 2, start)
    add_entries(forum, "participant.erase", 1, start + timedelta(hours=1))  # another helper's
    add_entries(other, "session.delete", 3, start)
    add_entries(None, "staff.create", 1, start)
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])

    page = client.get("/e/forum/admin/audit").text

    assert actions_shown(page) == ["participant.erase", "session.update", "session.update"]
    assert "20 May 2027 11:00:00" in page  # 07:00 UTC in Baku
    assert "thing 1" in page and "Address" not in page  # no IP column for organisers


def test_the_log_is_paginated(client, make_event):
    forum = make_event()
    add_entries(forum, "session.update", 120, datetime(2027, 1, 1, tzinfo=UTC))
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])

    first = client.get("/e/forum/admin/audit").text
    assert rows(first) == 50
    assert "Page 1 of 3 · 120 entries" in first
    assert 'href="?action=&amp;page=2" rel="next"' in first
    assert "thing 119" in first and "thing 69" not in first

    last = client.get("/e/forum/admin/audit?page=3").text
    assert rows(last) == 20 and "thing 0<" in last and 'rel="next"' not in last
    assert rows(client.get("/e/forum/admin/audit?page=99").text) == 0
    assert rows(client.get("/e/forum/admin/audit?page=oops").text) == 50


def test_the_log_is_filtered_by_action(client, make_event):
    forum = make_event()
    start = datetime(2027, 1, 1, tzinfo=UTC)
    add_entries(forum, "session.update", 3, start)
    add_entries(forum, "session.move", 2, start)
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])

    moves = client.get("/e/forum/admin/audit?action=session.move").text
    assert actions_shown(moves) == ["session.move", "session.move"]
    assert '<option value="session.move" selected>' in moves
    unknown = client.get("/e/forum/admin/audit?action=<script>").text
    assert len(actions_shown(unknown)) == 5 and "<script>" not in unknown


def test_the_installation_log_is_for_admins_and_shows_everything(client, app, make_event):
    forum = make_event()
    start = datetime(2027, 1, 1, tzinfo=UTC)
    add_entries(forum, "session.update", 1, start)
    add_entries(None, "staff.create", 1, start + timedelta(minutes=5))
    organiser = app.test_client()
    sign_in(organiser, "lead@example.org", Role.ORGANISER, events=[forum])
    assert organiser.get("/staff/audit").status_code == 403
    sign_in(client, "ada@example.org", Role.ADMIN)

    page = client.get("/staff/audit?action=").text

    mine = [a for a in actions_shown(page) if a in ("staff.create", "session.update")]
    assert mine == ["staff.create", "session.update"]  # newest first, with or without an event
    assert "Test Forum" in page and "installation" in page and "Address" in page
    assert "01 Jan 2027 00:05:00 UTC" in page


def test_an_organiser_cannot_read_another_events_log(client, make_event):
    forum = make_event()
    make_event(slug="other")
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])

    assert client.get("/e/other/admin/audit").status_code == 403


def test_the_log_cannot_be_changed_through_its_pages(client, admin, make_event):
    make_event()
    add_entries(None, "staff.create", 1, datetime(2027, 1, 1, tzinfo=UTC))

    for path in ("/staff/audit", "/e/forum/admin/audit"):
        assert client.post(path).status_code == 405
        assert client.delete(path).status_code == 405
    db.session.rollback()
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.create"))


def test_a_capacity_change_that_promotes_records_the_registrations(client, make_event):
    forum = make_event({"capacity": 1})
    person(forum, 1)
    person(forum, 2)
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])
    session = forum.sessions[0]
    local = forum.local(session.starts_at)

    client.post(
        f"/e/forum/admin/sessions/{session.id}",
        data={
            **SESSION,
            "title": session.title,
            "kind": session.kind,
            "day": f"{local:%Y-%m-%d}",
            "starts": f"{local:%H:%M}",
            "ends": f"{forum.local(session.ends_at):%H:%M}",
            "room": session.room,
            "stream_url": "",
            "capacity": "2",
        },
    )

    page = client.get("/e/forum/admin/audit?action=session.update").text
    assert "promoted registrations" in page
