"""The migrations build exactly the schema the models describe."""

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
