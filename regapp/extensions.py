"""Extensions, created unbound here and bound to the app in ``create_app``."""

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()


def init_limiter(app: Flask) -> None:
    """Bind the limiter, counting in Redis when ``REDIS_URL`` is set, so that every process
    and every machine shares one count (memory:// counts per process)."""
    if redis_url := app.config["REDIS_URL"]:
        app.config["RATELIMIT_STORAGE_URI"] = redis_url
        # A Redis that hangs must not hang requests: give up after a second (and, with
        # RATELIMIT_SWALLOW_ERRORS, serve without limits meanwhile).
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )
    limiter.init_app(app)
