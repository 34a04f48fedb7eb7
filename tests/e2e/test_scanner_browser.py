"""Door staff check people in at the scanner page, in a real browser against a real server.

The demo forum's opening session is moved to now (check-in opens an hour before a session and
closes at its end), and a handful of participants are registered in every state a door meets:
confirmed, waitlisted, cancelled, holding a replaced code, or registered for another session only.
The camera test feeds Chromium a video of a participant's QR as its camera.

With ``REGAPP_SCREENSHOTS`` set, the tests save ``/tmp/shots/scanner-*.png`` to look at.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from regapp.extensions import db
from regapp.models import Event
from regapp.registration.services import (
    ParticipantDetails,
    cancel_participation,
    issue_new_code,
    register,
)
from regapp.tickets.codes import grouped, new_code
from regapp.tickets.qr import qr_png

from .conftest import (
    CHROMIUM_ARGS,
    PHONE,
    SCREENSHOT_DIR,
    STAFF_PASSWORD,
    TIMEOUT_MS,
    add_staff,
    sign_in,
)
from .fake_camera import qr_video

pytestmark = pytest.mark.e2e

SLUG = "global-web-forum"
SCANNER_PATH = f"/e/{SLUG}/checkin"
OPENING = "Opening session"
PANEL_1 = "Panel 1: Public service delivery during the pandemic"
GATE = "North door"
DESKTOP = {"width": 1280, "height": 800}
SCANNER = ("door@example.org", "Door Keeper", "scanner")
ORGANISER = ("lead@example.org", "Lead Organiser", "organiser")


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    code: str  # the active access code, as the QR carries it
    old_code: str = ""  # a replaced (revoked) code, for one of them


@dataclass(frozen=True)
class Forum:
    """The demo forum with its opening session running now, and the people at its door."""

    amina: Person  # confirmed for the opening session (and Panel 1)
    bakhyt: Person  # confirmed for the opening session
    chen: Person  # confirmed for the opening session
    dana: Person  # registered for Panel 1 only
    farid: Person  # on the opening session's waitlist
    gulnara: Person  # cancelled
    hasan: Person  # confirmed, but asked for a new code: ``old_code`` is revoked
    registered: int  # confirmed registrations for the opening session


def _details(name: str, organisation: str, country: str) -> ParticipantDetails:
    email = name.split()[0].lower() + "@example.org"
    return ParticipantDetails(name, email, country, organisation, "Adviser", "delegate")


@pytest.fixture
def forum(live_server: str, make_app) -> Forum:
    app = make_app()
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == SLUG))
        sessions = {s.title: s for s in event.sessions}
        opening, panel_1 = sessions[OPENING], sessions[PANEL_1]

        def person(name, organisation, country, *held):
            return register(event, _details(name, organisation, country), [s.id for s in held])

        amina = person("Amina Rahimova", "ASAN Service", "AZ", opening, panel_1)
        bakhyt = person("Bakhyt Nurlanov", "Astana Civil Service Hub", "KZ", opening)
        chen = person("Chen Wei", "UN DESA", "CN", opening)
        dana = person("Dana Ospanova", "Ministry of Digital Development", "KZ", panel_1)
        gulnara = person("Gulnara Aliyeva", "UNDP", "AZ", opening)
        hasan = person("Hasan Demir", "Turkish Red Crescent", "TR", opening)
        everyone = (amina, bakhyt, chen, dana, gulnara, hasan)
        people = {p.full_name.split()[0].lower(): p for p in everyone}
        codes = {key: p.active_code.code for key, p in people.items()}
        issue_new_code(hasan)
        cancel_participation(gulnara)
        # A full opening session puts the next registrant on its waitlist.
        seats = opening.capacity
        opening.capacity = 4
        db.session.commit()
        people["farid"] = person("Farid Mammadov", "World Bank", "AZ", opening)
        opening.capacity = seats
        # The opening session runs now: its check-in is open.
        now = datetime.now(UTC).replace(microsecond=0)
        opening.starts_at = now - timedelta(minutes=10)
        opening.ends_at = now + timedelta(minutes=80)
        for email, name, role in (SCANNER, ORGANISER):
            add_staff(event, email, name, role)
        db.session.commit()
        found = {
            key: Person(p.id, p.full_name, p.active_code.code if p.active_code else "")
            for key, p in people.items()
        }
        found["gulnara"] = Person(gulnara.id, gulnara.full_name, codes["gulnara"])
        found["hasan"] = Person(hasan.id, hasan.full_name, hasan.active_code.code, codes["hasan"])
        db.session.remove()
    return Forum(**found, registered=4)


# ------------------------------------------------------------------------------------------ steps


def shot(page: Page, name: str, full_page: bool = False) -> None:
    """With REGAPP_SCREENSHOTS set, save the page as it is now as /tmp/shots/scanner-<name>-
    <desktop|phone>.png (the viewport's width decides which)."""
    if not os.environ.get("REGAPP_SCREENSHOTS"):
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    size = "phone" if page.viewport_size["width"] < 700 else "desktop"
    page.screenshot(
        path=str(SCREENSHOT_DIR / f"scanner-{name}-{size}.png"),
        full_page=full_page,
        animations="disabled",
    )


#: Notes the frequency of every tone the page's WebAudio oscillators start, in ``window.tones``.
RECORD_TONES = """
window.tones = [];
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  const oscillator = createOscillator.call(this);
  const start = oscillator.start.bind(oscillator);
  oscillator.start = (when) => { window.tones.push(oscillator.frequency.value); start(when); };
  return oscillator;
};
"""


def tones(page: Page) -> list[float]:
    """The tones played since the last call."""
    return page.evaluate("window.tones.splice(0)")


def open_scanner(page: Page, gate: str | None = GATE) -> None:
    page.goto(SCANNER_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("Check-in")
    choose_session(page, OPENING)
    if gate is not None:
        page.get_by_label("Gate", exact=True).fill(gate)


def choose_session(page: Page, title: str) -> None:
    select = page.get_by_label("Session", exact=True)
    value = select.locator("option", has_text=title).get_attribute("value")
    select.select_option(value)


def enter_code(page: Page, code: str) -> None:
    field = page.get_by_label("Code", exact=True)
    field.fill(code)
    field.press("Enter")


def verdict(page: Page) -> Locator:
    return page.locator("#verdict")


def expect_verdict(page: Page, status: str, *texts: str) -> Locator:
    shown = verdict(page)
    expect(shown).to_be_visible()
    expect(shown).to_have_attribute("data-status", status)
    for text in texts:
        expect(shown).to_contain_text(text)
    return shown


def dismiss(page: Page) -> None:
    page.keyboard.press("Escape")
    expect(verdict(page)).to_be_hidden()


def counter(page: Page) -> Locator:
    return page.locator("#counter .counter-value")


def recent(page: Page) -> Locator:
    return page.locator("#recent > li")


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def desk(page: Page) -> Page:
    page.set_viewport_size(DESKTOP)
    return page


# ------------------------------------------------------------------------------------------ tests


def test_typed_code_checks_in_once_then_says_already_checked_in(desk: Page, forum: Forum):
    page = desk
    page.add_init_script(RECORD_TONES)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, SCANNER[0])
    open_scanner(page)
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")
    shot(page, "idle", full_page=True)

    # A keyboard-wedge scanner types the code and Enter; people type it in groups.
    enter_code(page, grouped(forum.amina.code))
    shown = expect_verdict(
        page, "ok", "✓", "Checked in", "Amina Rahimova", "ASAN Service", "Azerbaijan"
    )
    expect(page.locator("#announcer")).to_contain_text("Checked in")
    expect(page.locator("#announcer")).to_contain_text("Amina Rahimova")
    expect(counter(page)).to_have_text(f"1 / {forum.registered}")
    assert tones(page) == [1320]  # one high beep
    shot(page, "ok")
    # The verdict goes by itself, and "Code" is ready for the next person.
    expect(shown).to_be_hidden(timeout=5000)
    expect(page.get_by_label("Code", exact=True)).to_be_focused()

    enter_code(page, forum.amina.code)
    shown = expect_verdict(page, "already_checked_in", "⚠", f"gate {GATE}")
    expect(shown.locator("#verdict-title")).to_have_text(
        re.compile(r"^Already checked in at \d\d:\d\d, gate North door$")
    )
    expect(counter(page)).to_have_text(f"1 / {forum.registered}")
    assert tones(page) == [587]  # one longer, lower tone
    shot(page, "already")
    dismiss(page)
    expect(page.get_by_label("Code", exact=True)).to_be_focused()

    items = recent(page)
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Amina Rahimova")
    expect(items.nth(0)).to_contain_text("Already checked in")
    expect(items.nth(1)).to_contain_text("Checked in")
    # Nothing broke the Content-Security-Policy (no inline script or style) or threw.
    assert errors == []

    # The session and the gate survive a reload of the page.
    page.reload()
    expect(page.get_by_label("Gate", exact=True)).to_have_value(GATE)
    selected = page.get_by_label("Session", exact=True).locator("option:checked")
    expect(selected).to_contain_text(OPENING)
    expect(recent(page)).to_have_count(2)


@pytest.fixture
def camera_browser(
    browser: Browser, chromium_path: str, tmp_path: Path, forum: Forum
) -> Iterator[Browser]:
    """A second Chromium whose camera films Bakhyt's ticket (a Y4M video of his QR)."""
    video = qr_video(tmp_path / "bakhyt-qr.y4m", qr_png(forum.bakhyt.code))
    camera = browser.browser_type.launch(
        executable_path=chromium_path,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    yield camera
    camera.close()


def test_camera_checks_in_a_qr_once_however_long_it_is_held_up(
    camera_browser: Browser, live_server: str, forum: Forum
):
    context = camera_browser.new_context(base_url=live_server, viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sent: list[str] = []
    page.on(
        "request",
        lambda r: (
            sent.append(r.post_data or "")
            if r.method == "POST" and r.url.endswith("/api/v1/checkins")
            else None
        ),
    )
    try:
        sign_in(page, SCANNER[0])
        # The browser lets this page use the camera (as after a first "Allow"), so it starts by
        # itself; the gate is not named yet, so the code it sees waits for that.
        open_scanner(page, gate=None)
        expect(page.get_by_role("button", name="Stop camera")).to_be_visible()
        expect(page.locator("#gate-error")).to_be_visible()
        assert sent == []
        page.get_by_label("Gate", exact=True).fill(GATE)

        # The QR in front of the camera checks Bakhyt in by itself.
        expect_verdict(page, "ok", "Checked in", "Bakhyt Nurlanov", "Kazakhstan")
        expect(counter(page)).to_have_text(f"1 / {forum.registered}")
        shot(page, "camera-ok")

        # He keeps it there: the camera sees the same code dozens of times, and sends it once.
        time.sleep(6)
        assert len(sent) == 1, sent
        assert forum.bakhyt.code in sent[0]
        expect(recent(page)).to_have_count(1)
        expect(verdict(page)).to_be_hidden()
        shot(page, "camera-running", full_page=True)

        # A reload starts the camera again by itself, and the same code now finds him checked
        # in already.
        page.reload()
        expect(page.get_by_role("button", name="Stop camera")).to_be_visible()
        expect_verdict(page, "already_checked_in", "Already checked in at", GATE)
        assert len(sent) == 2
        expect(recent(page)).to_have_count(2)
        expect(counter(page)).to_have_text(f"1 / {forum.registered}")
        dismiss(page)

        # Switched off by hand, it stays off after a reload, until someone starts it.
        page.get_by_role("button", name="Stop camera").click()
        expect(page.locator("#camera-status")).to_have_text("The camera is off.")
        page.reload()
        page.wait_for_timeout(1500)
        expect(page.get_by_role("button", name="Start camera")).to_be_visible()
        assert len(sent) == 2
        page.get_by_role("button", name="Start camera").click()
        expect(page.get_by_role("button", name="Stop camera")).to_be_visible()
        expect_verdict(page, "already_checked_in", "Bakhyt Nurlanov")
        assert len(sent) == 3
    finally:
        context.close()


def test_search_by_name_then_check_in_from_the_result(desk: Page, forum: Forum):
    page = desk
    sign_in(page, SCANNER[0])
    open_scanner(page)
    page.get_by_label("Search by name, email or organisation", exact=True).fill("chen")
    results = page.locator("#search-results > li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Chen Wei")
    expect(results.first).to_contain_text("UN DESA · China")
    expect(results.first).to_contain_text("Confirmed")
    expect(page.locator("#search-status")).to_have_text("1 person found.")
    shot(page, "search", full_page=True)

    results.first.get_by_role("button", name="Check in").click()
    expect_verdict(page, "ok", "Checked in", "Chen Wei", "UN DESA")
    expect(counter(page)).to_have_text(f"1 / {forum.registered}")
    # The search is cleared for the next person, and the next code can be scanned at once.
    expect(page.get_by_label("Search by name, email or organisation", exact=True)).to_have_value("")
    expect(results).to_have_count(0)
    expect(page.get_by_label("Code", exact=True)).to_be_focused()

    # Found again, he shows as checked in.
    dismiss(page)
    page.get_by_label("Search by name, email or organisation", exact=True).fill("UN DESA")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("✓ Checked in")

    # Someone registered for another session only is shown as such, and refused.
    page.get_by_label("Search by name, email or organisation", exact=True).fill("Ospanova")
    expect(results.first).to_contain_text("Not registered for this session")
    expect(results.first.get_by_role("button", name="Register and check in")).to_have_count(0)
    results.first.get_by_role("button", name="Check in").click()
    expect_verdict(page, "not_registered", "✕", "Dana Ospanova", PANEL_1)


def test_undo_after_ok_puts_the_counter_back(desk: Page, forum: Forum):
    page = desk
    sign_in(page, SCANNER[0])
    open_scanner(page)
    enter_code(page, forum.amina.code)
    shown = expect_verdict(page, "ok", "Amina Rahimova")
    expect(counter(page)).to_have_text(f"1 / {forum.registered}")

    shown.get_by_role("button", name="Undo").click()
    expect_verdict(page, "annulled", "↶", "Check-in undone", "Amina Rahimova")
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")
    shot(page, "undone")
    dismiss(page)
    expect(recent(page).first).to_contain_text("Undone")
    expect(recent(page).first.get_by_role("button", name="Undo")).to_have_count(0)

    # She comes in after all; this time the undo is from the list of recent scans.
    enter_code(page, forum.amina.code)
    expect_verdict(page, "ok", "Amina Rahimova")
    expect(counter(page)).to_have_text(f"1 / {forum.registered}")
    dismiss(page)
    expect(recent(page)).to_have_count(2)
    recent(page).first.get_by_role("button", name="Undo").click()
    expect_verdict(page, "annulled", "Check-in undone")
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_refusal_is_red_with_a_cross_and_says_why(page: Page, forum: Forum, viewport):
    page.set_viewport_size(viewport)
    page.add_init_script(RECORD_TONES)
    sign_in(page, SCANNER[0])
    open_scanner(page)
    refusals = [
        (
            "not_registered",
            forum.dana.code,
            ["Not registered for this session", "Dana Ospanova", PANEL_1],
        ),
        ("waitlisted", forum.farid.code, ["On the waitlist", "Farid Mammadov"]),
        ("cancelled", forum.gulnara.code, ["Registration cancelled", "Gulnara Aliyeva"]),
        ("revoked_code", forum.hasan.old_code, ["Old code", "Hasan Demir"]),
        ("unknown_code", new_code(), ["Unknown code"]),
        ("invalid", "hello world", []),
    ]
    red = "rgb(179, 20, 27)"
    for status, code, texts in refusals:
        enter_code(page, code)
        shown = verdict(page)
        expect(shown).to_be_visible()
        if status == "invalid":  # not a code of ours at all: said by the server, still red
            expect(shown).to_have_attribute("data-status", re.compile("invalid|unknown_code"))
        else:
            expect_verdict(page, status, "✕", *texts)
        expect(shown.locator("#verdict-symbol")).to_have_text("✕")
        assert shown.evaluate("e => getComputedStyle(e).backgroundColor") == red
        assert tones(page) == [220, 220]  # two low beeps
        shot(page, f"refused-{status}")
        dismiss(page)

    # Check-in for a session that is not running now is not open.
    choose_session(page, PANEL_1)
    enter_code(page, forum.dana.code)
    expect_verdict(page, "outside_window", "✕", "Check-in is not open", "Dana Ospanova")
    shot(page, "refused-outside_window")
    dismiss(page)
    expect(recent(page)).to_have_count(len(refusals) + 1)
    shot(page, "recent", full_page=True)
    expect(counter(page)).to_have_text("0 / 2")  # Panel 1: Amina and Dana


def test_phone_has_no_sideways_scroll_and_the_verdict_fills_the_screen(page: Page, forum: Forum):
    page.set_viewport_size(PHONE)
    sign_in(page, SCANNER[0])
    open_scanner(page)
    assert page.evaluate("window.innerWidth") == PHONE["width"]
    assert no_horizontal_scroll(page), "the scanner page scrolls sideways on a phone"
    shot(page, "idle", full_page=True)

    search = page.get_by_label("Search by name, email or organisation", exact=True)
    search.fill("a")
    expect(page.locator("#search-status")).to_have_text("At least 2 characters.")
    search.fill("ministry of digital")
    expect(page.locator("#search-results > li")).to_have_count(1)
    assert no_horizontal_scroll(page), "search results scroll sideways on a phone"

    enter_code(page, forum.amina.code)
    shown = expect_verdict(page, "ok", "Amina Rahimova")
    shown.evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")
    box = shown.bounding_box()
    assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}
    # The touch targets are big enough for a thumb.
    for name in ("Undo",):
        target = shown.get_by_role("button", name=name).bounding_box()
        assert target["height"] >= 44 and target["width"] >= 44
    shot(page, "ok")
    # A tap anywhere dismisses it.
    page.mouse.click(20, 20)
    expect(shown).to_be_hidden()
    assert no_horizontal_scroll(page), "the page with recent scans scrolls sideways on a phone"
    for button in page.locator("main button").all():
        if button.is_visible():
            height = button.bounding_box()["height"]
            assert height >= 44, f"{button.inner_text()!r} is only {height}px high"


def test_no_connection_and_expired_sign_in_are_said_plainly(desk: Page, forum: Forum):
    page = desk
    sign_in(page, SCANNER[0])
    open_scanner(page)

    page.route("**/api/v1/checkins", lambda route: route.abort("internetdisconnected"))
    enter_code(page, forum.amina.code)
    expect_verdict(page, "network", "No connection: scan again", "Nothing was recorded")
    shot(page, "no-connection")
    dismiss(page)
    page.unroute("**/api/v1/checkins")

    page.route("**/api/v1/checkins", lambda route: route.fulfill(status=503, body="busy"))
    enter_code(page, forum.amina.code)
    expect_verdict(page, "network", "No connection: scan again")
    dismiss(page)
    page.unroute("**/api/v1/checkins")
    expect(recent(page)).to_have_count(0)
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")

    # Signed out elsewhere (the cookie is gone): the next scan says so and links to sign in.
    page.context.clear_cookies()
    enter_code(page, forum.amina.code)
    shown = expect_verdict(page, "unauthenticated", "Your session has expired: sign in again")
    shot(page, "signed-out")
    page.wait_for_timeout(5500)
    expect(shown).to_be_visible()  # it stays until someone acts on it
    shown.get_by_role("link", name="Sign in again").click()
    page.wait_for_url(re.compile(r"/staff/login"))
    page.get_by_label("Email", exact=True).fill(SCANNER[0])
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(SCANNER_PATH) + "$"))
    enter_code(page, forum.amina.code)
    expect_verdict(page, "ok", "Amina Rahimova")


