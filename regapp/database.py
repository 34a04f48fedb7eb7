"""Engine settings per database.

SQLite serialises writers. To make concurrent writers queue instead of failing, a service that
writes opens its transaction with :func:`begin_write`, which on SQLite says ``BEGIN IMMEDIATE``:
the write lock is taken up front, so the transaction never has to upgrade a read snapshot that
another writer has made stale (SQLite refuses that with "database is locked"). The journal is in
WAL mode, so readers (plain deferred transactions) never wait for the writer, and writers wait
their turn in a queue (:class:`WriterQueue`). On PostgreSQL the services take row locks instead
(``SELECT ... FOR NO KEY UPDATE``).
"""

import fcntl
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from time import monotonic
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    Column,
    Connection,
    Dialect,
    Engine,
    Executable,
    FromClause,
    Insert,
    bindparam,
    event,
    exc,
    insert,
    select,
)
from sqlalchemy.orm import Session

from .extensions import db
from .models.types import UTCDateTime


def begin_write(*, durable: bool = True) -> None:
    """Start the transaction of a service that is going to write.

    What the request read so far (read-only, nothing pending) is let go and will be read again
    inside the new transaction, which on SQLite holds the write lock from its first statement.
    (PostgreSQL reads what is committed at every statement, so there the transaction goes on
    and only the objects read are expired: a round trip fewer, and no second pool checkout.)

    ``durable=False`` (a door scan): the COMMIT does not wait for the disk to confirm the
    write (on SQLite ``synchronous = NORMAL`` in WAL mode; on PostgreSQL the scan's first
    statement says ``synchronous_commit = off`` for its transaction). The commit is still
    atomic and in order, and a crash of the app loses nothing; a power cut or a crash of the
    machine (on PostgreSQL, of the database server) may lose the last commits: at most about
    0.6 s of them on PostgreSQL; on SQLite those the system had not yet written (Linux writes
    within about 30 s, and SQLite forces it at each checkpoint). For a scan that means a person
    scanned again at the door; for a registration it would be a confirmation emailed for a seat
    the database no longer holds, so everything else waits. Measured in a door rush
    (bench/README.md, session 12): SQLite's writers take turns, and each one's wait for the
    disk held up the next.
    """
    session = _unchanged_session()
    if session.in_transaction():
        if session.get_bind().dialect.name == "postgresql":
            session.expire_all()
            return
        session.rollback()
    session.connection(execution_options=_write_options(durable=durable))


@contextmanager
def writing(*, one_statement: bool = False) -> Iterator[Connection]:
    """A write transaction on a connection of its own, outside the ORM's session, for a service
    that writes with SQL statements alone: committed at the end of the block, or rolled back if
    it raises. What the request read so far is let go first, as by :func:`begin_write`.

    Without the ORM's session, its transaction's states and events, a registration's write
    took 0.1 ms less of the app's CPU on SQLite in-process (1.19 to 1.08 ms), and under load
    the registration rate rose by several points of the minimal app's on both databases
    (bench/README.md, "Registration, session 17").

    ``one_statement=True``: the block runs one statement. On PostgreSQL it then runs on its
    own (autocommit): the server commits it as it ends, in the round trip that sent it, where
    BEGIN, the statement and COMMIT took three (psycopg's pipeline mode waits for the BEGIN, and
    again at its end). The statement is atomic by itself, and its row locks are held until its
    commit. Elsewhere it changes nothing."""
    if db.session.registry.has():  # the request has used its session (else none is made)
        session = _unchanged_session()
        if session.in_transaction():
            session.rollback()
    with db.engine.connect() as connection:
        options = _write_options(durable=True)
        if one_statement and connection.dialect.name == "postgresql":
            options["isolation_level"] = "AUTOCOMMIT"
        connection.execution_options(**options)
        with connection.begin():
            yield connection


def _unchanged_session() -> Session:
    """The request's session, which must have nothing pending when a write begins."""
    session = db.session()  # the request's Session behind the scoped proxy
    assert not (session.new or session.dirty or session.deleted), "a write after changes"
    return session


def _write_options(*, durable: bool) -> dict[str, Any]:
    return {"sqlite_immediate": current_app.config["SEAT_LOCKING"], "regapp_durable": durable}


