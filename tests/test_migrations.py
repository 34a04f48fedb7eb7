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
