"""Admins manage staff accounts (add, role, events, password, disable) and organisers the
scanning devices of their event, in the forms of /staff/users and /e/<slug>/admin/devices."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from regapp.admin import services
from regapp.admin.services import AdminError
from regapp.extensions import db
from regapp.models import AuditEntry, DeviceToken, Role, StaffUser
from tests.test_admin_events import PASSWORD, sign_in

NEW_PASSWORD = re.compile(r'id="new-password"[^>]*>([^<]+)<')
DEVICE_TOKEN = re.compile(r'id="device-token"[^>]*>([^<]+)<')


@pytest.fixture
def admin(client, app):
    return sign_in(client, "ada@example.org", Role.ADMIN, name="Ada Admin")


def account(email: str) -> StaffUser:
    db.session.rollback()
    return db.session.scalar(select(StaffUser).where(StaffUser.email == email))


def can_sign_in(app, email: str, password: str):
    """A fresh browser's sign-in: the client when it worked, else ``None``."""
    client = app.test_client()
    response = client.post("/staff/login", data={"email": email, "password": password})
    return client if response.status_code == 303 else None


def new_staff(client, **fields):
    data = {"name": "Sam Scanner", "email": "sam@example.org", "role": "scanner", "password": ""}
    return client.post("/staff/users/new", data={**data, **fields})


def entries(*actions: str) -> list[AuditEntry]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.id)
        )
    )


# ---------------------------------------------------------------------------------- accounts


def test_admin_gives_a_colleague_scanner_access_to_one_event(client, app, admin, make_event):
    forum = make_event()
    make_event(slug="other", name="Other event")

    response = new_staff(client, events=[str(forum.id)])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = NEW_PASSWORD.search(response.text).group(1)
    assert "shown only this once" in response.text
    sam = account("sam@example.org")
    assert sam.role == "scanner" and [e.slug for e in sam.events] == ["forum"]
    assert password not in sam.password_hash

    colleague = can_sign_in(app, "sam@example.org", password)
    assert colleague is not None
    assert colleague.get("/e/forum/checkin").status_code == 200
    assert colleague.get("/e/other/checkin").status_code == 403
    assert colleague.get("/e/forum/admin/").status_code == 403
    assert "Other event" not in colleague.get("/staff/").text
    (created,) = entries("staff.create")
    assert created.target == f"staff {sam.id}"
    assert created.details == {
        "role": "scanner",
        "event_ids": [forum.id],
        "password": "generated",
    }


def test_admin_may_set_the_initial_password_instead(client, app, admin):
    response = new_staff(client, password="a long enough secret")

    assert response.status_code == 200
    assert NEW_PASSWORD.search(response.text) is None  # nothing to show
    assert "with the password you chose" in response.text
    assert can_sign_in(app, "sam@example.org", "a long enough secret") is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "ADA@example.org"}, "Another account already uses this email address."),
        ({"email": "not an email"}, "Enter a valid email address"),
        ({"name": ""}, "Enter the person&#39;s name."),
        ({"password": "short"}, "Use at least 10 characters, or leave it empty."),
        ({"role": "superuser"}, "Not a valid choice."),
        ({"events": ["999"]}, "One of the chosen events does not exist."),
    ],
)
def test_a_bad_new_account_is_refused_with_a_reason(client, admin, fields, message):
    response = new_staff(client, **fields)

    assert response.status_code == 422
    assert message in response.text
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 1
    assert entries("staff.create") == []


def test_admin_changes_a_role_and_the_events_someone_works_on(client, app, admin, make_event):
    forum, other = make_event(), make_event(slug="other")
    new_staff(client, events=[str(forum.id)], password="a long enough secret")
    sam = account("sam@example.org")

    response = client.post(
        f"/staff/users/{sam.id}",
        data={
            "name": "Sam Organiser",
            "email": "sam@example.org",
            "role": "organiser",
            "events": [str(other.id)],
        },
    )

    assert response.status_code == 303
    sam = account("sam@example.org")
    assert (sam.name, sam.role, [e.slug for e in sam.events]) == (
        "Sam Organiser",
        "organiser",
        ["other"],
    )
    colleague = can_sign_in(app, "sam@example.org", "a long enough secret")
    assert colleague.get("/e/other/admin/").status_code == 200
    assert colleague.get("/e/forum/checkin").status_code == 403
    (updated,) = entries("staff.update")
    assert updated.details == {
        "fields": ["name", "role"],
        "events_added": [other.id],
        "events_removed": [forum.id],
    }


