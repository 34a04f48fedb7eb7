"""Nobody reaches data that is not theirs: participants, scanners, devices, organisers.

Two events share the installation: "forum", where the scanner, the organiser and the door device
work, and "other". (test_access_routes.py checks every route by role; these are the stories
behind it, with the data that must not leak.)
"""

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.models import CheckIn, DeviceToken, Participant, Registration, Role
from regapp.registration.services import ParticipantDetails, register
from tests.test_tickets import decode_png, read_pdf

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC).replace(microsecond=0)


def person(event, name: str) -> Participant:
    details = ParticipantDetails(
        full_name=name,
        email=f"{name.split()[0].lower()}@example.org",
        country="KZ",
        organisation="Astana Civil Service Hub",
        job_title="",
        category="delegate",
    )
    return register(event, details, [event.sessions[0].id])


@pytest.fixture
def forum(make_event):
    return make_event(
        {
            "title": "Opening",
            "starts_at": NOW - timedelta(minutes=10),
            "ends_at": NOW + timedelta(hours=1),
            "stream_url": "https://stream.example.org/forum",
        },
        {"title": "Panel", "starts_at": NOW + timedelta(days=1)},
    )


@pytest.fixture
def other(make_event):
    return make_event(
        {
            "title": "Other opening",
            "starts_at": NOW - timedelta(minutes=10),
            "ends_at": NOW + timedelta(hours=1),
            "stream_url": "https://stream.example.org/other",
        },
        slug="other",
        name="Other Event",
    )


@pytest.fixture
def amina(forum):
    return person(forum, "Amina Rahimova")


@pytest.fixture
def boris(other):
    return person(other, "Boris Petrov")


def signed_in(app, role: Role, *events):
    create_staff(f"{role}@example.org", role, PASSWORD, f"{role.title()} One", events=events)
    client = app.test_client()
    response = client.post(
        "/staff/login", data={"email": f"{role}@example.org", "password": PASSWORD}
    )
    assert response.status_code == 303
    return client


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


# --------------------------------------------------------------------------- participants


def test_a_tampered_manage_link_reaches_nobody(client, amina, boris):
    urls = ["", "/confirmation", "/cancel", "/qr.png", "/qr.svg", "/ticket.pdf"]
    for token in (tampered(amina.manage_token), secrets.token_urlsafe(32), "x", "../../"):
        for url in urls:
            assert client.get(f"/manage/{token}{url}").status_code == 404, (token, url)
        for url in ("/sessions", "/cancel", "/new-code"):
            assert client.post(f"/manage/{token}{url}").status_code == 404, (token, url)
    assert count(Registration) == 2
    assert amina.active_code is not None


def test_the_manage_page_shows_its_holder_only(client, amina, boris):
    page = client.get(f"/manage/{amina.manage_token}").text
    assert "Amina Rahimova" in page
    assert "Boris" not in page and boris.active_code.code not in page


def test_codes_and_join_links_are_not_manage_links(client, amina):
    """Each secret opens one door: the access code, the join token and the manage token."""
    for wrong in (amina.active_code.code, amina.join_token):
        assert client.get(f"/manage/{wrong}").status_code == 404
        assert client.get(f"/manage/{wrong}/ticket.pdf").status_code == 404
    session_id = amina.event.sessions[0].id
    assert client.get(f"/join/{amina.manage_token}/{session_id}").status_code == 404
    assert client.get(f"/join/{amina.active_code.code}/{session_id}").status_code == 404
    assert count(CheckIn) == 0


def test_a_participant_cannot_book_sessions_of_another_event(client, amina, boris, other):
    theirs = other.sessions[0].id
    response = client.post(f"/manage/{amina.manage_token}/sessions", data={"sessions": [theirs]})
    assert response.status_code == 422
    assert "One of the chosen sessions does not exist." in response.text
    db.session.rollback()
    assert {r.session_id for r in amina.registrations} == {amina.event.sessions[0].id}
    assert (
        db.session.scalar(
            select(func.count(Registration.id)).where(Registration.session_id == theirs)
        )
        == 1
    )  # Boris alone


