"""SQLite writers take turns (:class:`regapp.database.WriterQueue`): the threads of a process
on its lock, the processes on a file lock beside the database; a writer that cannot get its
turn within ``DATABASE_LOCK_TIMEOUT`` gets a 503, and a turn is given back however the
transaction ends.

Two apps on one database file stand for two server processes: each has its own engine, queue
and open lock file, as gunicorn's workers do (the kernel's file locks do not tell an open file
of another process from another open file of the same one). Every writer runs in a thread of
its own, on its own connection.
"""

from __future__ import annotations

import fcntl
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exc

from regapp.database import begin_write
from regapp.errors import RETRY_AFTER
from regapp.extensions import db
from tests.conftest import EXTERNAL_DATABASE_URL, registration_form
from tests.dbstate import snapshot

pytestmark = pytest.mark.skipif(
    bool(EXTERNAL_DATABASE_URL) and not EXTERNAL_DATABASE_URL.startswith("sqlite"),
    reason="the writer queue is SQLite's; PostgreSQL writers lock rows and queue in the server",
)

#: How long a writer that must wait is watched to be still waiting.
WATCH = 0.3


class Writer(threading.Thread):
    """A write transaction of ``app`` in a thread of its own: it begins (taking its turn), says
    so, and commits when told to."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app = app
        self.began = threading.Event()
        self.finish = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        with self.app.app_context():
            try:
                begin_write()
                self.began.set()
                self.finish.wait(30)
                db.session.commit()
            except BaseException as error:  # reported to the test
                self.error = error
                db.session.rollback()
            finally:
                db.session.remove()


def turn_taken(app) -> bool:
    """Whether a writer of some process holds the turn: the lock on the file beside the
    database, tried from an open file of the test's own."""
    with app.app_context():
        path = f"{db.engine.url.database}-writers"
    with open(path, "a+b") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return False


def writers(*apps) -> list[Writer]:
    started = [Writer(app) for app in apps]
    for writer in started:
        writer.start()
    return started


@pytest.mark.parametrize("processes", [1, 2], ids=["threads of one process", "two processes"])
def test_a_writer_waits_for_the_writer_before_it_and_goes_when_it_commits(make_app, processes):
    first_app = make_app()
    second_app = first_app if processes == 1 else make_app()
    (first,) = writers(first_app)
    assert first.began.wait(5)
    assert turn_taken(first_app)
    (second,) = writers(second_app)
    assert not second.began.wait(WATCH), "two write transactions at once"
    first.finish.set()
    assert second.began.wait(5), "the second writer never got its turn"
    second.finish.set()
    for writer in (first, second):
        writer.join(5)
        assert writer.error is None, writer.error
    assert not turn_taken(first_app)


def test_a_writer_that_cannot_get_its_turn_in_time_gets_a_timeout_and_a_503(make_app, make_event):
    holder_app = make_app()
    app = make_app(DATABASE_LOCK_TIMEOUT=1)
    with app.app_context():
        event = make_event({"starts_at": datetime.now(UTC) + timedelta(days=3)})
        before = snapshot()
        (holder,) = writers(holder_app)  # another process's writer that does not finish
        assert holder.began.wait(5)
        try:
            started = time.monotonic()
            with pytest.raises(exc.TimeoutError):
                begin_write()
            waited = time.monotonic() - started
            db.session.rollback()
            response = app.test_client().post(
                f"/e/{event.slug}/register", data=registration_form(event)
            )
        finally:
            holder.finish.set()
            holder.join(5)
        assert 0.9 <= waited < 5
        assert response.status_code == 503
        assert response.headers["Retry-After"] == str(RETRY_AFTER)
        assert snapshot() == before  # nothing half-written


def test_a_turn_is_given_back_when_the_transaction_is_rolled_back_or_fails(make_app):
    app = make_app(DATABASE_LOCK_TIMEOUT=1)
    with app.app_context():
        begin_write()
        assert turn_taken(app)
        db.session.rollback()
        assert not turn_taken(app)
        begin_write()
        with pytest.raises(exc.OperationalError):
            db.session.execute(db.text("INSERT INTO no_such_table VALUES (1)"))
        db.session.rollback()
        assert not turn_taken(app)
        (after,) = writers(app)
        assert after.began.wait(5), "a turn was never given back"
        after.finish.set()
        after.join(5)
        assert after.error is None, after.error


def gave_up_waiting(make_app, timeout: float):
    """A writer of one process (``holder``, which goes on writing) and another process
    (``app``) whose writer gave up waiting for its turn after ``timeout`` seconds: that
    process's thread still waits for the lock."""
    holder_app = make_app()
    app = make_app(DATABASE_LOCK_TIMEOUT=timeout)
    (holder,) = writers(holder_app)
    assert holder.began.wait(5)
    with app.app_context():
        with pytest.raises(exc.TimeoutError):
            begin_write()
        db.session.rollback()
    return holder_app, holder, app


def test_a_turn_that_comes_after_its_writer_gave_up_is_given_back(make_app):
    """The waiting writer's turn comes in a thread of its own (``flock`` has no timeout): when
    it comes too late, nobody holds it, and the next writer of either process gets its turn."""
    holder_app, holder, app = gave_up_waiting(make_app, 0.5)
    holder.finish.set()
    holder.join(5)
    assert holder.error is None, holder.error
    deadline = time.monotonic() + 5
    while turn_taken(app) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not turn_taken(app), "the late turn was kept"
    for writer_app in (holder_app, app, holder_app):
        (writer,) = writers(writer_app)
        assert writer.began.wait(5), "a writer never got its turn"
        writer.finish.set()
        writer.join(5)
        assert writer.error is None, writer.error


def test_a_late_turn_goes_to_the_next_writer_of_its_process_that_waits(make_app):
    """While the thread still waits for the lock that a writer gave up on, the process's next
    writer waits for that thread too, and gets the turn when it comes."""
    _, holder, app = gave_up_waiting(make_app, 1)
    (waiting,) = writers(app)
    assert not waiting.began.wait(WATCH), "two write transactions at once"
    holder.finish.set()
    assert waiting.began.wait(5), "the late turn did not go to the writer that waited"
    assert turn_taken(app)
    waiting.finish.set()
    for writer in (holder, waiting):
        writer.join(5)
        assert writer.error is None, writer.error
    assert not turn_taken(app)
