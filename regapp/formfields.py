"""Fields every form shares (public, organisers', admins'): text is NFC-normalised and stripped,
kept to a length, and free of control characters; an email address is required and valid."""

import unicodedata

from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Email, Length

from .inputs import no_control_characters


def clean_text(value):
    """Unicode NFC, outer white space removed."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value).strip()


def text_field(label: str, *validators, max_length: int = 200) -> StringField:
    return StringField(
        label,
        validators=[*validators, Length(max=max_length), no_control_characters],
        filters=[clean_text],
    )


def email_field(missing: str, *validators) -> EmailField:
    """``missing``: the message when it is left empty."""
    return EmailField(
        "Email",
        validators=[
            DataRequired(message=missing),
            Length(max=254),
            Email(message="Enter a valid email address, like name@example.org."),
            *validators,
        ],
        filters=[clean_text],
    )
