"""A participant's journey through the demo forum, in a real browser against a real server.

The forms are found the way a person (or a screen reader) finds them: by their visible labels.
"""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

EVENT_PATH = "/e/global-web-forum/"
OPENING = "Opening session"
PANEL_1 = "Panel 1: Public service delivery during the pandemic"
PANEL_2 = "Panel 2: Social innovations and smart solutions in pandemic control"
CODE_PATTERN = re.compile(r"^R1(-[0-9A-Z]{5}){6}$")

PARTICIPANT = {
    "Full name": "Amina Rahimova",
    "Email": "amina@example.org",
    "Country": "Azerbaijan",
    "Organisation": "ASAN Service",
    "Job title": "Head of Innovation",
}


def open_registration_form(page: Page) -> None:
    page.goto(EVENT_PATH)
    page.get_by_role("link", name="Register", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register")


def fill_details(page: Page, **overrides: str) -> None:
    for label, value in {**PARTICIPANT, **overrides}.items():
        page.get_by_label(label, exact=True).fill(value)


def submit_registration(page: Page) -> None:
    page.get_by_role("button", name="Register", exact=True).click()


def register(page: Page, sessions: list[str]) -> None:
    """Register through the form; ends on the confirmation page."""
    open_registration_form(page)
    fill_details(page)
    for title in sessions:
        page.get_by_label(title, exact=True).check()
    page.get_by_label("I agree to the privacy notice", exact=True).check()
    submit_registration(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")


def card(page: Page, heading: str) -> Locator:
    """The card (``<section>``) under a heading."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))


def my_sessions(page: Page) -> Locator:
    return card(page, "Your sessions").get_by_role("listitem")


def programme_item(page: Page, title: str) -> Locator:
    return page.locator(".programme-item").filter(has=page.get_by_text(title, exact=True))


def expect_sessions(page: Page, titles: list[str], status: str = "Confirmed") -> None:
    items = my_sessions(page)
    expect(items).to_have_count(len(titles))
    for item, title in zip(items.all(), titles, strict=True):
        expect(item).to_contain_text(title)
        expect(item).to_contain_text(status)


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_participant_registers_for_two_sessions_and_opens_manage_link(page: Page, screenshot):
    page.goto(EVENT_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Global Web Forum on Agile Government Response"
    )
    screenshot(page, "01-event")

    register(page, [OPENING, PANEL_1])
    assert re.search(r"/manage/[^/]+/confirmation$", page.url)
    expect(page.get_by_text("Thank you, Amina Rahimova.")).to_be_visible()
    expect_sessions(page, [OPENING, PANEL_1])

    code_text = card(page, "Your access code").get_by_text(CODE_PATTERN)
    expect(code_text).to_be_visible()
    shown_code = code_text.inner_text().strip()
    assert shown_code.startswith("R1-")

    qr = page.get_by_role("img", name="QR code of your access code")
    expect(qr).to_be_visible()
    natural_width = qr.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert natural_width > 0, "the QR image did not load"
    screenshot(page, "03-confirmation")

    # The QR as the browser draws it decodes to the code shown under it.
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
    assert [barcode.text for barcode in decoded] == [shown_code.replace("-", "")]
    assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode

    # The private link leads to the manage page with the same sessions and the same code.
    link = card(page, "Your private link").get_by_role("link")
    manage_url = link.inner_text().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/manage/[^/]+", manage_url)
    assert link.get_attribute("href") == manage_url
    link.click()
    page.wait_for_url(manage_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your registration")
    expect(page.get_by_text("Amina Rahimova · ASAN Service · Azerbaijan")).to_be_visible()
    expect_sessions(page, [OPENING, PANEL_1])
    expect(card(page, "Your access code").get_by_text(shown_code, exact=True)).to_be_visible()
    # The change-sessions form starts from what the participant holds.
    expect(page.get_by_label(OPENING, exact=True)).to_be_checked()
    expect(page.get_by_label(PANEL_1, exact=True)).to_be_checked()
    expect(page.get_by_label(PANEL_2, exact=True)).not_to_be_checked()
    screenshot(page, "04-manage")

    # The seats are taken on the public programme.
    page.goto(EVENT_PATH)
    expect(programme_item(page, OPENING)).to_contain_text("399 of 400 seats left")
    expect(programme_item(page, PANEL_1)).to_contain_text("299 of 300 seats left")
    expect(programme_item(page, PANEL_2)).to_contain_text("150 of 150 seats left")


def test_errors_show_next_to_fields_and_keep_values(page: Page, screenshot):
    open_registration_form(page)
    fill_details(page, Email="amina.example.org")
    page.get_by_label("I agree to the privacy notice", exact=True).check()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        submit_registration(page)
    assert posted.value.status == 422

    expect(page.get_by_role("alert").first).to_contain_text("Please check the form.")

    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(
        re.compile(r"Enter a valid email address, like name@example\.org\.")
    )
    email_field = page.locator(".field").filter(has=email)
    expect(email_field.locator(".error")).to_have_text(
        "⚠ Enter a valid email address, like name@example.org."
    )
    expect(email_field.locator(".error")).to_be_visible()

    sessions = page.get_by_role("group", name=re.compile(r"^Sessions"))
    expect(sessions).to_have_accessible_description("Choose at least one session.")
    expect(sessions.locator(".error")).to_have_text("⚠ Choose at least one session.")
    expect(sessions.locator(".error")).to_be_visible()

    # Everything typed is still there, including the wrong email to correct.
    for label, value in {**PARTICIPANT, "Email": "amina.example.org"}.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("I agree to the privacy notice", exact=True)).to_be_checked()
    screenshot(page, "02-register-errors")

    # Nothing was registered.
    page.goto(EVENT_PATH)
    expect(programme_item(page, OPENING)).to_contain_text("400 of 400 seats left")

    # Correcting the two mistakes registers.
    open_registration_form(page)
    fill_details(page)
    page.get_by_label(OPENING, exact=True).check()
    page.get_by_label("I agree to the privacy notice", exact=True).check()
    submit_registration(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")
    expect_sessions(page, [OPENING])


def test_manage_page_drop_a_session_and_cancel(page: Page):
    register(page, [OPENING, PANEL_1])
    card(page, "Your private link").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your registration")
    manage_url = page.url

    page.get_by_label(PANEL_1, exact=True).uncheck()
    page.get_by_role("button", name="Save my sessions").click()
    expect(page.get_by_role("status")).to_have_text("Your sessions have been updated.")
    assert page.url == manage_url
    expect_sessions(page, [OPENING])
    expect(page.get_by_label(PANEL_1, exact=True)).not_to_be_checked()

    page.get_by_role("link", name="Cancel my registration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel your registration?")
    page.get_by_role("button", name="Yes, cancel my registration").click()
    expect(page.get_by_role("heading", name="Registration cancelled")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your registration has been cancelled.")
    expect(my_sessions(page)).to_have_count(0)
    expect(page.get_by_role("img", name="QR code of your access code")).to_have_count(0)
    expect(page.get_by_role("button", name="Register again")).to_be_visible()

    # Both seats are free again.
    page.goto(EVENT_PATH)
    expect(programme_item(page, OPENING)).to_contain_text("400 of 400 seats left")
    expect(programme_item(page, PANEL_1)).to_contain_text("300 of 300 seats left")


def test_registration_form_fits_a_phone_screen(page: Page):
    page.set_viewport_size({"width": 390, "height": 844})
    open_registration_form(page)
    assert page.evaluate("window.innerWidth") == 390
    assert no_horizontal_scroll(page), "the registration form scrolls sideways on a phone"

    # Also with the error messages showing.
    fill_details(page, Email="not an email")
    submit_registration(page)
    expect(page.get_by_role("alert").first).to_contain_text("Please check the form.")
    assert no_horizontal_scroll(page), "the form with errors scrolls sideways on a phone"

    # The form's controls can be reached and used at this width.
    fill_details(page)
    page.get_by_label(OPENING, exact=True).check()
    page.get_by_label("I agree to the privacy notice", exact=True).check()
    submit_registration(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")
    assert no_horizontal_scroll(page), "the confirmation page scrolls sideways on a phone"


def aria_invalid(locator: Locator) -> bool:
    """Whether assistive technology is told the field is invalid: any aria-invalid value other
    than "false" (or empty) counts as invalid, as the ARIA specification says."""
    return locator.get_attribute("aria-invalid") not in (None, "", "false")


def test_only_fields_with_errors_are_announced_as_invalid(page: Page):
    open_registration_form(page)
    for label in PARTICIPANT:
        field = page.get_by_label(label, exact=True)
        assert not aria_invalid(field), f"{label!r} is invalid on a blank form"
        assert field.get_attribute("aria-describedby") != "None"

    fill_details(page, Email="amina.example.org")
    submit_registration(page)
    expect(page.get_by_role("alert").first).to_contain_text("Please check the form.")
    assert aria_invalid(page.get_by_label("Email", exact=True))
    for label in ("Full name", "Country", "Organisation", "Job title"):
        assert not aria_invalid(page.get_by_label(label, exact=True)), f"{label!r} has no error"


def test_a_field_with_an_error_has_a_red_border(page: Page):
    open_registration_form(page)
    fill_details(page, Email="amina.example.org")
    submit_registration(page)
    expect(page.get_by_role("alert").first).to_contain_text("Please check the form.")
    border = "e => [getComputedStyle(e).borderTopColor, getComputedStyle(e).borderTopWidth]"
    assert page.get_by_label("Email", exact=True).evaluate(border) == ["rgb(164, 22, 26)", "2px"]
    assert page.get_by_label("Full name", exact=True).evaluate(border) != [
        "rgb(164, 22, 26)",
        "2px",
    ]
