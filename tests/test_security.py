"""Security of the web layer: headers, cookies, idle staff sessions, abuse limits, the honeypot.

The authorisation rules (who may see what) are in test_authorisation.py and test_access_routes.py.
"""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.models import AuditEntry, CheckIn, DeviceToken, OutboxMessage, Participant, Role
from regapp.registration.services import ParticipantDetails, register
from tests.conftest import REDIS_URL, ROOT, registration_form

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC).replace(microsecond=0)


def sign_in(client, email="org@example.org", password=PASSWORD, **kwargs):
    return client.post("/staff/login", data={"email": email, "password": password}, **kwargs)


def audit(action=None) -> list[AuditEntry]:
    db.session.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


@pytest.fixture
def organiser(app, make_event):
    event = make_event()
    return create_staff("org@example.org", Role.ORGANISER, PASSWORD, "Olga", events=[event])


@pytest.fixture
def limited(make_app):
    """An app with the rate limits on (the other tests run without them), given overrides."""

    def factory(**overrides):
        app = make_app(RATELIMIT_ENABLED=True, **overrides)
        context = app.app_context()
        context.push()
        contexts.append(context)
        return app

    contexts = []
    yield factory
    for context in reversed(contexts):
        context.pop()


# --------------------------------------------------------------------------- headers


def test_every_answer_forbids_inline_code_framing_sniffing_and_referrers(client, make_event):
    make_event()
    for url in ("/", "/e/forum/register", "/staff/login", "/no-such-page"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


class _InlineCode(HTMLParser):
    """Finds what the CSP would block in a template: inline scripts, styles and handlers."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        for name in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"{name}= attribute on <{tag}>")


def test_no_page_template_has_inline_scripts_styles_or_event_handlers():
    """The CSP forbids them, so they would silently not work. (Email templates are exempt:
    mail clients need inline styles, and no browser applies our CSP to them.)"""
    templates = [p for p in (ROOT / "templates").rglob("*.html") if "email" not in p.parts]
    assert len(templates) > 10
    problems = []
    for path in templates:
        parser = _InlineCode()
        parser.feed(path.read_text())
        problems += [f"{path.relative_to(ROOT)}: {what}" for what in parser.found]
    assert problems == []


def test_the_template_scan_would_notice_inline_code():
    parser = _InlineCode()
    parser.feed('<script>alert(1)</script><p style="color:red" onclick="x()"></p><style></style>')
    assert len(parser.found) == 4


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://regapp.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_behind_a_proxy_the_forwarded_scheme_and_address_count_only_when_configured(
    make_app, make_event
):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    for proxy_fix, https, address in ((0, False, "127.0.0.1"), (1, True, "203.0.113.7")):
        app = make_app(PROXY_FIX=proxy_fix)
        with app.app_context():
            make_event(slug=f"forum-{proxy_fix}")
            client = app.test_client()
            response = client.get("/", headers=forwarded)
            assert ("Strict-Transport-Security" in response.headers) is https
            sign_in(client, "nobody@example.org", headers=forwarded)
            assert audit("staff.login_failed")[-1].ip == address


def cookie_flags(response, name="session") -> set[str]:
    """The attributes of a Set-Cookie header: {"httponly", "samesite=lax", "secure", ...}."""
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}="))
    parts = [part.strip().lower() for part in header.split(";")[1:]]
    return {p if p.startswith("samesite") else p.split("=")[0] for p in parts}


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_plain_http(
    client, organiser
):
    response = sign_in(client)
    assert response.status_code == 303
    flags = cookie_flags(response)
    assert {"httponly", "samesite=lax"} <= flags
    assert "secure" not in flags


@pytest.mark.parametrize(
    "settings",
    [{"BASE_URL": "https://forum.example.org"}, {"SESSION_COOKIE_SECURE": True}],
    ids=["https-base-url", "explicit-setting"],
)
def test_session_cookie_is_secure_in_production(make_app, make_event, settings):
    app = make_app(**settings)
    with app.app_context():
        event = make_event()
        create_staff("org@example.org", Role.ORGANISER, PASSWORD, events=[event])
        response = sign_in(app.test_client(), base_url="https://regapp.test")
        assert response.status_code == 303
        assert {"secure", "httponly", "samesite=lax"} <= cookie_flags(response)


def test_signing_in_sets_no_remember_me_cookie(client, organiser):
    response = sign_in(client)
    assert response.status_code == 303
    assert not [h for h in response.headers.getlist("Set-Cookie") if "remember" in h.lower()]


# --------------------------------------------------------------------------- idle sessions


def idle_for(client, minutes: float) -> None:
    """Make the session's last activity ``minutes`` ago, as if the staff member had left."""
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time() - minutes * 60)


