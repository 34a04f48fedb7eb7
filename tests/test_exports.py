"""Exports of the dashboard: CSV and XLSX files an organiser downloads, with the dashboard's
numbers for the same filter, and nothing in them that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import event as sa_event

from regapp.auth.services import create_staff
from regapp.checkin.services import Door, Scan, annul, record_scan
from regapp.extensions import db
from regapp.models import Channel, Role
from regapp.registration.services import ParticipantDetails, cancel_participation, register
from regapp.reports import merges
from regapp.reports.exports import FORMULA_TRIGGERS

BOM = b"\xef\xbb\xbf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EVIL_NAME = '=HYPERLINK("http://evil")'


def person(event, name, email, country, organisation, *titles, job_title="", category="delegate"):
    details = ParticipantDetails(
        full_name=name,
        email=email,
        country=country,
        organisation=organisation,
        job_title=job_title,
        category=category,
    )
    return register(event, details, [s.id for s in event.sessions if s.title in titles])


def check_in(event, participant, title, channel=Channel.IN_PERSON):
    session = next(s for s in event.sessions if s.title == title)
    scan = Scan(Door.of(session), participant_id=participant.id, channel=channel, gate="North door")
    result = record_scan(scan, now=session.starts_at + timedelta(minutes=5))
    assert result.verdict == "ok", result.entry.message
    return result.entry


@pytest.fixture
def forum(app, make_event):
    """Three sessions; a small panel with a waitlist (whose online join is refused); two
    spellings of UNDP merged; people who came in person, online, both, were undone, or came and
    cancelled afterwards; and a few who typed spreadsheet formulas into the form."""
    event = make_event(
        {"title": "Opening session", "stream_url": "https://stream.example.org/opening"},
        {"title": "Panel 1", "capacity": 2, "stream_url": "https://stream.example.org/p1"},
        {"title": "Closing session"},
    )
    amina = person(
        event, "Amina Rahimova", "amina@example.org", "KZ", "Astana Civil Service Hub",
        "Opening session", "Panel 1", job_title="Head of Innovation",
    )  # fmt: skip
    jp = person(
        event, "Jean-Pierre Élong Mbassi", "jp@example.org", "CM", "UNDP",
        "Opening session", "Panel 1", "Closing session", category="speaker",
    )  # fmt: skip
    li = person(event, "Li Wei", "li@example.org", "CN", "U.N.D.P.", "Panel 1")  # waitlisted
    aigerim = person(
        event, "Aigerim Bekova", "aigerim@example.org", "KZ", "astana civil service hub ",
        "Opening session", "Closing session",
    )  # fmt: skip
    bob = person(event, "Bob Stone", "bob@example.org", "US", "", "Opening session")
    carol = person(event, "Carol Díaz", "carol@example.org", "ES", "Gov.es", "Closing session")
    person(
        event, EVIL_NAME, "evil@example.org", "AZ", "+1-555", "Closing session",
        job_title="@SUM(A1)",
    )  # fmt: skip
    person(
        event, "-Dash, \"Quoted\"", "dash@example.org", "AZ", 'Ministry of "Digital", Baku',
        "Opening session", job_title="\tTabbed",
    )  # fmt: skip

    check_in(event, amina, "Opening session")
    check_in(event, amina, "Panel 1", Channel.ONLINE)
    check_in(event, jp, "Opening session")
    check_in(event, jp, "Opening session", Channel.ONLINE)
    check_in(event, jp, "Panel 1")
    refused = record_scan(
        Scan(Door.of(next(s for s in event.sessions if s.title == "Panel 1")), participant_id=li.id,
             channel=Channel.ONLINE),
        now=event.sessions[1].starts_at,
    )  # fmt: skip
    assert refused.verdict == "waitlisted"  # a seat admits, online too; the refusal is logged
    annul(check_in(event, aigerim, "Opening session"), "wrong person", None)
    check_in(event, bob, "Opening session")
    cancel_participation(bob)  # came, then cancelled: checked in but not registered
    cancel_participation(carol)  # neither registered nor present: not in the list
    merges.merge(event, "UNDP", ["UNDP", "U.N.D.P."])
    return event


@pytest.fixture
def organiser(client, forum):
    create_staff("boss@example.org", Role.ORGANISER, "correct horse battery", events=[forum])
    response = client.post(
        "/staff/login", data={"email": "boss@example.org", "password": "correct horse battery"}
    )
    assert response.status_code == 303
    return client


def session_id(event, title) -> int:
    return next(s.id for s in event.sessions if s.title == title)


def dashboard(client, event, args) -> dict:
    """The dashboard's panels for ``args``, each from its own endpoint, as the page reads them."""
    data = {}
    for panel in ("totals", "sessions", "countries", "organisations"):
        response = client.get(f"/e/{event.slug}/dashboard/data/{panel}", query_string=args)
        assert response.status_code == 200
        data[panel] = response.get_json()["data"]
    for breakdown in ("countries", "organisations"):  # small enough to come whole
        assert data[breakdown]["count"] == len(data[breakdown]["rows"])
        data[breakdown] = data[breakdown]["rows"]
    return data


