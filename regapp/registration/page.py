"""The registration form as a first visit shows it, kept per process.

A visitor who opens the form (a GET) while not signed in and with no message waiting sees what
every other such visitor sees, apart from the CSRF token: the list of countries, the
organisations already registered (suggested while typing), the sessions with their seats left
and the page around them. Rendering that page, and reading the event, its sessions and their
seats for it, was most of the cost of a registration's GET. So each server process keeps the
page for ``REGISTRATION_PAGE_MAX_AGE`` seconds (1 by default) per event, and serves it to the
next such visitors with their own CSRF token, without asking the database anything.

The page may therefore be a second out of date: its seats left, and whether registration is
open. The POST counts the seats again with the session's row locked (:func:`services.register`),
so a stale page never oversells; it can at most announce a seat that has just gone (the
registrant is then put on the waitlist and told so). Whether the event takes registrations the
POST asks of the event's :class:`RegistrationWindow`, which each process keeps for as long
(:func:`window`): registration may open or close up to a second late on a process other than
the one the change was made through. A form sent back with errors, a signed-in organiser's
page and a page with a message to show are rendered afresh each time.
"""

from functools import cache
from time import monotonic

from flask import current_app, get_flashed_messages, render_template, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from .. import countries
from ..events.views import get_event_or_404
from ..kept import WINDOWS, kept
from ..models import Event
from ..models.events import RegistrationWindow
from . import services


def kept_page(slug: str) -> str | None:
    """The form kept for event ``slug``, with this visitor's CSRF token; ``None`` when there is
    none young enough, or this visitor is to see a page of their own."""
    if not _same_for_everyone():
        return None
    when, page, token = _pages().get(slug, (None, None, None))
    if when is None or monotonic() - when >= current_app.config["REGISTRATION_PAGE_MAX_AGE"]:
        return None
    return page.replace(token, generate_csrf())


def window(slug: str) -> RegistrationWindow:
    """When event ``slug`` takes registrations, kept per process for as long as its page
    (:mod:`regapp.kept`): what a registration (the POST) needs of its event. 404 for an
    unknown event."""
    return kept(WINDOWS, slug, _read_window)


def _read_window(slug: str) -> RegistrationWindow:
    return get_event_or_404(slug).registration_window


def keep(slug: str, page: str) -> None:
    """Keep ``page``, just rendered for this visitor, when it is the one everyone sees."""
    if _same_for_everyone():
        # Threads may both render it: the same page either way, no harm.
        _pages()[slug] = (monotonic(), page, generate_csrf())


def _same_for_everyone() -> bool:
    # Nobody is signed in when the session names no user (Flask-Login's own key; staff sign-in
    # sets no remember-me cookie): asking current_user would load the anonymous user, 2 % of a
    # registration's instructions. get_flashed_messages() gives the same messages all through a
    # request (the page shows them later), so keep() sees what kept() saw.
    return request.method == "GET" and "_user_id" not in session and not get_flashed_messages()


def _pages() -> dict[str, tuple[float, str, str]]:
    return current_app.extensions.setdefault("regapp_registration_page", {})


def event_part(event: Event, form) -> Markup:
    """The datalists (countries, organisations) and the sessions fieldset of ``form``."""
    return Markup(
        render_template(
            "registration/_event_part.html",
            event=event,
            form=form,
            days=services.programme(event),
            country_options=country_options(),
            organisations=services.known_organisations(event),
        )
    )


@cache
def country_options() -> Markup:
    """The ``<option>`` of every country, for the datalist: the same for every event."""
    return Markup(
        render_template("registration/_country_options.html", countries=countries.choices())
    )