def test_staff_idle_longer_than_the_limit_is_signed_out_with_a_message(client, organiser):
    sign_in(client)
    idle_for(client, 61)
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.location.startswith("/staff/login")
    page = client.get(response.location).text
    assert "You were signed out after 60 minutes without activity." in page
    assert client.get("/staff/").status_code == 302  # still signed out


def test_activity_within_the_limit_keeps_staff_signed_in(client, organiser):
    sign_in(client)
    idle_for(client, 59)
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:
        assert time.time() - session["seen_at"] < 5  # the visit counts as activity
    idle_for(client, 59)
    assert client.get("/e/forum/dashboard").status_code == 200


def test_automatic_refreshes_do_not_count_as_activity(client, organiser):
    sign_in(client)
    idle_for(client, 50)
    assert client.get("/e/forum/dashboard/data").status_code == 200
    with client.session_transaction() as session:
        assert time.time() - session["seen_at"] > 49 * 60
    idle_for(client, 61)
    assert client.get("/e/forum/dashboard/data").status_code == 302


def test_idle_limit_is_configurable(make_app, make_event):
    app = make_app(STAFF_IDLE_MINUTES=5)
    with app.app_context():
        event = make_event()
        create_staff("org@example.org", Role.ORGANISER, PASSWORD, events=[event])
        client = app.test_client()
        sign_in(client)
        idle_for(client, 6)
        assert client.get("/staff/").status_code == 302


# --------------------------------------------------------------------------- abuse limits


def participants() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Participant.id)))