def download(client, event, dataset, fmt, args=None):
    response = client.get(f"/e/{event.slug}/dashboard/export/{dataset}.{fmt}", query_string=args)
    assert response.status_code == 200, response.status
    return response


def read_csv(data: bytes) -> list[dict]:
    assert data.startswith(BOM)
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def read_xlsx(data: bytes) -> list[dict]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def read(response, fmt) -> list[dict]:
    return read_csv(response.data) if fmt == "csv" else read_xlsx(response.data)


def number(value, fmt):
    """A count as the file holds it: text in CSV, a number in XLSX."""
    if fmt == "xlsx":
        assert isinstance(value, int | float | None), value
        return value
    return None if value == "" else float(value) if "." in value else int(value)


def plain(text: str) -> str:
    """The text as typed, without the apostrophe an export puts before a formula."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


FILTERS = [
    pytest.param(lambda event: {}, id="no-filter"),
    pytest.param(lambda event: {"country": "KZ"}, id="country"),
    pytest.param(lambda event: {"session": session_id(event, "Opening session")}, id="session"),
    pytest.param(lambda event: {"organisation": "UNDP"}, id="organisation"),
    pytest.param(lambda event: {"category": "speaker"}, id="category"),
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("make_filter", FILTERS)
def test_participant_list_gives_the_dashboards_numbers(organiser, forum, fmt, make_filter):
    args = make_filter(forum)
    data = dashboard(organiser, forum, args)
    rows = read(download(organiser, forum, "participants", fmt, args), fmt)
    sessions = data["sessions"]

    def statuses(row):
        return [row[f"{s['title']}: registration"] for s in sessions]

    def attended(row):
        return [row[f"{s['title']}: attended"] for s in sessions]

    registered = [r for r in rows if "confirmed" in statuses(r)]
    waiting = [r for r in rows if "waitlisted" in statuses(r)]
    present = [r for r in rows if any(a != "no" for a in attended(r))]
    assert len(registered) == data["totals"]["registered"]
    assert len(present) == data["totals"]["checked_in"]
    assert {id(r) for r in registered + waiting + present} == set(map(id, rows))
    assert (
        sum(any("in person" in a for a in attended(r)) for r in rows)
        == (data["totals"]["in_person"])
    )
    assert sum(any("online" in a for a in attended(r)) for r in rows) == data["totals"]["online"]
    for s in sessions:
        status = [r[f"{s['title']}: registration"] for r in rows]
        came = [r[f"{s['title']}: attended"] for r in rows]
        assert status.count("confirmed") == s["confirmed"], s["title"]
        assert status.count("waitlisted") == s["waitlisted"], s["title"]
        assert sum(a != "no" for a in came) == s["checked_in"], s["title"]
        assert sum("in person" in a for a in came) == s["in_person"], s["title"]
        assert sum("online" in a for a in came) == s["online"], s["title"]
    assert Counter(r["Country code"] for r in registered) == {
        c["key"]: c["registered"] for c in data["countries"]
    }
    assert Counter(plain(r["Organisation (reported)"]) for r in registered) == {
        o["key"]: o["registered"] for o in data["organisations"]
    }
    came_from = Counter(r["Country code"] for r in present)
    assert {c["key"]: came_from[c["key"]] for c in data["countries"]} == {
        c["key"]: c["checked_in"] for c in data["countries"]
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("make_filter", FILTERS)
def test_tables_give_the_dashboards_numbers(organiser, forum, fmt, make_filter):
    args = make_filter(forum)
    data = dashboard(organiser, forum, args)

    sessions = read(download(organiser, forum, "sessions", fmt, args), fmt)
    assert [r["Session"] for r in sessions] == [s["title"] for s in data["sessions"]]
    for row, expected in zip(sessions, data["sessions"], strict=True):
        assert row["Day"] == expected["day"] and row["Starts"] == expected["starts"]
        for column, key in [
            ("Capacity", "capacity"),
            ("Confirmed", "confirmed"),
            ("Waitlisted", "waitlisted"),
            ("Checked in", "checked_in"),
            ("In person", "in_person"),
            ("Online", "online"),
            ("No-shows", "no_shows"),
            ("Attendance rate", "attendance_rate"),
        ]:
            assert number(row[column], fmt) == expected[key], (row["Session"], column)

    by_country = read(download(organiser, forum, "countries", fmt, args), fmt)
    assert [
        (
            r["Country code"],
            r["Country"],
            number(r["Registered"], fmt),
            number(r["Checked in"], fmt),
        )
        for r in by_country
    ] == [(c["key"], c["name"], c["registered"], c["checked_in"]) for c in data["countries"]]
    assert [number(r["Attendance rate"], fmt) for r in by_country] == [
        c["attendance_rate"] for c in data["countries"]
    ]

    by_organisation = read(download(organiser, forum, "organisations", fmt, args), fmt)
    assert [
        (plain(r["Organisation"]), number(r["Registered"], fmt), number(r["Checked in"], fmt))
        for r in by_organisation
    ] == [(o["name"], o["registered"], o["checked_in"]) for o in data["organisations"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_attendance_per_person_and_session_reads_plainly(organiser, forum, fmt):
    rows = {r["Email"]: r for r in read(download(organiser, forum, "participants", fmt), fmt)}
    assert "carol@example.org" not in rows  # cancelled everything, never came
    jp = rows["jp@example.org"]
    assert jp["Full name"] == "Jean-Pierre Élong Mbassi"
    assert (jp["Country"], jp["Country code"]) == ("Cameroon", "CM")
    assert (jp["Organisation (reported)"], jp["Organisation (as typed)"]) == ("UNDP", "UNDP")
    assert jp["Category"] == "Speaker"
    assert jp["Opening session: attended"] == "in person and online"
    assert jp["Panel 1: attended"] == "in person"
    assert jp["Closing session: registration"] == "confirmed"
    assert jp["Closing session: attended"] == "no"
    li = rows["li@example.org"]
    assert li["Organisation (reported)"] == "UNDP" and li["Organisation (as typed)"] == "U.N.D.P."
    assert li["Panel 1: registration"] == "waitlisted" and li["Panel 1: attended"] == "no"
    assert li["Opening session: registration"] in ("", None)
    aigerim = rows["aigerim@example.org"]
    assert aigerim["Organisation (reported)"] == "astana civil service hub"
    assert aigerim["Opening session: attended"] == "no"  # the check-in was undone
    bob = rows["bob@example.org"]
    assert bob["Opening session: registration"] == "cancelled"
    assert bob["Opening session: attended"] == "in person"
    assert bob["Organisation (reported)"] == "(no organisation)"
    amina = rows["amina@example.org"]
    assert amina["Job title"] == "Head of Innovation"
    assert amina["Panel 1: attended"] == "online"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_typed_into_the_form_come_out_as_text(organiser, forum, fmt):
    response = download(organiser, forum, "participants", fmt)
    rows = {r["Email"]: r for r in read(response, fmt)}
    evil = rows["evil@example.org"]
    assert evil["Full name"] == "'" + EVIL_NAME
    assert evil["Organisation (reported)"] == "'+1-555"
    assert evil["Organisation (as typed)"] == "'+1-555"
    assert evil["Job title"] == "'@SUM(A1)"
    dash = rows["dash@example.org"]
    assert dash["Full name"] == '\'-Dash, "Quoted"'
    assert dash["Job title"] == "'\tTabbed"
    assert dash["Organisation (as typed)"] == 'Ministry of "Digital", Baku'
    for row in rows.values():
        for value in row.values():
            assert not (isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)), value

    organisations = read(download(organiser, forum, "organisations", fmt), fmt)
    phone = next(r for r in organisations if r["Organisation"].endswith("1-555"))
    assert phone["Organisation"] == "'+1-555"
    assert number(phone["Registered"], fmt) == 1  # numbers stay numbers

    if fmt == "xlsx":
        cells = [
            cell
            for row in openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows()
            for cell in row
        ]
        assert not [c for c in cells if c.data_type == "f"]  # no formula anywhere
        assert any(c.value == "'" + EVIL_NAME and c.data_type == "s" for c in cells)


def test_csv_is_rfc_4180_with_a_byte_order_mark(organiser, forum):
    response = download(organiser, forum, "participants", "csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # said once
    assert response.data.startswith(BOM + b"Full name,Email,Country,")
    assert "Jean-Pierre Élong Mbassi".encode() in response.data
    lines = response.data[len(BOM) :].split(b"\r\n")
    assert lines[-1] == b"" and all(b"\n" not in line for line in lines)
    assert b'"\'-Dash, ""Quoted"""' in response.data  # a comma and quotes inside: quoted
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="forum-participants.csv"'
    )
    assert "no-store" in response.headers["Cache-Control"]


