"""The public registration and manage forms."""

import unicodedata

from wtforms import BooleanField, EmailField, Field, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from .. import countries
from ..inputs import BrowserForm, no_control_characters
from ..models import CATEGORIES, Event
from .services import ParticipantDetails


def clean_text(value):
    """Unicode NFC, outer white space removed."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value).strip()


def known_country(form, field):
    code = countries.lookup(field.data or "")
    if code is None:
        raise ValidationError("Choose a country from the list.")


class SessionChoiceField(Field):
    """Session ids from checkboxes (the template draws them, grouped by day)."""

    valid_ids: frozenset[int] = frozenset()

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        try:
            self.data = [int(v) for v in valuelist]
        except ValueError:
            self.data = []
            raise ValueError("One of the chosen sessions does not exist.") from None

    def pre_validate(self, form):
        if any(session_id not in self.valid_ids for session_id in self.data):
            raise ValidationError("One of the chosen sessions does not exist.")


def _text(label: str, *validators, max_length: int = 200):
    return StringField(
        label,
        validators=[*validators, Length(max=max_length), no_control_characters],
        filters=[clean_text],
    )


def _email(missing: str) -> EmailField:
    return EmailField(
        "Email",
        validators=[
            DataRequired(message=missing),
            Length(max=254),
            Email(message="Enter a valid email address, like name@example.org."),
            no_control_characters,
        ],
        filters=[clean_text],
    )


def _sessions_field() -> SessionChoiceField:
    return SessionChoiceField(
        "Sessions", validators=[InputRequired(message="Choose at least one session.")]
    )


class _ChoosesSessions:
    def set_sessions(self, event: Event) -> None:
        self.sessions.valid_ids = frozenset(s.id for s in event.sessions)


class SessionsForm(_ChoosesSessions, BrowserForm):
    sessions = _sessions_field()


class RegistrationForm(_ChoosesSessions, BrowserForm):
    full_name = _text("Full name", DataRequired(message="Enter your full name."))
    email = _email("Enter your email address.")
    country = _text("Country", DataRequired(message="Choose your country."), known_country)
    organisation = _text("Organisation")
    job_title = _text("Job title")
    category = SelectField(
        "Category",
        choices=[SelectChoice(value, label) for value, label in CATEGORIES.items()],
        default="delegate",
        validators=[InputRequired(message="Choose a category.")],
    )
    sessions = _sessions_field()  # declared here so that errors are listed in the page's order
    consent = BooleanField(
        "I agree to the privacy notice",
        validators=[DataRequired(message="Registration needs your consent to the privacy notice.")],
    )
    #: A honeypot: hidden from people (off screen, from screen readers and from the keyboard),
    #: so only a program that fills in every field fills it in.
    website = StringField("Leave this field empty", filters=[clean_text])

    def filled_by_a_bot(self) -> bool:
        return bool(self.website.data)

    def details(self) -> ParticipantDetails:
        return ParticipantDetails(
            full_name=self.full_name.data,
            email=self.email.data,
            country=countries.lookup(self.country.data),
            organisation=self.organisation.data or "",
            job_title=self.job_title.data or "",
            category=self.category.data,
        )


class ConfirmForm(BrowserForm):
    """Only the CSRF token: for actions that are a button (cancel, new code)."""


class ResendLinkForm(BrowserForm):
    email = _email("Enter the email address you registered with.")