def test_a_reset_password_is_shown_once_and_the_old_one_stops_working(client, app, admin):
    new_staff(client, password="the old password")
    sam = account("sam@example.org")
    sam.failed_logins, sam.locked_until = 3, None
    db.session.commit()

    response = client.post(f"/staff/users/{sam.id}/password")

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = NEW_PASSWORD.search(response.text).group(1)
    assert len(password) >= 16
    assert can_sign_in(app, "sam@example.org", "the old password") is None
    assert can_sign_in(app, "sam@example.org", password) is not None
    assert [e.target for e in entries("staff.password_reset")] == [f"staff {sam.id}"]


def test_a_password_reset_signs_the_account_out_everywhere(client, app, admin):
    new_staff(client, role="organiser", password="a long enough secret")
    sam = account("sam@example.org")
    phone = can_sign_in(app, "sam@example.org", "a long enough secret")
    laptop = can_sign_in(app, "sam@example.org", "a long enough secret")
    assert phone.get("/staff/").status_code == 200

    password = NEW_PASSWORD.search(client.post(f"/staff/users/{sam.id}/password").text).group(1)

    for device in (phone, laptop):
        gone = device.get("/staff/")
        assert gone.status_code == 302 and "/staff/login" in gone.headers["Location"]
        assert device.get("/staff/events").status_code == 302
    assert can_sign_in(app, "sam@example.org", password).get("/staff/").status_code == 200
    assert client.get("/staff/users").status_code == 200  # the admin's own session goes on


def test_admins_resetting_their_own_password_stay_signed_in_here_only(client, app, admin):
    other_browser = can_sign_in(app, "ada@example.org", PASSWORD)
    assert other_browser.get("/staff/users").status_code == 200

    response = client.post(f"/staff/users/{admin.id}/password")

    assert response.status_code == 200
    assert client.get("/staff/users").status_code == 200
    assert other_browser.get("/staff/users").status_code == 302
    password = NEW_PASSWORD.search(response.text).group(1)
    assert can_sign_in(app, "ada@example.org", password) is not None


def test_a_disabled_account_is_signed_out_at_once_and_cannot_sign_in(client, app, admin):
    new_staff(client, role="organiser", password="a long enough secret")
    sam = account("sam@example.org")
    colleague = can_sign_in(app, "sam@example.org", "a long enough secret")
    assert colleague.get("/staff/").status_code == 200

    response = client.post(f"/staff/users/{sam.id}/disable", follow_redirects=True)

    assert "signed out and cannot sign in" in response.text
    assert "Disabled" in client.get("/staff/users").text
    gone = colleague.get("/staff/")
    assert gone.status_code == 302 and "/staff/login" in gone.headers["Location"]
    assert colleague.get("/staff/events").status_code == 302
    assert can_sign_in(app, "sam@example.org", "a long enough secret") is None

    client.post(f"/staff/users/{sam.id}/enable")
    assert can_sign_in(app, "sam@example.org", "a long enough secret") is not None
    assert [e.action for e in entries("staff.disable", "staff.enable")] == [
        "staff.disable",
        "staff.enable",
    ]


def test_the_last_active_admin_cannot_disable_or_demote_themselves(client, app, admin):
    refused = client.post(f"/staff/users/{admin.id}/disable", follow_redirects=True)
    assert "That would leave no active admin" in refused.text

    demoted = client.post(
        f"/staff/users/{admin.id}",
        data={"name": "Ada Admin", "email": "ada@example.org", "role": "organiser"},
    )
    assert demoted.status_code == 422
    assert "That would leave no active admin" in demoted.text
    ada = account("ada@example.org")
    assert ada.active and ada.role == "admin"
    assert entries("staff.disable", "staff.update") == []

    # with a second active admin, stepping down is fine
    new_staff(client, email="bo@example.org", name="Bo", role="admin", password="x" * 12)
    stepped_down = client.post(
        f"/staff/users/{admin.id}",
        data={"name": "Ada Admin", "email": "ada@example.org", "role": "organiser"},
    )
    assert stepped_down.status_code == 303
    assert client.get("/staff/users").status_code == 403  # no longer an admin