def insert_rows(model: type, source: FromClause | None = None, **columns: Any) -> Insert:
    """``INSERT INTO`` ``model``'s table ``SELECT`` the ``columns`` given (SQL expressions, of
    ``source`` if given) and, for every other column with a Python-side default: a constant
    default as a constant of the statement, a time (the time of writing) as the parameter
    ``now``, and any other (a new token, say) as the parameter ``<table>_<column>``
    (:func:`row_defaults` gives them). For an INSERT that is part of a larger statement (a
    CTE), where SQLAlchemy would fill in no default."""
    defaults = {c.key: _default(name, c) for name, c in _defaulted(model) if c.key not in columns}
    query = select(*columns.values(), *defaults.values())
    if source is not None:
        query = query.select_from(source)
    return insert(model).from_select([*columns, *defaults], query, include_defaults=False)


def _default(name: str, column: Column):
    if not column.default.is_callable:
        return bindparam(name, column.default.arg, type_=column.type)
    if _is_time(column):
        return bindparam("now", type_=column.type)
    return bindparam(name, type_=column.type)


def row_defaults(*models: type) -> dict[str, Any]:
    """The parameters :func:`insert_rows` leaves for ``models`` besides ``now``: each worked
    out afresh (a new access code, ...)."""
    return {
        name: c.default.arg(None)
        for model in models
        for name, c in _defaulted(model)
        if c.default.is_callable and not _is_time(c)
    }


def _is_time(column: Column) -> bool:
    """A time column, whose default is the time of writing (``utcnow``, for every model)."""
    return isinstance(column.type, UTCDateTime)


