"""Organisers at work on participants in a real browser against a real server: find someone,
change their sessions, print badges (the downloaded PDF's QR codes decode to the access codes),
and erase someone's personal data.

With ``REGAPP_SCREENSHOTS`` set, the tests save ``/tmp/shots/participants-*.png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from regapp.extensions import db
from regapp.models import Event, Participant, RegistrationStatus
from regapp.registration.services import ParticipantDetails, register
from tests.test_tickets import read_pdf

from .conftest import add_staff, sign_in, watch_for_errors

pytestmark = pytest.mark.e2e

SLUG = "global-web-forum"
LIST = f"/e/{SLUG}/admin/participants"
OPENING = "Opening session"
PANEL_2 = "Panel 2: Social innovations and smart solutions in pandemic control"
ORGANISER = "lead@example.org"


@dataclass(frozen=True)
class Forum:
    amina_id: int
    amina_code: str
    panel_2_id: int
    people: int


@pytest.fixture
def forum(live_server: str, make_app) -> Forum:
    """The demo forum with 60 registered people (Amina Rahimova among them, for the opening
    session only) and an organiser."""
    app = make_app()
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == SLUG))
        opening = next(s for s in event.sessions if s.title == OPENING)
        panel_2 = next(s for s in event.sessions if s.title == PANEL_2)
        countries = ["AZ", "KZ", "UZ", "GE", "TR", "DE"]
        for n in range(59):
            details = ParticipantDetails(
                f"Participant {n:02}",
                f"p{n:02}@example.org",
                countries[n % len(countries)],
                "Astana Civil Service Hub" if n % 2 else "UNDP",
                "Adviser",
                "delegate",
            )
            register(event, details, [opening.id] + ([panel_2.id] if n % 3 == 0 else []))
        amina = register(
            event,
            ParticipantDetails(
                "Amina Rahimova", "amina@asan.gov.az", "AZ", "ASAN Service", "Director", "speaker"
            ),
            [opening.id],
        )
        add_staff(event, ORGANISER, "Lead Organiser", "organiser")
        db.session.commit()
        forum = Forum(amina.id, amina.active_code.code, panel_2.id, 60)
        db.session.remove()
    return forum


def download_pdf(page: Page, button_name: str, tmp_path: Path) -> bytes:
    with page.expect_download() as download:
        page.get_by_role("button", name=button_name).click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == f"badges-{SLUG}.pdf"
    return path.read_bytes()


def sessions_of(participant_id: int, make_app) -> dict[str, str]:
    app = make_app()
    with app.app_context():
        participant = db.session.get(Participant, participant_id)
        found = {r.session.title: r.status for r in participant.registrations}
        db.session.remove()
    return found


def test_organiser_finds_someone_changes_their_sessions_and_prints_their_badge(
    page: Page, forum: Forum, make_app, screenshot, tmp_path
):
    errors = watch_for_errors(page)
    sign_in(page, ORGANISER)
    page.goto(LIST)
    expect(page.get_by_role("heading", name="Participants", exact=True)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="of 60 participants")).to_be_visible()
    screenshot(page, "participants-list")

    # Find her: type in the search box and press Enter, as with the keyboard alone.
    search = page.get_by_label("Search")
    search.fill("amina asan")
    search.press("Enter")
    page.wait_for_url(re.compile(r"q=amina\+asan"))
    rows = page.locator("table.participant-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("amina@asan.gov.az")
    page.get_by_role("link", name="Amina Rahimova").click()
    page.wait_for_url(re.compile(rf"/admin/participants/{forum.amina_id}$"))
    expect(page.get_by_role("heading", name="Amina Rahimova", level=1)).to_be_visible()

    # Add Panel 2 to her sessions.
    page.get_by_text("Change sessions").click()
    page.get_by_label(PANEL_2).check()
    page.get_by_role("button", name="Save sessions").click()
    expect(page.get_by_role("status").filter(has_text="Sessions saved")).to_be_visible()
    sessions = page.locator("#sessions table")
    expect(sessions).to_contain_text(PANEL_2)
    expect(sessions.locator("tr", has_text=PANEL_2)).to_contain_text("Confirmed")
    assert sessions_of(forum.amina_id, make_app) == {
        OPENING: RegistrationStatus.CONFIRMED,
        PANEL_2: RegistrationStatus.CONFIRMED,
    }
    screenshot(page, "participants-detail")

    # Back to the list: everyone in Panel 2, and her badge.
    page.get_by_role("link", name="All participants").click()
    page.get_by_label("Session").select_option(str(forum.panel_2_id))
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status").filter(has_text="of 21 participants")).to_be_visible()
    page.get_by_label("Badge for Amina Rahimova").check()
    pdf = download_pdf(page, "Print badges for the ticked", tmp_path)
    codes, text, _ = read_pdf(pdf)
    assert codes == [forum.amina_code]
    assert "Amina Rahimova" in text and "ASAN Service" in text and "Azerbaijan" in text
    assert errors == []


def test_one_box_ticks_the_whole_page_and_all_matching_prints_every_badge(
    page: Page, forum: Forum, screenshot, tmp_path
):
    errors = watch_for_errors(page)
    sign_in(page, ORGANISER)
    page.goto(f"{LIST}?country=AZ")
    boxes = page.locator('input[name="ids"]')
    expect(boxes).to_have_count(11)
    page.get_by_label("Tick everyone on this page").check()
    for i in range(11):
        expect(boxes.nth(i)).to_be_checked()
    boxes.nth(0).uncheck()
    assert page.get_by_label("Tick everyone on this page").evaluate("b => b.indeterminate")
    codes, _, _ = read_pdf(download_pdf(page, "Print badges for the ticked", tmp_path))
    assert len(codes) == 10

    codes, _, _ = read_pdf(download_pdf(page, "Print badges for all 11 matching", tmp_path))
    assert len(codes) == 11 and forum.amina_code in codes
    # Nothing ticked: a message, and still the same page with its filter.
    everyone = page.get_by_label("Tick everyone on this page")
    everyone.check()  # from "some" to all ...
    everyone.uncheck()  # ... and to none
    expect(page.locator('input[name="ids"]:checked')).to_have_count(0)
    page.get_by_role("button", name="Print badges for the ticked").click()
    expect(page.get_by_role("status").filter(has_text="Tick the participants")).to_be_visible()
    assert "country=AZ" in page.url
    screenshot(page, "participants-badge-message")
    assert errors == []


def test_organiser_erases_someone_after_a_confirm_step(
    page: Page, forum: Forum, make_app, screenshot
):
    errors = watch_for_errors(page)
    app = make_app()
    with app.app_context():
        manage_token = db.session.get(Participant, forum.amina_id).manage_token
        db.session.remove()
    sign_in(page, ORGANISER)
    page.goto(f"{LIST}/{forum.amina_id}")
    page.get_by_role("link", name="Erase personal data…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Erase Amina Rahimova's personal data?"
    )
    expect(page.get_by_text("Kept, so the counts do not change")).to_be_visible()
    screenshot(page, "participants-erase")
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.get_by_role("status").filter(has_text="Personal data erased")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Erased participant")
    expect(page.get_by_role("button", name="Save details")).to_have_count(0)
    screenshot(page, "participants-erased")
    assert errors == []

    # Her old private link now leads to a page saying why (a 404).
    response = page.goto(f"/manage/{manage_token}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Link not found")
