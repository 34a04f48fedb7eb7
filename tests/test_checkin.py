"""Door check-in: verdicts, the log, undo, walk-ins, online attendance, and the API's rules."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from regapp.admin.services import remove_session
from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.models import CheckIn, DeviceToken, Participant, Role
from regapp.registration.services import ParticipantDetails, register
from regapp.tickets.codes import grouped

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def forum(app, make_event):
    """An event whose opening session runs now (check-in open), a panel tomorrow, and a full
    small session."""
    return make_event(
        {
            "title": "Opening session",
            "starts_at": NOW - timedelta(minutes=10),
            "ends_at": NOW + timedelta(minutes=80),
            "capacity": 100,
            "stream_url": "https://stream.example.org/opening",
        },
        {
            "title": "Panel 1",
            "starts_at": NOW + timedelta(days=1),
            "ends_at": NOW + timedelta(days=1, hours=1),
        },
        {
            "title": "Workshop",
            "starts_at": NOW - timedelta(minutes=5),
            "ends_at": NOW + timedelta(minutes=60),
            "capacity": 1,
        },
    )


def person(event, email, *titles) -> Participant:
    sessions = [s.id for s in event.sessions if s.title in titles]
    details = ParticipantDetails(
        full_name=email.split("@")[0].title(),
        email=email,
        country="KZ",
        organisation="Astana Civil Service Hub",
        job_title="",
        category="delegate",
    )
    return register(event, details, sessions)


def session(event, title):
    return next(s for s in event.sessions if s.title == title)


@pytest.fixture
def scanner(client, forum):
    create_staff(
        "door@example.org", Role.SCANNER, "correct horse battery", "Door One", events=[forum]
    )
    response = client.post(
        "/staff/login", data={"email": "door@example.org", "password": "correct horse battery"}
    )
    assert response.status_code == 303
    return client


def scan(client, event, code, title="Opening session", **extra):
    body = {"code": code, "session_id": session(event, title).id, "gate": "North door", **extra}
    response = client.post("/api/v1/checkins", json=body)
    assert response.status_code == 200, response.text
    return response.get_json()


def log() -> list[tuple[str, str]]:
    db.session.rollback()
    return [(c.verdict, c.gate) for c in db.session.scalars(select(CheckIn).order_by(CheckIn.id))]


def test_first_scan_is_ok_with_name_organisation_and_country(scanner, forum):
    amina = person(forum, "amina@example.org", "Opening session")
    answer = scan(scanner, forum, amina.active_code.code)
    assert answer["status"] == "ok"
    assert answer["participant"]["name"] == "Amina"
    assert answer["participant"]["organisation"] == "Astana Civil Service Hub"
    assert answer["participant"]["country_name"] == "Kazakhstan"
    assert answer["counts"] == {"checked_in": 1, "registered": 1}


def test_second_scan_says_when_and_where_the_first_was(scanner, forum):
    amina = person(forum, "amina@example.org", "Opening session")
    first = scan(scanner, forum, amina.active_code.code)
    again = scan(scanner, forum, grouped(amina.active_code.code).lower(), gate="South door")
    assert again["status"] == "already_checked_in"
    assert again["gate"] == "North door"
    assert again["checked_in_at_local"] in again["message"]
    assert again["counts"]["checked_in"] == 1
    assert log() == [("ok", "North door"), ("already_checked_in", "South door")]
    assert first["checkin_id"] != again["checkin_id"]


def test_only_a_repeat_scan_looks_up_the_earlier_check_in(scanner, forum):
    """The participant's attendance mask, read with their row, says whether there is an
    earlier check-in: a first scan (most of a door rush) does not search the log for one."""
    amina = person(forum, "amina@example.org", "Opening session")
    lookups = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "checkins.gate" in statement:
            lookups.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert scan(scanner, forum, amina.active_code.code)["status"] == "ok"
        assert lookups == []
        assert scan(scanner, forum, amina.active_code.code)["status"] == "already_checked_in"
        assert len(lookups) == 1
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)


def test_only_a_scan_commits_without_waiting_for_the_disk(scanner, forum):
    """A scan's COMMIT does not wait for the disk to confirm it (a scan lost to a power cut is
    scanned again); every other write does, a registration right after a scan on the same
    connection included."""
    waits = []

    def before_commit(connection):
        # Every COMMIT of the app's connections, the ORM session's and those of services that
        # write outside it (a registration).
        if connection.dialect.name == "postgresql":
            setting = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            waits.append(setting != "off")
        else:
            waits.append(connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2)  # FULL

    people = [person(forum, f"p{n}@example.org", "Opening session") for n in range(3)]
    sa_event.listen(db.engine, "commit", before_commit)
    try:
        for n, someone in enumerate(people):
            waits.clear()
            assert scan(scanner, forum, someone.active_code.code)["status"] == "ok"
            assert waits[0] is False  # the scan's own transaction; what follows only reads
            waits.clear()
            person(forum, f"late{n}@example.org", "Opening session")
            assert waits and all(waits)
    finally:
        sa_event.remove(db.engine, "commit", before_commit)


def test_not_registered_lists_the_sessions_they_hold(scanner, forum):
    amina = person(forum, "amina@example.org", "Panel 1")
    answer = scan(scanner, forum, amina.active_code.code)
    assert answer["status"] == "not_registered"
    assert [s["title"] for s in answer["sessions"]] == ["Panel 1"]


def test_waitlisted_and_cancelled_are_refused(scanner, forum):
    person(forum, "first@example.org", "Workshop")
    second = person(forum, "second@example.org", "Workshop", "Panel 1")
    assert scan(scanner, forum, second.active_code.code, "Workshop")["status"] == "waitlisted"
    from regapp.registration.services import change_sessions

    third = person(forum, "third@example.org", "Opening session", "Panel 1")
    change_sessions(third, [session(forum, "Panel 1").id])
    answer = scan(scanner, forum, third.active_code.code)
    assert answer["status"] == "cancelled" and answer["sessions"][0]["title"] == "Panel 1"


def test_revoked_and_unknown_codes_are_refused(scanner, forum):
    amina = person(forum, "amina@example.org", "Opening session")
    old = amina.active_code.code
    amina.issue_code()
    db.session.commit()
    replaced = scan(scanner, forum, old)
    assert replaced["status"] == "revoked_code" and replaced["participant"]["name"] == "Amina"
    typo = old[:10] + ("0" if old[10] != "0" else "1") + old[11:]
    answer = scan(scanner, forum, typo)
    assert answer["status"] == "unknown_code" and "typo" in answer["message"]
    assert answer["participant"] is None
    assert scan(scanner, forum, "hello world")["status"] == "unknown_code"
    assert [v for v, _ in log()] == ["revoked_code", "unknown_code", "unknown_code"]


def test_outside_the_check_in_window_is_refused(scanner, forum):
    amina = person(forum, "amina@example.org", "Panel 1")
    answer = scan(scanner, forum, amina.active_code.code, "Panel 1")
    assert answer["status"] == "outside_window"
    assert "open from" in answer["message"]


def test_the_same_nonce_twice_records_one_scan_and_gives_the_first_answer(scanner, forum):
    amina = person(forum, "amina@example.org", "Opening session")
    first = scan(scanner, forum, amina.active_code.code, nonce="device-7-scan-1")
    again = scan(scanner, forum, amina.active_code.code, nonce="device-7-scan-1")
    assert again["status"] == first["status"] == "ok"
    assert again["checkin_id"] == first["checkin_id"]
    assert log() == [("ok", "North door")]


def test_undo_makes_the_person_not_checked_in_again(scanner, forum):
    amina = person(forum, "amina@example.org", "Opening session")
    first = scan(scanner, forum, amina.active_code.code)
    response = scanner.post(
        f"/api/v1/checkins/{first['checkin_id']}/annul", json={"reason": "Wrong person"}
    )
    assert response.get_json()["status"] == "annulled"
    assert response.get_json()["counts"]["checked_in"] == 0
    again = scanner.post(f"/api/v1/checkins/{first['checkin_id']}/annul", json={})
    assert again.status_code == 422
    assert scan(scanner, forum, amina.active_code.code)["status"] == "ok"
    assert [v for v, _ in log()] == ["ok", "annulled", "ok"]  # nothing deleted


def test_scanner_cannot_register_walk_ins_but_an_organiser_can(client, scanner, forum):
    amina = person(forum, "amina@example.org", "Panel 1")
    body = {"participant_id": amina.id, "session_id": session(forum, "Opening session").id}
    assert scanner.post("/api/v1/walkins", json=body).status_code == 403

    create_staff("org@example.org", Role.ORGANISER, "organiser password", events=[forum])
    scanner.post("/staff/logout")
    client.post("/staff/login", data={"email": "org@example.org", "password": "organiser password"})
    answer = client.post("/api/v1/walkins", json={**body, "gate": "Desk"}).get_json()
    assert answer["status"] == "ok" and answer["counts"]["registered"] == 1

    person(forum, "full@example.org", "Workshop")  # takes the workshop's only seat
    full = {"participant_id": amina.id, "session_id": session(forum, "Workshop").id}
    response = client.post("/api/v1/walkins", json=full)
    assert response.status_code == 409 and "No seats left" in response.get_json()["message"]


def test_search_finds_people_by_name_email_or_organisation(scanner, forum):
    person(forum, "amina@example.org", "Opening session")
    person(forum, "zoe@example.org", "Panel 1")
    sid = session(forum, "Opening session").id
    results = scanner.get(f"/api/v1/sessions/{sid}/search?q=AMI").get_json()["results"]
    assert [(r["name"], r["registration"]) for r in results] == [("Amina", "confirmed")]
    results = scanner.get(f"/api/v1/sessions/{sid}/search?q=civil").get_json()["results"]
    assert {r["name"] for r in results} == {"Amina", "Zoe"}
    assert scanner.get(f"/api/v1/sessions/{sid}/search?q=%25").status_code == 422
    assert scanner.get(f"/api/v1/sessions/{sid}/search?q=__").get_json()["results"] == []
    answer = scanner.post(
        "/api/v1/checkins", json={"participant_id": results[0]["participant_id"], "session_id": sid}
    ).get_json()
    assert answer["status"] in ("ok", "not_registered")


def test_api_refuses_callers_without_the_right_credentials(client, make_app, forum):
    amina = person(forum, "amina@example.org", "Opening session")
    body = {"code": amina.active_code.code, "session_id": session(forum, "Opening session").id}
    response = client.post("/api/v1/checkins", json=body)
    assert response.status_code == 401 and response.get_json()["code"] == "unauthenticated"

    device, token = DeviceToken.issue(forum, "Phone 1")
    other_event_device, other_token = DeviceToken.issue(
        db.session.merge(forum.__class__(slug="other", name="Other", timezone="UTC")), "Other"
    )
    db.session.add_all([device, other_event_device])
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/checkins", json=body, headers=headers).get_json()["status"] == "ok"
    other = {"Authorization": f"Bearer {other_token}"}
    response = client.post("/api/v1/checkins", json=body, headers=other)
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"
    device.revoke()
    db.session.commit()
    assert client.post("/api/v1/checkins", json=body, headers=headers).status_code == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert client.post("/api/v1/checkins", json=body, headers=wrong).status_code == 401


def test_another_process_sees_a_revoked_device_and_a_closed_door_within_the_lookup_age(
    make_app, forum
):
    """A server process keeps the session and the device of a scan for CHECKIN_LOOKUP_MAX_AGE
    seconds; changes made on another process (here: another app) show once that has passed."""
    door_app = make_app(CHECKIN_LOOKUP_MAX_AGE=0.3)
    amina = person(forum, "amina@example.org", "Opening session")
    bola = person(forum, "bola@example.org", "Opening session")
    device, token = DeviceToken.issue(forum, "Phone 1")
    db.session.add(device)
    db.session.commit()
    opening = session(forum, "Opening session")
    body = {"code": amina.active_code.code, "session_id": opening.id}
    headers = {"Authorization": f"Bearer {token}"}
    door = door_app.test_client()
    assert door.post("/api/v1/checkins", json=body, headers=headers).get_json()["status"] == "ok"

    db.session.rollback()  # end this (other) process's read, older than the scan's write
    opening.checkin_closes_at = NOW - timedelta(minutes=1)
    device.revoke()
    db.session.commit()
    time.sleep(0.35)
    body["code"] = bola.active_code.code
    assert door.post("/api/v1/checkins", json=body, headers=headers).status_code == 401
    another, token = DeviceToken.issue(forum, "Phone 2")
    db.session.add(another)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    answer = door.post("/api/v1/checkins", json=body, headers=headers).get_json()
    assert answer["status"] == "outside_window"


def test_a_scan_into_a_session_removed_on_another_process_is_refused_with_a_reason(make_app, forum):
    """A door process still keeps a session that an organiser has just removed on another:
    the scan is answered 422, as for any unknown session, and nothing is written."""
    door_app = make_app(CHECKIN_LOOKUP_MAX_AGE=60)
    amina = person(forum, "amina@example.org", "Opening session")
    device, token = DeviceToken.issue(forum, "Phone 1")
    db.session.add(device)
    db.session.commit()
    workshop = session(forum, "Workshop")
    headers = {"Authorization": f"Bearer {token}"}
    door = door_app.test_client()
    counts = door.get(f"/api/v1/sessions/{workshop.id}/counts", headers=headers)
    assert counts.status_code == 200  # the door process now keeps the session

    db.session.rollback()
    remove_session(db.session.get(type(workshop), workshop.id))
    body = {"code": amina.active_code.code, "session_id": workshop.id}
    response = door.post("/api/v1/checkins", json=body, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"session_id": "No such session."}
    db.session.rollback()
    assert log() == []


def test_a_walk_in_into_a_session_removed_on_another_process_is_refused_as_a_scan_is(
    make_app, forum
):
    """422 "No such session.", as for a scan, not 409 "no seat"; nothing is written."""
    door_app = make_app(CHECKIN_LOOKUP_MAX_AGE=60)
    amina = person(forum, "amina@example.org", "Opening session")
    create_staff("org@example.org", Role.ORGANISER, "organiser password", events=[forum])
    workshop = session(forum, "Workshop")
    door = door_app.test_client()
    door.post("/staff/login", data={"email": "org@example.org", "password": "organiser password"})
    counts = door.get(f"/api/v1/sessions/{workshop.id}/counts")
    assert counts.status_code == 200  # the door process now keeps the session

    db.session.rollback()
    remove_session(db.session.get(type(workshop), workshop.id))
    body = {"participant_id": amina.id, "session_id": workshop.id}
    response = door.post("/api/v1/walkins", json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"session_id": "No such session."}
    db.session.rollback()
    assert log() == []
    assert [r.session.title for r in db.session.get(Participant, amina.id).registrations] == [
        "Opening session"
    ]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"code": "R1X"},
        {"code": "R1X", "session_id": "1"},
        {"code": "R1X", "session_id": True},
        {"code": "", "session_id": "SESSION"},
        {"code": 5, "session_id": "SESSION"},
        {"code": "R1X", "participant_id": 3, "session_id": "SESSION"},
        {"code": "x" * 201, "session_id": "SESSION"},
        {"code": "R1X", "session_id": 987654},
        {"code": "R1X", "session_id": "SESSION", "gate": "g" * 81},
    ],
)
def test_malformed_scans_get_422_and_record_nothing(scanner, forum, body):
    if isinstance(body, dict) and body.get("session_id") == "SESSION":
        body["session_id"] = forum.sessions[0].id
    response = scanner.post("/api/v1/checkins", json=body)
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid" and response.get_json()["errors"]
    assert log() == []


def test_cookie_callers_need_the_csrf_token(make_app, make_event):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        event = make_event()
        create_staff("door@example.org", Role.SCANNER, "correct horse battery", events=[event])
        client = app.test_client()
        page = client.get("/staff/login").text
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post(
            "/staff/login",
            data={
                "email": "door@example.org",
                "password": "correct horse battery",
                "csrf_token": token,
            },
        )
        body = {"code": "R1X", "session_id": event.sessions[0].id}
        response = client.post("/api/v1/checkins", json=body)
        assert response.status_code == 403 and response.get_json()["code"] == "csrf"
        response = client.post("/api/v1/checkins", json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 200


def door_setup(make_app, make_event):
    """An app with a connection for every thread, a session open now, a code and a device."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 15, "max_overflow": 0})
    with app.app_context():
        event = make_event(
            {"starts_at": NOW - timedelta(minutes=5), "ends_at": NOW + timedelta(hours=1)}
        )
        code = person(event, "amina@example.org", "Session 1").active_code.code
        device, token = DeviceToken.issue(event, "Door")
        db.session.add(device)
        db.session.commit()
        return app, code, event.sessions[0].id, token


