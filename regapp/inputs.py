"""What clients send, kept to what the app and its databases can take: browser forms read form
fields only, ids stay within the range of the id columns, text holds no control characters or
lone surrogates (PostgreSQL refuses NUL in any string, and neither database driver can encode a
lone surrogate), and a secret token from a URL is looked up only when it could be one of ours."""

import re

from flask import request
from flask_wtf import FlaskForm
from werkzeug.routing import IntegerConverter
from wtforms.validators import ValidationError

#: Every id column is a 32-bit integer. A larger number names no row; sent to the database it
#: would not even be a valid parameter (SQLite's driver overflows past 64 bits).
MAX_ROW_ID = 2**31 - 1


def is_row_id(value) -> bool:
    """A whole number (not a boolean) that could be the id of a row."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID


_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # secrets.token_urlsafe's alphabet, column length


def is_token(text: str) -> bool:
    """Whether ``text`` could be a manage or join token (else no query is needed to say no)."""
    return _TOKEN.fullmatch(text) is not None


#: Unicode's categories Cc (control characters: U+0000-001F and U+007F-009F) and Cs (surrogates).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    """NUL, escape, tab, line breaks and the like, or lone surrogates (not text at all)."""
    return _CONTROL.search(text) is not None


def no_control_characters(form, field):
    """A form validator: the field's text holds no control characters."""
    if isinstance(field.data, str) and has_control_characters(field.data):
        raise ValidationError("Remove the control characters (such as tabs or line breaks).")


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in a route: a number beyond any row id is a 404 like any unknown id."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


class BrowserForm(FlaskForm):
    """A form read from the posted form fields only. Flask-WTF would also read a JSON body,
    whose numbers, lists and objects would reach fields that expect text (and fail with a 500);
    a JSON body is treated as an empty form instead, so it gets the form's usual messages."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            if request.is_json:
                formdata = None
            return super().wrap_formdata(form, formdata)