class Compiled:
    """A statement compiled once for a dialect, run with :meth:`execute`: SQLAlchemy's own
    execution looks the statement up in its cache of compiled statements and works out its
    parameters at every run, which cost more of the app's CPU than the database's own work for
    a registration's statements on SQLite. Here the SQL text, the order of the parameters and
    the conversion of each value (a time to SQLite's text, JSON, ...) are worked out once."""

    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        assert not compiled.literal_execute_params and not compiled.post_compile_params
        assert not compiled.escaped_bind_names, "parameter names SQLAlchemy must escape"
        # SQLAlchemy's execution works out a column's Python-side default; give it instead
        # (:func:`insert_rows` and :func:`row_defaults`).
        assert not compiled.insert_prefetch and not compiled.update_prefetch, "defaults"
        self.sql = compiled.string
        binds = {}
        for bind, name in compiled.bind_names.items():
            same = binds.setdefault(name, bind)  # a name used twice is one value, one conversion
            assert type(same.type) is type(bind.type), f"{name} has two types"
        convert = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in binds.items()
        }
        #: The values each run must give, by name, each with its conversion (or ``None``).
        self.given = [(name, convert[name]) for name, bind in binds.items() if bind.required]
        #: The statement's own constants, converted once.
        self._constants = {
            name: _converted(convert[name], bind.effective_value)
            for name, bind in binds.items()
            if not bind.required
        }
        self._order = compiled.positiontup if compiled.positional else None
        self._row: type | None = None  # the rows' type, made at the first run

    def execute(self, connection: Connection, values: dict[str, Any]) -> list[tuple]:
        """Run it on ``connection`` with ``values`` (one for each name in :attr:`given`; any
        others are left out); the rows it returns (named tuples of the values as the driver
        gives them).

        Sent on a cursor of the driver's by SQLAlchemy's ``_cursor_execute``, which keeps the
        cursor events and turns the driver's errors into SQLAlchemy's (a lost connection is
        dropped from the pool), as a statement's execution does, but makes no execution
        context or result object: these cost more than SQLite's own work for most of a
        registration's statements (bench/README.md, "Registration, session 19")."""
        parameters = self._constants.copy()
        for name, convert in self.given:
            parameters[name] = _converted(convert, values[name])
        if self._order is not None:
            parameters = tuple(parameters[n] for n in self._order)
        cursor = connection.connection.cursor()
        try:
            connection._cursor_execute(cursor, self.sql, parameters)
            if cursor.description is None:
                return []
            if self._row is None:  # named as the database names them (the same at every run)
                self._row = namedtuple("Row", [column[0] for column in cursor.description])
            return [self._row._make(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


def _converted(convert, value):
    return value if convert is None else convert(value)


@cache
def _defaulted(model: type) -> list[tuple[str, Column]]:
    """``model``'s columns with a Python-side default, each with its parameter's name."""
    table = model.__table__
    return [(f"{table.name}_{c.key}", c) for c in table.columns if c.default is not None]


#: PostgreSQL's statistics of a table taken while it held fewer rows than this did more harm than
#: none. Plans made from them (psycopg prepares a statement on its fifth run, and the foreign
#: keys' checks keep theirs) scan the whole table, and go on doing so as it fills, until the
#: table is analyzed again. A table never analyzed is planned as if it held at least ten pages,
#: which gives the plans a large table needs. Measured (bench/README.md, "Registration, session
#: 15"): after 200 registrations and an automatic ANALYZE, a registration rush on PostgreSQL cost
#: 0.57 ms of the server's CPU per registration at first and 1.26 ms 6,000 registrations later,
#: until autovacuum's next round; analyzed at 300 rows or more, or never, it stayed flat.
STATISTICS_FROM = 1000


def analyze_filled(connection: Connection, *tables: str) -> None:
    """``ANALYZE`` those of ``tables`` that hold :data:`STATISTICS_FROM` rows or more
    (PostgreSQL; what a migration that adds an index or fills a column runs, so that the planner
    knows the data at once). A smaller table is left as it is: never analyzed, it is planned as
    a large table, and autovacuum analyzes it once it has filled (:func:`analyze_when_filled`)."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        filled = f"SELECT EXISTS (SELECT FROM {table} OFFSET {STATISTICS_FROM - 1})"
        if connection.exec_driver_sql(filled).scalar():
            connection.exec_driver_sql(f"ANALYZE {table}")


#: Autovacuum's settings for one table (PostgreSQL's defaults: 50, 1000 and 50 rows changed, plus
#: a share of the table), set by :func:`analyze_when_filled`.
_AUTOVACUUM_THRESHOLDS = (
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_insert_threshold",
    "autovacuum_analyze_threshold",
)


def analyze_when_filled(connection: Connection, *tables: str, undo: bool = False) -> None:
    """Have autovacuum leave each of ``tables`` alone until :data:`STATISTICS_FROM` of its rows
    have changed (PostgreSQL; a migration's step; ``undo``: its downgrade). By default it
    analyzes a table after 50 changes, so a new database's participants after an organiser's
    first test registrations, and a VACUUM records the table's size as well: the small-table
    statistics :data:`STATISTICS_FROM` is about, kept until autovacuum's next round, up to a
    minute later."""
    if connection.dialect.name != "postgresql":
        return
    settings = [f"{name} = {STATISTICS_FROM}" for name in _AUTOVACUUM_THRESHOLDS]
    change = (
        f"RESET ({', '.join(_AUTOVACUUM_THRESHOLDS)})" if undo else f"SET ({', '.join(settings)})"
    )
    for table in tables:
        connection.exec_driver_sql(f"ALTER TABLE {table} {change}")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def configure_engine_options(app: Flask) -> None:
    """Bound every wait on the database, so that a locked or unreachable database costs a
    request a few seconds and a 503 (see :func:`is_unavailable`), never a hung worker."""
    config = app.config
    options = config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    options.setdefault("pool_timeout", config["DATABASE_POOL_TIMEOUT"])
    connect_args = options.setdefault("connect_args", {})
    if is_sqlite(config["SQLALCHEMY_DATABASE_URI"]):
        connect_args.setdefault("timeout", config["DATABASE_LOCK_TIMEOUT"])
        connect_args.setdefault("check_same_thread", False)
        return
    # A connection that died while idle in the pool (server restarted, network cut) is
    # replaced on checkout (install_engine_hooks), so the app recovers by itself.
    milliseconds = {
        "lock_timeout": int(config["DATABASE_LOCK_TIMEOUT"] * 1000),
        "statement_timeout": int(config["DATABASE_STATEMENT_TIMEOUT"] * 1000),
    }
    connect_args.setdefault("options", " ".join(f"-c {k}={v}" for k, v in milliseconds.items()))
    connect_args.setdefault("connect_timeout", max(1, int(config["DATABASE_CONNECT_TIMEOUT"])))
    # A server that goes silent mid-query (no reset: a cut network) is noticed by TCP
    # keepalives after about 20 s, instead of after the kernel's retransmissions (~15 min).
    connect_args.setdefault("keepalives_idle", 10)
    connect_args.setdefault("keepalives_interval", 3)
    connect_args.setdefault("keepalives_count", 3)


#: SQLite result codes (the low byte of ``sqlite_errorcode``) that mean "not now": the
#: database is locked (BUSY, LOCKED), cannot be opened or read (CANTOPEN, IOERR) or is full.
_SQLITE_UNAVAILABLE = {5, 6, 10, 13, 14}
#: PostgreSQL SQLSTATE classes and codes that mean the same: connection exceptions (08),
#: insufficient resources (53: too many connections, disk full), operator intervention (57:
#: statement_timeout, server shutting down), lock_timeout (55P03), deadlock (40P01).
_POSTGRES_UNAVAILABLE_CLASSES = {"08", "53", "57"}
_DEADLOCK = "40P01"
_POSTGRES_UNAVAILABLE_CODES = {"55P03", _DEADLOCK}


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means "the database cannot serve this now, try again soon"
    (locked, timed out, unreachable), as opposed to a bug such as a missing table."""
    if isinstance(error, exc.TimeoutError):  # no free connection in the pool in time
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is None:
        # psycopg raises OperationalError without a SQLSTATE when the server cannot be
        # reached or the connection broke.
        return isinstance(error, exc.OperationalError)
    return sqlstate[:2] in _POSTGRES_UNAVAILABLE_CLASSES or sqlstate in _POSTGRES_UNAVAILABLE_CODES


def is_deadlock(error: exc.DBAPIError) -> bool:
    """Whether PostgreSQL failed the transaction to end a deadlock (nothing of it written)."""
    return getattr(error.orig, "sqlstate", None) == _DEADLOCK


def is_unique_violation(error: exc.IntegrityError) -> bool:
    """Whether a unique index refused the row (rather than another constraint)."""
    original = error.orig
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_UNIQUE"
    return getattr(original, "sqlstate", None) == "23505"


def describe(error: BaseException) -> str:
    """A short name for a database error that is safe to log: never the statement's
    parameters (they hold personal data), only the kind of failure."""
    original = getattr(error, "orig", None) or error
    code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
    return f"{type(original).__name__}{f' ({code})' if code else ''}"


def install_engine_hooks(app: Flask, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        _ping_idle_connections(engine, app.config["DATABASE_PING_AFTER_IDLE"])
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    queue = WriterQueue(engine.url.database, app.config["DATABASE_LOCK_TIMEOUT"])

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        options = connection.get_execution_options()
        if not options.get("sqlite_immediate"):
            connection.exec_driver_sql("BEGIN")
            return
        queue.enter(connection)
        # Kept per connection (SQLite's own default is FULL): set only when it changes.
        synchronous = "FULL" if options.get("regapp_durable", True) else "NORMAL"
        if connection.info.get("regapp_synchronous", "FULL") != synchronous:
            connection.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")
            connection.info["regapp_synchronous"] = synchronous
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record):
        # The transaction has ended (committed, rolled back or given up) when its connection
        # goes back to the pool: the next writer's turn.
        queue.leave(dbapi_connection, record)


def _ping_idle_connections(engine: Engine, idle: float) -> None:
    """Test a pooled connection before use when it has been idle ``idle`` seconds or more, and
    replace it if the server dropped it (restarted, or the network was cut) meanwhile.

    SQLAlchemy's ``pool_pre_ping`` tests every checkout: a round trip to the server for every
    request (and 2 % of a door scan's instructions in the app). A connection back in the pool a
    moment ago is as good as the request that just used it, so under load nothing is tested.
    If the server goes away within ``idle`` seconds of a connection's last use, the request
    that gets it fails with a 503 (nothing written) and SQLAlchemy replaces every connection
    of the pool, as it does for any connection found dead.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record):
        record.info["regapp_idle_from"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        idle_from = record.info.pop("regapp_idle_from", None)  # None: connected just now
        if idle_from is None or monotonic() - idle_from < idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out a new one.
            raise exc.DisconnectionError(describe(error)) from error


class WriterQueue:
    """SQLite writers of every process of this machine take turns instead of polling.

    A writer that finds a SQLite database locked sleeps and tries again, sleeping longer each
    time (1, 2, 5, 10 ... 100 ms), so under a door rush it slept through many of the others'
    turns: scans waited 200 to 500 ms at the 99th percentile while the cores idled. So before
    ``BEGIN IMMEDIATE`` a writer takes its process's lock (the threads queue on it and are woken
    at once), then an advisory lock on a file beside the database that the processes share
    (``flock``; the kernel lets it go if the process dies, and wakes the next waiter the moment
    it is let go: :class:`_FileTurn`), and gives both back when its connection returns to the
    pool. SQLite's busy timeout stays the backstop for other programs that lock the database (a
    backup, the sqlite3 shell), and the whole wait stays within ``DATABASE_LOCK_TIMEOUT``: past
    it, :class:`exc.TimeoutError` (503).
    """

    def __init__(self, database: str | None, timeout: float):
        self.timeout = timeout
        self._threads = threading.Lock()
        in_memory = not database or database == ":memory:" or database.startswith("file:")
        self._path = None if in_memory else f"{database}-writers"
        self._turn: _FileTurn | None = None  # made by the first writer

    def enter(self, connection) -> None:
        deadline = monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise exc.TimeoutError("Another writer of this process held the database too long.")
        try:
            self._take_file(deadline)
        except BaseException:
            self._threads.release()
            raise
        connection.info["regapp_writer"] = True
        left = deadline - monotonic()
        if left < self.timeout - 1:  # waited long: SQLite may wait only what is left
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {max(1, int(left * 1000))}")
            connection.info["regapp_busy_timeout_cut"] = True

    def _take_file(self, deadline: float) -> None:
        if self._path is None:
            return
        if self._turn is None:
            self._turn = _FileTurn(self._path)
        if not self._turn.take(deadline - monotonic()):
            raise exc.TimeoutError("Another process held the database too long.")

    def leave(self, dbapi_connection, record) -> None:
        if not record.info.pop("regapp_writer", False):
            return
        if record.info.pop("regapp_busy_timeout_cut", False) and dbapi_connection is not None:
            dbapi_connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        if self._turn is not None:
            self._turn.give_back()
        self._threads.release()


class _FileTurn:
    """This process's turn among the writers of every process: the lock on the writers' file
    (``flock``), taken at once when it is free. When it is not, a thread of its own waits for
    it (``flock`` either fails at once or blocks with no timeout) while the writer waits for
    that thread, for as long as it may; the kernel wakes the thread the moment the lock is let
    go. (Until session 17 the writer tried again every half millisecond, which under a
    registration rush on SQLite cost a twentieth of the workers' CPU: bench/README.md,
    "Registration, session 17".)

    One writer of the process takes the turn at a time (the process's lock). A lock the thread
    gets after its writer gave up goes to the process's next writer if one waits already, and
    is let go at once if not; while the thread waits for it, the next writer waits for the
    thread too, never beside it (the two would share the lock, as one open file)."""

    def __init__(self, path: str):
        self._file = open(path, "a+b")  # noqa: SIM115 (kept open: the lock lives on it)
        self._state = threading.Condition()
        self._wanted = False  # a writer waits for the thread
        self._trying = False  # the thread waits in flock
        self._taken = False  # the thread has the lock, for the writer that waits
        self._thread: threading.Thread | None = None  # started by the first writer that waits

    def take(self, timeout: float) -> bool:
        """Whether this process has the turn within ``timeout`` seconds."""
        with self._state:
            if not self._trying:
                try:
                    fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass  # another process's writer has the turn
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="regapp-writers", daemon=True
                )
                self._thread.start()
            self._wanted = True
            self._state.notify_all()
            taken = self._state.wait_for(lambda: self._taken, timeout)
            self._wanted = self._taken = False
            self._state.notify_all()
            return taken

    def give_back(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)

    def _run(self) -> None:
        while True:
            with self._state:
                self._state.wait_for(lambda: self._wanted)
                self._trying = True
            fcntl.flock(self._file, fcntl.LOCK_EX)
            with self._state:
                self._trying = False
                if not self._wanted:  # its writer gave up, and no other waits
                    fcntl.flock(self._file, fcntl.LOCK_UN)
                    continue
                self._taken = True
                self._state.notify_all()
                # Until the writer has it: this thread must not take it, nor let it go, again.
                self._state.wait_for(lambda: not self._taken)
