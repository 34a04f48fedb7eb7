"""What every page shares: template filters, security headers, cookie and proxy settings, and
how a view shows a service's refusal."""

from collections.abc import Callable

from flask import Flask, flash, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import countries
from .errors import Refusal
from .models import CATEGORIES
from .tickets.codes import grouped

#: No inline scripts or styles anywhere: JavaScript and CSS come from static/ only.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def register_web_helpers(app: Flask) -> None:
    app.add_template_filter(countries.name, "country_name")
    app.add_template_filter(grouped, "grouped_code")
    app.add_template_filter(lambda c: CATEGORIES.get(c, c), "category_name")

    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["BASE_URL"].startswith("https://")
    if app.config["PROXY_FIX"]:
        # Trust X-Forwarded-For/-Proto from this many proxies, and nothing else: a client that
        # talks to us directly could otherwise claim any address (and escape the rate limits).
        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Private links (manage pages) must not leak to other sites through the Referer header.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure and app.config["HSTS_SECONDS"]:
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={int(app.config['HSTS_SECONDS'])}"
            )
        return response


def attach_error(form, error: Refusal) -> None:
    """Show a service's refusal next to the form field it names, or at the top of the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


def flash_outcome(action: Callable[[], object], done: str, refusal: type[Refusal]) -> bool:
    """Run a one-button action and flash ``done``, or the reason of its ``refusal``; True when
    it was done."""
    try:
        action()
    except refusal as error:
        flash(error.message, "error")
        return False
    flash(done, "success")
    return True