def test_xlsx_has_a_bold_frozen_header_and_says_what_it_holds(organiser, forum):
    args = {"country": "KZ"}
    response = download(organiser, forum, "participants", "xlsx", args)
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="forum-participants.xlsx"'
    )
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet, about = book.worksheets
    assert sheet.title == "Participants"
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "B2"  # the header row and the names stay in view
    assert 8 <= sheet.column_dimensions["A"].width <= 50
    assert sheet.auto_filter.ref.startswith("A1:")
    assert {row[0]: row[1] for row in about.iter_rows(values_only=True)}["Country"] == (
        "Kazakhstan"
    )

    sessions = openpyxl.load_workbook(
        io.BytesIO(download(organiser, forum, "sessions", "xlsx").data)
    ).worksheets[0]
    assert sessions.freeze_panes == "A2"
    rates = [c for c in sessions["K"][1:] if c.value is not None]
    assert rates and all(c.number_format == "0.0%" for c in rates)


def test_participant_list_is_one_query_whatever_the_crowd(organiser, forum):
    def queries_about_people() -> list[str]:
        seen = []

        def record(_connection, _cursor, statement, *_):
            if any(t in statement for t in ("participants", "registrations", "checkins")):
                seen.append(statement)

        sa_event.listen(db.engine, "before_cursor_execute", record)
        try:
            download(organiser, forum, "participants", "csv")
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", record)
        return seen

    assert len(queries_about_people()) == 1
    for i in range(12):
        someone = person(forum, f"Extra {i}", f"x{i}@example.org", "KZ", "ACSH", "Opening session")
        check_in(forum, someone, "Opening session", Channel.ONLINE)
    assert len(queries_about_people()) == 1


def test_scanners_are_refused_and_strangers_sent_to_sign_in(app, client, forum):
    url = f"/e/{forum.slug}/dashboard/export/participants.csv"
    response = client.get(url)
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]

    create_staff("door@example.org", Role.SCANNER, "correct horse battery", events=[forum])
    client.post(
        "/staff/login", data={"email": "door@example.org", "password": "correct horse battery"}
    )
    assert client.get(url).status_code == 403
    assert client.get(f"/e/{forum.slug}/dashboard/export/sessions.xlsx").status_code == 403


def test_unknown_dataset_format_or_event_is_not_found(organiser, forum):
    base = f"/e/{forum.slug}/dashboard/export"
    assert organiser.get(f"{base}/people.csv").status_code == 404
    assert organiser.get(f"{base}/participants.pdf").status_code == 404
    assert organiser.get(f"{base}/participants").status_code == 404
    assert organiser.get("/e/no-such-event/dashboard/export/participants.csv").status_code == 404
