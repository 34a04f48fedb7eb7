"""Registrations and door scans of the same sessions at once do not deadlock on PostgreSQL, and
a registration that PostgreSQL fails to end a deadlock all the same is sent again: the
participant gets their registration, written once, not a 503.

In the second test the deadlock is made on purpose, with real transactions on separate
connections: another transaction holds the second of the two sessions chosen, the registration
(a real request, in a thread) locks the first and waits for the second, and the other
transaction then asks for the first. PostgreSQL finds the circle after ``deadlock_timeout`` (a
second) and fails one side: the registration's, since the other side's timeout is set far longer.
"""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from regapp.extensions import db
from regapp.models import DeviceToken, EventSession, Participant
from tests.conftest import registration_form
from tests.test_crash_safety import NOW, Load, person
from tests.test_serving import Server, stop, wait_for

#: Seconds of registrations and scans together. With the sessions' rows locked ``FOR NO KEY
#: UPDATE`` (session 19's code) such a load deadlocked 16 times in 40 s.
MIXED_LOAD_SECONDS = 15

LOCK = text("SELECT id FROM event_sessions WHERE id = :id FOR UPDATE")
#: Registrations (one statement: its CTEs begin ``WITH new_id``) waiting for a row lock.
WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND query LIKE 'WITH new_id%'"
)


def test_registrations_and_door_scans_of_the_same_sessions_do_not_deadlock(
    app, make_event, migrated_database, tmp_path
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns for the whole database: no row locks, no circle")
    # Unlimited sessions: every registration takes a seat in both (it updates both rows).
    running = {"starts_at": NOW - timedelta(minutes=10), "ends_at": NOW + timedelta(hours=2)}
    event = make_event(
        {"title": "Opening", "capacity": None, **running}, {"title": "Panel", **running}
    )
    codes = [person(event, i).active_code.code for i in range(12)]
    device, token = DeviceToken.issue(event, "Door")
    db.session.add(device)
    db.session.commit()
    server = Server(tmp_path, migrated_database, REGAPP_RATELIMIT_ENABLED="false")
    server.wait_until_healthy()
    load = Load(server, event, token, codes)  # four browsers registering, three doors
    try:
        for thread in load.threads:
            thread.start()
        time.sleep(MIXED_LOAD_SECONDS)
    finally:
        load.stopping.set()
        stop(server)
        for thread in load.threads:
            thread.join()
    log = server.log.read_text()
    assert "deadlock" not in log, log[-4000:]
    assert load.unexpected == [], log[-4000:]
    assert len(load.registered) > 100 and len(load.scanned) > 100  # there was a load


def test_a_registration_failed_to_end_a_deadlock_is_sent_again(app, make_event, caplog):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns for the whole database: no row locks, no circle")
    event = make_event({"title": "Opening", "capacity": 5}, {"title": "Panel", "capacity": 5})
    first, second = sorted(s.id for s in event.sessions)
    url, form = f"/e/{event.slug}/register", registration_form(event, [first, second])
    client = app.test_client()
    answers = []
    registering = threading.Thread(target=lambda: answers.append(client.post(url, data=form)))
    db.session.commit()

    with (
        db.engine.connect() as other,
        db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher,
    ):
        with other.begin():
            other.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")  # not this side
            other.execute(LOCK, {"id": second})
            registering.start()
            wait_for(lambda: watcher.scalar(WAITING) == 1, 10, "the registration to wait")
            # Waits for the registration, which waits for this: PostgreSQL fails the
            # registration, and this transaction gets the lock (and commits, letting it go).
            other.execute(LOCK, {"id": first})
        registering.join(30)

    assert [answer.status_code for answer in answers] == [303]
    assert "sent again (attempt 2 of 3)" in caplog.text
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Participant)) == 1
    taken = select(EventSession.seats_taken).order_by(EventSession.id)
    assert db.session.scalars(taken).all() == [1, 1]