def set_capacity(make_app, title: str, capacity: int) -> None:
    with make_app().app_context():
        event = db.session.scalar(select(Event).where(Event.slug == SLUG))
        next(s for s in event.sessions if s.title == title).capacity = capacity
        db.session.commit()
        db.session.remove()


def test_organiser_registers_and_checks_in_a_walk_in(desk: Page, forum: Forum, make_app):
    page = desk
    sign_in(page, ORGANISER[0])
    open_scanner(page)
    enter_code(page, forum.dana.code)
    shown = expect_verdict(page, "not_registered", "Dana Ospanova", PANEL_1)
    shot(page, "walk-in-offer")

    # While the session is full, the walk-in is refused and nothing changes.
    set_capacity(make_app, OPENING, forum.registered)
    shown.get_by_role("button", name="Register and check in").click()
    expect_verdict(page, "no_seat", "✕", "No seats left")
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")
    dismiss(page)

    set_capacity(make_app, OPENING, 400)
    enter_code(page, forum.dana.code)
    shown = expect_verdict(page, "not_registered", "Dana Ospanova")
    shown.get_by_role("button", name="Register and check in").click()
    expect_verdict(page, "ok", "Checked in", "Dana Ospanova")
    expect(counter(page)).to_have_text(f"1 / {forum.registered + 1}")
    dismiss(page)

    # From a search too, for someone not registered for this session.
    search = page.get_by_label("Search by name, email or organisation", exact=True)
    search.fill("Farid")
    result = page.locator("#search-results > li").first
    expect(result).to_contain_text("Waitlisted")
    expect(result.get_by_role("button", name="Register and check in")).to_have_count(0)


