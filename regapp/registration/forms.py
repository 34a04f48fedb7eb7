"""The public registration and manage forms."""

from wtforms import BooleanField, Field, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, ValidationError

from .. import countries
from ..formfields import clean_text, email_field, text_field
from ..inputs import BrowserForm, is_row_id, no_control_characters
from ..models import CATEGORIES
from .services import NO_SUCH_SESSION, ParticipantDetails


def known_country(form, field):
    code = countries.lookup(field.data or "")
    if code is None:
        raise ValidationError("Choose a country from the list.")


class SessionChoiceField(Field):
    """Session ids from checkboxes (the template draws them, grouped by day). Whether each is a
    session of the event is checked by the service that takes them, with the sessions locked
    (``registration.services._chosen`` and ``_lock_sessions``): the form would have to read
    them first."""

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        self.data = []
        try:
            ids = [int(v) for v in valuelist]
        except ValueError:
            raise ValueError(NO_SUCH_SESSION) from None
        if not all(map(is_row_id, ids)):
            raise ValueError(NO_SUCH_SESSION)
        self.data = ids


def _sessions_field() -> SessionChoiceField:
    return SessionChoiceField(
        "Sessions", validators=[InputRequired(message="Choose at least one session.")]
    )


class SessionsForm(BrowserForm):
    sessions = _sessions_field()


class RegistrationForm(BrowserForm):
    class Meta:
        # CSRFProtect checks the token of every POST before the view runs; as a field of its
        # own the token would be signed afresh for each POST. The page writes it (csrf_token()).
        csrf = False

    full_name = text_field("Full name", DataRequired(message="Enter your full name."))
    email = email_field("Enter your email address.", no_control_characters)
    country = text_field("Country", DataRequired(message="Choose your country."), known_country)
    organisation = text_field("Organisation")
    job_title = text_field("Job title")
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
    email = email_field("Enter the email address you registered with.", no_control_characters)
