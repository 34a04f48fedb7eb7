"""Fixtures: an app on a real database with a clean slate for every test.

By default the tests run on a temporary SQLite file. With ``REGAPP_DATABASE_URL`` set (as
``.ci/run`` does for PostgreSQL) they run there instead; the schema is dropped and rebuilt through
the migrations at the start, so the database must be one you can wipe. An unreachable database
fails the run: nothing is skipped.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import g, request_started
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from regapp import create_app
from regapp.extensions import db
from regapp.models import Event, EventSession

EXTERNAL_DATABASE_URL = os.environ.get("REGAPP_DATABASE_URL", "")
#: Tests write secrets, outbox files and demo credentials here, never into instance/.
TEST_INSTANCE = tempfile.mkdtemp(prefix="regapp-test-instance-")


def _reset_external_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            raise RuntimeError(f"unsupported test database {url!r}")
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if EXTERNAL_DATABASE_URL:
        _reset_external_database(EXTERNAL_DATABASE_URL)
        return EXTERNAL_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'regapp-test.sqlite3'}"


def make_config(database_url: str, **overrides) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "regapp.test",
        "INSTANCE_PATH": TEST_INSTANCE,
        "BASE_URL": "http://regapp.test",
        "MAIL_WORKER": False,  # tests deliver the outbox themselves
        "MAIL_FROM": "Test Forum <forum@regapp.test>",
        "RATELIMIT_ENABLED": False,  # the rate-limit tests switch it on
        **overrides,
    }


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> str:
    app = create_app(make_config(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def wipe(app) -> None:
    with app.app_context():
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                names = ", ".join(t.name for t in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def make_app(migrated_database):
    """Build apps on the test database with config overrides; tables are emptied afterwards."""
    apps = []

    def factory(**overrides):
        app = create_app(make_config(migrated_database, **overrides))
        # The ``app`` fixture's context outlives requests, and Flask-Login caches the signed-in
        # user in its ``g``: forget it when a request starts, so that each request loads its
        # own user from its cookie, as it does in production (two clients never mix).
        request_started.connect(_forget_the_previous_user, app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        wipe(app)


def _forget_the_previous_user(sender, **extra) -> None:
    g.pop("_login_user", None)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_event():
    """An event opening for registration now, with sessions given as dicts of overrides.
    Made in whichever app context is current (the ``app`` fixture's, or one a test pushes)."""

    def factory(*session_specs: dict, slug: str = "forum", **event_fields) -> Event:
        # 10:00 in Baku, ten days on: a day of sessions never crosses midnight there (the
        # session form takes a day and two times), whatever time the tests run at.
        start = (datetime.now(UTC) + timedelta(days=10)).replace(
            hour=6, minute=0, second=0, microsecond=0
        )
        fields = {
            "slug": slug,
            "name": "Test Forum",
            "timezone": "Asia/Baku",
            "venue": "Baku",
            "registration_opens_at": datetime.now(UTC) - timedelta(days=1),
            "registration_closes_at": start + timedelta(days=2),
            **event_fields,
        }
        event = Event(**fields)
        for i, spec in enumerate(session_specs or ({},)):
            session = {
                "title": f"Session {i + 1}",
                "kind": "panel",
                "starts_at": start + timedelta(hours=2 * i),
                "ends_at": start + timedelta(hours=2 * i + 1),
                "room": "Hall A",
                "capacity": 100,
                "position": i,
                **spec,
            }
            event.sessions.append(EventSession(**session))
        db.session.add(event)
        db.session.commit()
        return event

    return factory


def registration_form(event: Event, session_ids=None, **fields) -> dict:
    """Form data a participant would submit."""
    data = {
        "full_name": "Amina Rahimova",
        "email": "amina@example.org",
        "country": "Azerbaijan",
        "organisation": "ASAN Service",
        "job_title": "Head of Innovation",
        "category": "delegate",
        "consent": "y",
        "sessions": [str(s) for s in (session_ids or [event.sessions[0].id])],
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


ROOT = Path(__file__).resolve().parent.parent


REDIS_URL = os.environ.get("REGAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def shared_redis():
    """A key prefix of this test's own in the Redis that several processes (or apps, standing
    for them) count limits in."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    client.ping()  # no Redis fails the test: a shared limit cannot be shown without it
    prefix = f"regapp-test-{uuid.uuid4().hex}"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()
