"""Engine settings per database.

SQLite serialises writers. To make concurrent writers queue instead of failing, a service that
writes opens its transaction with :func:`begin_write`, which on SQLite says ``BEGIN IMMEDIATE``:
the write lock is taken up front, so the transaction never has to upgrade a read snapshot that
another writer has made stale (SQLite refuses that with "database is locked"). The journal is in
WAL mode, so readers (plain deferred transactions) never wait for the writer, and a busy timeout
lets a writer wait its turn. On PostgreSQL the services take row locks instead
(``SELECT ... FOR NO KEY UPDATE``).
"""

from flask import Flask, current_app
from sqlalchemy import Engine, event

from .extensions import db


def begin_write() -> None:
    """Start the transaction of a service that is going to write.

    What the request read so far (read-only, nothing pending) is let go and will be read again
    inside the new transaction, which on SQLite holds the write lock from its first statement.
    """
    session = db.session()  # the request's Session behind the scoped proxy
    assert not (session.new or session.dirty or session.deleted), "begin_write after changes"
    if session.in_transaction():
        session.rollback()
    immediate = current_app.config["SEAT_LOCKING"]
    session.connection(execution_options={"sqlite_immediate": immediate})


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def configure_engine_options(app: Flask) -> None:
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    if is_sqlite(app.config["SQLALCHEMY_DATABASE_URI"]):
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT"])
        connect_args.setdefault("check_same_thread", False)
    else:
        options.setdefault("pool_pre_ping", True)


def install_engine_hooks(app: Flask, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        immediate = connection.get_execution_options().get("sqlite_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