def test_ten_doors_scanning_the_same_code_at_once_get_exactly_one_ok(make_app, make_event):
    app, code, session_id, token = door_setup(make_app, make_event)
    barrier = threading.Barrier(10)
    answers = []

    def door(i):
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/checkins",
            json={"code": code, "session_id": session_id, "gate": f"Door {i}"},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append(response.get_json()["status"])

    threads = [threading.Thread(target=door, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == ["already_checked_in"] * 9 + ["ok"]


def test_the_same_nonce_from_ten_threads_is_recorded_once(make_app, make_event):
    app, code, session_id, token = door_setup(make_app, make_event)
    barrier = threading.Barrier(10)
    answers = []

    def retry():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/checkins",
            json={"code": code, "session_id": session_id, "nonce": "the-one-scan"},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append((response.status_code, response.get_json()["checkin_id"]))

    threads = [threading.Thread(target=retry) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 1 and answers[0][0] == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_online_join_link_records_attendance_and_opens_the_stream(client, forum):
    amina = person(forum, "amina@example.org", "Opening session", "Panel 1")
    opening = session(forum, "Opening session")
    response = client.get(f"/join/{amina.join_token}/{opening.id}")
    assert response.status_code == 303
    assert response.location == "https://stream.example.org/opening"
    assert client.get(f"/join/{amina.join_token}/{opening.id}").status_code == 303
    db.session.rollback()
    channels = [(c.channel, c.verdict) for c in db.session.scalars(select(CheckIn))]
    assert channels == [("online", "ok"), ("online", "already_checked_in")]

    # Online attendance does not count as being in the hall: the door still says ok.
    create_staff("door@example.org", Role.SCANNER, "correct horse battery", events=[forum])
    client.post(
        "/staff/login", data={"email": "door@example.org", "password": "correct horse battery"}
    )
    assert scan(client, forum, amina.active_code.code)["status"] == "ok"

    panel = session(forum, "Panel 1")
    panel.stream_url = "https://stream.example.org/panel"
    db.session.commit()
    response = client.get(f"/join/{amina.join_token}/{panel.id}")
    assert response.status_code == 403 and "The stream opens on" in response.text
    assert client.get(f"/join/not-a-token/{opening.id}").status_code == 404
    assert client.get(f"/join/{amina.manage_token}/{opening.id}").status_code == 404


def test_scanner_page_needs_a_signed_in_staff_member(client, forum):
    response = client.get(f"/e/{forum.slug}/checkin")
    assert response.status_code == 302 and "/staff/login" in response.location


def test_sign_in_and_out(client, app):
    create_staff("door@example.org", Role.SCANNER, "correct horse battery")
    wrong = client.post("/staff/login", data={"email": "door@example.org", "password": "nope"})
    assert wrong.status_code == 422 and "Wrong email or password" in wrong.text
    response = client.post(
        "/staff/login?next=https://evil.example/",
        data={"email": "DOOR@example.org", "password": "correct horse battery"},
    )
    assert response.status_code == 303 and response.location.endswith("/staff/")
    assert client.get("/staff/").status_code == 200
    client.post("/staff/logout")
    assert client.get("/staff/").status_code == 302


def test_a_disabled_account_cannot_sign_in(client, app):
    staff = create_staff("door@example.org", Role.SCANNER, "correct horse battery")
    staff.active = False
    db.session.commit()
    response = client.post(
        "/staff/login", data={"email": "door@example.org", "password": "correct horse battery"}
    )
    assert response.status_code == 422


def test_staff_and_device_commands(app, runner, forum):
    result = runner.invoke(
        args=["staff", "add", "lead@example.org", "--role", "admin"],
        input="a long password\na long password\n",
    )
    assert "can sign in as admin" in result.output
    result = runner.invoke(args=["staff", "add", "x@example.org", "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = runner.invoke(args=["device", "add", forum.slug, "Phone 1"])
    token = result.output.strip().splitlines()[-1]
    assert len(token) >= 43
    device = db.session.scalar(select(DeviceToken))
    assert device.token_hash != token  # only the hash is kept
    result = runner.invoke(args=["device", "revoke", str(device.id)])
    assert "revoked" in result.output


def test_counter_counts_people_not_scans(scanner, forum):
    people = [person(forum, f"p{i}@example.org", "Opening session") for i in range(3)]
    person(forum, "absent@example.org", "Opening session")
    answers = [scan(scanner, forum, p.active_code.code) for p in people]
    scan(scanner, forum, people[0].active_code.code)  # a second scan adds no one
    assert answers[-1]["counts"] == {"checked_in": 3, "registered": 4}
    scanner.post(f"/api/v1/checkins/{answers[1]['checkin_id']}/annul", json={})
    sid = session(forum, "Opening session").id
    assert scanner.get(f"/api/v1/sessions/{sid}/counts").get_json() == {
        "checked_in": 2,
        "registered": 4,
    }


def test_manage_page_and_email_carry_the_personal_join_links(client, forum):
    from regapp.mail.messages import build_message
    from regapp.models import OutboxMessage

    amina = person(forum, "amina@example.org", "Opening session", "Panel 1")
    opening = session(forum, "Opening session")
    link = f"/join/{amina.join_token}/{opening.id}"
    page = client.get(f"/manage/{amina.manage_token}").text
    assert link in page and page.count("Join online<") == 1  # Panel 1 has no stream
    row = db.session.scalar(select(OutboxMessage))
    with client.application.test_request_context(base_url="http://regapp.test"):
        message = build_message(row, amina)
    assert f"http://regapp.test{link}" in message.get_body(("plain",)).get_content()


def test_a_waitlisted_person_cannot_join_online_either(client, forum):
    first = person(forum, "first@example.org", "Workshop")
    waiting = person(forum, "second@example.org", "Workshop")
    workshop = session(forum, "Workshop")
    workshop.stream_url = "https://stream.example.org/workshop"
    db.session.commit()
    response = client.get(f"/join/{waiting.join_token}/{workshop.id}")
    assert response.status_code == 403 and "On the waitlist" in response.text
    assert client.get(f"/join/{first.join_token}/{workshop.id}").status_code == 303