def test_a_join_link_does_not_open_another_events_stream(client, amina, other):
    response = client.get(f"/join/{amina.join_token}/{other.sessions[0].id}")
    assert response.status_code == 404
    assert count(CheckIn) == 0


def test_ticket_and_qr_carry_the_holders_code_only(client, amina, boris):
    png = client.get(f"/manage/{amina.manage_token}/qr.png").data
    assert decode_png(png) == [amina.active_code.code]
    codes, text, _ = read_pdf(client.get(f"/manage/{amina.manage_token}/ticket.pdf").data)
    assert set(codes) == {amina.active_code.code}
    assert "Amina Rahimova" in text and "Boris" not in text


# --------------------------------------------------------------------------- scanners


def test_scanners_reach_the_check_in_and_nothing_else(app, forum, amina):
    scanner = signed_in(app, Role.SCANNER, forum)
    assert scanner.get("/e/forum/checkin").status_code == 200
    body = {"session_id": forum.sessions[0].id, "code": amina.active_code.code, "gate": "N"}
    assert scanner.post("/api/v1/checkins", json=body).get_json()["status"] == "ok"
    for url in (
        "/e/forum/dashboard",
        "/e/forum/dashboard/data",
        "/e/forum/dashboard/export/participants.csv",
        "/e/forum/organisations",
        "/e/forum/admin/participants",
        f"/e/forum/admin/participants/{amina.id}",
        f"/e/forum/admin/participants/{amina.id}/export.json",
        "/e/forum/admin/",
        "/e/forum/admin/devices",
        "/staff/users",
        "/staff/audit",
    ):
        assert scanner.get(url).status_code == 403, url
    walk_in = {"session_id": forum.sessions[1].id, "participant_id": amina.id, "gate": "N"}
    assert scanner.post("/api/v1/walkins", json=walk_in).status_code == 403
    assert scanner.post(f"/e/forum/admin/participants/{amina.id}/cancel").status_code == 403
    db.session.rollback()
    assert amina.registrations[0].status == "confirmed"


# --------------------------------------------------------------------------- devices


@pytest.fixture
def device(forum):
    device, token = DeviceToken.issue(forum, "Door 1")
    db.session.add(device)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_device_token_scans_for_its_own_event(client, forum, amina, device):
    session_id = forum.sessions[0].id
    body = {"session_id": session_id, "code": amina.active_code.code, "gate": "N"}
    assert client.post("/api/v1/checkins", json=body, headers=device).get_json()["status"] == "ok"
    search = client.get(f"/api/v1/sessions/{session_id}/search?q=amina", headers=device)
    assert [r["name"] for r in search.get_json()["results"]] == ["Amina Rahimova"]
    assert client.get(f"/api/v1/sessions/{session_id}/counts", headers=device).status_code == 200


def test_a_device_token_opens_no_other_event_and_no_page(
    app, client, forum, other, amina, boris, device
):
    theirs = other.sessions[0].id
    scan = {"session_id": theirs, "code": boris.active_code.code, "gate": "N"}
    assert client.post("/api/v1/checkins", json=scan, headers=device).status_code == 403
    assert client.get(f"/api/v1/sessions/{theirs}/search?q=boris", headers=device).status_code == (
        403
    )
    assert client.get(f"/api/v1/sessions/{theirs}/counts", headers=device).status_code == 403
    organiser = signed_in(app, Role.ORGANISER, other)
    checkin = organiser.post("/api/v1/checkins", json=scan).get_json()["checkin_id"]
    annul = client.post(f"/api/v1/checkins/{checkin}/annul", json={}, headers=device)
    assert annul.status_code == 403
    walk_in = {"session_id": forum.sessions[1].id, "participant_id": amina.id, "gate": "N"}
    assert client.post("/api/v1/walkins", json=walk_in, headers=device).status_code == 403
    for url in ("/e/forum/checkin", "/e/forum/dashboard", "/e/forum/dashboard/data", "/staff/"):
        response = app.test_client().get(url, headers=device)
        assert response.status_code == 302 and "/staff/login" in response.location, url


