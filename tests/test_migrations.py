"""The migrations build exactly the schema the models describe."""

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from regapp.database import analyze_filled
from regapp.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection, warnings.catch_warnings():
        # Nothing can reflect the expression index on lower(email) from SQLite; its effect is
        # tested in test_invariants.py on both databases.
        warnings.simplefilter("ignore")
        diffs = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diffs == []


def test_every_migration_goes_down_and_up_again(tmp_path):
    # On a scratch SQLite file of its own: SQLite rebuilds tables in batch migrations, where
    # indexes are easiest to lose.
    from flask_migrate import downgrade, upgrade

    from regapp import create_app
    from tests.conftest import make_config

    app = create_app(make_config(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"))
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        with db.engine.connect() as connection:
            indexes = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'participants'"
            ).scalars()
            assert "uq_participants_event_email" in set(indexes)
        db.engine.dispose()


def test_migrations_analyze_only_the_tables_that_hold_rows(app):
    """Statistics that say a table is empty have the planner scan it whole in the plans every
    connection keeps, long after it filled; a table never analyzed is planned from its size."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ANALYZE and the planner's statistics are PostgreSQL's")
    with db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TEMP TABLE empty_one (id integer)")
        connection.exec_driver_sql("CREATE TEMP TABLE filled_one AS SELECT generate_series(1, 500)")
        analyze_filled(connection, "empty_one", "filled_one")
        tuples = connection.exec_driver_sql(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN ('empty_one', 'filled_one')"
        ).all()
    assert dict(tuples) == {"empty_one": -1, "filled_one": 500}
