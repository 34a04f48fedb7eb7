"""Countries as ISO 3166-1 alpha-2 codes (pycountry), shown by their common names."""

import re
import unicodedata
from functools import cache

import pycountry

#: Names people commonly write (and CSV files hold) that ISO 3166 spells otherwise.
COMMON_NAMES = {
    "britain": "GB",
    "brunei": "BN",
    "burma": "MM",
    "cape verde": "CV",
    "congo brazzaville": "CG",
    "congo kinshasa": "CD",
    "dr congo": "CD",
    "drc": "CD",
    "east timor": "TL",
    "england": "GB",
    "great britain": "GB",
    "holland": "NL",
    "ivory coast": "CI",
    "lao pdr": "LA",
    "macau": "MO",
    "macedonia": "MK",
    "northern ireland": "GB",
    "russia": "RU",
    "scotland": "GB",
    "swaziland": "SZ",
    "turkey": "TR",
    "uae": "AE",
    "uk": "GB",
    "vatican": "VA",
    "vatican city": "VA",
    "wales": "GB",
}


def _display_name(country) -> str:
    return getattr(country, "common_name", None) or country.name


@cache
def choices() -> list[tuple[str, str]]:
    """Every ISO country as (alpha-2, name), sorted by name."""
    return sorted(((c.alpha_2, _display_name(c)) for c in pycountry.countries), key=lambda c: c[1])


def name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return _display_name(country) if country else code


def _key(text: str) -> str:
    """``Côte d’Ivoire`` and ``cote d'ivoire``, ``U.K.`` and ``uk``, ``The Gambia`` and
    ``Gambia``, ``St Lucia`` and ``Saint Lucia`` give the same key: accents, case,
    punctuation and a leading "the" dropped."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[.'’]", "", text.replace("&", " and "))
    text = " ".join(re.sub(r"[^\w]+", " ", text).split())
    text = re.sub(r"\bst\b(?= )", "saint", text)  # St Lucia (but not ST, São Tomé's code)
    return text.removeprefix("the ")


@cache
def _index() -> dict[str, str]:
    """Every spelling :func:`lookup` knows, by its key: codes, names, official and common names,
    "Korea, Republic of" also as "Republic of Korea", and :data:`COMMON_NAMES`."""
    index: dict[str, str] = {}
    heads: dict[str, set[str]] = {}  # "Korea" of "Korea, Republic of": kept only if unambiguous
    for country in pycountry.countries:
        code = country.alpha_2
        spellings = [code, country.alpha_3, country.name]
        spellings += [getattr(country, a, None) or "" for a in ("official_name", "common_name")]
        if ", " in country.name:
            head, tail = country.name.split(", ", 1)
            spellings.append(f"{tail} {head}")
            heads.setdefault(_key(head), set()).add(code)
        for spelling in filter(None, spellings):
            index.setdefault(_key(spelling), code)
    for head, codes in heads.items():
        if len(codes) == 1:
            index.setdefault(head, codes.pop())
    for spelling, code in COMMON_NAMES.items():
        index.setdefault(_key(spelling), code)
    return index


def lookup(text: str) -> str | None:
    """The alpha-2 code for a name, official or common name, alpha-2 or alpha-3 code, in any
    case, with or without accents; ``None`` if unknown."""
    key = _key(text or "")
    return _index().get(key) if key else None
