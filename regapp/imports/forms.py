"""The import's forms: the file to check, and the go-ahead."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField


class UploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired(message="Choose a CSV file to check.")],
        render_kw={"accept": ".csv,text/csv"},
    )


class StartForm(FlaskForm):
    send_confirmations = BooleanField(
        "Email each new participant their confirmation (with their ticket and private link), "
        "and tell people whose sessions change"
    )


class BatchForm(FlaskForm):
    """Only the CSRF token: "continue importing" without JavaScript."""