def test_a_code_of_another_event_reveals_nothing_at_this_events_door(client, forum, boris, device):
    body = {"session_id": forum.sessions[0].id, "code": boris.active_code.code, "gate": "N"}
    answer = client.post("/api/v1/checkins", json=body, headers=device).get_json()
    assert answer["status"] == "unknown_code"
    assert answer["participant"] is None
    assert "Boris" not in str(answer)
    search = client.get(f"/api/v1/sessions/{forum.sessions[0].id}/search?q=boris", headers=device)
    assert search.get_json()["results"] == []


def test_a_revoked_device_token_is_refused(client, forum, amina, device):
    db.session.scalar(select(DeviceToken)).revoke()
    db.session.commit()
    body = {"session_id": forum.sessions[0].id, "code": amina.active_code.code, "gate": "N"}
    answer = client.post("/api/v1/checkins", json=body, headers=device)
    assert answer.status_code == 401
    assert count(CheckIn) == 0


# --------------------------------------------------------------------------- organisers


def test_an_organiser_of_one_event_sees_nothing_of_another(app, forum, other, amina, boris):
    """pretix's CVE-2026-5600 leaked check-in data across events of one installation."""
    organiser = signed_in(app, Role.ORGANISER, forum)
    for url in (
        "/e/other/dashboard",
        "/e/other/dashboard/data",
        "/e/other/dashboard/export/participants.csv",
        "/e/other/dashboard/export/participants.xlsx",
        "/e/other/organisations",
        "/e/other/checkin",
        "/e/other/admin/",
        "/e/other/admin/participants",
        f"/e/other/admin/participants/{boris.id}",
        f"/e/other/admin/participants/{boris.id}/export.json",
        "/e/other/admin/audit",
        "/e/other/admin/import",
        "/e/other/admin/devices",
    ):
        response = organiser.get(url)
        assert response.status_code == 403, url
        assert "Boris" not in response.text
    theirs = other.sessions[0].id
    scan = {"session_id": theirs, "code": boris.active_code.code, "gate": "N"}
    assert organiser.post("/api/v1/checkins", json=scan).status_code == 403
    walk_in = {"session_id": theirs, "participant_id": boris.id, "gate": "N"}
    assert organiser.post("/api/v1/walkins", json=walk_in).status_code == 403
    assert organiser.get(f"/api/v1/sessions/{theirs}/search?q=bor").status_code == 403
    assert organiser.get(f"/api/v1/sessions/{theirs}/counts").status_code == 403
    assert count(CheckIn) == 0


def test_another_events_ids_under_ones_own_event_find_nothing(app, forum, other, amina, boris):
    """The event in the URL is one the organiser may use; the ids in the request are not of it."""
    organiser = signed_in(app, Role.ORGANISER, forum)
    for url in (
        f"/e/forum/admin/participants/{boris.id}",
        f"/e/forum/admin/participants/{boris.id}/export.json",
        f"/e/forum/admin/sessions/{other.sessions[0].id}",
    ):
        assert organiser.get(url).status_code == 404, url
    assert organiser.post(f"/e/forum/admin/participants/{boris.id}/cancel").status_code == 404

    filtered = organiser.get(f"/e/forum/dashboard/data?session={other.sessions[0].id}").text
    assert "Other opening" not in filtered
    export = organiser.get(
        f"/e/forum/dashboard/export/participants.csv?session={other.sessions[0].id}"
    )
    assert "Amina Rahimova" in export.text and "Boris" not in export.text
    listing = organiser.get("/e/forum/admin/participants?q=boris").text
    assert "Boris" not in listing

    badges = organiser.post("/e/forum/admin/badges.pdf", data={"ids": [str(boris.id)]})
    if badges.mimetype == "application/pdf":
        assert "Boris" not in read_pdf(badges.data)[1]
    else:
        assert badges.status_code == 303

    walk_in = {"session_id": forum.sessions[1].id, "participant_id": boris.id, "gate": "N"}
    refused = organiser.post("/api/v1/walkins", json=walk_in)
    assert refused.status_code in (404, 409, 422)
    assert "Boris" not in refused.text
    db.session.rollback()
    assert [r.session_id for r in boris.registrations] == [other.sessions[0].id]
    assert boris.registrations[0].status == "confirmed"
