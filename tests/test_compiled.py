"""A statement compiled once (``database.Compiled``, the registration's way to write) writes what
SQLAlchemy's own execution of it writes, on SQLite and on PostgreSQL."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Integer, bindparam, case, event, insert, select
from sqlalchemy.exc import IntegrityError

from regapp.database import Compiled
from regapp.extensions import db
from regapp.models import AuditEntry

#: Each column of the row takes a different path: a time with a zone (turned into UTC, and into
#: text on SQLite), JSON, the statement's own constants (the CASE's strings), and one value
#: (``n``) used twice.
STATEMENT = insert(AuditEntry).values(
    created_at=bindparam("when"),
    details=bindparam("details"),
    action=bindparam("action"),
    ip=bindparam("ip"),  # a column's Python-side default is not the compiled statement's to give
    actor=case((bindparam("n", type_=Integer) > 1, "many"), else_="one"),
    target=case((bindparam("n", type_=Integer) > 5, "more than five"), else_="five or fewer"),
)


def test_a_compiled_statement_writes_what_sqlalchemy_writes(app):
    values = {
        "when": datetime(2026, 12, 7, 23, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Baku")),
        "details": {"sessions": [3, 1], "name": "Zəhra"},
        "n": 2,
        "ip": "",
        "unused": "left out",
    }
    with db.engine.begin() as connection:
        connection.execute(STATEMENT, values | {"action": "by.sqlalchemy"})
        Compiled(STATEMENT, connection.dialect).execute(
            connection, values | {"action": "by.compiled"}
        )
    rows = db.session.execute(
        select(AuditEntry.created_at, AuditEntry.details, AuditEntry.actor, AuditEntry.target)
        .where(AuditEntry.action.in_(["by.sqlalchemy", "by.compiled"]))
        .order_by(AuditEntry.action)
    ).all()
    assert len(rows) == 2 and rows[0] == rows[1]
    assert rows[0] == (values["when"], values["details"], "many", "five or fewer")


def test_a_statement_that_leaves_a_columns_default_to_sqlalchemy_is_refused(app):
    with pytest.raises(AssertionError, match="defaults"):
        Compiled(insert(AuditEntry).values(action="a", actor="b"), db.engine.dialect)


def test_a_value_left_out_is_refused_before_anything_is_sent(app):
    compiled = Compiled(STATEMENT, db.engine.dialect)
    with db.engine.connect() as connection, pytest.raises(KeyError, match="details"):
        compiled.execute(
            connection, {"when": datetime.now(ZoneInfo("UTC")), "action": "a", "n": 1, "ip": ""}
        )


def test_a_name_given_two_types_is_refused(app):
    statement = select(bindparam("x", type_=Integer), bindparam("x", type_=AuditEntry.details.type))
    with pytest.raises(AssertionError, match="two types"):
        Compiled(statement, db.engine.dialect)


def test_rows_come_back_named_and_a_drivers_error_as_sqlalchemys(app):
    """Run on the driver's cursor, a statement still passes through the cursor events, gives
    its rows with their columns' names, and fails as SQLAlchemy's error (which the services
    tell apart: a duplicate email, a refused seat, a locked database)."""
    compiled = Compiled(STATEMENT.returning(AuditEntry.id, AuditEntry.target), db.engine.dialect)
    values = {"when": datetime.now(ZoneInfo("UTC")), "details": {}, "n": 7, "ip": ""}
    sent = []

    def note(_connection, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.engine.begin() as connection:
            [row] = compiled.execute(connection, values | {"action": "named"})
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            compiled.execute(connection, values | {"action": None})  # NOT NULL
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert row.target == "more than five" and isinstance(row.id, int)
    assert sent.count(compiled.sql) == 2  # (SQLite also sends its BEGIN)
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.id >= row.id)).all()
    assert actions == ["named"]
