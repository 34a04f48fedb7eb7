"""``flask backup``: a consistent copy of the live database, and a restore that the app runs on.

On SQLite the copy is taken while a participant keeps registering in another thread; it must pass
SQLite's integrity check, hold every registration committed before the backup began and no
half-written one, and serve the event once copied back into place. On PostgreSQL the command runs
``pg_dump``, and ``pg_restore`` brings the dump back into a fresh database that the app serves.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, make_url, select

from regapp import create_app
from regapp.backup import BackupError, backup_postgresql, libpq_environment
from regapp.extensions import db
from regapp.models import Participant
from tests.conftest import make_config, registration_form
from tests.dbstate import broken_invariants


def participants() -> int:
    db.session.rollback()  # count what is committed now
    return db.session.scalar(select(func.count()).select_from(Participant))


class Registrant(threading.Thread):
    """Registers one person after another until stopped, through the app."""

    def __init__(self, app, event):
        super().__init__(daemon=True)
        self.app = app
        self.url, self.form = f"/e/{event.slug}/register", registration_form(event)
        self.done = threading.Event()
        self.answers: list[int] = []
        self.registered = threading.Semaphore(0)

    def run(self) -> None:
        client = self.app.test_client()
        while not self.done.is_set() and len(self.answers) < 500:
            form = {**self.form, "email": f"writer-{len(self.answers)}@example.org"}
            self.answers.append(client.post(self.url, data=form).status_code)
            self.registered.release()

    def wait_for(self, count: int) -> None:
        for _ in range(count):
            assert self.registered.acquire(timeout=30), "the writer stopped registering"


def served_event(app, slug: str) -> int:
    return app.test_client().get(f"/e/{slug}/").status_code


def test_backup_of_a_live_sqlite_database_is_consistent_and_restores(
    app, make_event, runner, database_url, tmp_path
):
    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("SQLite's online backup; on PostgreSQL the backup is pg_dump (next test)")
    event = make_event({"capacity": 5})  # some registrants end up on the waitlist
    writer = Registrant(app, event)
    writer.start()
    writer.wait_for(5)

    committed_before = participants()
    result = runner.invoke(args=["backup", str(tmp_path / "copy.sqlite3")])
    committed_after = participants()
    writer.wait_for(3)  # still registering after the backup
    writer.done.set()
    writer.join(30)

    assert result.exit_code == 0, result.output
    assert "Backup written to" in result.output
    assert set(writer.answers) == {303}
    with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)

    # Restore as the README says: copy the file into place, start the app on it.
    (tmp_path / "restored").mkdir()
    restored_file = tmp_path / "restored" / "regapp.sqlite3"
    shutil.copy(tmp_path / "copy.sqlite3", restored_file)
    restored = create_app(make_config(f"sqlite:///{restored_file}"))
    with restored.app_context():
        upgrade()  # nothing to do: the copy has the schema too
        assert committed_before <= participants() <= committed_after
        assert broken_invariants(db.session) == []
        db.engine.dispose()
    assert served_event(restored, event.slug) == 200


def test_backup_never_overwrites_and_defaults_to_the_instance_folder(app, runner, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the default name on PostgreSQL is tested with pg_dump (next test)")
    existing = tmp_path / "existing.sqlite3"
    existing.write_bytes(b"an older backup")

    refused = runner.invoke(args=["backup", str(existing)])
    default = runner.invoke(args=["backup"])

    assert refused.exit_code == 1 and "already exists" in refused.output
    assert existing.read_bytes() == b"an older backup"
    assert default.exit_code == 0, default.output
    written = default.output.split("Backup written to ")[1].split(" (")[0]
    assert written.startswith(f"{app.instance_path}/backups/regapp-")
    with sqlite3.connect(written) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_backup_on_postgresql_is_a_pg_dump_that_pg_restore_brings_back(
    app, make_event, runner, database_url, tmp_path
):
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL; SQLite's backup is tested above")
    if not shutil.which("pg_restore"):
        pytest.skip("pg_restore (PostgreSQL's client programs) is not installed")
    event = make_event()
    client, slug, form = app.test_client(), event.slug, registration_form(event)

    def register(email: str) -> None:
        assert client.post(f"/e/{slug}/register", data={**form, "email": email}).status_code == 303

    for i in range(3):
        register(f"person-{i}@example.org")
    result = runner.invoke(args=["backup", str(tmp_path / "regapp.dump")])
    assert result.exit_code == 0, result.output
    register("after-the-backup@example.org")
    db.session.remove()
    db.engine.dispose()  # the app is stopped for the restore

    # Restore in place, as after losing the data: the dump replaces every table.
    subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"]
        + [f"--dbname={url.database}", str(tmp_path / "regapp.dump")],
        env={**os.environ, **libpq_environment(url)},
        check=True,
        capture_output=True,
    )

    assert participants() == 3
    assert broken_invariants(db.session) == []
    assert served_event(app, slug) == 200


def test_without_pg_dump_the_command_to_run_is_shown_without_the_password(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without PostgreSQL's programs
    url = make_url("postgresql+psycopg://regapp:s3cret-pw@db.example.org:5433/forum")

    with pytest.raises(BackupError) as refused:
        backup_postgresql(url, tmp_path / "forum.dump")

    message = str(refused.value)
    assert "pg_dump is not installed" in message
    assert (
        "PGHOST=db.example.org PGPORT=5433 PGUSER=regapp PGDATABASE=forum "
        f"pg_dump --format=custom --file={tmp_path / 'forum.dump'}"
    ) in message
    assert "s3cret-pw" not in message
    assert not (tmp_path / "forum.dump").exists()
