"""regapp: registration and attendance tracking for international multi-session events."""

import os
from pathlib import Path

from flask import Flask

from . import ratelimit
from .config import DefaultConfig, instance_secret_key
from .extensions import csrf, db, login_manager, migrate
from .inputs import RowIdConverter
from .models.types import render_item

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """The application factory. ``config`` (tests) wins over ``REGAPP_*`` environment variables,
    which win over :class:`regapp.config.DefaultConfig`."""
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("REGAPP_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=instance_path or None,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.config.from_object(DefaultConfig)
    app.config.from_prefixed_env(prefix="REGAPP")
    if config:
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"] or (
        f"sqlite:///{Path(app.instance_path) / 'regapp.sqlite3'}"
    )

    from .database import configure_engine_options, install_engine_hooks

    configure_engine_options(app)
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=True,  # SQLite alters tables by copying them
        render_item=render_item,
    )
    csrf.init_app(app)
    ratelimit.init_app(app)
    login_manager.init_app(app)
    with app.app_context():
        install_engine_hooks(app, db.engine)

    from . import models  # noqa: F401  (register the tables with SQLAlchemy)
    from .admin.views import bp as admin_bp
    from .auth.views import bp as auth_bp
    from .checkin.api import bp as api_bp
    from .checkin.views import bp as checkin_bp
    from .cli import register_commands
    from .errors import register_error_handlers
    from .events.views import bp as events_bp
    from .health import bp as health_bp
    from .imports.views import bp as imports_bp
    from .mail.outbox import init_outbox_worker
    from .participants.views import bp as participants_bp
    from .registration.views import bp as registration_bp
    from .reports.views import bp as reports_bp
    from .tickets.views import bp as tickets_bp
    from .web import register_web_helpers

    app.register_blueprint(events_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(checkin_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(participants_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(health_bp)
    register_error_handlers(app)
    register_web_helpers(app)
    register_commands(app)
    init_outbox_worker(app)
    return app
