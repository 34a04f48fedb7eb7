"""Organisers' forms for one participant."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired

from .. import countries
from ..formfields import email_field, text_field
from ..inputs import no_control_characters
from ..models import CATEGORIES, Participant
from ..registration.services import ParticipantDetails


class DetailsForm(FlaskForm):
    full_name = text_field("Full name", DataRequired(message="Enter the participant's full name."))
    email = email_field("Enter the participant's email address.", no_control_characters)
    country = SelectField(
        "Country", validators=[InputRequired(message="Choose a country.")], validate_choice=True
    )
    organisation = text_field("Organisation")
    job_title = text_field("Job title")
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
