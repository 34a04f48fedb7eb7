"""The part of the registration page that comes from the event, kept per process.

Apart from the CSRF token, a visitor who opens the form (a GET) sees what every other visitor
sees: the list of countries, the organisations already registered (suggested while typing) and
the sessions with their seats left. Rendering those lists and counting the seats was most of
the page's cost, so each server process keeps that part of the page for
``REGISTRATION_PAGE_MAX_AGE`` seconds (1 by default) per event.

The seats left on a form may therefore be a second out of date. They are a hint only: the POST
counts the seats again with the session's row locked (:func:`services.register`), so a stale
figure never oversells; it can at most announce a seat that has just gone (the registrant is
then put on the waitlist and told so). A form sent back with errors is rendered afresh: it
shows what the visitor chose, with the seats as they are now.
"""

from functools import cache
from time import monotonic

from flask import current_app, render_template
from markupsafe import Markup

from .. import countries
from ..models import Event
from . import services


def event_part(event: Event, form) -> Markup:
    """The datalists (countries, organisations) and the sessions fieldset of ``form``."""
    if form.is_submitted():
        return _render(event, form)
    kept = current_app.extensions.setdefault("regapp_registration_page", {})
    when, part = kept.get(event.id, (None, None))
    if when is None or monotonic() - when >= current_app.config["REGISTRATION_PAGE_MAX_AGE"]:
        when = monotonic()
        part = _render(event, form)
        kept[event.id] = (when, part)  # threads may both render it: the same page, no harm
    return part


def _render(event: Event, form) -> Markup:
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
