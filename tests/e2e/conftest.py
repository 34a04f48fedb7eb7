"""Browser tests: the demo forum served by a real HTTP server, driven by headless Chromium.

Chromium is found through ``REGAPP_CHROMIUM`` or at ``/usr/bin/chromium`` (Debian's package);
Playwright's own browser downloads are never used. Without a browser the tests are skipped on a
developer machine and fail on CI (``CI`` set), so that CI cannot go green without running them.

With ``REGAPP_SCREENSHOTS`` set, the tests save full-page screenshots at desktop and phone widths
into ``/tmp/shots/`` for a human to look at. A failing test leaves a screenshot of its page in
``test-artifacts/`` (gitignored).

The steps every module needs live here too: serving an app, a browser context, staff accounts and
signing them in, and watching a page for errors.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import make_server

from regapp.extensions import db
from regapp.models import Event, StaffUser

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOT_DIR = Path("/tmp/shots")
ARTIFACT_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
#: Playwright's wait for an element or a navigation; a local server answers far sooner.
TIMEOUT_MS = 10_000
#: The password of the staff accounts that the tests make.
STAFF_PASSWORD = "correct horse battery staple"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so that ``page`` can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    configured = os.environ.get("REGAPP_CHROMIUM")
    candidate = configured or DEFAULT_CHROMIUM
    path = shutil.which(candidate)
    if path:
        return path
    where = f"REGAPP_CHROMIUM={configured!r}" if configured else DEFAULT_CHROMIUM
    message = f"Chromium not found ({where}), so the browser tests cannot run."
    if os.environ.get("CI"):
        pytest.fail(f"{message} CI must run them: install chromium or set REGAPP_CHROMIUM.")
    pytest.skip(
        f"{message} To enable them: apt-get install chromium, "
        "or set REGAPP_CHROMIUM to a Chromium binary."
    )


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(make_app) -> Iterator[str]:
    """The demo forum on ``http://127.0.0.1:<random port>``, on the test database.

    CSRF protection stays on: the browser submits the real forms with their tokens. SERVER_NAME is
    unset so that requests to 127.0.0.1 route (the test default, ``regapp.test``, would 404 them).
    The tables are emptied afterwards by ``make_app``.
    """
    app = make_app(SERVER_NAME=None, WTF_CSRF_ENABLED=True)
    with app.app_context():
        from regapp.demo import load_demo

        load_demo()
    with serving(app) as base_url:
        yield base_url


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` served over real HTTP on ``http://127.0.0.1:<random port>`` while in the block."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="regapp-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def new_context(browser: Browser, base_url: str, viewport=DESKTOP) -> BrowserContext:
    """A fresh browser profile (no cookies) on the server, in English."""
    context = browser.new_context(base_url=base_url, viewport=viewport, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser: Browser, live_server: str, request) -> Iterator[Page]:
    context = new_context(browser, live_server)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACT_DIR.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACT_DIR / f"{name}.png"), full_page=True)
        except Exception as error:  # a screenshot must not hide the test's own failure
            print(f"could not save a failure screenshot: {error}")
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """``screenshot(page, name)``: with REGAPP_SCREENSHOTS set, save the page as it is now at
    desktop and phone widths, as ``/tmp/shots/<name>-desktop.png`` and ``<name>-phone.png``."""
    enabled = bool(os.environ.get("REGAPP_SCREENSHOTS"))

    def take(page: Page, name: str) -> None:
        if not enabled:
            return
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        original = page.viewport_size
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SCREENSHOT_DIR / f"{name}-{label}.png"), full_page=True)
        if original:
            page.set_viewport_size(original)

    return take


def add_staff(event: Event, email: str, name: str, role: str) -> StaffUser:
    """A staff account working on ``event``, with :data:`STAFF_PASSWORD`, added to the current
    app context's database session (the caller commits)."""
    staff = StaffUser(email=email, name=name, role=role, events=[event])
    staff.set_password(STAFF_PASSWORD)
    db.session.add(staff)
    return staff


def sign_in(page: Page, email: str, password: str = STAFF_PASSWORD) -> None:
    """Sign in through the form; ends on the staff home page."""
    page.goto("/staff/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/$"))


def watch_for_errors(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and Content-Security-Policy violations, as they come."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return errors
