"""An organiser imports invitees from a CSV file in a real browser: the upload, the preview with
its bad rows, the import with its progress bar (surviving a reload), and the final summary.

With ``REGAPP_SCREENSHOTS`` set, the test saves ``/tmp/shots/import-*.png``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from regapp.extensions import db
from regapp.imports import services
from regapp.models import AuditEntry, Event, Participant

from .conftest import TIMEOUT_MS, add_staff, sign_in, watch_for_errors

pytestmark = pytest.mark.e2e

SLUG = "global-web-forum"
IMPORT = f"/e/{SLUG}/admin/import"
ORGANISER = "lead@example.org"
OPENING = "Opening session"
PANEL_3 = "Panel 3: Accessible digital government for everyone"
INVITEES = 240
#: Lines (in the file) of the rows that are wrong, and why.
BAD = {
    12: ("Narnia", "unknown country “Narnia”"),
    57: ("not-an-email", "email is not a valid address"),
    101: ("Panel 9", "unknown session “Panel 9”"),
}


def invitees_csv() -> bytes:
    lines = ["Full name;E-mail;Country;Organization;Job title;Category;Sessions"]
    for i in range(INVITEES):
        line = i + 2
        name, email, country = f"Invitee {i}", f"invitee{i}@example.org", "Kazakhstan"
        sessions = f"{OPENING}; {PANEL_3}" if i % 2 else OPENING
        value, _ = BAD.get(line, ("", ""))
        if value == "Narnia":
            country = value
        elif value == "not-an-email":
            email = value
        elif value:
            sessions = value
        lines.append(f'{name};{email};{country};Ministry {i % 7};Adviser;delegate;"{sessions}"')
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


@pytest.fixture
def organiser(live_server: str, app, page: Page, monkeypatch) -> Page:
    # Small batches, so that the progress bar moves through several steps.
    monkeypatch.setattr(services, "BATCH_ROWS", 20)
    event = db.session.scalar(select(Event).where(Event.slug == SLUG))
    add_staff(event, ORGANISER, "Lead Organiser", "organiser")
    db.session.commit()
    sign_in(page, ORGANISER)
    return page


def test_organiser_previews_a_file_with_bad_rows_and_imports_it_with_progress(
    organiser: Page, screenshot
):
    page = organiser
    errors = watch_for_errors(page)
    page.goto(IMPORT)
    expect(page.get_by_role("heading", name="Import participants")).to_be_visible()
    expect(page.get_by_text("several in one cell separated by a semicolon")).to_be_visible()
    screenshot(page, "import-upload")

    # A workbook instead of a CSV file is refused, and says what to do.
    page.get_by_label("CSV file").set_input_files(
        {"name": "invitees.xlsx", "mimeType": "application/octet-stream", "buffer": b"PK\x03\x04xx"}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("alert")).to_contain_text("CSV UTF-8")
    screenshot(page, "import-refused")
    errors.clear()  # the browser logs the refusal's 422 status as an error

    page.get_by_label("CSV file").set_input_files(
        {"name": "invitees.csv", "mimeType": "text/csv", "buffer": invitees_csv()}
    )
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url(re.compile(r"/admin/import/\d+$"))
    expect(page.locator("#plan-created")).to_have_text(str(INVITEES - len(BAD)))
    expect(page.locator("#plan-errors")).to_have_text(str(len(BAD)))
    problems = page.locator("#problems tbody tr")
    expect(problems).to_have_count(len(BAD))
    for row, (line, (_, reason)) in zip(problems.all(), sorted(BAD.items()), strict=True):
        expect(row.locator("th")).to_have_text(str(line))
        expect(row.locator("td")).to_contain_text(reason)
    expect(page.get_by_label(re.compile("Email each new participant"))).not_to_be_checked()
    screenshot(page, "import-preview")
    assert db.session.scalar(select(func.count()).select_from(Participant)) == 0

    page.get_by_role("button", name="Import").click()
    progress = page.get_by_role("progressbar")
    expect(progress).to_be_visible()
    # Part-way through, a reload finds the import where it was and carries on.
    expect(page.locator("#progress-text")).to_have_text(
        re.compile(rf"^([1-9]\d*) of {INVITEES - len(BAD)} rows imported"), timeout=TIMEOUT_MS
    )
    screenshot(page, "import-running")
    page.reload()
    expect(page.get_by_role("heading", name=re.compile("^Imported invitees.csv"))).to_be_visible(
        timeout=60_000
    )
    expect(page.locator("#progress-text")).to_have_text(
        f"Done: all {INVITEES - len(BAD)} rows imported."
    )
    expect(progress).to_have_attribute("value", str(INVITEES - len(BAD)))
    expect(page.locator("#count-created")).to_have_text(str(INVITEES - len(BAD)))
    expect(page.locator("#count-errors")).to_have_text(str(len(BAD)))
    expect(page.get_by_text("Nobody was emailed.")).to_be_visible()
    screenshot(page, "import-done")
    assert errors == []

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Participant)) == INVITEES - len(BAD)
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "participants.import")
    ).one()
    assert entry.details["created"] == INVITEES - len(BAD)

    # The same file again: nothing to create or update.
    page.goto(IMPORT)
    page.get_by_label("CSV file").set_input_files(
        {"name": "invitees.csv", "mimeType": "text/csv", "buffer": invitees_csv()}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#plan-unchanged")).to_have_text(str(INVITEES - len(BAD)))
    expect(page.locator("#plan-created")).to_have_text("0")
    expect(page.locator("#plan-updated")).to_have_text("0")


def test_upload_page_reads_well_on_a_phone(organiser: Page, screenshot):
    page = organiser
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(IMPORT)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    expect(page.get_by_role("link", name="Download the template (CSV)")).to_be_visible()
