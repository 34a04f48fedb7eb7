"""What every page shares: template filters and security headers."""

from flask import Flask

from . import countries
from .models import CATEGORIES
from .tickets.codes import grouped

CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def register_web_helpers(app: Flask) -> None:
    app.add_template_filter(countries.name, "country_name")
    app.add_template_filter(grouped, "grouped_code")
    app.add_template_filter(lambda c: CATEGORIES.get(c, c), "category_name")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Private links (manage pages) must not leak to other sites through the Referer header.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
