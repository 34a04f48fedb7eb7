"""Organisers' forms for one participant."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length

from .. import countries
from ..models import CATEGORIES, Participant
from ..registration.forms import clean_text, no_control_characters
from ..registration.services import ParticipantDetails


def _text(label: str, *validators, max_length: int = 200) -> StringField:
    return StringField(
        label,
        validators=[*validators, Length(max=max_length), no_control_characters],
        filters=[clean_text],
    )


class DetailsForm(FlaskForm):
    full_name = _text("Full name", DataRequired(message="Enter the participant's full name."))
    email = EmailField(
        "Email",
        validators=[
            DataRequired(message="Enter the participant's email address."),
            Length(max=254),
            Email(message="Enter a valid email address, like name@example.org."),
            no_control_characters,
        ],
        filters=[clean_text],
    )
    country = SelectField(
        "Country", validators=[InputRequired(message="Choose a country.")], validate_choice=True
    )
    organisation = _text("Organisation")
    job_title = _text("Job title")
    category = SelectField(
        "Category",
        choices=[SelectChoice(value, label) for value, label in CATEGORIES.items()],
        validators=[InputRequired(message="Choose a category.")],
    )

    def __init__(self, *args, participant: Participant | None = None, **kwargs):
        if participant is not None and "obj" not in kwargs:
            kwargs["obj"] = participant
        super().__init__(*args, **kwargs)
        self.country.choices = countries.choices()

    def details(self) -> ParticipantDetails:
        return ParticipantDetails(
            full_name=self.full_name.data,
            email=self.email.data,
            country=self.country.data,
            organisation=self.organisation.data or "",
            job_title=self.job_title.data or "",
            category=self.category.data,
        )


class PromoteForm(FlaskForm):
    session_id = IntegerField(validators=[InputRequired()])


class CancelForm(FlaskForm):
    confirm = BooleanField(
        "Yes, cancel all their sessions",
        validators=[DataRequired(message="Tick the box to confirm the cancellation.")],
    )
