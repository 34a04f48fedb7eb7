"""Organisers look after participants: find them in a filtered, paged list, open one to fix their
details, change their sessions, give a waitlisted person a free seat, cancel, resend the
confirmation, issue a new code, and read their scan history. Every change is in the audit log."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from regapp.auth.services import create_staff
from regapp.checkin.services import Door, Scan, annul, record_scan
from regapp.extensions import db
from regapp.models import (
    AuditEntry,
    CodeStatus,
    DeviceToken,
    Event,
    MessageKind,
    OutboxMessage,
    Participant,
    RegistrationStatus,
    Role,
    StaffUser,
)
from regapp.participants.services import ParticipantFilter, participant_page
from regapp.registration.services import ParticipantDetails, register
from tests.dbstate import broken_invariants

PASSWORD = "correct horse battery"
LIST = "/e/forum/admin/participants"


# -- helpers shared with test_privacy.py and test_badges.py -------------------------------------


def person(event: Event, name: str, email: str, sessions=None, **fields) -> Participant:
    """Register someone as the public form would (seats, waitlist, confirmation email)."""
    details = {
        "full_name": name,
        "email": email,
        "country": "AZ",
        "organisation": "ASAN Service",
        "job_title": "Adviser",
        "category": "delegate",
        **fields,
    }
    chosen = sessions if sessions is not None else [event.sessions[0]]
    return register(event, ParticipantDetails(**details), [s.id for s in chosen])


def sign_in(client, role: Role = Role.ORGANISER, events=None, email=None) -> StaffUser:
    email = email or f"{role.value}@example.org"
    if events is None:
        events = db.session.scalars(select(Event)).all()
    staff = create_staff(email, role, PASSWORD, name=f"Olga {role.value}", events=events)
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return staff


@pytest.fixture
def forum(make_event):
    return make_event(
        {"title": "Opening session", "capacity": 100},
        {"title": "Panel 1", "capacity": 1},
        {"title": "Panel 2", "capacity": 100},
    )


@pytest.fixture
def organiser(client, forum):
    sign_in(client)
    return client


def detail_url(participant: Participant) -> str:
    return f"{LIST}/{participant.id}"


def audit_entries(action: str | None = None) -> list[AuditEntry]:
    """What the audit log says about participants and badges (sign-ins left out)."""
    db.session.rollback()
    query = (
        select(AuditEntry).where(~AuditEntry.action.startswith("staff.")).order_by(AuditEntry.id)
    )
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def queued(participant: Participant) -> list[tuple[str, str]]:
    db.session.rollback()
    return [
        (m.kind, m.recipient)
        for m in db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.participant_id == participant.id)
            .order_by(OutboxMessage.id)
        )
    ]


def fresh(participant: Participant) -> Participant:
    db.session.rollback()
    return db.session.get(Participant, participant.id)


def statuses(participant: Participant) -> dict[str, str]:
    return {r.session.title: r.status for r in fresh(participant).registrations}


# -- the list ----------------------------------------------------------------------------------


def names_listed(client, query: str = "") -> list[str]:
    response = client.get(LIST + query)
    assert response.status_code == 200, response.text
    html = response.text
    return [
        part.split("</a>")[0].split(">")[-1] for part in html.split('class="cell-title" href="')[1:]
    ]


def test_organiser_finds_participants_by_name_email_or_organisation(organiser, forum):
    person(forum, "Amina Rahimova", "amina@asan.gov.az")
    person(forum, "Jean-Pierre Élong Mbassi", "jp@uclg.org", organisation="UCLG Africa")
    person(forum, "Li Wei", "li.wei@undp.org", organisation="UNDP")

    assert names_listed(organiser, "?q=amina") == ["Amina Rahimova"]
    assert names_listed(organiser, "?q=UNDP.ORG") == ["Li Wei"]  # email, any case
    assert names_listed(organiser, "?q=uclg") == ["Jean-Pierre Élong Mbassi"]  # organisation
    assert names_listed(organiser, "?q=asan+amina") == ["Amina Rahimova"]  # every word matches
    assert names_listed(organiser, "?q=asan+li") == []
    assert names_listed(organiser, "?q=%25") == []  # a LIKE wildcard is searched for literally
    assert names_listed(organiser, "") == ["Amina Rahimova", "Jean-Pierre Élong Mbassi", "Li Wei"]


def test_list_filters_by_session_status_country_category_and_check_in(organiser, forum):
    opening, panel, _ = forum.sessions
    amina = person(forum, "Amina", "amina@example.org", [opening, panel], country="AZ")
    bola = person(forum, "Bola", "bola@example.org", [opening, panel], country="NG")  # waitlisted
    chen = person(forum, "Chen", "chen@example.org", [opening], country="CN", category="speaker")
    dara = person(forum, "Dara", "dara@example.org", [opening], country="AZ")
    organiser.post(f"{detail_url(dara)}/cancel", data={"confirm": "y"})
    record_scan(Scan(Door.of(opening), participant_id=amina.id), now=opening.starts_at)
    record_scan(Scan(Door.of(opening), participant_id=chen.id), now=opening.starts_at)

    assert names_listed(organiser, f"?session={panel.id}") == ["Amina", "Bola"]
    assert names_listed(organiser, f"?session={panel.id}&status=waitlisted") == ["Bola"]
    assert names_listed(organiser, "?status=waitlisted") == ["Bola"]
    assert names_listed(organiser, "?status=confirmed") == ["Amina", "Bola", "Chen"]
    assert names_listed(organiser, "?status=cancelled") == ["Dara"]
    assert names_listed(organiser, "?country=AZ") == ["Amina", "Dara"]
    assert names_listed(organiser, "?country=az&category=delegate") == ["Amina", "Dara"]
    assert names_listed(organiser, "?category=speaker") == ["Chen"]
    assert names_listed(organiser, "?checked_in=yes") == ["Amina", "Chen"]
    assert names_listed(organiser, "?checked_in=no") == ["Bola", "Dara"]
    assert names_listed(organiser, f"?session={panel.id}&checked_in=no") == ["Amina", "Bola"]
    assert names_listed(organiser, f"?session={opening.id}&checked_in=yes&country=CN") == ["Chen"]
    # An undone check-in no longer counts.
    undo = record_scan(Scan(Door.of(opening), participant_id=chen.id), now=opening.starts_at)
    assert undo.verdict == "already_checked_in"
    annul(undo.earlier, "wrong person", staff=None)
    assert names_listed(organiser, "?checked_in=yes") == ["Amina"]
    # Unknown values are ignored rather than failing the page.
    assert len(names_listed(organiser, "?session=x&status=maybe&country=ZZ&checked_in=2")) == 4
    assert bola is not None


def test_list_shows_fifty_people_a_page_in_name_order(organiser, forum):
    for i in range(120):
        person(forum, f"Person {i:03d}", f"p{i}@example.org")
    page_two = names_listed(organiser, "?page=2")
    assert page_two == [f"Person {i:03d}" for i in range(50, 100)]
    assert (
        "Showing <strong>51–100</strong> of <strong>120</strong>"
        in organiser.get(LIST + "?page=2").text
    )
    assert names_listed(organiser, "?page=99") == [f"Person {i:03d}" for i in range(100, 120)]
    assert len(names_listed(organiser, "?page=abc")) == 50
    # The pager keeps the filter.
    html = organiser.get(LIST + "?q=person&page=1").text
    assert "page=2&amp;q=person" in html or "q=person&amp;page=2" in html


def test_a_page_is_one_count_and_one_page_query(app, forum):
    opening, panel, _ = forum.sessions
    for i in range(60):
        person(forum, f"Person {i:02d}", f"p{i}@example.org", [opening, panel])
    db.session.rollback()
    f = ParticipantFilter(q="person", session_id=panel.id, checked_in=False)
    assert forum.id and forum.sessions  # loaded now (as the filter reads them), not while counting
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = participant_page(forum, f, page=2)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 2, statements
    assert page.total == 60 and len(page.rows) == 10
    assert [r.session_status for r in page.rows] == [RegistrationStatus.WAITLISTED] * 10


# -- who may -----------------------------------------------------------------------------------


def test_participant_of_another_event_is_not_found(organiser, forum, make_event):
    other_event = make_event(slug="other")
    stranger = person(other_event, "Stranger", "stranger@example.org")
    base = detail_url(stranger)
    for method, path in [
        ("get", base),
        ("post", base),
        ("post", f"{base}/sessions"),
        ("post", f"{base}/promote"),
        ("post", f"{base}/cancel"),
        ("post", f"{base}/resend"),
        ("post", f"{base}/new-code"),
        ("get", f"{base}/export.json"),
        ("get", f"{base}/erase"),
        ("post", f"{base}/erase"),
    ]:
        assert getattr(organiser, method)(path).status_code == 404, (method, path)
    assert fresh(stranger).erased_at is None and fresh(stranger).full_name == "Stranger"


def test_scanners_and_organisers_of_other_events_are_refused(client, forum, make_event):
    amina = person(forum, "Amina", "amina@example.org")
    response = client.get(LIST)
    assert response.status_code == 302 and "/staff/login" in response.location
    other = make_event(slug="other")
    sign_in(client, Role.ORGANISER, events=[other], email="elsewhere@example.org")
    assert client.get(LIST).status_code == 403
    assert client.get(detail_url(amina)).status_code == 403
    assert client.post(f"{detail_url(amina)}/erase").status_code == 403
    assert fresh(amina).erased_at is None
    client.post("/staff/logout")
    sign_in(client, Role.SCANNER, events=[forum])
    assert client.get(LIST).status_code == 403
    assert client.post("/e/forum/admin/badges.pdf", data={"scope": "filter"}).status_code == 403


def test_every_post_needs_its_csrf_token(make_app, make_event):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        forum = make_event()
        amina = person(forum, "Amina", "amina@example.org")
        create_staff("org@example.org", Role.ORGANISER, PASSWORD, events=[forum])
        client = app.test_client()
        login = client.get("/staff/login").text
        token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post(
            "/staff/login",
            data={"email": "org@example.org", "password": PASSWORD, "csrf_token": token},
        )
        base = detail_url(amina)
        for path, data in [
            (base, {"full_name": "Changed", "email": "x@example.org", "country": "AZ"}),
            (f"{base}/sessions", {"sessions": [str(forum.sessions[0].id)]}),
            (f"{base}/cancel", {"confirm": "y"}),
            (f"{base}/resend", {}),
            (f"{base}/new-code", {}),
            (f"{base}/erase", {}),
            ("/e/forum/admin/badges.pdf", {"scope": "filter"}),
        ]:
            response = client.post(path, data=data)
            assert response.status_code == 400, path
            assert "Form expired" in response.text
        after = fresh(amina)
        assert (after.full_name, after.erased_at, len(after.codes)) == ("Amina", None, 1)
        assert [kind for kind, _ in queued(amina)] == [MessageKind.CONFIRMATION]


# -- one participant ---------------------------------------------------------------------------


def test_organiser_corrects_details_and_the_audit_log_names_only_the_fields(organiser, forum):
    amina = person(forum, "Amina Rahimova", "amina@example.org")
    response = organiser.post(
        detail_url(amina),
        data={
            "full_name": "Amina Rahimova-Aliyeva",
            "email": "Amina.R@Example.org",
            "country": "GE",
            "organisation": "ASAN Service",
            "job_title": "Director",
            "category": "speaker",
        },
    )
    assert response.status_code == 303
    assert "Details saved." in organiser.get(response.location).text
    after = fresh(amina)
    assert (after.full_name, after.email, after.country, after.job_title, after.category) == (
        "Amina Rahimova-Aliyeva",
        "Amina.R@Example.org",
        "GE",
        "Director",
        "speaker",
    )
    (entry,) = audit_entries("participant.update")
    assert entry.target == f"participant {amina.id}" and entry.event_id == forum.id
    assert entry.details == {"fields": ["full_name", "email", "country", "job_title", "category"]}
    assert entry.actor.startswith("Olga organiser")
    assert "Amina" not in str(entry.details) and "example.org" not in str(entry.details)


def test_email_of_another_participant_is_refused_with_a_clear_message(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    bola = person(forum, "Bola", "bola@example.org")
    form = {"full_name": "Amina", "email": "BOLA@example.org", "country": "AZ"}
    form |= {"category": "delegate"}
    response = organiser.post(detail_url(amina), data=form)
    assert response.status_code == 422
    assert f"Participant #{bola.id} of this event already has this email address" in response.text
    assert 'aria-invalid="true"' in response.text and 'value="BOLA@example.org"' in response.text
    assert fresh(amina).email == "amina@example.org"
    assert audit_entries("participant.update") == []


def test_details_form_refuses_bad_input_next_to_the_field(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    response = organiser.post(
        detail_url(amina),
        data={"full_name": "", "email": "not-an-email", "country": "XX", "category": "boss"},
    )
    assert response.status_code == 422
    for message in (
        "Enter the participant&#39;s full name.",
        "Enter a valid email address",
        "Not a valid choice",
    ):
        assert message in response.text
    assert fresh(amina).full_name == "Amina"


def test_organiser_changes_sessions_with_the_capacity_rules(organiser, forum):
    opening, panel, panel2 = forum.sessions
    person(forum, "Seated", "seated@example.org", [panel])  # takes Panel 1's only seat
    amina = person(forum, "Amina", "amina@example.org", [opening])
    response = organiser.post(
        f"{detail_url(amina)}/sessions", data={"sessions": [str(panel.id), str(panel2.id)]}
    )
    assert response.status_code == 303
    assert statuses(amina) == {
        "Opening session": RegistrationStatus.CANCELLED,
        "Panel 1": RegistrationStatus.WAITLISTED,  # full: the waitlist, as for anyone
        "Panel 2": RegistrationStatus.CONFIRMED,
    }
    (entry,) = audit_entries("participant.sessions")
    assert entry.details == {"added": [panel.id, panel2.id], "dropped": [opening.id]}
    assert queued(amina)[-1] == (MessageKind.SESSIONS_CHANGED, "amina@example.org")
    page = organiser.get(detail_url(amina)).text
    assert "Waitlisted, position 1" in page and "No free seat to give." in page

    response = organiser.post(f"{detail_url(amina)}/sessions", data={})
    assert response.status_code == 422 and "Choose at least one session." in response.text


def test_organiser_may_add_a_session_closed_to_the_public(organiser, forum):
    opening, panel, panel2 = forum.sessions
    amina = person(forum, "Amina", "amina@example.org", [opening])
    db.session.rollback()
    db.session.get(type(panel2), panel2.id).registration_open = False
    db.session.commit()
    response = organiser.post(
        f"{detail_url(amina)}/sessions", data={"sessions": [str(opening.id), str(panel2.id)]}
    )
    assert response.status_code == 303
    assert statuses(amina)["Panel 2"] == RegistrationStatus.CONFIRMED


def test_dropping_a_session_hands_its_seat_to_the_waitlist(organiser, forum):
    _, panel, _ = forum.sessions
    seated = person(forum, "Seated", "seated@example.org", [forum.sessions[0], panel])
    waiting = person(forum, "Waiting", "waiting@example.org", [panel])
    organiser.post(f"{detail_url(seated)}/sessions", data={"sessions": [str(forum.sessions[0].id)]})
    assert statuses(waiting) == {"Panel 1": RegistrationStatus.CONFIRMED}
    assert (MessageKind.PROMOTED, "waiting@example.org") in queued(waiting)


def test_waitlisted_person_moves_up_only_into_a_free_seat(organiser, forum):
    _, panel, _ = forum.sessions
    person(forum, "Seated", "seated@example.org", [panel])
    first = person(forum, "First in line", "first@example.org", [panel])
    second = person(forum, "Second in line", "second@example.org", [panel])

    response = organiser.post(f"{detail_url(second)}/promote", data={"session_id": panel.id})
    assert response.status_code == 303
    page = organiser.get(response.location).text
    assert "has no free seat: all 1 are taken" in page
    assert statuses(second) == {"Panel 1": RegistrationStatus.WAITLISTED}
    assert audit_entries("participant.promote") == []

    # A seat is free (the hall got a chair more), and the organiser gives it to the second.
    db.session.rollback()
    db.session.get(type(panel), panel.id).capacity = 2
    db.session.commit()
    assert "Give them a free seat" in organiser.get(detail_url(second)).text
    response = organiser.post(f"{detail_url(second)}/promote", data={"session_id": panel.id})
    assert "Seat given" in organiser.get(response.location).text
    assert statuses(second) == {"Panel 1": RegistrationStatus.CONFIRMED}
    assert statuses(first) == {"Panel 1": RegistrationStatus.WAITLISTED}
    assert queued(second)[-1] == (MessageKind.PROMOTED, "second@example.org")
    assert broken_invariants(db.session) == []  # the seats taken among them
    (entry,) = audit_entries("participant.promote")
    assert entry.details == {"session": panel.id}

    # Someone not waiting, or a made-up session, gets a reason, never a 500.
    response = organiser.post(f"{detail_url(second)}/promote", data={"session_id": panel.id})
    assert "Not on the waitlist" in organiser.get(response.location).text
    response = organiser.post(f"{detail_url(second)}/promote", data={"session_id": "abc"})
    assert "Choose a session" in organiser.get(response.location).text
    response = organiser.post(f"{detail_url(second)}/promote", data={"session_id": 99999})
    assert "does not exist" in organiser.get(response.location).text


def test_cancelling_needs_the_box_ticked_and_hands_the_seats_on(organiser, forum):
    _, panel, _ = forum.sessions
    seated = person(forum, "Seated", "seated@example.org", [panel])
    waiting = person(forum, "Waiting", "waiting@example.org", [panel])
    response = organiser.post(f"{detail_url(seated)}/cancel", data={})
    assert response.status_code == 422 and "Tick the box to confirm" in response.text
    assert statuses(seated) == {"Panel 1": RegistrationStatus.CONFIRMED}

    response = organiser.post(f"{detail_url(seated)}/cancel", data={"confirm": "y"})
    assert response.status_code == 303
    assert statuses(seated) == {"Panel 1": RegistrationStatus.CANCELLED}
    assert statuses(waiting) == {"Panel 1": RegistrationStatus.CONFIRMED}
    assert queued(seated)[-1][0] == MessageKind.CANCELLED
    (entry,) = audit_entries("participant.cancel")
    assert entry.details == {"sessions": [panel.id]}


def test_resend_confirmation_goes_to_the_corrected_address(organiser, forum):
    amina = person(forum, "Amina", "amina@exmaple.org")  # a typo
    organiser.post(
        detail_url(amina),
        data={"full_name": "Amina", "email": "amina@example.org", "country": "AZ"}
        | {"category": "delegate"},
    )
    response = organiser.post(f"{detail_url(amina)}/resend")
    assert "The confirmation email is on its way." in organiser.get(response.location).text
    assert queued(amina) == [
        (MessageKind.CONFIRMATION, "amina@exmaple.org"),
        (MessageKind.CONFIRMATION, "amina@example.org"),
    ]
    assert [e.action for e in audit_entries()] == [
        "participant.update",
        "participant.resend_confirmation",
    ]


def test_new_code_revokes_the_old_one_and_emails_the_new(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    old = amina.active_code.code
    response = organiser.post(f"{detail_url(amina)}/new-code")
    assert "the old one no longer works" in organiser.get(response.location).text
    after = fresh(amina)
    assert [c.status for c in after.codes] == [CodeStatus.REVOKED, CodeStatus.ACTIVE]
    assert after.active_code.code != old
    assert queued(amina)[-1][0] == MessageKind.NEW_CODE
    assert len(audit_entries("participant.new_code")) == 1
    scan = record_scan(Scan(Door.of(forum.sessions[0]), code=old), now=forum.sessions[0].starts_at)
    assert scan.verdict == "revoked_code"


def test_scan_history_lists_every_verdict_in_the_event_time_zone(organiser, forum):
    opening, panel, _ = forum.sessions
    amina = person(forum, "Amina", "amina@example.org", [opening])
    door = db.session.scalar(select(StaffUser).where(StaffUser.role == Role.ORGANISER))
    device, _token = DeviceToken.issue(forum, "Door 1 phone")
    db.session.add(device)
    db.session.commit()
    at = opening.starts_at - timedelta(minutes=10)
    code = amina.active_code.code
    ok = record_scan(Scan(Door.of(opening), code=code, gate="North door", staff=door), now=at)
    record_scan(
        Scan(Door.of(opening), code=code, gate="South door", device=device),
        now=at + timedelta(minutes=1),
    )
    record_scan(Scan(Door.of(panel), code=code, gate="Hall B", staff=door), now=panel.starts_at)
    assert ok.verdict == "ok"

    page = organiser.get(detail_url(amina)).text
    history = page.split('id="scans-heading"')[1]
    local = forum.local(at)  # Asia/Baku, UTC+4
    assert local.strftime("%a %d %b %Y, %H:%M") in history
    assert at.strftime("%H:%M") not in history.split("</tbody>")[0]  # not shown in UTC
    for text in (
        "Checked in",
        "Already checked in",
        "Not registered for this session",
        "North door",
        "South door",
        "Hall B",
        "Olga organiser",
        "Device “Door 1 phone”",
    ):
        assert text in history, text
    # Newest first.
    assert history.index("Hall B") < history.index("South door") < history.index("North door")
    assert "times in Asia/Baku time" in page


def test_pages_change_nothing_on_get(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    before = (queued(amina), [(c.code, c.status) for c in fresh(amina).codes])
    for path in (LIST, detail_url(amina), f"{detail_url(amina)}/erase"):
        assert organiser.get(path).status_code == 200
    assert organiser.get(f"{detail_url(amina)}/promote").status_code == 405
    assert organiser.get("/e/forum/admin/badges.pdf").status_code == 405
    after = fresh(amina)
    assert (queued(amina), [(c.code, c.status) for c in after.codes]) == before
    assert after.erased_at is None and audit_entries() == []


def test_list_and_detail_pages_are_not_cached(organiser, forum):
    amina = person(forum, "Amina", "amina@example.org")
    for path in (LIST, detail_url(amina)):
        assert organiser.get(path).headers["Cache-Control"] == "private, no-store"


# -- at the same instant -----------------------------------------------------------------------


def race(app, calls) -> list:
    """Run each ``(path, data)`` POST at the same instant from its own signed-in client (own
    thread, own database connection); returns the responses."""
    barrier = threading.Barrier(len(calls))

    def racer(call):
        path, data = call
        with app.app_context():
            client = app.test_client()
            client.post("/staff/login", data={"email": "org@example.org", "password": PASSWORD})
            barrier.wait()
            response = client.post(path, data=data)
            flashed = client.get(response.location).text if response.status_code == 303 else ""
            db.session.remove()
            return response.status_code, response.text + flashed

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(racer, calls))


def racing_app(make_app, racers: int):
    return make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": racers + 5, "max_overflow": 0})


def one_free_seat_and_ten_waiting(make_event, slug: str = "forum"):
    forum = make_event({"title": "Panel 1", "capacity": 1}, slug=slug)
    panel = forum.sessions[0]
    person(forum, "Seated", f"seated@{slug}.org", [panel])
    waiting = [person(forum, f"W{i}", f"w{i}@{slug}.org", [panel]) for i in range(10)]
    panel.capacity = 2  # one free seat, and ten people who want it
    db.session.commit()
    calls = [
        (f"/e/{slug}/admin/participants/{w.id}/promote", {"session_id": panel.id}) for w in waiting
    ]
    return forum, [w.id for w in waiting], calls


def test_organisers_racing_to_fill_the_last_free_seat_never_overfill_it(make_app, make_event):
    app = racing_app(make_app, 10)
    with app.app_context():
        forum, waiting, calls = one_free_seat_and_ten_waiting(make_event)
        create_staff("org@example.org", Role.ORGANISER, PASSWORD, events=[forum])
        db.session.remove()

        results = race(app, calls)

        assert [status for status, _ in results] == [303] * 10
        assert sum("Seat given" in text for _, text in results) == 1
        assert sum("has no free seat" in text for _, text in results) == 9
        db.session.rollback()
        seated = [
            i
            for i in waiting
            if db.session.get(Participant, i).registrations[0].status
            == RegistrationStatus.CONFIRMED
        ]
        assert len(seated) == 1
        assert len(audit_entries("participant.promote")) == 1
        assert broken_invariants(db.session) == []  # the seats taken among them


def test_negative_control_without_seat_locking_the_promotion_race_shows(make_app, make_event):
    """The same race with the locks switched off goes wrong (two seats given, or requests
    failing on SQLite's lock): the race above is real, and its test able to fail."""
    app = make_app(
        SEAT_LOCKING=False, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 15, "max_overflow": 0}
    )
    with app.app_context():
        create_staff("org@example.org", Role.ORGANISER, PASSWORD)
        staff = db.session.scalar(select(StaffUser))
        detected = []
        for attempt in range(3):  # a race is a matter of chance; it shows on the first try
            forum, waiting, calls = one_free_seat_and_ten_waiting(make_event, f"control-{attempt}")
            staff.events.append(forum)
            db.session.commit()
            db.session.remove()
            results = race(app, calls)
            given = sum("Seat given" in text for _, text in results)
            failed = sum(status != 303 for status, _ in results)
            if given > 1 or failed:
                detected.append((given, failed))
                break
        assert detected, "without locks the promotion race never showed"


def test_two_organisers_giving_one_email_to_two_people_at_once(make_app, make_event):
    app = racing_app(make_app, 2)
    with app.app_context():
        forum = make_event()
        people = [person(forum, f"P{i}", f"p{i}@example.org") for i in range(2)]
        create_staff("org@example.org", Role.ORGANISER, PASSWORD, events=[forum])
        form = {"full_name": "Same", "email": "same@example.org", "country": "AZ"}
        calls = [(detail_url(p), form | {"category": "delegate"}) for p in people]
        db.session.remove()

        results = race(app, calls)

        assert sorted(status for status, _ in results) == [303, 422]
        (refused,) = [text for status, text in results if status == 422]
        assert "already has this email address" in refused
        emails = sorted(fresh(p).email for p in people)
        assert emails.count("same@example.org") == 1