def test_a_disabled_admin_does_not_count_as_the_admin_left(client, app, admin):
    new_staff(client, email="bo@example.org", name="Bo", role="admin", password="x" * 12)
    bo = account("bo@example.org")
    client.post(f"/staff/users/{bo.id}/disable")

    refused = client.post(f"/staff/users/{admin.id}/disable", follow_redirects=True)

    assert "That would leave no active admin" in refused.text
    assert account("ada@example.org").active


def test_two_admins_stepping_down_at_once_leave_one_admin(make_app):
    """Each demotes themselves in a thread of its own, at the same instant: one is refused."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 5, "max_overflow": 0})
    with app.app_context():
        ids = []
        for email in ("ada@example.org", "bo@example.org"):
            staff = StaffUser(email=email, name=email[:3], role=Role.ADMIN)
            staff.set_password(PASSWORD)
            db.session.add(staff)
            db.session.flush()
            ids.append(staff.id)
        db.session.commit()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def step_down(staff_id: int):
        with app.app_context():
            staff = db.session.get(StaffUser, staff_id)
            values = {"name": staff.name, "email": staff.email, "role": "scanner", "event_ids": []}
            barrier.wait()
            try:
                services.update_staff(staff, values)
                outcomes.append("demoted")
            except AdminError:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=step_down, args=(staff_id,)) for staff_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["demoted", "refused"]
    with app.app_context():
        admins = db.session.scalar(
            select(func.count()).where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True))
        )
        assert admins == 1


def test_staff_pages_are_for_admins_only(client, app, make_event):
    forum = make_event()
    assert client.get("/staff/users").status_code == 302
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])
    for path in ("/staff/users", "/staff/users/new", "/staff/users/1", "/staff/audit"):
        assert client.get(path).status_code == 403, path
    assert client.post("/staff/users/1/password").status_code == 403
    assert client.post("/staff/users/1/disable").status_code == 403
    assert client.post("/staff/users/new", data={"email": "x@example.org"}).status_code == 403


def test_an_unknown_account_is_not_found(client, admin):
    assert client.get("/staff/users/999").status_code == 404
    assert client.post("/staff/users/999/password").status_code == 404


# ------------------------------------------------------------------------------------ devices


def test_organiser_creates_a_device_token_shown_once_for_their_event_only(client, make_event):
    forum, other = make_event(), make_event(slug="other")
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum], name="Lead Organiser")

    response = client.post("/e/forum/admin/devices", data={"name": "Door 1 phone"})

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = DEVICE_TOKEN.search(response.text).group(1)
    device = db.session.scalar(select(DeviceToken))
    assert device.token_hash != token and len(token) >= 43  # 256 bits, only a hash is kept
    api = client.application.test_client()  # a phone, no staff cookie
    bearer = {"Authorization": f"Bearer {token}"}
    counts = api.get(f"/api/v1/sessions/{forum.sessions[0].id}/counts", headers=bearer)
    assert counts.status_code == 200
    assert (
        api.get(f"/api/v1/sessions/{other.sessions[0].id}/counts", headers=bearer).status_code
        == 403
    )

    listing = client.get("/e/forum/admin/devices").text
    assert "Door 1 phone" in listing and "Lead Organiser" in listing and "Valid" in listing
    assert token not in listing

    assert client.post(f"/e/forum/admin/devices/{device.id}/revoke").status_code == 303
    revoked = api.get(f"/api/v1/sessions/{forum.sessions[0].id}/counts", headers=bearer)
    assert revoked.status_code == 401
    assert "Revoked" in client.get("/e/forum/admin/devices").text
    assert [
        (e.action, e.target, e.event_id) for e in entries("device.create", "device.revoke")
    ] == [
        ("device.create", f"device {device.id}", forum.id),
        ("device.revoke", f"device {device.id}", forum.id),
    ]


def test_a_device_needs_a_name(client, make_event):
    forum = make_event()
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum])

    response = client.post("/e/forum/admin/devices", data={"name": "  "})

    assert response.status_code == 422
    assert "Name the device" in response.text
    assert db.session.scalar(select(func.count()).select_from(DeviceToken)) == 0


def test_a_device_of_another_event_cannot_be_revoked_from_here(client, make_event):
    forum, other = make_event(), make_event(slug="other")
    device, _token = DeviceToken.issue(other, "Their phone")
    db.session.add(device)
    db.session.commit()
    sign_in(client, "lead@example.org", Role.ORGANISER, events=[forum, other])

    assert client.post(f"/e/forum/admin/devices/{device.id}/revoke").status_code == 404
    db.session.rollback()
    assert db.session.get(DeviceToken, device.id).is_valid
