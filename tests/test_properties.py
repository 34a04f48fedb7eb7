"""Whatever a bot, a curious person or a broken scanner sends, the answer is a clear refusal or a
proper success: never a 5xx, and a refused request leaves every table exactly as it was.

Hypothesis generates the requests: arbitrary Unicode (NUL, lone surrogates sent as the bytes a
sloppy client would send, right-to-left marks, emoji), empty and huge values, repeated fields,
JSON numbers, lists and objects where text belongs and the other way round, and tampered ids
(another event's sessions, negative, huge, not numbers). Every example runs against the same
small world (two events, participants on a waitlist, check-ins, a device and an organiser), built
once per test: the examples share it on purpose, and each compares a snapshot of every table from
just before to just after its own request. The runs are derandomized, so CI sees the same
examples every time.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.formfields import clean_text
from regapp.models import DeviceToken, Participant, Role, Verdict
from regapp.registration.services import ParticipantDetails, issue_new_code, register
from regapp.tickets.codes import grouped
from tests.dbstate import broken_invariants, snapshot

NOW = datetime.now(UTC).replace(microsecond=0)

FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # the same examples on every run and in CI
    database=None,  # nothing to replay: derandomized runs find the same examples again
    # The examples share the test's world on purpose (see the module docstring).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- what gets sent ---------------------------------------------------------------------------

SPECIMENS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: not UTF-8; sent as the bytes CESU-8 would use
    "x\udfffy",
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "שלום",
    "👩🏽‍💻🇦🇿",
    "e\u0301",  # decomposed: NFC makes it é
    "\ufeff",
    "\r\n",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "../../etc/passwd",
    "-1",
    "0",
    "1e3",
    "NaN",
    "99999999999999999999999",
    "x" * 201,
    "é" * 5_000,
    "👍" * 100_000,  # about 1.2 MB once encoded: more than any form takes
]

#: Characters that break things, mixed into generated text far more often than chance would.
TROUBLE = "\x00\x1b\t\n\r\x7f\x85\u2028\ud800\udbff\udc00\udfff\u200f\u202e\ufeff\ufffd"
unicode_text = st.text(st.characters(exclude_categories=()), max_size=20)  # surrogates too
any_text = st.one_of(
    st.sampled_from(SPECIMENS),
    st.builds("".join, st.tuples(unicode_text, st.sampled_from(TROUBLE), unicode_text)),
    unicode_text,
)

huge_numbers = st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1])
any_id = st.one_of(st.integers(min_value=-5, max_value=50), huge_numbers)

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        any_id,
        st.floats(),  # NaN and Infinity too: Python's JSON reader takes them
        any_text,
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)


def encoded(value: str) -> str:
    """Percent-encoded as a client would send it; lone surrogates become their raw bytes."""
    return quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


def is_utf8(value: str) -> bool:
    return not any("\ud800" <= ch <= "\udfff" for ch in value)


def form_body(fields: dict[str, list[str]]) -> str:
    return "&".join(
        f"{quote(name)}={encoded(v)}" for name, values in fields.items() for v in values
    )


def is_refusal_page(response) -> bool:
    """A 4xx page that says what went wrong: the form with its errors, or the error page."""
    page = response.get_data(as_text=True)
    if response.status_code == 422:  # the form again, its errors marked (see macros.html)
        return "notice-error" in page or 'class="error"' in page
    return re.search(r"<h1>[^<]+</h1>\s*<p>[^<]+", page) is not None  # error.html and its kin


def is_json_refusal(response) -> bool:
    body = response.get_json(silent=True) or {}
    return body.get("status") == "error" and body.get("code") and body.get("message")


def assert_clean_refusal(before: dict, response, json_api: bool = False) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.location)
    if json_api:
        assert is_json_refusal(response), response.text
    else:
        assert is_refusal_page(response), response.status_code
    assert snapshot() == before, "a refused request changed the database"


# -- the world the requests meet --------------------------------------------------------------


def person(event, email: str, *sessions) -> Participant:
    details = ParticipantDetails(
        full_name=email.split("@")[0].title(),
        email=email,
        country="AZ",
        organisation="ASAN Service",
        job_title="",
        category="delegate",
    )
    return register(event, details, [s.id for s in sessions])


@pytest.fixture
def world(app, make_app, make_event):
    """Built in the test's app context; the requests go to a second app on the same database,
    so that each request has its own context (and Flask-Login its own user), as in a server."""
    running_now = {"starts_at": NOW - timedelta(minutes=10), "ends_at": NOW + timedelta(hours=2)}
    forum = make_event(
        {"title": "Opening", "capacity": 2, **running_now},
        {"title": "Panel", "capacity": None},
        {"title": "Closed panel", "registration_open": False},
        {
            "title": "Yesterday",
            "starts_at": NOW - timedelta(days=1),
            "ends_at": NOW - timedelta(hours=20),
        },
    )
    other = make_event({"title": "Other opening", **running_now}, slug="other")
    opening, panel = forum.sessions[1], forum.sessions[2]
    assert (opening.title, panel.title) == ("Opening", "Panel")
    amina = person(forum, "amina@example.org", opening, panel)
    bakhyt = person(forum, "bakhyt@example.org", opening)
    chen = person(forum, "chen@example.org", opening)  # the waitlist
    revoked = amina.active_code.code
    issue_new_code(amina)
    stranger = person(other, "stranger@example.org", other.sessions[0])

    device, token = DeviceToken.issue(forum, "Door 1")
    db.session.add(device)
    db.session.commit()
    create_staff("org@example.org", Role.ORGANISER, "correct horse battery", events=[forum])
    server = make_app()
    scanner = server.test_client()
    scanner.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    checked_in = scanner.post(
        "/api/v1/checkins", json={"code": amina.active_code.code, "session_id": opening.id}
    ).get_json()
    assert checked_in["status"] == "ok"

    organiser = server.test_client()
    signed_in = organiser.post(
        "/staff/login", data={"email": "org@example.org", "password": "correct horse battery"}
    )
    assert signed_in.status_code == 303

    session_ids = [s.id for s in forum.sessions]
    return SimpleNamespace(
        forum=forum,
        visitor=server.test_client(),
        scanner=scanner,
        organiser=organiser,
        session_ids=session_ids,
        opening_id=opening.id,
        other_session_id=other.sessions[0].id,
        tokens=[p.manage_token for p in (amina, bakhyt, chen)],
        stranger_token=stranger.manage_token,
        codes=[amina.active_code.code, bakhyt.active_code.code, chen.active_code.code],
        revoked_code=revoked,
        stranger_code=stranger.active_code.code,
        participant_ids=[amina.id, bakhyt.id, chen.id, stranger.id],
        checkin_ids=[checked_in["checkin_id"]],
    )


def session_choices(world) -> st.SearchStrategy[list[str]]:
    """What the sessions checkboxes send: real ids, tampered ids, or no ids at all."""
    one = st.one_of(
        st.sampled_from(world.session_ids).map(str),
        st.just(str(world.other_session_id)),
        any_id.map(str),
        any_text,
    )
    return st.lists(one, max_size=4)


# -- the public registration form -------------------------------------------------------------

ABSENT = object()  # a spoiled field that is left out altogether


def spoiled(data, good: dict, odd: dict[str, st.SearchStrategy]) -> dict:
    """``good`` with one to three of its values replaced by odd ones or left out: the rest stays
    right, so that each odd value gets past the other checks and meets the code that reads it."""
    names = data.draw(
        st.lists(st.sampled_from(sorted(odd)), min_size=1, max_size=3, unique=True),
        label="spoiled",
    )
    result = dict(good)
    for name in names:
        value = data.draw(st.one_of(odd[name], st.just(ABSENT)), label=name)
        if value is ABSENT:
            result.pop(name, None)
        else:
            result[name] = value
    return result


emails = (f"person{i}@example.org" for i in itertools.count())


def good_registration(world) -> dict[str, list[str]]:
    return {
        "full_name": ["Leyla Mammadova"],
        "email": [next(emails)],  # a new address each time, so that a good form registers
        "country": ["Azerbaijan"],
        "organisation": ["ASAN Service"],
        "job_title": ["Analyst"],
        "category": ["delegate"],
        "consent": ["y"],
        "sessions": [str(world.opening_id)],
    }


@FUZZ
@given(data=st.data())
def test_any_registration_form_registers_whole_or_is_refused_with_nothing_saved(world, data):
    good = good_registration(world)
    as_json = data.draw(st.booleans(), label="sent as JSON")
    before = snapshot()
    if as_json:  # JSON's types where the form has text: numbers, lists, objects, null
        odd = dict.fromkeys(good, json_values)
        body = spoiled(data, {k: v[0] for k, v in good.items()}, odd)
        response = world.visitor.post("/e/forum/register", json=body)
    else:
        odd = dict.fromkeys(good, st.lists(any_text, max_size=3))
        odd["sessions"] = session_choices(world)
        fields = spoiled(data, good, odd)
        response = world.visitor.post(
            "/e/forum/register",
            data=form_body(fields),
            content_type="application/x-www-form-urlencoded",
        )
    if response.status_code == 303:
        assert not as_json, "a JSON body is no registration form"
        db.session.rollback()
        saved = db.session.scalar(select(Participant).order_by(Participant.id.desc()).limit(1))
        assert response.location.endswith(f"/manage/{saved.manage_token}/confirmation")
        for name in ("full_name", "organisation", "job_title"):
            sent = (fields.get(name) or [""])[0]
            if is_utf8(sent):  # (other bytes arrive still percent-encoded)
                assert getattr(saved, name) == clean_text(sent)
    else:
        assert_clean_refusal(before, response)
    assert broken_invariants(db.session) == []


# -- the private manage page -------------------------------------------------------------------


def tampered_tokens(world) -> st.SearchStrategy[str]:
    real = st.sampled_from(world.tokens)
    return st.one_of(
        real.map(lambda t: t[:-1]),
        real.map(lambda t: t + "A"),
        real.map(lambda t: t.upper()),
        real.map(lambda t: t[:10] + "\x00" + t[10:]),
        any_text.filter(lambda t: t not in world.tokens),
        any_id.map(str),
    )


@FUZZ
@given(data=st.data())
def test_a_tampered_manage_link_finds_nothing_and_changes_nothing(world, data):
    token = encoded(data.draw(tampered_tokens(world), label="token")) or "%20"
    action = data.draw(st.sampled_from(["", "/confirmation", "/sessions", "/cancel", "/new-code"]))
    method = (
        "GET" if action in ("", "/confirmation") else data.draw(st.sampled_from(["GET", "POST"]))
    )
    before = snapshot()
    response = world.visitor.open(
        f"/manage/{token}{action}",
        method=method,
        data=form_body({"sessions": data.draw(session_choices(world))}),
        content_type="application/x-www-form-urlencoded",
    )
    assert_clean_refusal(before, response)


@FUZZ
@given(data=st.data())
def test_changing_sessions_to_anything_saves_a_valid_choice_or_refuses_it_whole(world, data):
    token = data.draw(st.sampled_from(world.tokens), label="participant")
    choice = data.draw(session_choices(world), label="sessions")
    before = snapshot()
    if data.draw(st.booleans(), label="sent as JSON"):
        response = world.visitor.post(
            f"/manage/{token}/sessions", json={"sessions": data.draw(json_values)}
        )
    else:
        response = world.visitor.post(
            f"/manage/{token}/sessions",
            data=form_body({"sessions": choice}),
            content_type="application/x-www-form-urlencoded",
        )
    if response.status_code == 303:
        assert response.location.endswith(f"/manage/{token}")
    else:
        assert_clean_refusal(before, response)
    assert broken_invariants(db.session) == []


def test_opening_the_manage_page_changes_nothing(world):
    before = snapshot()
    for token in world.tokens:
        for page in ("", "/confirmation", "/cancel"):
            assert world.visitor.get(f"/manage/{token}{page}").status_code == 200
    assert snapshot() == before


# -- the check-in API --------------------------------------------------------------------------


def odd_api_values(world) -> dict[str, st.SearchStrategy]:
    text = st.one_of(any_text, json_values)
    codes = st.one_of(
        st.sampled_from([world.revoked_code, world.stranger_code]),
        st.sampled_from(world.codes).map(lambda c: grouped(c).lower()),
        st.sampled_from(world.codes).map(lambda c: c[:-1] + ("0" if c[-1] != "0" else "1")),
        text,
    )
    ids = st.one_of(any_id, json_values, any_text)
    return {
        "code": codes,
        "session_id": st.one_of(st.sampled_from([*world.session_ids, world.other_session_id]), ids),
        "participant_id": st.one_of(st.sampled_from(world.participant_ids), ids),
        "gate": text,
        "nonce": text,
        "reason": text,
    }


def api_request(data, world, good: dict) -> tuple[str, bytes]:
    """(content type, body): mostly ``good`` spoiled, sometimes any JSON or any bytes at all."""
    kind = data.draw(st.sampled_from(["spoiled", "spoiled", "spoiled", "any JSON", "any bytes"]))
    if kind == "spoiled":
        return "application/json", json.dumps(spoiled(data, good, odd_api_values(world))).encode()
    if kind == "any JSON":
        return "application/json", json.dumps(data.draw(json_values, label="body")).encode()
    content_type = data.draw(
        st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
    )
    body = data.draw(
        st.one_of(
            st.binary(max_size=40), any_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
        )
    )
    return content_type, body


def assert_api_answer(before: dict, response) -> None:
    """A verdict (200, recorded in the log) or a JSON refusal that records nothing."""
    if response.status_code == 200:
        answer = response.get_json()
        assert answer["status"] in set(Verdict), answer
        assert answer["message"]
    else:
        assert_clean_refusal(before, response, json_api=True)
    assert broken_invariants(db.session) == []


@FUZZ
@given(data=st.data())
def test_any_scan_gets_a_verdict_or_a_json_error_that_records_nothing(world, data):
    good = {
        "code": data.draw(st.sampled_from(world.codes), label="code"),
        "session_id": world.opening_id,
        "gate": "North door",
    }
    content_type, body = api_request(data, world, good)
    before = snapshot()
    response = world.scanner.post("/api/v1/checkins", data=body, content_type=content_type)
    assert_api_answer(before, response)


def path_ids(known: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known).map(str), any_id.map(str), any_text.map(encoded))


@FUZZ
@given(data=st.data())
def test_any_undo_undoes_one_check_in_or_is_refused_with_nothing_recorded(world, data):
    checkin_id = data.draw(path_ids(list(range(1, 12))), label="checkin id")
    content_type, body = api_request(data, world, {"reason": "Scanned the wrong person"})
    before = snapshot()
    response = world.scanner.post(
        f"/api/v1/checkins/{checkin_id}/annul", data=body, content_type=content_type
    )
    if response.status_code == 404:  # no such route: the id is not a whole number
        assert is_json_refusal(response) or is_refusal_page(response)
        assert snapshot() == before
    else:
        assert_api_answer(before, response)


@FUZZ
@given(data=st.data())
def test_any_walk_in_registers_and_checks_in_or_is_refused_with_nothing_saved(world, data):
    good = {
        "participant_id": data.draw(st.sampled_from(world.participant_ids), label="who"),
        "session_id": data.draw(st.sampled_from(world.session_ids), label="where"),
    }
    content_type, body = api_request(data, world, good)
    before = snapshot()
    response = world.organiser.post("/api/v1/walkins", data=body, content_type=content_type)
    assert_api_answer(before, response)


@FUZZ
@given(data=st.data())
def test_any_search_answers_without_changing_anything(world, data):
    session_id = data.draw(
        st.one_of(st.just(str(world.opening_id)), path_ids([world.other_session_id])),
        label="session id",
    )
    query = data.draw(st.one_of(st.just(["Amina"]), st.lists(any_text, max_size=2)), label="q")
    before = snapshot()
    response = world.scanner.get(f"/api/v1/sessions/{session_id}/search?" + form_body({"q": query}))
    if response.status_code == 200:
        assert isinstance(response.get_json()["results"], list)
        assert snapshot() == before
    elif response.status_code == 404:
        assert is_json_refusal(response) or is_refusal_page(response)
        assert snapshot() == before
    else:
        assert_clean_refusal(before, response, json_api=True)


# -- what these tests found ------------------------------------------------------------------

FOUND = {
    # Flask-WTF read JSON bodies into the forms: objects and null reached the database (500).
    "form sent as JSON with an object for a name": lambda w: (
        "POST",
        "/e/forum/register",
        {"json": {**good_registration(w), "full_name": {"a": 1}, "sessions": w.opening_id}},
    ),
    "sessions sent as JSON null": lambda w: (
        "POST",
        f"/manage/{w.tokens[0]}/sessions",
        {"json": {"sessions": None}},
    ),
    "staff sign-in sent as JSON": lambda w: (
        "POST",
        "/staff/login",
        {"json": {"email": {"a": 1}, "password": [1]}},
    ),
    # PostgreSQL refuses NUL in any string parameter (500 on PostgreSQL only).
    "NUL in a staff sign-in": lambda w: (
        "POST",
        "/staff/login",
        {"data": {"email": "org\x00@example.org", "password": "correct horse battery"}},
    ),
    "NUL in a manage link": lambda w: ("GET", "/manage/abc%00def", {}),
    "NUL in a join link": lambda w: ("GET", f"/join/abc%00def/{w.opening_id}", {}),
    "NUL in a search": lambda w: ("GET", f"/api/v1/sessions/{w.opening_id}/search?q=a%00b", {}),
    "NUL in a nonce": lambda w: (
        "POST",
        "/api/v1/checkins",
        {"json": {"code": w.codes[1], "session_id": w.opening_id, "nonce": "a\x00b"}},
    ),
    # Neither driver can encode a lone surrogate, which Python's JSON reader lets through.
    "lone surrogate in a gate": lambda w: (
        "POST",
        "/api/v1/checkins",
        {"json": {"code": w.codes[1], "session_id": w.opening_id, "gate": "\ud800"}},
    ),
    # Ids beyond the id columns: SQLite's driver overflows, PostgreSQL's integer is out of range.
    "huge session id": lambda w: (
        "POST",
        "/api/v1/checkins",
        {"json": {"code": w.codes[1], "session_id": 2**63}},
    ),
    "huge participant id": lambda w: (
        "POST",
        "/api/v1/walkins",
        {"json": {"participant_id": 2**31, "session_id": w.opening_id}},
    ),
    "huge check-in id in the path": lambda w: ("POST", f"/api/v1/checkins/{2**63}/annul", {}),
    "huge session id in the path": lambda w: ("GET", f"/api/v1/sessions/{2**31}/search?q=ab", {}),
}


@pytest.mark.parametrize("case", FOUND)
def test_requests_that_once_gave_a_500_are_refused_cleanly(world, case):
    method, url, options = FOUND[case](world)
    client = world.organiser if "walkins" in url else world.scanner
    if url.startswith(("/e/", "/manage/", "/join/", "/staff/")):
        client = world.visitor
    before = snapshot()
    response = client.open(url, method=method, **options)
    assert_clean_refusal(before, response, json_api=url.startswith("/api/") and response.is_json)
