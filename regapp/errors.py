"""Error pages: every refusal gets a clear page, never a bare 500."""

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
        return render_template("error.html", title=title, message=message), error.code
