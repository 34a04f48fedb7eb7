"""Capacity holds when many people race for a session's last seats at the same instant.

Every racer is a real thread posting the registration form through the app, with its own
database session and connection. The negative control runs the same race with seat locking
switched off and must see it go wrong (oversold seats or failed requests); that proves the race
is real and the first test able to fail.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from regapp.extensions import db
from regapp.models import Registration, RegistrationStatus
from tests.conftest import registration_form

RACERS = 50
CAPACITY = 10
ALREADY_TAKEN = 7
#: Races the negative control runs, at most, to see one go wrong.
ATTEMPTS = 10


def race(app, event, tag: str) -> list:
    """RACERS threads register at once; returns each one's HTTP status or exception."""
    session_id = event.sessions[0].id
    barrier = threading.Barrier(RACERS)

    def racer(i: int):
        client = app.test_client()
        data = registration_form(event, [session_id], email=f"{tag}-{i}@example.org")
        barrier.wait()
        try:
            return client.post(f"/e/{event.slug}/register", data=data).status_code
        except Exception as error:  # noqa: BLE001 - an error is what the control looks for
            return error

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(racer, range(RACERS)))


def fill(client, event, n: int) -> None:
    for i in range(n):
        data = registration_form(event, [event.sessions[0].id], email=f"early-{i}@example.org")
        assert client.post(f"/e/{event.slug}/register", data=data).status_code == 303


def seat_count(event, status: str) -> int:
    db.session.rollback()  # end this thread's read snapshot: count what the racers committed
    return db.session.scalar(
        select(func.count()).where(
            Registration.session_id == event.sessions[0].id, Registration.status == status
        )
    )


def racing_app(make_app, **config):
    # A pool with room for every racer, so that all 50 hold their own connection at once.
    engine_options = {"pool_size": RACERS + 5, "max_overflow": 0}
    return make_app(SQLALCHEMY_ENGINE_OPTIONS=engine_options, **config)


def test_fifty_racers_for_the_last_three_seats_never_oversell(make_app, make_event):
    app = racing_app(make_app)
    with app.app_context():
        event = make_event({"title": "Opening session", "capacity": CAPACITY})
        fill(app.test_client(), event, ALREADY_TAKEN)

        results = race(app, event, "racer")

        assert results == [303] * RACERS, [r for r in results if r != 303][:3]
        assert seat_count(event, RegistrationStatus.CONFIRMED) == CAPACITY
        assert seat_count(event, RegistrationStatus.WAITLISTED) == ALREADY_TAKEN + RACERS - CAPACITY


def test_negative_control_without_seat_locking_the_race_is_detected(make_app, make_event):
    app = racing_app(make_app, SEAT_LOCKING=False)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            pytest.skip(
                "SQLite: a registration writes the participant before it counts the seats, so "
                "its first statement takes the write lock, with or without BEGIN IMMEDIATE: "
                "there is no unlocked race to detect"
            )
        detected = []
        # A race is a matter of chance: on PostgreSQL a registration is one statement that
        # commits as it ends, so two overlap only for the server's work; 17 races of 20 oversold.
        for attempt in range(ATTEMPTS):
            event = make_event({"capacity": CAPACITY}, slug=f"control-{attempt}")
            fill(app.test_client(), event, ALREADY_TAKEN)
            results = race(app, event, f"control-{attempt}")
            oversold = seat_count(event, RegistrationStatus.CONFIRMED) - CAPACITY
            failures = [r for r in results if r != 303]
            if oversold > 0 or failures:
                detected.append((oversold, len(failures)))
                break
        assert detected, (
            f"the unlocked race went right {ATTEMPTS} times: the race test proves nothing"
        )
