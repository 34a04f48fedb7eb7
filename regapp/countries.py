"""Countries as ISO 3166-1 alpha-2 codes (pycountry), shown by their common names."""

from functools import cache

import pycountry


def _display_name(country) -> str:
    return getattr(country, "common_name", None) or country.name


@cache
def choices() -> list[tuple[str, str]]:
    """Every ISO country as (alpha-2, name), sorted by name."""
    return sorted(((c.alpha_2, _display_name(c)) for c in pycountry.countries), key=lambda c: c[1])


def name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return _display_name(country) if country else code


def lookup(text: str) -> str | None:
    """The alpha-2 code for a name, official name, alpha-2 or alpha-3 code; ``None`` if unknown."""
    text = text.strip()
    if not text:
        return None
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None
