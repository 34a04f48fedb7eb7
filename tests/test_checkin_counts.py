"""The door's live counter (people in, seats) in every scan's answer.

Each server process reuses the counts it read for up to ``CHECKIN_COUNTS_MAX_AGE`` seconds and
keeps them exact for its own changes. Two apps on one database stand for two server processes:
each has its own counts, as two gunicorn workers do.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

from regapp.extensions import db
from regapp.models import DeviceToken, EventSession
from regapp.registration.services import ParticipantDetails, register

NOW = datetime.now(UTC).replace(microsecond=0)


def door(make_event, people: int):
    """A session open for check-in, ``people`` registered for it, and a device token."""
    event = make_event(
        {"starts_at": NOW - timedelta(minutes=5), "ends_at": NOW + timedelta(hours=1)}
    )
    codes = [join(event, f"person-{i}@example.org").active_code.code for i in range(people)]
    device, token = DeviceToken.issue(event, "Door")
    db.session.add(device)
    db.session.commit()
    return event.sessions[0].id, codes, token


def join(event, email: str):
    details = ParticipantDetails(
        full_name=email.split("@")[0],
        email=email,
        country="AZ",
        organisation="ASAN Service",
        job_title="",
        category="delegate",
    )
    return register(event, details, [event.sessions[0].id])


def scan(app, session_id: int, code: str, token: str) -> dict:
    response = app.test_client().post(
        "/api/v1/checkins",
        json={"code": code, "session_id": session_id, "gate": "Door"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.get_json()


def test_a_door_counts_its_own_scans_at_once_and_other_processes_scans_within_the_max_age(
    make_app, make_event
):
    first = make_app(CHECKIN_COUNTS_MAX_AGE=60)
    second = make_app(CHECKIN_COUNTS_MAX_AGE=60)
    with first.app_context():
        session_id, codes, token = door(make_event, 4)
    assert scan(first, session_id, codes[0], token)["counts"] == {"checked_in": 1, "registered": 4}
    assert scan(second, session_id, codes[1], token)["counts"]["checked_in"] == 2  # read afresh
    # The first process still has its own count from a moment ago, plus its own scan.
    assert scan(first, session_id, codes[2], token)["counts"]["checked_in"] == 2
    first.config["CHECKIN_COUNTS_MAX_AGE"] = 0.001  # its counts are now too old: read again
    time.sleep(0.002)
    assert scan(first, session_id, codes[3], token)["counts"]["checked_in"] == 4


def test_with_no_max_age_every_answer_is_counted_afresh(make_app, make_event):
    first = make_app(CHECKIN_COUNTS_MAX_AGE=0)
    second = make_app(CHECKIN_COUNTS_MAX_AGE=0)
    with first.app_context():
        session_id, codes, token = door(make_event, 3)
    for expected, (app, code) in enumerate(zip([first, second, first], codes, strict=True), 1):
        assert scan(app, session_id, code, token)["counts"]["checked_in"] == expected


def test_a_new_registration_in_the_same_process_shows_in_the_next_answer(make_app, make_event):
    app = make_app()
    with app.app_context():
        session_id, codes, token = door(make_event, 2)
        assert scan(app, session_id, codes[0], token)["counts"] == {
            "checked_in": 1,
            "registered": 2,
        }
        join(db.session.get(EventSession, session_id).event, "latecomer@example.org")
        assert scan(app, session_id, codes[1], token)["counts"] == {
            "checked_in": 2,
            "registered": 3,
        }


def test_an_undo_takes_one_off_the_counter_at_once(make_app, make_event):
    app = make_app()
    with app.app_context():
        session_id, codes, token = door(make_event, 2)
        first = scan(app, session_id, codes[0], token)
        assert scan(app, session_id, codes[1], token)["counts"]["checked_in"] == 2
        response = app.test_client().post(
            f"/api/v1/checkins/{first['checkin_id']}/annul",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.get_json()["counts"]["checked_in"] == 1


def test_many_doors_of_one_process_scanning_at_once_leave_an_exact_count(make_app, make_event):
    """Threads of one process commit while others read the counts: no scan is lost or counted
    twice, whichever came first."""
    doors = 12
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": doors + 3, "max_overflow": 0})
    with app.app_context():
        session_id, codes, token = door(make_event, doors + 1)
    barrier = threading.Barrier(doors)
    answers = []

    def scanner(code):
        barrier.wait()
        with app.app_context():
            answers.append(scan(app, session_id, code, token)["counts"]["checked_in"])

    threads = [threading.Thread(target=scanner, args=(code,)) for code in codes[:doors]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers)[-1] <= doors and len(answers) == doors
    with app.app_context():
        assert scan(app, session_id, codes[doors], token)["counts"]["checked_in"] == doors + 1
