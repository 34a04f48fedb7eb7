"""An organiser sets up next year's forum from an empty installation, in Chromium: creates the
event, adds its sessions, reorders two parallel panels with the keyboard, and changes a
capacity (refused below the confirmed seats, then raised, which seats the waitlist); an admin
gives a colleague scanner access and makes a device token that works for the check-in API
until revoked; the audit log shows it all; archiving takes the event off the public list.

With ``REGAPP_SCREENSHOTS`` set, every page is saved as /tmp/shots/admin-*-desktop.png and
-phone.png for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from regapp.auth.services import create_staff
from regapp.extensions import db
from regapp.models import Event, Registration, Role
from regapp.registration.services import ParticipantDetails, register

from .conftest import STAFF_PASSWORD, new_context, serving, sign_in, watch_for_errors

pytestmark = pytest.mark.e2e

ORGANISER = ("lead@example.org", "Lead Organiser")
ADMIN = ("ada@example.org", "Ada Admin")
SLUG = "global-web-forum-2027"
BAKU = ZoneInfo("Asia/Baku")


@pytest.fixture
def empty_installation(make_app) -> Iterator[tuple[str, object]]:
    """No event at all: just an organiser and an admin, served over real HTTP with CSRF on."""
    app = make_app(SERVER_NAME=None, WTF_CSRF_ENABLED=True)
    with app.app_context():
        create_staff(ORGANISER[0], Role.ORGANISER, STAFF_PASSWORD, ORGANISER[1])
        create_staff(ADMIN[0], Role.ADMIN, STAFF_PASSWORD, ADMIN[1])
    with serving(app) as base_url:
        yield base_url, app


def browse(browser: Browser, base_url: str) -> tuple[BrowserContext, Page, list[str]]:
    """A new browser profile's page, and the errors it logs (a form with mistakes is answered
    422 on purpose, which Chromium logs as an error)."""
    context = new_context(browser, base_url)
    page = context.new_page()
    return context, page, watch_for_errors(page)


def notice(page: Page):
    return page.locator(".notice").first


def add_session(page: Page, title: str, kind: str, day: str, starts: str, ends: str, **extra):
    form = page.locator("#add form")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Kind").select_option(kind)
    form.get_by_label("Day").fill(day)
    form.get_by_label("Starts").fill(starts)
    form.get_by_label("Ends").fill(ends)
    for label, value in extra.items():
        form.get_by_label(label.replace("_", " ").capitalize(), exact=True).fill(value)
    form.get_by_role("button", name="Add the session").click()
    expect(notice(page)).to_contain_text(f"“{title}” is added.")


def session_titles(page: Page) -> list[str]:
    return page.locator(".admin-session .session-title").all_inner_texts()


def test_organiser_sets_up_next_years_forum_and_an_admin_gives_a_colleague_access(
    browser: Browser, empty_installation, screenshot: Callable[[Page, str], None]
):
    base_url, app = empty_installation
    first_day = datetime.now(BAKU).date() + timedelta(days=30)
    day = first_day.isoformat()

    # ---- the organiser, on an empty installation
    lead_context, lead, lead_errors = browse(browser, base_url)
    sign_in(lead, ORGANISER[0])
    expect(lead.get_by_text("No current events.")).to_be_visible()
    screenshot(lead, "admin-home-empty")
    lead.get_by_role("link", name="New event").first.click()
    expect(lead.get_by_role("heading", name="New event")).to_be_visible()

    lead.get_by_label("Name").fill("Global Web Forum 2027")
    lead.get_by_label("Address").fill("Global Web Forum 2027")
    lead.get_by_label("Time zone").select_option("Asia/Baku")
    lead.get_by_label("Venue").fill("Baku, and online")
    lead.get_by_label("Organiser").fill("State Agency for Public Service and Social Innovations")
    lead.get_by_label("Description").fill("The second forum: six sessions over two days.")
    opens = datetime.now(BAKU) - timedelta(days=1)
    lead.get_by_label("Registration opens").fill(opens.strftime("%Y-%m-%dT%H:%M"))
    lead.get_by_label("Registration closes").fill(f"{day}T09:00")
    lead.get_by_label("Privacy notice").fill("The Agency keeps your data for this forum only.")
    lead.get_by_label("Keep personal data for (days)").fill("365")
    lead.get_by_role("button", name="Create the event").click()

    # a bad address is explained next to the field, and in the summary that links to it
    summary = lead.locator("#error-summary")
    expect(summary).to_contain_text("Use lowercase letters, digits and single hyphens")
    screenshot(lead, "admin-event-new-error")
    summary.get_by_role("link", name="Address").click()
    expect(lead.get_by_label("Address")).to_be_focused()
    lead.get_by_label("Address").fill(SLUG)
    lead.get_by_role("button", name="Create the event").click()

    expect(lead).to_have_url(re.compile(rf"/e/{SLUG}/admin/sessions(#.*)?$"))
    expect(notice(lead)).to_contain_text("“Global Web Forum 2027” is created.")
    screenshot(lead, "admin-sessions-empty")

    # ---- sessions: two parallel panels at noon
    add_session(lead, "Opening session", "opening", day, "10:00", "11:30", Capacity="2")
    add_session(lead, "Panel A: Public services", "panel", day, "12:00", "13:30", Room="Hall A")
    add_session(lead, "Panel B: Digital government", "panel", day, "12:00", "13:30", Room="Hall B")
    add_session(lead, "Closing session", "closing", day, "15:00", "16:00")
    assert session_titles(lead) == [
        "Opening session",
        "Panel A: Public services",
        "Panel B: Digital government",
        "Closing session",
    ]
    # only the parallel panels can be reordered; with the keyboard, no dragging
    assert lead.get_by_role("button", name="Move up").count() == 1
    panel_b = lead.locator(".admin-session", has_text="Panel B: Digital government")
    move_up = panel_b.get_by_role("button", name="Move up")
    move_up.focus()
    lead.keyboard.press("Enter")
    expect(notice(lead)).to_contain_text("“Panel B: Digital government” moved up.")
    assert session_titles(lead)[1:3] == ["Panel B: Digital government", "Panel A: Public services"]
    screenshot(lead, "admin-sessions")

    # ---- three people register for the opening (two seats): the third waits
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == SLUG))
        opening = event.sessions[0]
        assert opening.title == "Opening session"
        assert opening.starts_at == datetime.fromisoformat(f"{day}T10:00").replace(
            tzinfo=BAKU
        ).astimezone(UTC)
        for n in range(3):
            details = ParticipantDetails(f"Person {n}", f"p{n}@example.org", "AZ", "", "", "guest")
            register(event, details, [opening.id])
        opening_id = opening.id

    # ---- capacity: refused below the confirmed seats, then raised
    lead.get_by_role("link", name="Opening session", exact=True).click()
    expect(lead.get_by_role("heading", name="Opening session")).to_be_visible()
    expect(lead.locator("main")).to_contain_text("2 confirmed of 2 seats · 1 on the waitlist")
    lead.get_by_label("Capacity").fill("1")
    lead.get_by_role("button", name="Save the session").click()
    expect(lead.locator("#error-summary")).to_contain_text(
        "2 people hold confirmed seats in “Opening session”, so the capacity cannot go below 2."
    )
    expect(lead.get_by_label("Capacity")).to_have_attribute("aria-invalid", "true")
    screenshot(lead, "admin-session-capacity-refused")
    lead.get_by_label("Capacity").fill("3")
    lead.get_by_role("button", name="Save the session").click()
    expect(notice(lead)).to_contain_text(
        "1 person moved from the waitlist to a seat and is being emailed."
    )
    expect(lead.locator(f"#session-{opening_id}")).to_contain_text("3 confirmed of 3 seats")
    with app.app_context():
        statuses = db.session.scalars(
            select(Registration.status).where(Registration.session_id == opening_id)
        ).all()
        assert statuses == ["confirmed"] * 3

    # a session people hold cannot be removed; closing its registration is offered instead
    lead.get_by_role("link", name="Opening session", exact=True).click()
    expect(lead.locator(".danger-zone")).to_contain_text("Close its registration instead.")
    screenshot(lead, "admin-session-edit")

    # ---- settings and the privacy notice behind the consent box
    lead.get_by_role("link", name="Settings").click()
    expect(lead.get_by_label("Time zone")).to_have_value("Asia/Baku")
    screenshot(lead, "admin-event-settings")
    lead.goto(f"/e/{SLUG}/register")
    with lead.context.expect_page() as opened:  # the notice opens beside the form
        lead.get_by_role("link", name="read the privacy notice").click()
    privacy = opened.value
    expect(privacy.locator("main")).to_contain_text(
        "The Agency keeps your data for this forum only."
    )
    privacy.close()

    # ---- the admin gives a colleague scanner access to the new event
    admin_context, admin, admin_errors = browse(browser, base_url)
    sign_in(admin, ADMIN[0])
    screenshot(admin, "admin-home")
    admin.get_by_role("link", name="Staff", exact=True).click()
    admin.get_by_role("link", name="Add a staff member").click()
    admin.get_by_label("Name").fill("Sam Scanner")
    admin.get_by_label("Email").fill("sam@example.org")
    admin.get_by_label("Role").select_option("scanner")
    admin.get_by_label("Global Web Forum 2027").check()
    screenshot(admin, "admin-staff-new")
    admin.get_by_role("button", name="Add the account").click()
    expect(admin.get_by_role("heading", name="Sam Scanner can sign in")).to_be_visible()
    password = admin.locator("#new-password").inner_text().strip()
    assert len(password) >= 16
    screenshot(admin, "admin-staff-password")
    admin.get_by_role("link", name="All staff").click()
    expect(admin.locator("table")).to_contain_text("Sam Scanner")
    screenshot(admin, "admin-staff-list")
    admin.get_by_role("link", name="Sam Scanner").click()
    expect(admin.get_by_label("Global Web Forum 2027")).to_be_checked()
    expect(admin.get_by_role("button", name="Disable the account")).to_be_visible()
    screenshot(admin, "admin-staff-edit")

    sam_context, sam, sam_errors = browse(browser, base_url)
    sign_in(sam, "sam@example.org", password)
    expect(sam.get_by_role("heading", name="Global Web Forum 2027")).to_be_visible()
    sam.get_by_role("link", name="Open the scanner").click()
    expect(sam.get_by_role("heading", name="Check-in")).to_be_visible()
    assert sam.request.get(f"/e/{SLUG}/admin/").status == 403
    sam_context.close()

    # ---- and a token for the door phone, shown once; it works until revoked
    admin.goto(f"/e/{SLUG}/admin/devices")
    admin.get_by_label("Device name").fill("Door 1 phone")
    admin.get_by_role("button", name="Create a token").click()
    token = admin.locator("#device-token").inner_text().strip()
    screenshot(admin, "admin-device-token")
    phone = browser.new_context(base_url=base_url).request
    counts = f"/api/v1/sessions/{opening_id}/counts"
    bearer = {"Authorization": f"Bearer {token}"}
    assert phone.get(counts, headers=bearer).json() == {"checked_in": 0, "registered": 3}
    admin.get_by_role("link", name="Done: back to the devices").click()
    row = admin.locator("tr", has_text="Door 1 phone")
    expect(row).to_contain_text("Ada Admin")
    expect(row).to_contain_text("Valid")
    assert token not in admin.content()
    screenshot(admin, "admin-devices")
    row.get_by_role("button", name="Revoke").click()
    expect(notice(admin)).to_contain_text("The token of “Door 1 phone” is revoked")
    assert phone.get(counts, headers=bearer).status == 401
    phone.dispose()

    # ---- the audit log tells who did what
    admin.goto("/staff/audit")
    expect(admin.locator("table")).to_contain_text("staff.create")
    screenshot(admin, "admin-audit-installation")
    lead.goto(f"/e/{SLUG}/admin/audit")
    for action in ("event.create", "session.move", "session.update", "device.revoke"):
        expect(lead.locator("table")).to_contain_text(action)
    lead.get_by_label("Action").select_option("session.update")
    lead.get_by_role("button", name="Show").click()
    expect(lead.locator("tbody tr")).to_have_count(1)
    expect(lead.locator("tbody")).to_contain_text("promoted registrations")
    screenshot(lead, "admin-audit-event")

    # ---- after the forum: archived, off the public list, still there for staff
    lead.get_by_role("link", name="Settings").click()
    lead.get_by_role("button", name="Archive the event").click()
    expect(notice(lead)).to_contain_text("is archived")
    screenshot(lead, "admin-event-archived")
    lead.goto("/")
    expect(lead.locator("main")).not_to_contain_text("Global Web Forum 2027")
    lead.goto("/staff/events")
    expect(lead.locator("table")).to_contain_text("Archived")
    screenshot(lead, "admin-events")

    expected = "the server responded with a status of 422"
    for errors in (lead_errors, admin_errors, sam_errors):
        assert [e for e in errors if expected not in e] == []
    assert len(lead_errors) == 2  # the bad address, the capacity below the confirmed seats
    lead_context.close()
    admin_context.close()
