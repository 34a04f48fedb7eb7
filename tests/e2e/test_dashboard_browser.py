"""The organisers' dashboard in a real browser against a real server: live figures, charts,
filters, phone width and print.

The demo forum's opening session is moved to now, so that its check-in is open. With
``REGAPP_SCREENSHOTS`` set, the tests save ``/tmp/shots/dashboard-*.png`` and a printed PDF
(``/tmp/shots/dashboard-print.pdf``, with its pages as PNGs) for a human to look at.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from regapp.checkin.services import Door, Scan, record_scan
from regapp.extensions import db
from regapp.models import Channel, Event
from regapp.registration.services import ParticipantDetails, register

from .conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOT_DIR,
    add_staff,
    new_context,
    sign_in,
    watch_for_errors,
)

pytestmark = pytest.mark.e2e

SLUG = "global-web-forum"
DASHBOARD = f"/e/{SLUG}/dashboard"
OPENING = "Opening session"
PANEL_1 = "Panel 1: Public service delivery during the pandemic"
ORGANISER = ("lead@example.org", "Lead Organiser", "organiser")
SCANNER = ("door@example.org", "Door Keeper", "scanner")
#: Seconds between the dashboard's polls in these tests (``?refresh=``; 10 by default).
REFRESH_S = 2

#: Countries and organisations of the crowd in ``busy_forum``: more organisations than the 30
#: rows a table shows before "Show all".
COUNTRIES = ["AZ", "KZ", "UZ", "KG", "TJ", "TM", "GE", "AM", "TR", "CN", "IN", "KR", "US", "DE"]
ORGANISATIONS = [
    "ASAN Service",
    "Astana Civil Service Hub",
    "UN DESA",
    "UNDP",
    "World Bank",
    "OECD",
    "Asian Development Bank",
    "Ministry of Digital Development",
    "E-Government Academy",
    "Turkish Red Crescent",
    *(f"Public Service Agency {n}" for n in range(1, 27)),
]


@dataclass(frozen=True)
class Forum:
    opening_id: int
    registered: int  # for the opening session
    code: str  # the access code of a participant registered for the opening session


def _move_opening_to_now(event: Event):
    opening = next(s for s in event.sessions if s.title == OPENING)
    now = datetime.now(UTC).replace(microsecond=0)
    opening.starts_at = now - timedelta(minutes=10)
    opening.ends_at = now + timedelta(minutes=80)
    db.session.commit()
    return opening


def _add_staff(event: Event) -> None:
    for email, name, role in (SCANNER, ORGANISER):
        add_staff(event, email, name, role)


def _person(event, n: int, sessions, category: str = "delegate"):
    details = ParticipantDetails(
        full_name=f"Participant {n:03}",
        email=f"participant{n:03}@example.org",
        country=COUNTRIES[n % len(COUNTRIES)],
        organisation=ORGANISATIONS[n % len(ORGANISATIONS)],
        job_title="Adviser",
        category=category,
    )
    return register(event, details, [s.id for s in sessions])


@pytest.fixture
def forum(live_server: str, make_app) -> Forum:
    """The demo forum with three people registered for its opening session, which runs now;
    nobody has checked in yet."""
    app = make_app()
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == SLUG))
        opening = _move_opening_to_now(event)
        panel = next(s for s in event.sessions if s.title == PANEL_1)
        people = [_person(event, n, [opening, panel]) for n in range(3)]
        _add_staff(event)
        db.session.commit()
        forum = Forum(opening.id, len(people), people[0].active_code.code)
        db.session.remove()
    return forum


@pytest.fixture
def busy_forum(live_server: str, make_app) -> Forum:
    """The demo forum an hour into its opening session: 72 people from 14 countries and 36
    organisations, most of them in the hall or online already, arriving over the last hour."""
    app = make_app()
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == SLUG))
        opening = _move_opening_to_now(event)
        others = [s for s in event.sessions if s.title != OPENING]
        categories = ["delegate"] * 6 + ["speaker", "media", "guest"]
        people = [
            _person(
                event,
                n,
                [opening, *others[n % 3 : n % 3 + 2 + n % 2]],
                categories[n % len(categories)],
            )
            for n in range(72)
        ]
        start = datetime.now(UTC) - timedelta(minutes=62)
        for n, person in enumerate(people[:58]):
            channel = Channel.ONLINE if n % 5 == 4 else Channel.IN_PERSON
            at = start + timedelta(minutes=60 * (n / 58) ** 0.6)  # more of them near the start
            scan = Scan(Door.of(opening), participant_id=person.id, channel=channel, gate="North")
            assert record_scan(scan, now=at).verdict == "ok"
        _add_staff(event)
        db.session.commit()
        forum = Forum(opening.id, len(people), people[-1].active_code.code)
        db.session.remove()
    return forum


# ------------------------------------------------------------------------------------ steps


def total(page: Page, name: str):
    return page.locator(f"#total-{name}")


def expect_charts_drawn(page: Page) -> None:
    assert page.evaluate("typeof window.Chart") == "function"
    for chart in ("countries-chart", "organisations-chart", "arrivals-chart"):
        canvas = page.locator(f"#{chart}")
        expect(canvas).to_be_visible()
        expect(canvas).to_have_attribute("role", "img")
        assert "table" in canvas.get_attribute("aria-label")
        drawn = page.evaluate(
            "id => { const c = Chart.getChart(document.getElementById(id));"
            " return c ? c.data.datasets.map(d => d.data.length) : null; }",
            chart,
        )
        assert drawn and all(n > 0 for n in drawn), (chart, drawn)


def shots_enabled() -> bool:
    return bool(os.environ.get("REGAPP_SCREENSHOTS"))


def shoot(page: Page, name: str) -> None:
    """With REGAPP_SCREENSHOTS set, the whole page at desktop and phone widths, as
    /tmp/shots/dashboard-<name>-desktop.png and -phone.png."""
    if not shots_enabled():
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(400)  # the charts follow their boxes' new widths
        page.screenshot(
            path=str(SCREENSHOT_DIR / f"dashboard-{name}-{label}.png"),
            full_page=True,
            animations="disabled",
        )
    page.set_viewport_size(DESKTOP)


# ------------------------------------------------------------------------------------ tests


def test_organiser_sees_the_numbers_move_while_a_scanner_checks_people_in(
    browser: Browser, live_server: str, forum: Forum
):
    organiser = new_context(browser, live_server)
    scanner = new_context(browser, live_server)
    try:
        page = organiser.new_page()
        errors = watch_for_errors(page)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/dashboard/data" in r.url else None)
        sign_in(page, ORGANISER[0])
        filtered = f"{DASHBOARD}?session={forum.opening_id}&refresh={REFRESH_S}"
        page.goto(filtered)
        expect(page.get_by_role("heading", level=1)).to_have_text("Attendance dashboard")
        expect(total(page, "registered")).to_have_text(str(forum.registered))
        expect(total(page, "checked-in")).to_have_text("0")
        expect(page.locator("#live-state")).to_have_text("Live")
        expect(page.locator("#updated-at")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        first_update = page.locator("#updated-at").inner_text()
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads

        # At the door, in another browser: the scanner signs in and checks one person in
        # through the API, with the CSRF token of the scanner page.
        door = scanner.new_page()
        sign_in(door, SCANNER[0])
        door.goto(f"/e/{SLUG}/checkin")
        token = door.locator('meta[name="csrf-token"]').get_attribute("content")
        response = scanner.request.post(
            "/api/v1/checkins",
            data={"code": forum.code, "session_id": forum.opening_id, "gate": "North door"},
            headers={"X-CSRFToken": token},
        )
        assert response.ok, response.text()
        assert response.json()["status"] == "ok"

        # The dashboard catches up by itself, without a reload, and keeps its filter.
        expect(total(page, "checked-in")).to_have_text("1", timeout=15_000)
        expect(total(page, "attendance-rate")).to_have_text(f"{round(100 / forum.registered)}%")
        expect(total(page, "in-person")).to_have_text("1")
        opening_row = page.locator("#sessions-body tr").first
        expect(opening_row.locator("td").nth(3)).to_have_text("1")
        expect(page.locator("#countries-body tr").first.locator("td").nth(1)).to_have_text("1")
        expect(page.locator("#arrivals-body tr")).to_have_count(1)
        assert page.evaluate("window.__sameDocument") is True
        assert page.url.endswith(filtered)
        expect(page.get_by_label("Session", exact=True)).to_have_value(str(forum.opening_id))
        expect(page.locator("#updated-at")).not_to_have_text(first_update)
        expect_charts_drawn(page)
        # Each panel in its own request, with the page's filter.
        panels = {"totals", "sessions", "countries", "organisations", "country-matrix"}
        panels |= {"organisation-matrix", "arrivals"}
        polled = {
            url.split("/dashboard/data/")[1].split("?")[0]
            for url in asked
            if f"session={forum.opening_id}" in url and "/dashboard/data/" in url
        }
        assert polled == panels
        assert errors == []
    finally:
        scanner.close()
        organiser.close()


def test_dashboard_draws_charts_filters_and_prints_a_clean_report(
    browser: Browser, live_server: str, busy_forum: Forum
):
    context = new_context(browser, live_server)
    try:
        page = context.new_page()
        errors = watch_for_errors(page)
        sign_in(page, ORGANISER[0])
        page.goto(DASHBOARD)
        expect(total(page, "registered")).to_have_text("72")
        expect(total(page, "checked-in")).to_have_text("58")
        expect(total(page, "countries")).to_have_text(str(len(COUNTRIES)))
        expect(total(page, "organisations")).to_have_text(str(len(ORGANISATIONS)))
        expect_charts_drawn(page)
        # Every chart shows the top 15; the tables show 30 rows, then "Show all".
        labels = page.evaluate(
            "Chart.getChart(document.getElementById('organisations-chart')).data.labels.length"
        )
        assert labels == 15
        expect(page.locator("#organisations-body tr")).to_have_count(30)
        more = page.locator("#organisations-more")
        expect(more.locator("summary")).to_have_text(f"Show all {len(ORGANISATIONS)} organisations")
        more.locator("summary").click()
        expect(page.locator("#organisations-more-body tr")).to_have_count(len(ORGANISATIONS) - 30)
        expect(page.locator("#organisation-matrix-more")).to_be_visible()
        # A phone shows it all without sideways scrolling of the page (wide tables scroll in
        # their own boxes).
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.set_viewport_size(DESKTOP)
        more.locator("summary").click()
        shoot(page, "all")

        # A filter chosen in the form narrows every panel and stays in the address.
        page.get_by_label("Country", exact=True).select_option(label="Kazakhstan")
        page.get_by_label("Category", exact=True).select_option(label="Delegate")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(r"country=KZ"))
        expect(page.locator("#active-filters")).to_contain_text("Country: Kazakhstan")
        expect(page.locator("#countries-body tr")).to_have_count(1)
        expect(page.locator("#countries-body tr th")).to_have_text("Kazakhstan")
        csv = page.get_by_role("link", name="Sessions as CSV")
        assert re.search(r"country=KZ", csv.get_attribute("href"))
        assert re.search(r"category=delegate", csv.get_attribute("href"))
        expect_charts_drawn(page)
        shoot(page, "filtered")

        page.get_by_role("link", name="Clear").click()
        page.wait_for_url(re.compile(r"/dashboard$"))
        expect(total(page, "registered")).to_have_text("72")

        # Printing the opening day leaves out the navigation, the filters and the buttons, and
        # says what the figures are: the event, the filters and the time.
        day = page.get_by_label("Day", exact=True)
        day.select_option(index=1)
        day_label = day.locator("option:checked").inner_text()
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(r"day=\d{4}-\d\d-\d\d"))
        expect_charts_drawn(page)
        page.emulate_media(media="print")
        for hidden in ("form.filters", ".site-header", "#exports", "#live", ".dash-links"):
            expect(page.locator(hidden)).to_be_hidden()
        expect(page.locator(".dash-event")).to_have_text(
            "Global Web Forum on Agile Government Response"
        )
        expect(page.locator("#active-filters")).to_contain_text(f"Day: {day_label}")
        expect(page.locator(".print-asof")).to_be_visible()
        expect(page.locator(".print-asof")).to_contain_text(re.compile(r"\d{4}, \d\d:\d\d:\d\d"))
        expect(page.locator("#organisations-print-note")).to_be_visible()
        if shots_enabled():
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            pdf = SCREENSHOT_DIR / "dashboard-print.pdf"
            page.pdf(path=str(pdf), format="A4", print_background=True)
            render_pdf(pdf)
        assert errors == []
    finally:
        context.close()


def render_pdf(pdf) -> None:
    """The PDF's pages as /tmp/shots/dashboard-print-<n>.png."""
    import pypdfium2

    for old in SCREENSHOT_DIR.glob("dashboard-print-*.png"):
        old.unlink()
    document = pypdfium2.PdfDocument(str(pdf))
    for number, pdf_page in enumerate(document, start=1):
        image = pdf_page.render(scale=1.4).to_pil()
        image.save(SCREENSHOT_DIR / f"dashboard-print-{number}.png")
    document.close()
