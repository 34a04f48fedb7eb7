"""Error pages: every refusal gets a clear page, never a bare 500."""

import contextlib

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .database import describe, is_unavailable
from .extensions import db


class Refusal(Exception):
    """A change a service refuses, with a message for the person who asked; ``field`` names
    the form field to show it next to (``None``: at the top of the form). Views show it with
    :func:`regapp.web.attach_error` or :func:`regapp.web.flash_outcome`."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


#: Seconds after which a visitor refused for a busy or unreachable database may try again.
RETRY_AFTER = 5
UNAVAILABLE = "The service is very busy or briefly unreachable. Nothing was saved."

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    404: ("Not found", "There is nothing at this address. Check the link you followed."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What you sent is far larger than any form here accepts."),
    429: ("Too many attempts", "You have tried this too often. Wait a while and try again."),
    500: ("Something went wrong", "Our fault, not yours. Nothing was saved; please try again."),
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template(
            "error.html",
            title="Form expired",
            message="This form was open too long or did not come from this site. "
            "Go back, reload the page and submit it again. Nothing was saved.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        title, message = MESSAGES.get(error.code, (error.name, error.description))
        if error.code == 429 and isinstance(wait := getattr(error, "retry_after", None), int):
            message = f"You have tried this too often. Try again in {_in_words(wait)}."
        page = render_template("error.html", title=title, message=message)
        # The exception's own headers: Retry-After on a 429, Allow on a 405.
        return page, error.code, error.get_headers()

    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError):
        """A locked, overloaded or unreachable database is answered with 503 and Retry-After
        (the transaction rolled back, nothing written); any other database error is a bug."""
        with contextlib.suppress(SQLAlchemyError):  # a dead connection: the pool replaces it
            db.session.rollback()
        if not is_unavailable(error):
            raise error
        # The endpoint, not the path: paths such as /manage/<token> carry secrets.
        current_app.logger.warning(
            "Database unavailable (%s): %s", request.endpoint, describe(error)
        )
        headers = {"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"}
        if _wants_json():
            body = {"status": "error", "code": "unavailable", "message": UNAVAILABLE}
            return jsonify(body), 503, headers
        # A page of its own: error.html would ask the database who is signed in.
        return render_template("unavailable.html", message=UNAVAILABLE), 503, headers


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {round(seconds / 3600)} hours"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")
