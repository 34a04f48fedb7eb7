"""Fields that the organisers' and admins' forms share: text is NFC-normalised and stripped,
kept to a length, and free of control characters; an email address is required and valid."""

from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Email, Length

from .inputs import no_control_characters
from .registration.forms import clean_text


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
