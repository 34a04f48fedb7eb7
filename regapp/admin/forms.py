"""Forms of the organisers' and admins' pages. Times are typed in the event's time zone; the
forms hand the services UTC (``values()``), and take the stored UTC back (``from_*``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    URL,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..formfields import clean_text, email_field, text_field
from ..models import Event, EventSession, Role, SessionKind, StaffUser

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MIN_PASSWORD = 10
#: Settings a form shows as they are stored (times are converted to and from local time).
EVENT_FIELDS = (
    "name",
    "slug",
    "timezone",
    "venue",
    "organiser",
    "description",
    "privacy_notice",
    "retention_days",
)
SESSION_FIELDS = ("title", "kind", "room", "capacity", "stream_url", "registration_open")


@cache
def time_zones() -> list[str]:
    """IANA zone names people pick from: ``Area/City`` and UTC, without the legacy aliases."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/")) + [
        "UTC"
    ]


def _long_text(label: str, max_length: int):
    return TextAreaField(label, validators=[Length(max=max_length)], filters=[clean_text])


def _moment(label: str):
    """An optional local date and time (``<input type=datetime-local>``)."""
    return DateTimeLocalField(
        label,
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        invalid_value_message="Enter a date and a time, like 2027-05-20 09:00.",
    )


def _whole_number(label: str, minimum: int, maximum: int, message: str):
    return IntegerField(
        label,
        validators=[Optional(), NumberRange(min=minimum, max=maximum, message=message)],
        invalid_value_message="Enter a whole number, or leave it empty.",
    )


def to_utc(local: datetime | None, zone: ZoneInfo) -> datetime | None:
    return local.replace(tzinfo=zone).astimezone(UTC) if local is not None else None


def to_local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone).replace(tzinfo=None) if moment is not None else None


class EventForm(FlaskForm):
    name = text_field("Name", DataRequired(message="Enter the event's name."))
    slug = StringField(
        "Address",
        validators=[
            DataRequired(message="Choose the event's address, like global-forum-2027."),
            Length(max=80),
            Regexp(
                SLUG_PATTERN,
                message="Use lowercase letters, digits and single hyphens between them, "
                "like global-forum-2027.",
            ),
        ],
        filters=[clean_text, lambda v: v.lower() if isinstance(v, str) else v],
    )
    timezone = SelectField("Time zone", choices=time_zones, default="UTC")
    venue = text_field("Venue")
    organiser = text_field("Organiser")
    description = _long_text("Description", 5000)
    registration_opens_at = _moment("Registration opens")
    registration_closes_at = _moment("Registration closes")
    privacy_notice = _long_text("Privacy notice", 20000)
    retention_days = _whole_number(
        "Keep personal data for (days)",
        1,
        36500,
        "Enter a number of days from 1 to 36500, or leave it empty.",
    )

    @classmethod
    def from_event(cls, event: Event) -> EventForm:
        zone = event.zone
        data = {name: getattr(event, name) for name in EVENT_FIELDS}
        data["registration_opens_at"] = to_local(event.registration_opens_at, zone)
        data["registration_closes_at"] = to_local(event.registration_closes_at, zone)
        return cls(data=data)

    def validate_registration_closes_at(self, field):
        opens = self.registration_opens_at.data
        if opens and field.data and field.data <= opens:
            raise ValidationError("Registration must close after it opens.")

    def values(self) -> dict:
        zone = ZoneInfo(self.timezone.data)
        return {
            "name": self.name.data,
            "slug": self.slug.data,
            "timezone": self.timezone.data,
            "venue": self.venue.data or "",
            "organiser": self.organiser.data or "",
            "description": self.description.data or "",
            "registration_opens_at": to_utc(self.registration_opens_at.data, zone),
            "registration_closes_at": to_utc(self.registration_closes_at.data, zone),
            "privacy_notice": self.privacy_notice.data or "",
            "retention_days": self.retention_days.data,
        }


