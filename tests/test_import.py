"""Organisers import invited participants from a CSV file: a preview that saves nothing, then an
idempotent import in batches through the registration services, in the browser's pages and on
the command line (the browser itself: tests/e2e/test_import_browser.py)."""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.imports import services
from regapp.models import (
    AccessCode,
    AuditEntry,
    Event,
    ImportJob,
    MessageKind,
    OutboxMessage,
    Participant,
    Registration,
    RegistrationStatus,
    Role,
)
from regapp.registration.services import ParticipantDetails, register
from tests.dbstate import broken_invariants

PASSWORD = "correct horse battery"
HEADER = "Full name,Email,Country,Organisation,Job title,Category,Sessions\n"
IMPORT = "/e/forum/admin/import"
IMPORTED = AuditEntry.action == "participants.import"


# ------------------------------------------------------------------------------ helpers


@pytest.fixture
def forum(app, make_event):
    return make_event(
        {"title": "Opening session", "capacity": 200},
        {"title": "Panel 1: Digital services", "capacity": 3},
        {"title": "Panel 2: Open data", "capacity": None},
    )


def titles(event: Event) -> dict[str, int]:
    return {s.title: s.id for s in event.sessions}


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return (header + "".join(line + "\n" for line in lines)).encode()


def sign_in(client, role: Role = Role.ORGANISER, events=None, email=None) -> None:
    email = email or f"{role.value}@example.org"
    if events is None:
        events = db.session.scalars(select(Event)).all()
    create_staff(email, role, PASSWORD, name=f"Test {role.value}", events=events)
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303


@pytest.fixture
def organiser(client, forum):
    sign_in(client)
    return client


