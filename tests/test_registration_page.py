"""The registration page's cheaper rendering: the same HTML as before, and a page that is kept
for a second (regapp/registration/page.py) without ever letting a seat be sold twice, nor one
visitor's token or page reach another."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from flask import render_template_string
from flask_wtf import FlaskForm
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from regapp.admin import forms as admin_forms
from regapp.auth import forms as auth_forms
from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.imports import forms as import_forms
from regapp.models import Event, Participant, Registration, RegistrationStatus, Role
from regapp.models.types import utcnow
from regapp.participants import forms as participant_forms
from regapp.registration import forms as registration_forms
from tests.conftest import registration_form

FORM_MODULES = [admin_forms, auth_forms, import_forms, participant_forms, registration_forms]
INPUT = re.compile(r"<input[^>]*>")
#: What people type that HTML must escape, and what a posted form sends back.
TRICKY = 'Côte d\'Ivoire <b>"&amp;"</b> & co'


def every_form_class():
    for module in FORM_MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, FlaskForm)
                and value.__module__ == module.__name__
            ):
                yield value


def text_fields(form):
    return [f for f in form if f.type in ("StringField", "EmailField") and not f.render_kw]


@pytest.mark.parametrize("with_errors", [False, True])
def test_field_macro_writes_text_inputs_exactly_as_wtforms_does(app, with_errors):
    checked = 0
    for form_class in every_form_class():
        with app.test_request_context(method="POST", data={}):
            form = form_class(formdata=None)
            for f in text_fields(form):
                f.data = TRICKY
                if with_errors:
                    f.errors = ["Wrong."]
                for hint, list_, autocomplete in [(None, None, None), ("A hint", "x-list", "name")]:
                    page = render_template_string(
                        '{% from "macros.html" import field %}'
                        "{{ field(f, hint=hint, list=list_, autocomplete=autocomplete) }}",
                        f=f,
                        hint=hint,
                        list_=list_,
                        autocomplete=autocomplete,
                    )
                    attrs = {}
                    described = [f"{f.id}-hint"] * bool(hint) + [f"{f.id}-error"] * with_errors
                    if described:
                        attrs["aria-describedby"] = " ".join(described)
                    if with_errors:
                        attrs["aria-invalid"] = "true"
                    if list_:
                        attrs["list"] = list_
                    if autocomplete:
                        attrs["autocomplete"] = autocomplete
                    assert INPUT.findall(page) == [str(f(**attrs))], (form_class, f.name)
                    assert f"{f.label(class_='label')}" in page
                    checked += 1
    assert checked > 40  # every text field of the app, not a few


@pytest.mark.parametrize("consent", [None, "yes"])
def test_consent_and_honeypot_inputs_are_those_wtforms_would_write(
    app, client, make_event, consent
):
    event = make_event()
    sent = {"website": TRICKY, "sessions": [str(event.sessions[0].id)]}
    if consent:
        sent["consent"] = consent
    page = client.post("/e/forum/register", data=sent).text
    with app.test_request_context(method="POST", data=sent):
        form = registration_forms.RegistrationForm()
        form.validate()
        error = {"aria-describedby": "consent-error", "aria-invalid": "true"}
        expected = [
            str(form.consent(**(error if form.consent.errors else {}))),
            str(form.website(tabindex="-1", autocomplete="off")),
            str(form.consent.label()),
            str(form.website.label()),
        ]
    for html in expected:
        assert html in page, html
    blank = client.get("/e/forum/register").text
    assert '<input id="consent" name="consent" required type="checkbox" value="y">' in blank


def seats_shown(page: str) -> str:
    return re.search(r"(\d+) of \d+ seats left", page).group(1)


def test_form_shows_seats_a_second_old_but_a_post_counts_them_again(make_app, make_event):
    app = make_app(REGISTRATION_PAGE_MAX_AGE=60)
    with app.app_context():
        event = make_event({"capacity": 1})
        client = app.test_client()
        assert seats_shown(client.get("/e/forum/register").text) == "1"

        assert client.post("/e/forum/register", data=registration_form(event)).status_code == 303

        # The form kept for everyone still says one seat; the seat is gone all the same.
        assert seats_shown(client.get("/e/forum/register").text) == "1"
        second = registration_form(event, email="second@example.org")
        assert client.post("/e/forum/register", data=second).status_code == 303
        waitlisted = select(func.count()).where(
            Registration.status == RegistrationStatus.WAITLISTED
        )
        assert db.session.scalar(waitlisted) == 1
        # A form sent back with errors is rendered afresh, with the seats as they are now.
        refused = client.post("/e/forum/register", data={"sessions": [str(event.sessions[0].id)]})
        assert refused.status_code == 422 and "Full: waitlist (1 waiting)" in refused.text

        app.config["REGISTRATION_PAGE_MAX_AGE"] = 0  # kept no longer: read again
        assert "Full: waitlist (1 waiting)" in client.get("/e/forum/register").text


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_kept_page_carries_each_visitors_own_token_and_asks_the_database_nothing(
    make_app, make_event
):
    app = make_app(WTF_CSRF_ENABLED=True, REGISTRATION_PAGE_MAX_AGE=60)
    with app.app_context():
        event = make_event()
        forms = [registration_form(event, email=f"p{n}@example.org") for n in range(3)]
        engine = db.engine
    # Requests outside the test's app context, as in production: each has its own ``g``.
    first, second = app.test_client(), app.test_client()
    first_page = first.get("/e/forum/register").text  # rendered, and kept
    statements = []

    def count(*_args):
        statements.append(1)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        second_page = second.get("/e/forum/register").text
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert statements == []  # served as kept
    assert csrf_token(first_page) != csrf_token(second_page)
    assert first_page.replace(csrf_token(first_page), "") == second_page.replace(
        csrf_token(second_page), ""
    )
    # Each token works for its own visitor, and for nobody else.
    assert (
        second.post(
            "/e/forum/register", data=forms[0] | {"csrf_token": csrf_token(second_page)}
        ).status_code
        == 303
    )
    assert (
        first.post(
            "/e/forum/register", data=forms[1] | {"csrf_token": csrf_token(first_page)}
        ).status_code
        == 303
    )
    stranger = app.test_client()
    stranger.get("/e/forum/register")
    refused = stranger.post(
        "/e/forum/register", data=forms[2] | {"csrf_token": csrf_token(first_page)}
    )
    assert refused.status_code == 400


def test_staff_and_visitors_with_a_message_get_a_page_of_their_own_never_the_kept_one(
    make_app, make_event
):
    app = make_app(REGISTRATION_PAGE_MAX_AGE=60)
    with app.app_context():
        make_event()
        create_staff("org@example.org", Role.ORGANISER, "correct horse battery", "Olga Org")
    staff, visitor = app.test_client(), app.test_client()
    staff.post(
        "/staff/login", data={"email": "org@example.org", "password": "correct horse battery"}
    )

    assert "Olga Org" in staff.get("/e/forum/register").text  # not kept
    assert "Olga Org" not in visitor.get("/e/forum/register").text  # rendered and kept
    assert "Olga Org" in staff.get("/e/forum/register").text  # not the kept page
    assert "Olga Org" not in visitor.get("/e/forum/register").text

    # A message waiting for one visitor is shown to that visitor only.
    flashed = app.test_client()
    with flashed.session_transaction() as session:
        session["_flashes"] = [("warning", "A message for one visitor")]
    assert "A message for one visitor" in flashed.get("/e/forum/register").text
    assert "A message for one visitor" not in visitor.get("/e/forum/register").text


def test_a_registration_reads_its_events_window_once_for_as_long_as_the_page_is_kept(
    make_app, make_event
):
    """The POST needs of its event only whether registration is open: each process keeps that
    (regapp/kept.py) for REGISTRATION_PAGE_MAX_AGE, as the page. Closed on another process
    (here: another app), it shows once that age has passed; changed on this one, at once."""
    form_app = make_app(REGISTRATION_PAGE_MAX_AGE=60)
    with form_app.app_context():
        event = make_event()
        forms = [registration_form(event, email=f"p{n}@example.org") for n in range(5)]
        event_id, engine = event.id, db.engine
    client = form_app.test_client()
    assert client.post("/e/forum/register", data=forms[0]).status_code == 303  # read, and kept
    events_read = []

    def note(_connection, _cursor, statement, *_args):
        if re.search(r"\bFROM events\b", statement):
            events_read.append(statement)

    sa_event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.post("/e/forum/register", data=forms[1]).status_code == 303
    finally:
        sa_event.remove(engine, "before_cursor_execute", note)
    assert events_read == []

    other = make_app()
    with other.app_context():
        db.session.get(Event, event_id).registration_closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    # This process still keeps the window it read: registration is open here for its age.
    assert client.post("/e/forum/register", data=forms[2]).status_code == 303
    form_app.config["REGISTRATION_PAGE_MAX_AGE"] = 0.01
    time.sleep(0.02)  # what this process keeps is now too old: read again, and kept
    refused = client.post("/e/forum/register", data=forms[3])
    assert refused.status_code == 422 and "Registration for this event has closed." in refused.text

    form_app.config["REGISTRATION_PAGE_MAX_AGE"] = 60
    with form_app.app_context():
        db.session.get(Event, event_id).registration_closes_at = None  # reopened here
        db.session.commit()
    assert client.post("/e/forum/register", data=forms[3]).status_code == 303
    with other.app_context():
        assert db.session.scalar(select(func.count()).select_from(Participant)) == 4