class SessionForm(FlaskForm):
    title = text_field("Title", DataRequired(message="Enter the session's title."))
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(k.value, k.value.capitalize()) for k in SessionKind],
        default=SessionKind.PANEL.value,
    )
    day = DateField(
        "Day",
        validators=[InputRequired(message="Choose the day.")],
        invalid_value_message="Enter a date, like 2027-05-20.",
    )
    starts = TimeField(
        "Starts",
        validators=[InputRequired(message="Enter the start time.")],
        invalid_value_message="Enter a time, like 09:30.",
    )
    ends = TimeField(
        "Ends",
        validators=[InputRequired(message="Enter the end time.")],
        invalid_value_message="Enter a time, like 11:00.",
    )
    room = text_field("Room", max_length=100)
    capacity = _whole_number(
        "Capacity", 0, 1_000_000, "Enter a number of seats (0 or more), or leave it empty."
    )
    stream_url = URLField(
        "Stream URL",
        validators=[
            Optional(),
            Length(max=500),
            URL(message="Enter a full web address, like https://stream.example.org/opening."),
            Regexp(r"^https?://", message="Use an address starting with https:// or http://."),
        ],
        filters=[clean_text],
    )
    checkin_opens_at = _moment("Check-in opens")
    checkin_closes_at = _moment("Check-in closes")
    registration_open = BooleanField("Open for registration", default=True)

    @classmethod
    def from_session(cls, session: EventSession) -> SessionForm:
        zone = session.event.zone
        starts, ends = session.event.local(session.starts_at), session.event.local(session.ends_at)
        data = {name: getattr(session, name) for name in SESSION_FIELDS}
        data.update(
            day=starts.date(),
            starts=starts.time(),
            ends=ends.time(),
            checkin_opens_at=to_local(session.checkin_opens_at, zone),
            checkin_closes_at=to_local(session.checkin_closes_at, zone),
        )
        return cls(data=data)

    def validate_ends(self, field):
        if self.starts.data and field.data and field.data <= self.starts.data:
            raise ValidationError("The session must end after it starts (on the same day).")

    def validate_checkin_closes_at(self, field):
        opens = self.checkin_opens_at.data
        if opens and field.data and field.data <= opens:
            raise ValidationError("Check-in must close after it opens.")

    def values(self, event: Event) -> dict:
        zone = event.zone

        def at(day: date, clock: time) -> datetime:
            return to_utc(datetime.combine(day, clock.replace(second=0, microsecond=0)), zone)

        return {
            "title": self.title.data,
            "kind": self.kind.data,
            "starts_at": at(self.day.data, self.starts.data),
            "ends_at": at(self.day.data, self.ends.data),
            "room": self.room.data or "",
            "capacity": self.capacity.data,
            "stream_url": self.stream_url.data or "",
            "checkin_opens_at": to_utc(self.checkin_opens_at.data, zone),
            "checkin_closes_at": to_utc(self.checkin_closes_at.data, zone),
            "registration_open": self.registration_open.data,
        }


class StaffForm(FlaskForm):
    """An account's name, email, role and events (editing an account)."""

    name = text_field("Name", DataRequired(message="Enter the person's name."))
    email = email_field("Enter the email address they sign in with.")
    role = SelectField(
        "Role",
        choices=[
            SelectChoice(Role.SCANNER.value, "Scanner: check-in at the door"),
            SelectChoice(
                Role.ORGANISER.value, "Organiser: also participants, reports and event settings"
            ),
            SelectChoice(Role.ADMIN.value, "Admin: also staff accounts, every event"),
        ],
        default=Role.SCANNER.value,
    )
    events = SelectMultipleField("Events they work on", coerce=int, validate_choice=False)

    def set_events(self, events: list[Event]) -> None:
        self.events.choices = [
            SelectChoice(e.id, f"{e.name} (archived)" if e.is_archived else e.name) for e in events
        ]

    def validate_events(self, field):
        known = {choice.value for choice in field.choices}
        if any(event_id not in known for event_id in field.data or []):
            raise ValidationError("One of the chosen events does not exist.")

    @classmethod
    def from_staff(cls, staff: StaffUser, events: list[Event]) -> StaffForm:
        form = cls(
            data={
                "name": staff.name,
                "email": staff.email,
                "role": staff.role,
                "events": [e.id for e in staff.events],
            }
        )
        form.set_events(events)
        return form

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "email": self.email.data,
            "role": self.role.data,
            "event_ids": list(self.events.data or []),
        }


class NewStaffForm(StaffForm):
    password = PasswordField(
        "Initial password",
        validators=[
            Optional(),
            Length(
                min=MIN_PASSWORD,
                max=200,
                message=f"Use at least {MIN_PASSWORD} characters, or leave it empty.",
            ),
        ],
    )


class DeviceForm(FlaskForm):
    name = text_field("Device name", DataRequired(message="Name the device, like “Door 1 phone”."))
