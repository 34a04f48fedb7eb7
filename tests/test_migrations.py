"""The migrations build exactly the schema the models describe."""

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from regapp.database import STATISTICS_FROM, analyze_filled
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


def _postgresql_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ANALYZE, autovacuum and the planner's statistics are PostgreSQL's")


def test_migrations_analyze_only_the_tables_large_enough_for_statistics(app):
    """Statistics of a small table have the planner scan it whole in the plans every connection
    keeps, long after it filled; a table never analyzed is planned as a large one."""
    _postgresql_only()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TEMP TABLE empty_one (id integer)")
        sizes = {"small_one": STATISTICS_FROM - 1, "filled_one": STATISTICS_FROM}
        for name, rows in sizes.items():
            connection.exec_driver_sql(
                f"CREATE TEMP TABLE {name} AS SELECT generate_series(1, {rows}) AS id"
            )
        analyze_filled(connection, "empty_one", *sizes)
        tuples = connection.exec_driver_sql(
            "SELECT relname, reltuples FROM pg_class "
            "WHERE relname IN ('empty_one', 'small_one', 'filled_one')"
        ).all()
    assert dict(tuples) == {"empty_one": -1, "small_one": -1, "filled_one": STATISTICS_FROM}


def _autovacuum_settings() -> dict[str, set[str]]:
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT relname, reloptions FROM pg_class "
            "WHERE relname IN ('participants', 'registrations', 'access_codes')"
        ).all()
    return {name: set(options or []) for name, options in rows}


def test_autovacuum_leaves_the_registration_tables_until_they_fill(app):
    """Autovacuum's own thresholds (50 rows changed) would analyze the participants after an
    organiser's first test registrations; migration 0015 raises them for the two tables a
    registration rush fills, and its downgrade puts PostgreSQL's defaults back."""
    from flask_migrate import downgrade, upgrade

    _postgresql_only()
    raised = {
        f"autovacuum_vacuum_threshold={STATISTICS_FROM}",
        f"autovacuum_vacuum_insert_threshold={STATISTICS_FROM}",
        f"autovacuum_analyze_threshold={STATISTICS_FROM}",
    }
    assert _autovacuum_settings() == {
        "participants": raised,
        "registrations": raised,
        "access_codes": set(),
    }
    db.session.remove()
    try:
        downgrade(revision="0014")
        assert _autovacuum_settings() == dict.fromkeys(
            ("participants", "registrations", "access_codes"), set()
        )
    finally:
        upgrade()
    assert _autovacuum_settings()["participants"] == raised
