"""'Send me my link again', and replacing a lost access code."""

from sqlalchemy import select

from regapp.extensions import db
from regapp.models import OutboxMessage, Participant
from regapp.tickets.services import check_code
from tests.conftest import registration_form


def queued_kinds() -> list[tuple[str, str]]:
    db.session.rollback()
    return sorted(db.session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all())


def test_resend_gives_the_same_answer_whether_or_not_the_email_is_registered(client, make_event):
    event = make_event()
    client.post("/e/forum/register", data=registration_form(event, email="amina@example.org"))
    answers = []
    for email in ["AMINA@example.org", "nobody@example.org"]:
        response = client.post("/e/forum/resend", data={"email": email}, follow_redirects=True)
        assert response.status_code == 200
        answers.append(response.text.replace(email, "EMAIL"))
    assert answers[0] == answers[1]
    assert "its private link is on its way" in answers[0]
    assert queued_kinds() == [
        ("confirmation", "amina@example.org"),
        ("manage_link", "amina@example.org"),
    ]


def test_resend_form_checks_the_email(client, make_event):
    make_event()
    response = client.post("/e/forum/resend", data={"email": "not an email"})
    assert response.status_code == 422
    assert "Enter a valid email address" in response.text


def test_resend_is_rate_limited_per_address(make_app, make_event):
    app = make_app(RATELIMIT_ENABLED=True, RESEND_LINK_LIMIT="3 per hour")
    with app.app_context():
        make_event()
        client = app.test_client()
        codes = [
            client.post("/e/forum/resend", data={"email": f"x{i}@example.org"}).status_code
            for i in range(4)
        ]
        assert codes == [303, 303, 303, 429]
        response = client.post("/e/forum/resend", data={"email": "x@example.org"})
        assert "Too many attempts" in response.text
        assert client.get("/e/forum/resend").status_code == 200  # reading the form is not limited


def test_new_code_revokes_the_old_one_at_once(client, make_event):
    event = make_event()
    client.post("/e/forum/register", data=registration_form(event))
    participant = db.session.scalar(select(Participant))
    old = participant.active_code.code
    assert check_code(old).status == "ok"

    response = client.post(f"/manage/{participant.manage_token}/new-code", follow_redirects=True)
    assert "The old one no longer works" in response.text
    db.session.refresh(participant)
    new = participant.active_code.code
    assert new != old and new.replace("R1", "", 1)[:5] in response.text
    assert check_code(old).status == "revoked_code"
    assert check_code(new).status == "ok" and check_code(new).participant == participant
    assert ("new_code", "amina@example.org") in queued_kinds()


def test_code_typos_are_caught_before_the_database(app):
    check = check_code("R1-ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567")
    assert check.status == "unknown_code" and "typo" in check.message


def test_a_photographed_ticket_cannot_change_the_registration(client, make_event):
    event = make_event()
    client.post("/e/forum/register", data=registration_form(event))
    code = db.session.scalar(select(Participant)).active_code.code
    for path in [f"/manage/{code}", f"/manage/{code}/cancel", f"/manage/{code}/new-code"]:
        assert client.post(path).status_code in (404, 405)
        assert client.get(path).status_code in (404, 405)