def upload(client, data: bytes, filename: str = "invitees.csv", slug: str = "forum"):
    return client.post(
        f"/e/{slug}/admin/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def preview(client, data: bytes, slug: str = "forum") -> int:
    """Upload a file; the id of the import job its preview is."""
    response = upload(client, data, slug=slug)
    assert response.status_code == 303, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def run_import(client, job_id: int, send_confirmations: bool = False, slug: str = "forum") -> dict:
    """Start the import and post batches, as the page's script does, until it is done."""
    form = {"send_confirmations": "y"} if send_confirmations else {}
    url = f"/e/{slug}/admin/import/{job_id}"
    assert client.post(f"{url}/start", data=form).status_code == 303
    for _ in range(1000):
        response = client.post(f"{url}/batch", headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text
        state = response.get_json()
        if state["status"] == "done":
            return state
    raise AssertionError("the import never finished")


def people() -> dict[str, Participant]:
    db.session.rollback()
    return {p.email.lower(): p for p in db.session.scalars(select(Participant))}


def sessions_of(participant: Participant) -> dict[str, str]:
    return {r.session.title: r.status for r in participant.registrations if r.is_active}


def state() -> dict[str, list[tuple]]:
    """The rows an import may change, as plain data."""
    db.session.rollback()
    return {
        "participants": db.session.execute(
            select(
                Participant.id,
                Participant.full_name,
                Participant.email,
                Participant.country,
                Participant.organisation,
                Participant.job_title,
                Participant.category,
            ).order_by(Participant.id)
        ).all(),
        "registrations": db.session.execute(
            select(
                Registration.id,
                Registration.participant_id,
                Registration.session_id,
                Registration.status,
                Registration.queued_at,
            ).order_by(Registration.id)
        ).all(),
        "codes": db.session.execute(
            select(AccessCode.id, AccessCode.code, AccessCode.status).order_by(AccessCode.id)
        ).all(),
        "outbox": db.session.execute(
            select(OutboxMessage.id, OutboxMessage.kind).order_by(OutboxMessage.id)
        ).all(),
    }


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def check(event: Event, *lines: str, header: str = HEADER) -> services.CheckedFile:
    return services.check_file(event, csv_bytes(*lines, header=header))


def reasons(checked: services.CheckedFile) -> dict[int, str]:
    return {p["line"]: p["reason"] for p in checked.problems}


# ------------------------------------------------------------------------------ reading the file


@pytest.mark.parametrize(
    "data",
    [
        "\ufeffFull name,Email,Country,Organisation,Job title,Category,Sessions\r\n"
        "Amina Rahimova,amina@example.org,AZ,ASAN Service,Head,delegate,Opening session\r\n",
        "Full name;Email;Country;Organisation;Job title;Category;Sessions\n"
        "Amina Rahimova;amina@example.org;AZ;ASAN Service;Head;delegate;Opening session\n",
        "FULL_NAME,E-mail,country code,Organization,job-title,TYPE,Session titles\n"
        "Amina Rahimova,amina@example.org,AZ,ASAN Service,Head,Delegate,opening  SESSION\n",
        "Email;Sessions;Name;Country\n"  # any order; optional columns left out
        "amina@example.org;Opening session;Amina Rahimova;AZ\n",
    ],
    ids=["bom-comma-crlf", "semicolon", "header-variants", "reordered-minimal"],
)
def test_file_is_read_whatever_its_delimiter_bom_and_header_spelling(forum, data):
    checked = services.check_file(forum, data.encode())
    assert checked.problems == []
    (row,) = checked.rows
    assert row["email"] == "amina@example.org"
    assert row["country"] == "AZ"
    assert row["category"] == "delegate"
    assert row["sessions"] == [titles(forum)["Opening session"]]


@pytest.mark.parametrize(
    "country, code",
    [
        ("Kazakhstan", "KZ"),
        ("kz", "KZ"),
        ("KAZ", "KZ"),
        ("Russia", "RU"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("Côte d'Ivoire", "CI"),
        ("cote d’ivoire", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("South Korea", "KR"),
        ("Republic of Korea", "KR"),
    ],
)
def test_country_is_accepted_as_code_or_english_name(forum, country, code):
    checked = check(forum, f'Chen Wei,chen@example.org,"{country}",,,,Opening session')
    assert checked.problems == []
    assert checked.rows[0]["country"] == code


def test_several_sessions_in_one_cell_are_separated_by_semicolons(forum):
    checked = check(
        forum, 'Chen Wei,chen@example.org,CN,,,speaker,"Opening session; Panel 2: Open data ;"'
    )
    assert checked.rows[0]["sessions"] == [
        titles(forum)["Opening session"],
        titles(forum)["Panel 2: Open data"],
    ]
    assert checked.rows[0]["category"] == "speaker"


def test_a_cell_may_list_many_sessions_with_long_titles(app, make_event):
    long_titles = [
        f"Panel {n}: " + "on the accessibility of public services " * 4 for n in range(6)
    ]
    event = make_event(*({"title": t.strip()} for t in long_titles))
    checked = check(event, f'Chen Wei,chen@example.org,CN,,,,"{"; ".join(long_titles)}"')
    assert checked.problems == []
    assert checked.rows[0]["sessions"] == [s.id for s in event.sessions]


def test_every_bad_row_is_reported_with_its_line_and_reason(app, make_event):
    event = make_event(
        {"title": "Opening session"},
        {"title": "Panel 1: Digital services"},
        {
            "title": "Yesterday's visit",
            "starts_at": datetime.now(UTC) - timedelta(days=1, hours=2),
            "ends_at": datetime.now(UTC) - timedelta(days=1),
        },
    )
    long_name = "A" * 201
    checked = check(
        event,
        "Good One,good@example.org,KZ,Org,Title,delegate,Opening session",  # line 2
        "Bad Email,not-an-email,KZ,,,,Opening session",  # 3
        "No Country,nocountry@example.org,Narnia,,,,Opening session",  # 4
        "No Session,nosession@example.org,KZ,,,,Panel 9",  # 5
        "No Category,nocat@example.org,KZ,,,VIP,Opening session",  # 6
        "Again,GOOD@example.org,KZ,,,,Opening session",  # 7: same email as line 2
        ",noname@example.org,KZ,,,,Opening session",  # 8
        f"{long_name},long@example.org,KZ,,,,Opening session",  # 9
        "Commas,commas@example.org,KZ,,,,Opening session, Panel 1: Digital services",  # 10
        'Quoted,quoted@example.org,KZ,,,,"Opening session, Panel 1: Digital services"',  # 11
        "No Sessions,nosessions@example.org,KZ,,,,",  # 12
        '"Two\nLines",twolines@example.org,KZ,,,,Opening session',  # 13-14
        "Late,late@example.org,KZ,,,,Yesterday's visit",  # 15
        "",  # 16: a blank line is no row
        "Several,,Narnia,,,,Panel 9",  # 17
        "Bad Email Again,not-an-email,KZ,,,,Opening session",  # 18: bad, but no duplicate
        "Last Good,last@example.org,Kazakhstan,,,,Panel 1: Digital services",  # 19
    )
    assert [r["line"] for r in checked.rows] == [2, 19]
    found = reasons(checked)
    assert found[3] == "email is not a valid address (like name@example.org)"
    assert found[4].startswith("unknown country “Narnia”")
    assert found[5].startswith("unknown session “Panel 9”")
    assert found[6].startswith("unknown category “VIP” (use delegate, speaker, media, guest")
    assert found[7] == "the same email as line 2 (each person once per file)"
    assert found[8] == "full name is missing"
    assert found[9] == "full name is longer than 200 characters"
    assert found[10].startswith("8 values, but the first line names 7 columns")
    assert found[11].endswith("separate several sessions with “;”")
    assert found[12].startswith("no sessions")
    assert found[13] == "full name contains control characters (such as line breaks)"
    assert found[15] == "session “Yesterday's visit” has already taken place"
    assert found[17].split("; ")[:3] == [
        "email is missing",
        "unknown country “Narnia” (use an ISO code such as KZ or KAZ, or the English name "
        "such as Kazakhstan)",
        "unknown session “Panel 9”",
    ]
    assert found[18] == found[3]
    assert sorted(found) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 17, 18]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "spreadsheet workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (
            "Full name,Email,Country,Sessions\nJosé,j@example.org,ES,Opening session\n".encode(
                "latin-1"
            ),
            "not UTF-8 text (the first character that is not is on line 2)",
        ),
        (b"Full name,Email,Sessions\n", "Missing: Country."),
        (b"Name,Email,E-mail,Country,Sessions\n", "The column Email appears twice"),
        (
            b'Full name,Email,Country,Sessions\n"Open,a@example.org,KZ,Opening session\n',
            "cannot be read as CSV",
        ),
    ],
    ids=["empty", "xlsx", "binary", "latin-1", "missing-column", "column-twice", "open-quote"],
)
def test_a_file_that_cannot_be_used_is_refused_with_a_clear_message(forum, data, message):
    with pytest.raises(services.ImportFileError) as refused:
        services.check_file(forum, data)
    assert message in refused.value.message


