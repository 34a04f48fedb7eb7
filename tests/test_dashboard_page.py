"""The organisers' dashboard page: its figures, tables, filters and links, as the server renders
them (the browser test, tests/e2e/test_dashboard_browser.py, watches them move live)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from regapp.auth.services import create_staff
from regapp.checkin.services import Door, Scan, record_scan
from regapp.extensions import db
from regapp.models import Channel, Event, Role
from regapp.registration.services import ParticipantDetails, register
from regapp.reports import services

NOW = datetime.now(UTC).replace(microsecond=0)
#: The start of a 5-minute slot of the arrivals chart, 15 to 20 minutes ago.
SLOT = NOW.replace(second=0, minute=NOW.minute // 5 * 5) - timedelta(minutes=15)
PASSWORD = "correct horse battery"
DASHBOARD = "/e/forum/dashboard"

# ------------------------------------------------------------------------------ a tiny DOM

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None = None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join("".join(parts).split()) if self.parent is None else "".join(parts)

    def clean(self) -> str:
        """The text a sighted reader sees: visually-hidden parts left out, spaces squeezed."""
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif "visually-hidden" not in (child.attrs.get("class") or "").split():
                parts.append(child.clean())
        return " ".join("".join(parts).split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Node:
        found = self.find_all(id=element_id)
        assert len(found) == 1, f"expected one #{element_id}, found {len(found)}"
        return found[0]

    def rows(self, tbody_id: str) -> list[list[str]]:
        return [
            [cell.clean() for cell in tr.children if isinstance(cell, Node)]
            for tr in self.by_id(tbody_id).find_all("tr")
        ]


class Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    parser = Parser()
    parser.feed(html)
    return parser.root


def selected(page: Node, name: str) -> str:
    select = page.find_all("select", name=name)[0]
    chosen = [o for o in select.find_all("option") if "selected" in o.attrs]
    return chosen[0].attrs["value"] if chosen else ""


# ------------------------------------------------------------------------------- the forum


@pytest.fixture
def forum(app, make_event):
    """The opening session runs now (its check-in is open), a panel tomorrow with no limit on
    seats, and a workshop running now with one seat."""
    event = make_event(
        {
            "title": "Opening session",
            "starts_at": NOW - timedelta(minutes=10),
            "ends_at": NOW + timedelta(minutes=80),
            "capacity": 100,
            "stream_url": "https://stream.example.org/opening",
        },
        {
            "title": "Panel 1: Public service delivery",
            "starts_at": NOW + timedelta(days=1),
            "ends_at": NOW + timedelta(days=1, hours=1),
            "capacity": None,
        },
        {
            "title": "Workshop",
            "starts_at": NOW - timedelta(minutes=5),
            "ends_at": NOW + timedelta(minutes=60),
            "capacity": 1,
        },
    )
    opening, panel, workshop = (
        next(s for s in event.sessions if s.title.startswith(title))
        for title in ("Opening", "Panel 1", "Workshop")
    )

    def person(name, country, organisation, category, *sessions):
        email = name.split()[0].lower() + "@example.org"
        details = ParticipantDetails(name, email, country, organisation, "Adviser", category)
        return register(event, details, [s.id for s in sessions])

    amina = person("Amina Rahimova", "AZ", "ASAN Service", "delegate", opening, panel)
    bakhyt = person("Bakhyt Nurlanov", "KZ", "Astana Civil Service Hub", "speaker", opening)
    chen = person("Chen Wei", "CN", "UN DESA", "delegate", opening)
    dana = person("Dana Ospanova", "KZ", "Astana Civil Service Hub", "delegate", panel, workshop)
    person("Farid Mammadov", "AZ", "World Bank", "delegate", workshop)  # waitlisted
    for who, session, channel, at in (
        (amina, opening, Channel.IN_PERSON, SLOT + timedelta(minutes=1)),
        (bakhyt, opening, Channel.IN_PERSON, SLOT + timedelta(minutes=2)),
        (chen, opening, Channel.ONLINE, SLOT + timedelta(minutes=4)),
        (dana, workshop, Channel.IN_PERSON, SLOT + timedelta(minutes=6)),
    ):
        scan = Scan(Door.of(session), participant_id=who.id, channel=channel)
        result = record_scan(scan, now=at)
        assert result.verdict == "ok", result.entry.message
    return event


def sign_in(client, role: Role) -> None:
    email = f"{role.value}@example.org"
    create_staff(email, role, PASSWORD, events=db.session.scalars(select(Event)).all())
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303


@pytest.fixture
def organiser(client, forum):
    sign_in(client, Role.ORGANISER)
    return client


def open_dashboard(client, query: str = "") -> Node:
    response = client.get(DASHBOARD + query)
    assert response.status_code == 200, response.text
    return parse(response.text)


# ----------------------------------------------------------------------------------- tests


def test_organiser_sees_the_forums_totals_as_big_figures(organiser, forum):
    page = open_dashboard(organiser)
    # Farid is only on a waitlist: no seat, so not counted as registered.
    assert page.by_id("total-registered").clean() == "4"
    assert page.by_id("total-checked-in").clean() == "4"  # Chen online, the others in person
    assert page.by_id("total-attendance-rate").clean() == "100%"
    assert page.by_id("total-countries").clean() == "3"
    assert page.by_id("total-organisations").clean() == "3"
    assert page.by_id("total-in-person").clean() == "3"
    assert page.by_id("total-online").clean() == "1"
    assert page.find_all("h1")[0].clean() == "Attendance dashboard"
    assert "Test Forum" in page.by_id("dashboard").text


def test_sessions_table_shows_capacity_waitlist_channels_no_shows_and_rate(organiser, forum):
    rows = open_dashboard(organiser).rows("sessions-body")
    # In the order they run.
    assert [r[0].split(" ")[0] for r in rows] == ["Opening", "Workshop", "Panel"]
    #     capacity, confirmed, waitlisted, checked in, in person, online, no-shows, rate
    assert rows[0][1:] == ["100", "3", "0", "3", "2", "1", "0", "100%"]
    assert rows[1][1:] == ["1", "1", "1", "1", "1", "0", "0", "100%"]
    assert rows[2][1:] == ["unlimited", "2", "0", "0", "0", "0", "2", "0%"]


def test_country_and_organisation_tables_and_matrices(organiser, forum):
    page = open_dashboard(organiser)
    # Farid (World Bank, Azerbaijan) only waits for a seat: not counted as registered.
    assert page.rows("countries-body") == [
        ["Kazakhstan", "2", "2", "100%"],
        ["Azerbaijan", "1", "1", "100%"],
        ["China", "1", "1", "100%"],
    ]
    assert page.rows("organisations-body") == [
        ["Astana Civil Service Hub", "2", "2", "100%"],
        ["ASAN Service", "1", "1", "100%"],
        ["UN DESA", "1", "1", "100%"],
    ]
    # Columns are the sessions, cells "checked in / registered", "–" where nobody registered.
    head = page.by_id("country-matrix-head").find_all("th")
    assert [th.clean() for th in head] == ["Country", "Opening session", "Workshop", "Panel 1"]
    assert head[3].text == "Panel 1: Public service delivery"  # in full for screen readers
    assert page.rows("country-matrix-body") == [
        ["Kazakhstan", "1 / 1", "1 / 1", "0 / 1"],
        ["Azerbaijan", "1 / 1", "–", "0 / 1"],
        ["China", "1 / 1", "–", "–"],
    ]
    assert page.rows("organisation-matrix-body")[0] == [
        "Astana Civil Service Hub",
        "1 / 1",
        "1 / 1",
        "0 / 1",
    ]
    # Fewer than 30 rows: no "Show all".
    assert "hidden" in page.by_id("countries-more").attrs
    assert "hidden" in page.by_id("organisation-matrix-more").attrs


def test_charts_have_accessible_names_and_the_page_carries_its_data_as_json(organiser, forum):
    page = open_dashboard(organiser)
    for chart in ("countries-chart", "organisations-chart", "arrivals-chart"):
        canvas = page.by_id(chart)
        assert canvas.tag == "canvas" and canvas.attrs["role"] == "img"
        assert "table" in canvas.attrs["aria-label"]
    # Three arrivals in one 5-minute slot (two in the hall, one online), one in the next; the
    # times are the event's (Baku, UTC+4).
    slot = SLOT.astimezone(forum.zone)
    assert page.rows("arrivals-body") == [
        [f"{slot:%d %b %H:%M}", "2", "1", "3"],
        [f"{slot + timedelta(minutes=5):%d %b %H:%M}", "1", "0", "1"],
    ]
    embedded = json.loads(page.by_id("dashboard-data").text)
    live = organiser.get(DASHBOARD + "/data").get_json()
    for when in ("as_of", "as_of_label"):  # counted a moment apart
        embedded.pop(when), live.pop(when)
    assert embedded == live
    assert embedded["totals"]["checked_in"] == 4


def test_filters_keep_their_values_and_narrow_every_panel(organiser, forum):
    kazakhstan_delegates = "?country=KZ&category=delegate"
    page = open_dashboard(organiser, kazakhstan_delegates)
    assert selected(page, "country") == "KZ"
    assert selected(page, "category") == "delegate"
    assert selected(page, "day") == selected(page, "session") == ""
    assert "Country: Kazakhstan" in page.by_id("active-filters").clean()
    assert "Category: Delegate" in page.by_id("active-filters").clean()
    # Dana only: Bakhyt is a speaker.
    assert page.by_id("total-registered").clean() == "1"
    assert page.by_id("total-checked-in").clean() == "1"
    assert page.rows("countries-body") == [["Kazakhstan", "1", "1", "100%"]]
    # The live updates ask for the same filters.
    data_url = urlsplit(page.by_id("dashboard").attrs["data-url"])
    assert data_url.path == DASHBOARD + "/data"
    assert parse_qs(data_url.query) == {"country": ["KZ"], "category": ["delegate"]}

    opening = forum.sessions[0]
    page = open_dashboard(organiser, f"?session={opening.id}&organisation=UN+DESA")
    assert selected(page, "session") == str(opening.id)
    assert selected(page, "organisation") == "UN DESA"
    rows = page.rows("sessions-body")
    assert len(rows) == 1 and rows[0][0].startswith("Opening session ")
    assert page.by_id("total-online").clean() == "1"
    head = page.by_id("organisation-matrix-head").find_all("th")
    assert [th.clean() for th in head] == ["Organisation", "Opening session"]


def test_a_filter_value_not_in_the_menus_stays_selected(organiser, forum):
    page = open_dashboard(organiser, "?organisation=Nobody+Ltd&country=fr")
    assert selected(page, "organisation") == "Nobody Ltd"
    assert selected(page, "country") == "FR"
    assert page.by_id("total-registered").clean() == "0"
    assert page.by_id("total-attendance-rate").clean() == "–"
    assert page.rows("countries-body") == [["No registrations match these filters."]]


def test_export_links_carry_the_filter(organiser, forum):
    page = open_dashboard(organiser, "?country=KZ&day=" + forum.sessions[0].local_day().isoformat())
    links = {
        a.attrs["href"]
        for a in page.by_id("exports").find_all("a")
        if "/dashboard/export/" in a.attrs.get("href", "")
    }
    datasets = ("participants", "sessions", "countries", "organisations")
    assert {urlsplit(href).path for href in links} == {
        f"{DASHBOARD}/export/{dataset}.{fmt}" for dataset in datasets for fmt in ("csv", "xlsx")
    }
    for href in links:
        assert parse_qs(urlsplit(href).query) == {
            "country": ["KZ"],
            "day": [forum.sessions[0].local_day().isoformat()],
        }
    # Each link says which dataset it is, for a screen reader's list of links.
    names = {a.text for a in page.by_id("exports").find_all("a")}
    assert "By country as CSV" in names and "Sessions as XLSX" in names
    # And the file is the filtered one: Kazakhstan only.
    countries_csv = next(h for h in links if "/countries.csv" in h)
    response = organiser.get(countries_csv)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "Kazakhstan" in response.text and "Azerbaijan" not in response.text


def test_links_to_merge_organisation_spellings(organiser, forum):
    page = open_dashboard(organiser)
    merge = [a for a in page.find_all("a") if a.clean() == "Merge organisation spellings"]
    assert merge and merge[0].attrs["href"] == "/e/forum/organisations"
    assert organiser.get(merge[0].attrs["href"]).status_code == 200


def test_page_needs_no_inline_script_or_style(organiser, forum):
    html = organiser.get(DASHBOARD).text
    page = parse(html)
    assert "style=" not in html
    for script in page.find_all("script"):
        assert script.attrs.get("src") or script.attrs.get("type") == "application/json"
    sources = [s.attrs.get("src") for s in page.find_all("script")]
    assert "/static/vendor/chart-4.6.1.umd.js" in sources
    assert organiser.get("/static/vendor/chart-4.6.1.umd.js").status_code == 200


def test_an_event_without_registrations_shows_zeros(client, make_event):
    make_event()
    sign_in(client, Role.ORGANISER)
    page = open_dashboard(client)
    assert page.by_id("total-registered").clean() == "0"
    assert page.by_id("total-attendance-rate").clean() == "–"
    assert page.rows("arrivals-body") == [["No check-ins yet."]]
    assert "hidden" not in page.by_id("countries-chart-empty").attrs


def test_scanner_is_refused(client, forum):
    sign_in(client, Role.SCANNER)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(DASHBOARD + "/data").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, forum):
    for path in (DASHBOARD, DASHBOARD + "/data"):
        response = client.get(path)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/staff/login"


def test_a_long_organisation_list_says_the_export_has_the_rest(organiser, forum, monkeypatch):
    monkeypatch.setattr(services, "TOP_ORGANISATIONS", 2)
    services.forget_answers()  # counted with the usual top before
    page = open_dashboard(organiser)
    assert len(page.rows("organisations-body")) == 2
    summary = page.by_id("organisations-more-summary").clean()
    assert summary == "Show the top 2 of 3 organisations"
    assert "3 organisations printed" in page.by_id("organisations-print-note").clean()
    embedded = json.loads(page.by_id("dashboard-data").text)
    assert embedded["organisations"]["count"] == 3
    assert len(embedded["organisation-matrix"]["rows"]) == 2