def test_registration_is_limited_per_address_and_only_posts_count(limited, make_event):
    app = limited(REGISTER_LIMIT="3 per hour")
    event = make_event()
    client = app.test_client()
    for _ in range(5):
        assert client.get("/e/forum/register").status_code == 200
    answers = [
        client.post("/e/forum/register", data=registration_form(event, email=f"p{i}@example.org"))
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [303, 303, 303]
    refused = client.post(
        "/e/forum/register", data=registration_form(event, email="fourth@example.org")
    )
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert 3570 <= int(refused.headers["Retry-After"]) <= 3600  # the hour's window, just opened
    assert "Try again in about 60 minutes." in refused.text
    assert participants() == 3
    other_office = client.post(
        "/e/forum/register",
        data=registration_form(event, email="fifth@example.org"),
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
    )
    assert other_office.status_code == 303
    assert participants() == 4


def test_registration_goes_on_without_limits_while_their_storage_is_unreachable(
    limited, make_event, caplog
):
    # Nothing listens on port 1: a Redis outage must not refuse registrations.
    app = limited(REDIS_URL="redis://127.0.0.1:1/0", REGISTER_LIMIT="1 per hour")
    event = make_event()
    client = app.test_client()
    answers = [
        client.post("/e/forum/register", data=registration_form(event, email=f"p{i}@example.org"))
        for i in range(2)
    ]
    assert [a.status_code for a in answers] == [303, 303]
    assert participants() == 2
    assert "Rate limits not counted, storage unreachable" in caplog.text


def test_staff_sign_in_is_limited_per_address(limited, make_event):
    app = limited(LOGIN_LIMIT="3 per minute")
    make_event()
    client = app.test_client()
    codes = [sign_in(client, f"x{i}@example.org").status_code for i in range(4)]
    assert codes == [422, 422, 422, 429]
    assert client.get("/staff/login").status_code == 200


def test_five_wrong_passwords_lock_the_account_without_saying_the_email_exists(client, organiser):
    """The same words for a wrong password, a locked account and an unknown email."""
    refusals = [sign_in(client, password="guess") for _ in range(5)]
    assert {r.status_code for r in refusals} == {422}
    message = "Wrong email or password. After 5 wrong attempts in a row an account is locked"
    assert all(message in r.text for r in refusals)
    db.session.refresh(organiser)
    assert organiser.locked_until > datetime.now(UTC) + timedelta(minutes=14)

    right_password = sign_in(client)
    assert right_password.status_code == 422
    assert message in right_password.text
    unknown = sign_in(client, "nobody@example.org")
    assert unknown.status_code == 422
    assert right_password.text.replace("org@", "nobody@") == unknown.text

    failures = audit("staff.login_failed")
    assert [e.details["reason"] for e in failures] == ["wrong_password"] * 5 + [
        "locked",
        "unknown_account",
    ]
    assert {e.ip for e in failures} == {"127.0.0.1"}
    assert failures[0].target == f"staff {organiser.id}"
    assert "org@example.org" not in str([(e.actor, e.target, e.details) for e in failures])
    (locked,) = audit("staff.locked")
    assert locked.target == f"staff {organiser.id}"
    assert locked.details == {"failures": 5, "minutes": 15}


def test_the_lock_ends_after_fifteen_minutes_and_a_success_resets_the_count(client, organiser):
    for _ in range(5):
        sign_in(client, password="guess")
    db.session.refresh(organiser)
    organiser.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # fifteen minutes later
    db.session.commit()
    assert sign_in(client).status_code == 303
    db.session.refresh(organiser)
    assert (organiser.failed_logins, organiser.locked_until) == (0, None)
    assert audit("staff.login")[-1].staff_user_id == organiser.id

    client.post("/staff/logout")
    for _ in range(4):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 303  # four failures, then a success: no lock
    client.post("/staff/logout")
    for _ in range(4):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 303  # the count started again from zero


def test_parallel_guesses_cannot_slip_past_the_lock(app, organiser):
    """Ten wrong passwords at once, each on its own connection: exactly one locks the account,
    and every attempt is in the audit log."""
    barrier = threading.Barrier(10)
    statuses = []

    def guess(n):
        client = app.test_client()
        barrier.wait()
        statuses.append(sign_in(client, password=f"guess {n}").status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [422] * 10
    assert len(audit("staff.locked")) == 1
    reasons = sorted(e.details["reason"] for e in audit("staff.login_failed"))
    assert reasons == ["locked"] * 5 + ["wrong_password"] * 5
    db.session.refresh(organiser)
    assert organiser.locked_until is not None


@pytest.fixture
def door(make_event):
    """An event whose session runs now, a device for it, and a participant with a code."""

    def factory():
        event = make_event(
            {"starts_at": NOW - timedelta(minutes=10), "ends_at": NOW + timedelta(hours=1)}
        )
        device, token = DeviceToken.issue(event, "Door 1")
        db.session.add(device)
        db.session.commit()
        details = ParticipantDetails(
            full_name="Amina",
            email="amina@example.org",
            country="AZ",
            organisation="ASAN",
            job_title="",
            category="delegate",
        )
        person = register(event, details, [event.sessions[0].id])
        return event, device, token, person.active_code.code

    return factory


def scan(client, token, session_id, code):
    return client.post(
        "/api/v1/checkins",
        json={"session_id": session_id, "code": code, "gate": "North"},
        headers={"Authorization": f"Bearer {token}"},
    )


def random_code(n: int) -> str:
    return f"R1-{n:05d}-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"


def test_scanner_trying_random_codes_is_slowed_down_and_organisers_see_it(limited, door):
    app = limited(UNKNOWN_CODE_LIMIT="5 per minute")
    event, device, token, valid = door()
    session_id, device_id = event.sessions[0].id, device.id
    client = app.test_client()
    for _ in range(8):  # genuine scans, however many, are never slowed down
        assert scan(client, token, session_id, valid).status_code == 200

    answers = [scan(client, token, session_id, random_code(n)) for n in range(5)]
    assert [a.get_json()["status"] for a in answers] == ["unknown_code"] * 5
    refused = scan(client, token, session_id, random_code(99))
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "too_many_unknown_codes"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Wait" in refused.get_json()["message"]
    assert scan(client, token, session_id, valid).status_code == 429  # no lookups at all now

    db.session.rollback()
    unknown = db.session.scalars(select(CheckIn).where(CheckIn.verdict == "unknown_code")).all()
    assert len(unknown) == 5
    assert {(c.device_id, c.gate) for c in unknown} == {(device_id, "North")}
    (burst,) = audit("checkin.unknown_codes_throttled")
    assert (burst.event_id, burst.actor, burst.target) == (
        event.id,
        "device Door 1",
        f"device {device_id}",
    )
    assert burst.details["limit"] == "5 per minute"
    assert burst.details["last_checkin_id"] == unknown[-1].id

    other, other_token = DeviceToken.issue(event, "Door 2")
    db.session.add(other)
    db.session.commit()
    assert scan(client, other_token, session_id, valid).status_code == 200  # per device


def test_staff_scanning_unknown_codes_are_slowed_down_per_account(limited, door):
    app = limited(UNKNOWN_CODE_LIMIT="3 per minute")
    event, _device, _token, _valid = door()
    staff = create_staff("door@example.org", Role.SCANNER, PASSWORD, "Dana", events=[event])
    client = app.test_client()
    sign_in(client, "door@example.org")
    body = {"session_id": event.sessions[0].id, "gate": "South"}
    codes = [
        client.post("/api/v1/checkins", json={**body, "code": random_code(n)}).status_code
        for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    (burst,) = audit("checkin.unknown_codes_throttled")
    assert (burst.staff_user_id, burst.target) == (staff.id, f"staff {staff.id}")


def test_other_processes_slow_a_scanner_down_within_the_lookup_age(limited, door, shared_redis):
    # Two apps on one Redis stand for two server processes. Each keeps, for
    # CHECKIN_LOOKUP_MAX_AGE, that a scanner is within its allowance; the one that counts the
    # last unknown code refuses at once, the other once what it keeps is that old.
    shared = {
        "UNKNOWN_CODE_LIMIT": "3 per minute",
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": shared_redis,
    }
    other = limited(CHECKIN_LOOKUP_MAX_AGE=0.3, **shared).test_client()
    client = limited(**shared).test_client()
    event, _device, token, valid = door()
    session_id = event.sessions[0].id
    assert scan(other, token, session_id, valid).status_code == 200

    answers = [scan(client, token, session_id, random_code(n)) for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    time.sleep(0.35)
    refused = scan(other, token, session_id, valid)
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "too_many_unknown_codes"


# --------------------------------------------------------------------------- honeypot


class _Honeypot(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.input, self.container, self.label = [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") == "website":
            self.input, self.container = (
                attrs,
                next((a for a in reversed(self.stack) if "aria-hidden" in a), None),
            )
        if tag == "label" and attrs.get("for") == "website":
            self.label = attrs
        if tag not in ("input", "br", "img", "meta", "link", "option"):
            self.stack.append(attrs)

    def handle_endtag(self, tag):
        if self.stack and tag not in ("input", "br", "img", "meta", "link"):
            self.stack.pop()


def test_honeypot_is_hidden_from_eyes_screen_readers_keyboard_and_autofill(client, make_event):
    make_event()
    page = _Honeypot()
    page.feed(client.get("/e/forum/register").text)
    assert page.input is not None and page.label is not None
    assert page.input["tabindex"] == "-1"
    assert page.input["autocomplete"] == "off"
    assert page.container["aria-hidden"] == "true"
    assert "visually-hidden" in page.container["class"].split()
    css = (ROOT / "static/css/app.css").read_text()
    assert re.search(r"\.visually-hidden\s*\{[^}]*clip", css)


def test_filled_honeypot_looks_like_success_but_saves_nothing(client, make_event):
    event = make_event()
    bot = client.post(
        "/e/forum/register", data=registration_form(event, website="http://spam.example")
    )
    assert bot.status_code == 303
    assert "Thank you for registering." in client.get(bot.location).text
    db.session.rollback()
    assert participants() == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0

    person = client.post("/e/forum/register", data=registration_form(event, website=""))
    assert person.status_code == 303
    assert participants() == 1
