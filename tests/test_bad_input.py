"""Bad input gets a clear message next to its field and changes nothing; never a 500."""

import re
import unicodedata

import pytest
from sqlalchemy import func, select

from regapp.extensions import db
from regapp.inputs import has_control_characters
from regapp.models import Participant, Registration
from tests.conftest import registration_form


def nothing_saved() -> bool:
    db.session.expire_all()
    return not db.session.scalar(select(func.count()).select_from(Participant)) and not (
        db.session.scalar(select(func.count()).select_from(Registration))
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"full_name": ""}, "Enter your full name."),
        ({"full_name": "   "}, "Enter your full name."),
        ({"email": ""}, "Enter your email address."),
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"email": "a@b"}, "Enter a valid email address"),
        ({"country": ""}, "Choose your country."),
        ({"country": "Atlantis"}, "Choose a country from the list."),
        ({"sessions": []}, "Choose at least one session."),
        ({"sessions": ["abc"]}, "does not exist"),
        ({"sessions": ["999999"]}, "does not exist"),
        ({"sessions": ["2147483648"]}, "does not exist"),  # past what the id column holds
        ({"sessions": ["0"]}, "does not exist"),
        ({"consent": None}, "consent to the privacy notice"),
        ({"category": "vip"}, "Not a valid choice"),
        ({"full_name": "x" * 10_000}, "Field cannot be longer than 200 characters."),
        ({"organisation": "o" * 10_000}, "Field cannot be longer than 200 characters."),
        ({"full_name": "Amina\x00Rahimova"}, "Remove the control characters"),
        ({"full_name": "Amina\x1b[31mRahimova"}, "Remove the control characters"),
        ({"job_title": "Head\nof unit"}, "Remove the control characters"),
        ({"email": "amina\r\n@example.org"}, "Enter a valid email address"),
    ],
)
def test_bad_field_gets_a_clear_message_and_changes_nothing(client, make_event, fields, message):
    event = make_event()
    response = client.post("/e/forum/register", data=registration_form(event, **fields))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert "Please check the form" in page
    assert nothing_saved()


def test_entered_values_are_kept_after_an_error(client, make_event):
    event = make_event({"title": "Opening session"}, {"title": "Panel 1"})
    data = registration_form(
        event,
        [s.id for s in event.sessions],
        email="bad",
        full_name="Jean-Pierre Élong",
        organisation="UCLG Africa",
    )
    page = client.post("/e/forum/register", data=data).get_data(as_text=True)
    assert 'value="Jean-Pierre Élong"' in page
    assert 'value="UCLG Africa"' in page
    for session in event.sessions:
        assert re.search(rf'id="session-{session.id}"[^>]*\schecked>', page), session.title


def test_error_is_announced_next_to_its_field(client, make_event):
    event = make_event()
    page = client.post("/e/forum/register", data=registration_form(event, email="nope")).get_data(
        as_text=True
    )
    assert 'aria-describedby="email-hint email-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'id="email-error"' in page


def test_session_of_another_event_is_refused(client, make_event):
    event = make_event(slug="forum")
    other = make_event(slug="other")
    response = client.post(
        "/e/forum/register", data=registration_form(event, [other.sessions[0].id])
    )
    assert response.status_code == 422
    assert "does not exist" in response.get_data(as_text=True)
    assert nothing_saved()


def test_names_in_any_script_are_welcome(client, make_event):
    event = make_event()
    response = client.post(
        "/e/forum/register",
        data=registration_form(event, full_name="Ülvi Mehdiyev / علي / 张伟", country="az"),
    )
    assert response.status_code == 303
    participant = db.session.scalar(select(Participant))
    assert participant.full_name == "Ülvi Mehdiyev / علي / 张伟"
    assert participant.country == "AZ"


@pytest.mark.parametrize("country", ["AZ", "aze", "Azerbaijan", "  azerbaijan "])
def test_country_is_stored_as_its_iso_code(client, make_event, country):
    event = make_event()
    client.post("/e/forum/register", data=registration_form(event, country=country))
    assert db.session.scalar(select(Participant.country)) == "AZ"


def test_huge_request_body_is_refused_cleanly(client, make_event):
    event = make_event()
    response = client.post(
        "/e/forum/register", data=registration_form(event, full_name="x" * 2_000_000)
    )
    assert response.status_code == 413
    assert "far larger than any form here accepts" in response.get_data(as_text=True)
    assert nothing_saved()


def test_unknown_event_and_wrong_method_get_clear_pages(client):
    response = client.get("/e/no-such-event/register")
    assert response.status_code == 404 and "There is nothing at this address" in response.text
    response = client.delete("/e/no-such-event/register")
    assert response.status_code == 405


def test_missing_csrf_token_is_refused_and_changes_nothing(make_app, make_event):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        event = make_event()  # built through the default test app; same database
        client = app.test_client()
        response = client.post("/e/forum/register", data=registration_form(event))
        assert response.status_code == 400
        assert "Form expired" in response.text
        # ... and the manage forms are protected too.
        assert client.post("/manage/anything/cancel").status_code == 400
        assert nothing_saved()


def test_with_csrf_on_a_real_form_submission_works(make_app, make_event):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        event = make_event()
        client = app.test_client()
        page = client.get("/e/forum/register").text
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        response = client.post(
            "/e/forum/register", data={**registration_form(event), "csrf_token": token}
        )
        assert response.status_code == 303


def test_control_characters_are_unicodes_control_and_surrogate_categories():
    """The fast check (one pattern) says what Unicode's categories Cc and Cs say, for every
    code point."""
    wrong = [
        code
        for code in range(0x110000)
        if has_control_characters(chr(code)) != (unicodedata.category(chr(code)) in ("Cc", "Cs"))
    ]
    assert wrong == []