def test_template_has_the_columns_and_reads_back(organiser, forum):
    response = organiser.get(f"{IMPORT}/template.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode())  # Excel opens it as UTF-8
    filled = response.data + b"Amina Rahimova,amina@example.org,AZ,,,,Opening session\r\n"
    checked = services.check_file(forum, filled)
    assert checked.problems == [] and len(checked.rows) == 1


# ------------------------------------------------------------------------------ the preview


def test_preview_counts_rows_and_lists_bad_ones_and_saves_no_participant(organiser, forum):
    register(
        forum,
        ParticipantDetails(
            "Bakhyt Nurlanov", "bakhyt@example.org", "KZ", "Hub", "Adviser", "delegate"
        ),
        [titles(forum)["Opening session"]],
    )
    register(
        forum,
        ParticipantDetails("Chen Wei", "chen@example.org", "CN", "UN DESA", "Officer", "speaker"),
        [titles(forum)["Panel 2: Open data"]],
    )
    before = state()
    job_id = preview(
        organiser,
        csv_bytes(
            "Amina Rahimova,amina@example.org,AZ,ASAN,Head,delegate,Opening session",
            "Bakhyt Nurlanov,BAKHYT@example.org,KZ,Hub,Adviser,delegate,Opening session",
            "Chen Wei,chen@example.org,CN,UN DESA,Director,speaker,Panel 2: Open data",
            "Dana,dana@example,KZ,,,,Opening session",
        ),
    )
    assert state() == before  # no participant, registration, code or email
    assert count(AuditEntry, IMPORTED) == 0
    page = organiser.get(f"{IMPORT}/{job_id}").text
    assert figure(page, "plan-created") == "1"
    assert figure(page, "plan-updated") == "1"
    assert figure(page, "plan-unchanged") == "1"
    assert figure(page, "plan-errors") == "1"
    assert "email is not a valid address" in page
    assert re.search(r">\s*5\s*</th>\s*<td>email is not a valid address", page)
    assert "Job title" in page  # what changes for Chen
    assert "Import 3 rows" in page


def figure(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert match, element_id
    return match.group(1).strip()


def test_preview_warns_when_a_session_runs_out_of_seats(organiser, forum):
    rows = [f"P{i},p{i}@example.org,KZ,,,,Panel 1: Digital services" for i in range(5)]
    page = organiser.get(f"{IMPORT}/{preview(organiser, csv_bytes(*rows))}").text
    assert "the file asks for 5 new places, and 3 seats are left" in page


def test_preview_names_the_columns_it_does_not_import(organiser, forum):
    data = csv_bytes(
        "Amina,amina@example.org,+994 12 345,AZ,Opening session,VIP table",
        header="Name,Email,Phone,Country,Sessions,Notes\n",
    )
    page = organiser.get(f"{IMPORT}/{preview(organiser, data)}").text
    assert "Not imported: the columns “Phone”, “Notes”." in page
    assert figure(page, "plan-created") == "1"


def test_bad_file_is_refused_on_the_upload_page(organiser, forum):
    response = upload(organiser, b"PK\x03\x04 not really a workbook", "people.xlsx")
    assert response.status_code == 422
    assert "spreadsheet workbook" in response.text
    assert count(ImportJob) == 0
    response = organiser.post(IMPORT, data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to check." in response.text


def test_a_file_over_the_size_limit_gets_a_clear_message(make_app, forum):
    # With CSRF protection on, as in production: its check reads the form, so the size limit
    # strikes before any view runs.
    app = make_app(MAX_CONTENT_LENGTH=2048, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        create_staff(
            "org@example.org", Role.ORGANISER, PASSWORD, events=[db.session.get(Event, forum.id)]
        )
    sign_in_with_csrf(client, "org@example.org")
    response = upload(client, b"x" * 4096)
    assert response.status_code == 413
    assert "The file is larger than" in response.text
    assert 'id="upload-form"' in response.text
    anonymous = app.test_client()
    response = upload(anonymous, b"x" * 4096)
    assert response.status_code == 413
    assert 'id="upload-form"' not in response.text  # the page is for organisers only


def sign_in_with_csrf(client, email: str) -> None:
    login_page = client.get("/staff/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    response = client.post(
        "/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303


# ------------------------------------------------------------------------------ the import


def test_import_creates_participants_with_their_sessions_and_records_it(organiser, forum):
    job_id = preview(
        organiser,
        csv_bytes(
            "Amina Rahimova,amina@example.org,Azerbaijan,ASAN,Head,delegate,"
            '"Opening session;Panel 2: Open data"',
            "Bakhyt Nurlanov,bakhyt@example.org,kz,Hub,Adviser,speaker,Opening session",
            "Bad Row,bad@example.org,Narnia,,,,Opening session",
        ),
    )
    final = run_import(organiser, job_id)
    assert final | {"busy": False} == {
        "status": "done",
        "done": 2,
        "total": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": 1,
        "busy": False,
    }
    found = people()
    assert sorted(found) == ["amina@example.org", "bakhyt@example.org"]
    amina = found["amina@example.org"]
    assert (amina.full_name, amina.country, amina.category) == ("Amina Rahimova", "AZ", "delegate")
    assert sessions_of(amina) == {"Opening session": "confirmed", "Panel 2: Open data": "confirmed"}
    assert amina.active_code is not None  # a ticket, as an online registration gets
    assert count(OutboxMessage) == 0  # confirmations were not asked for
    (entry,) = db.session.scalars(select(AuditEntry).where(IMPORTED)).all()
    assert entry.action == "participants.import"
    assert entry.event_id == forum.id
    assert entry.actor == "Test organiser <organiser@example.org>"
    assert entry.details == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": 1,
        "send_confirmations": False,
    }
    job = db.session.get(ImportJob, job_id)
    assert job.rows == []  # the personal data lives in the participants now
    page = organiser.get(f"{IMPORT}/{job_id}").text
    assert "Imported invitees.csv" in page
    assert "unknown country “Narnia”" in page
    assert broken_invariants(db.session) == []  # the seats taken among them


def test_importing_the_same_file_twice_changes_nothing_the_second_time(organiser, forum):
    data = csv_bytes(
        *(
            f"Person {i},p{i}@example.org,KZ,Org {i % 3},Title,delegate,"
            f"Opening session;Panel 1: Digital services"
            for i in range(6)
        ),
        "Bad,bad,KZ,,,,Opening session",
    )
    first = run_import(organiser, preview(organiser, data))
    assert (first["created"], first["errors"]) == (6, 1)
    after_first = state()
    waitlisted = [r for r in after_first["registrations"] if r.status == "waitlisted"]
    assert len(waitlisted) == 3  # Panel 1 has 3 seats: the others wait, as online
    job_id = preview(organiser, data)
    assert figure(organiser.get(f"{IMPORT}/{job_id}").text, "plan-unchanged") == "6"
    second = run_import(organiser, job_id)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 6)
    assert state() == after_first
    entries = db.session.scalars(select(AuditEntry).where(IMPORTED).order_by(AuditEntry.id)).all()
    assert [e.details["unchanged"] for e in entries] == [0, 6]


def test_a_known_email_gets_the_details_and_sessions_of_the_file(organiser, forum):
    ids = titles(forum)
    # Chen holds Opening and Panel 1 (full); Dana waits for Panel 1.
    chen = register(
        forum,
        ParticipantDetails("Chen Wei", "Chen@Example.org", "CN", "UN DESA", "Officer", "delegate"),
        [ids["Opening session"], ids["Panel 1: Digital services"]],
    )
    for i in range(2):
        register(
            forum,
            ParticipantDetails(f"Filler {i}", f"f{i}@example.org", "KZ", "", "", "delegate"),
            [ids["Panel 1: Digital services"]],
        )
    dana = register(
        forum,
        ParticipantDetails("Dana Ospanova", "dana@example.org", "KZ", "", "", "delegate"),
        [ids["Panel 1: Digital services"]],
    )
    assert sessions_of(dana) == {"Panel 1: Digital services": "waitlisted"}
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()
    job_id = preview(
        organiser,
        csv_bytes("Chen Wei,chen@example.org,China,UNDP,Director,speaker,Panel 2: Open data"),
    )
    assert run_import(organiser, job_id)["updated"] == 1
    found = people()
    chen = found["chen@example.org"]
    assert chen.email == "Chen@Example.org"  # the address as they gave it
    assert (chen.organisation, chen.job_title, chen.category) == ("UNDP", "Director", "speaker")
    # The file's sessions replace Chen's: the seat in Panel 1 goes to Dana, who is told.
    assert sessions_of(chen) == {"Panel 2: Open data": "confirmed"}
    assert sessions_of(found["dana@example.org"]) == {"Panel 1: Digital services": "confirmed"}
    kinds = db.session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all()
    assert kinds == [(MessageKind.PROMOTED, "dana@example.org")]


def test_confirmations_are_sent_only_when_asked_and_only_for_what_changed(organiser, forum):
    register(
        forum,
        ParticipantDetails("Chen Wei", "chen@example.org", "CN", "", "", "delegate"),
        [titles(forum)["Opening session"]],
    )
    register(
        forum,
        ParticipantDetails("Eli Cohen", "eli@example.org", "IL", "", "", "delegate"),
        [titles(forum)["Opening session"]],
    )
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()
    job_id = preview(
        organiser,
        csv_bytes(
            "Amina Rahimova,amina@example.org,AZ,,,,Opening session",  # new
            "Chen Wei,chen@example.org,CN,,,,Panel 2: Open data",  # sessions change
            "Eli Cohen,eli@example.org,IL,New Org,,,Opening session",  # details only
        ),
    )
    final = run_import(organiser, job_id, send_confirmations=True)
    assert (final["created"], final["updated"]) == (1, 2)
    sent = sorted(db.session.execute(select(OutboxMessage.recipient, OutboxMessage.kind)).all())
    assert sent == [
        ("amina@example.org", MessageKind.CONFIRMATION),
        ("chen@example.org", MessageKind.SESSIONS_CHANGED),
    ]
    assert (
        db.session.scalars(select(AuditEntry.details).where(IMPORTED)).one()["send_confirmations"]
        is True
    )


def test_organisers_import_before_registration_opens_and_into_closed_sessions(
    organiser, make_event
):
    event = make_event(
        {"title": "Invitation only", "registration_open": False},
        slug="next-year",
        registration_opens_at=datetime.now(UTC) + timedelta(days=30),
    )
    client = organiser
    sign_in(client, Role.ORGANISER, events=[event], email="other@example.org")
    job_id = preview(
        client, csv_bytes("Amina,amina@example.org,AZ,,,,Invitation only"), slug="next-year"
    )
    assert run_import(client, job_id, slug="next-year")["created"] == 1
    (amina,) = people().values()
    assert sessions_of(amina) == {"Invitation only": "confirmed"}


def test_an_archived_event_takes_no_import(organiser, forum):
    forum.archived_at = datetime.now(UTC)
    db.session.commit()
    response = upload(organiser, csv_bytes("Amina,amina@example.org,AZ,,,,Opening session"))
    assert response.status_code == 422
    assert "archived" in response.text
    assert count(ImportJob) == 0


def test_a_row_that_fails_at_import_is_reported_and_the_others_go_in(organiser, forum):
    job_id = preview(
        organiser,
        csv_bytes(
            "Amina,amina@example.org,AZ,,,,Opening session",
            "Bakhyt,bakhyt@example.org,KZ,,,,Panel 2: Open data",
        ),
    )
    # Between the preview and the import, the panel is removed from the programme.
    panel = db.session.get(type(forum.sessions[0]), titles(forum)["Panel 2: Open data"])
    db.session.delete(panel)
    db.session.commit()
    final = run_import(organiser, job_id)
    assert (final["created"], final["errors"]) == (1, 1)
    job = db.session.get(ImportJob, job_id)
    assert job.problems == [{"line": 3, "reason": "One of the chosen sessions does not exist."}]
    assert list(people()) == ["amina@example.org"]


def test_someone_who_registers_online_meanwhile_is_updated_not_duplicated(organiser, forum):
    job_id = preview(organiser, csv_bytes("Amina,amina@example.org,AZ,Org,,,Opening session"))
    register(
        forum,
        ParticipantDetails("Amina", "AMINA@example.org", "AZ", "", "", "delegate"),
        [titles(forum)["Panel 2: Open data"]],
    )
    final = run_import(organiser, job_id)
    assert (final["created"], final["updated"]) == (0, 1)
    (amina,) = people().values()
    assert amina.organisation == "Org"
    assert sessions_of(amina) == {"Opening session": "confirmed"}


def test_a_reloaded_page_shows_the_progress_and_the_import_carries_on(organiser, forum):
    rows = [f"P{i},p{i}@example.org,KZ,,,,Opening session" for i in range(7)]
    job_id = preview(organiser, csv_bytes(*rows))
    organiser.post(f"{IMPORT}/{job_id}/start")
    job = db.session.get(ImportJob, job_id)
    assert services.run_batch(job, max_rows=3)
    page = organiser.get(f"{IMPORT}/{job_id}").text
    assert re.search(r'<progress id="import-progress" max="7" value="3"', page)
    assert "3 of 7 rows imported." in page
    assert 'id="continue-form"' in page  # without JavaScript, a button carries on
    # A form post (no JavaScript) runs the next batch and comes back to the page.
    response = organiser.post(f"{IMPORT}/{job_id}/batch")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{IMPORT}/{job_id}")
    assert count(Participant) == 7


def test_a_batch_left_by_a_dead_process_is_taken_up_after_its_lease(organiser, forum):
    job_id = preview(organiser, csv_bytes("Amina,amina@example.org,AZ,,,,Opening session"))
    organiser.post(f"{IMPORT}/{job_id}/start")
    job = db.session.get(ImportJob, job_id)
    job.leased_until = datetime.now(UTC) + timedelta(minutes=1)  # someone is importing
    db.session.commit()
    response = organiser.post(f"{IMPORT}/{job_id}/batch", headers={"Accept": "application/json"})
    assert response.get_json()["busy"] is True
    assert count(Participant) == 0
    job = db.session.get(ImportJob, job_id)
    job.leased_until = datetime.now(UTC) - timedelta(seconds=1)  # ... and died
    db.session.commit()
    response = organiser.post(f"{IMPORT}/{job_id}/batch", headers={"Accept": "application/json"})
    assert response.get_json()["status"] == "done"
    assert count(Participant) == 1


def test_two_tabs_importing_the_same_job_at_once_import_each_row_once(make_app, forum):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 6, "max_overflow": 0})
    rows = [f"P{i},p{i}@example.org,KZ,,,,Opening session" for i in range(60)]
    with app.app_context():
        event = db.session.scalar(select(Event))
        job = services.create_job(event, services.check_file(event, csv_bytes(*rows)), "f.csv")
        services.start(job, send_confirmations=False)
        job_id = job.id
    barrier = threading.Barrier(2)
    outcomes: list = []

    def tab():
        with app.app_context():
            barrier.wait()
            try:
                while True:
                    job = db.session.get(ImportJob, job_id, populate_existing=True)
                    if job.is_finished:
                        break
                    if not services.run_batch(job, max_rows=5):
                        time.sleep(0.01)
                outcomes.append("ok")
            except Exception as error:  # noqa: BLE001 - reported by the assert below
                outcomes.append(error)

    threads = [threading.Thread(target=tab) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes == ["ok", "ok"]
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        assert (job.done, job.created, job.updated, job.unchanged) == (60, 60, 0, 0)
        assert db.session.scalar(select(func.count()).select_from(Participant)) == 60
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(IMPORTED)) == 1


# ------------------------------------------------------------------------------ who may import


def test_only_organisers_of_the_event_may_import(client, forum, make_event):
    other = make_event(slug="other")
    assert client.get(IMPORT).status_code == 302  # anonymous: sign in first
    sign_in(client, Role.SCANNER)
    assert client.get(IMPORT).status_code == 403
    client.post("/staff/logout")
    sign_in(client, Role.ORGANISER, events=[other], email="elsewhere@example.org")
    assert client.get(IMPORT).status_code == 403
    assert upload(client, csv_bytes("A,a@example.org,AZ,,,,Opening session")).status_code == 403
    client.post("/staff/logout")
    sign_in(client, Role.ADMIN, events=[])
    assert client.get(IMPORT).status_code == 200


def test_a_job_of_another_event_is_not_found(organiser, forum, make_event):
    other = make_event(slug="other")
    job = services.create_job(
        other, services.check_file(other, csv_bytes("A,a@example.org,AZ,,,,Session 1")), "f.csv"
    )
    assert organiser.get(f"{IMPORT}/{job.id}").status_code == 404
    assert organiser.post(f"{IMPORT}/{job.id}/start").status_code == 404


def test_every_post_needs_the_csrf_token_and_the_script_sends_it_in_a_header(make_app, forum):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        create_staff(
            "org@example.org", Role.ORGANISER, PASSWORD, events=[db.session.get(Event, forum.id)]
        )
        event = db.session.get(Event, forum.id)
        job = services.create_job(
            event,
            services.check_file(event, csv_bytes("A,a@example.org,AZ,,,,Opening session")),
            "f.csv",
        )
        services.start(job, send_confirmations=False)
        job_id = job.id
    sign_in_with_csrf(client, "org@example.org")
    page = client.get(f"{IMPORT}/{job_id}").text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    batch = f"{IMPORT}/{job_id}/batch"
    assert client.post(batch, headers={"Accept": "application/json"}).status_code == 400
    assert upload(client, csv_bytes("B,b@example.org,AZ,,,,Opening session")).status_code == 400
    response = client.post(batch, headers={"Accept": "application/json", "X-CSRFToken": token})
    assert response.status_code == 200
    assert response.get_json()["status"] == "done"


# ------------------------------------------------------------------------------ command line


def test_command_line_dry_run_reports_and_saves_nothing(runner, forum, tmp_path):
    path = tmp_path / "invitees.csv"
    path.write_bytes(
        csv_bytes(
            "Amina,amina@example.org,AZ,,,,Opening session",
            "Bad,bad@example.org,Narnia,,,,Opening session",
        )
    )
    result = runner.invoke(args=["import-participants", "forum", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "line 3: unknown country “Narnia”" in result.output
    assert "Checked: 1 to create, 0 to update, 0 unchanged, 1 rows with problems to skip." in (
        result.output
    )
    assert "Dry run: nothing was saved." in result.output
    assert count(Participant) == 0 and count(ImportJob) == 0 and count(AuditEntry, IMPORTED) == 0


def test_command_line_imports_with_a_progress_bar_and_twice_changes_nothing(
    runner, forum, tmp_path
):
    path = tmp_path / "invitees.csv"
    path.write_bytes(
        csv_bytes(*(f"P{i},p{i}@example.org,KZ,,,,Opening session" for i in range(450)))
    )
    args = ["import-participants", "forum", str(path), "--send-confirmations"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Importing" in result.output
    assert "Imported: 450 created, 0 updated, 0 unchanged, 0 rows with problems skipped." in (
        result.output
    )
    assert count(OutboxMessage, OutboxMessage.kind == MessageKind.CONFIRMATION) == 450
    entry = db.session.scalars(select(AuditEntry).where(IMPORTED)).one()
    assert (entry.actor, entry.details["created"]) == ("command line", 450)
    before = state()
    result = runner.invoke(args=args)
    assert "Imported: 0 created, 0 updated, 450 unchanged" in result.output
    assert state() == before


def test_command_line_refuses_an_unusable_file_or_an_unknown_event(runner, forum, tmp_path):
    path = tmp_path / "people.xlsx"
    path.write_bytes(b"PK\x03\x04 workbook")
    result = runner.invoke(args=["import-participants", "forum", str(path)])
    assert result.exit_code == 1
    assert "spreadsheet workbook" in result.output
    result = runner.invoke(args=["import-participants", "nowhere", str(path)])
    assert result.exit_code == 2
    assert "no event 'nowhere'" in result.output


# ------------------------------------------------------------------------------ 1,000 invitees

COUNTRIES = ["Kazakhstan", "kz", "KAZ", "Azerbaijan", "UZ", "Kyrgyzstan", "GEO", "Türkiye", "US"]


def thousand_invitees(event: Event) -> tuple[bytes, set[int]]:
    """1,000 rows with a bad one every 97 rows (and their line numbers)."""
    session_titles = [s.title for s in event.sessions]
    lines, bad = [], set()
    for i in range(1000):
        line = i + 2
        email = f"invitee{i}@example.org"
        country = COUNTRIES[i % len(COUNTRIES)]
        sessions = "; ".join(session_titles[: 1 + i % len(session_titles)])
        if i % 97 == 0:
            bad.add(line)
            if i % 2:
                country = "Atlantis"
            else:
                email = "not-an-email"
        lines.append(f'Invitee {i},{email},{country},Org {i % 40},Officer,delegate,"{sessions}"')
    return csv_bytes(*lines), bad


def test_a_thousand_invitees_with_a_few_bad_rows_import_in_reasonable_time(
    organiser, forum, capsys
):
    data, bad = thousand_invitees(forum)
    started = time.perf_counter()
    job_id = preview(organiser, data)
    checked_in = time.perf_counter() - started
    page = organiser.get(f"{IMPORT}/{job_id}").text
    assert figure(page, "plan-created") == str(1000 - len(bad))
    assert figure(page, "plan-errors") == str(len(bad))
    started = time.perf_counter()
    final = run_import(organiser, job_id)
    imported_in = time.perf_counter() - started
    assert (final["created"], final["errors"]) == (1000 - len(bad), len(bad))
    job = db.session.get(ImportJob, job_id)
    assert {p["line"] for p in job.problems} == bad
    assert count(Participant) == 1000 - len(bad)
    # Panel 1 has 3 seats: everyone else who asked for it waits, in file order.
    panel = titles(forum)["Panel 1: Digital services"]
    assert (
        count(
            Registration,
            Registration.session_id == panel,
            Registration.status == RegistrationStatus.CONFIRMED,
        )
        == 3
    )
    started = time.perf_counter()
    again = run_import(organiser, preview(organiser, data))
    again_in = time.perf_counter() - started
    assert again["unchanged"] == 1000 - len(bad)
    with capsys.disabled():
        print(
            f"\n1,000 invitees on {db.engine.dialect.name}: checked in {checked_in:.2f} s, "
            f"imported in {imported_in:.2f} s, imported again (unchanged) in {again_in:.2f} s"
        )
    assert imported_in < 120


def test_the_upload_page_explains_the_columns_and_the_session_separator(organiser, forum):
    page = organiser.get(IMPORT).text
    assert "several in one cell separated by a semicolon" in page
    assert "the sessions in the file replace" in page
    for title in titles(forum):
        assert title in page
    assert 'href="/e/forum/admin/import/template.csv"' in page
    assert "<script>" not in page and "style=" not in page
