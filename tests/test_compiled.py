"""A statement compiled once (``database.Compiled``, the registration's way to write) writes what
SQLAlchemy's own execution of it writes, on SQLite and on PostgreSQL."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Integer, bindparam, case, insert, select

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
