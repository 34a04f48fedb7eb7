"""The baseline of the registration benchmark: a minimal Flask + Flask-SQLAlchemy app.

It answers the same two requests as regapp's registration form, with the same framework pieces
and nothing else: ``GET /e/<slug>/register`` sends a small form with a CSRF token (Flask-WTF, in
the signed session cookie), ``POST`` checks the token, inserts one row with the submitted fields
and redirects (303). No validation, no seats, no email, no page template beyond a few lines.
``bench_load.py`` serves it with gunicorn exactly as it serves regapp, on the same database,
so the ratio of the two rates is what regapp's own work costs.

Settings from the environment: ``MINIMAL_DATABASE_URL``, ``MINIMAL_SECRET_KEY``. On SQLite the
connection gets the settings regapp's connections get (WAL, a 30 s busy timeout, and the same
``synchronous`` level), so that only the application's work differs.

    gunicorn --chdir bench "minimal_app:create_app()"
"""

import os
from datetime import UTC, datetime

from flask import Flask, redirect, render_template, request
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime, String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TABLE = "bench_minimal_registrations"
FORM = """<!doctype html>
<title>Register</title>
<form method="post">
<input id="csrf_token" name="csrf_token" type="hidden" value="{{ csrf_token() }}">
<input name="full_name"> <input name="email"> <input name="country">
<input name="organisation"> <input name="job_title"> <input name="category">
<input type="checkbox" name="sessions" value="1"> <input type="checkbox" name="consent">
<button>Register</button>
</form>
"""


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Row(db.Model):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    country: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    sessions: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ.get("MINIMAL_DATABASE_URL", "sqlite:////tmp/regapp-minimal.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SECRET_KEY"] = os.environ.get("MINIMAL_SECRET_KEY", "minimal")
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    if url.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    db.init_app(app)
    CSRFProtect(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            synchronous = os.environ.get("MINIMAL_SQLITE_SYNCHRONOUS", "FULL")

            @event.listens_for(db.engine, "connect")
            def _pragmas(connection, _record):
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA synchronous={synchronous}")

    # Compiled once, as Flask compiles a template file once: render_template_string would
    # compile it again at every request (until session 11 it did, a fifth of this app's CPU).
    form_template = app.jinja_env.from_string(FORM)

    @app.get("/e/<slug>/register")
    def form(slug: str):
        return render_template(form_template)

    @app.post("/e/<slug>/register")
    def register(slug: str):
        fields = request.form
        db.session.add(
            Row(
                slug=slug,
                full_name=fields.get("full_name", ""),
                email=fields.get("email", ""),
                country=fields.get("country", ""),
                organisation=fields.get("organisation", ""),
                job_title=fields.get("job_title", ""),
                category=fields.get("category", ""),
                sessions=",".join(fields.getlist("sessions")),
                created_at=datetime.now(UTC),
            )
        )
        db.session.commit()
        return redirect(f"/e/{slug}/registered", 303)

    return app


def create_table(url: str) -> None:
    """Make the (empty) table; ``bench_load.py`` calls it before serving."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    Row.__table__.drop(engine, checkfirst=True)
    Row.__table__.create(engine)
    engine.dispose()