def test_counter_follows_check_ins_at_other_doors(
    browser: Browser, desk: Page, forum: Forum, live_server: str
):
    page = desk
    page.clock.install()  # time flows as usual, and can be moved on
    sign_in(page, SCANNER[0])
    open_scanner(page)
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")

    other = browser.new_context(base_url=live_server, viewport=DESKTOP)
    try:
        door = other.new_page()
        door.set_default_timeout(TIMEOUT_MS)
        sign_in(door, SCANNER[0])
        open_scanner(door, gate="South door")
        enter_code(door, forum.chen.code)
        expect_verdict(door, "ok", "Chen Wei")
    finally:
        other.close()

    # The counter asks the server every 10 seconds.
    expect(counter(page)).to_have_text(f"0 / {forum.registered}")
    page.clock.fast_forward(11_000)
    expect(counter(page)).to_have_text(f"1 / {forum.registered}")

    # And a scan here of someone let in there says where.
    enter_code(page, forum.chen.code)
    expect_verdict(page, "already_checked_in", "gate South door", "Chen Wei")


def test_keyboard_only_and_sign_out(desk: Page, forum: Forum):
    page = desk
    sign_in(page, SCANNER[0])
    page.goto(SCANNER_PATH)
    # With no gate named yet, the gate field asks for it first.
    gate = page.get_by_label("Gate", exact=True)
    expect(gate).to_be_focused()
    choose_session(page, OPENING)
    enter_code(page, forum.amina.code)
    expect(page.locator("#gate-error")).to_be_visible()
    expect(page.locator("#gate-error")).to_have_text("⚠ Name your door or gate first.")
    expect(gate).to_be_focused()
    expect(verdict(page)).to_be_hidden()
    gate.fill(GATE)
    gate.press("Enter")  # on to the code
    expect(page.get_by_label("Code", exact=True)).to_be_focused()
    page.keyboard.type(forum.amina.code)
    page.keyboard.press("Enter")
    expect_verdict(page, "ok", "Amina Rahimova")
    # Tab goes to the verdict's own button, Enter presses it.
    page.keyboard.press("Tab")
    expect(verdict(page).get_by_role("button", name="Undo")).to_be_focused()
    page.keyboard.press("Enter")
    expect_verdict(page, "annulled", "Check-in undone")
    page.keyboard.press("Escape")
    expect(verdict(page)).to_be_hidden()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/staff/login"))
    page.goto(SCANNER_PATH)
    page.wait_for_url(re.compile(r"/staff/login"))
