"""Access codes: the secret in a participant's QR, and its typed form for the door.

A code is ``R1`` (format version) followed by 29 random symbols of Crockford's base32 (145 bits
from ``secrets``) and one Luhn mod 32 check symbol. It uses only QR's alphanumeric character set,
so the QR is version 2 (25 x 25 modules) at error correction M. People type it in six blocks of five
(``R1-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX``); case does not matter, O is read as 0 and I/L as 1,
and the check symbol catches any single mistyped symbol and most swapped neighbours before the
database is asked.
"""

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VERSION = "R1"
RANDOM_SYMBOLS = 29  # 29 * 5 = 145 bits
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.]+")


class InvalidCode(ValueError):
    """A typed or scanned code that cannot be one of ours; the message says why."""


def _luhn_sum(symbols: str, double_first: bool) -> int:
    total, double = 0, double_first
    for symbol in reversed(symbols):
        value = ALPHABET.index(symbol) * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    return total


def check_symbol(body: str) -> str:
    return ALPHABET[-_luhn_sum(body, double_first=True) % 32]


def new_code() -> str:
    bits = secrets.randbits(5 * RANDOM_SYMBOLS)
    body = VERSION + "".join(ALPHABET[bits >> (5 * i) & 31] for i in range(RANDOM_SYMBOLS))
    return body + check_symbol(body)


def normalise(typed: str) -> str:
    """The canonical form of a scanned or typed code, or :class:`InvalidCode`."""
    code = _SEPARATORS.sub("", typed).upper().translate(_FOLD)
    if not code.startswith(VERSION):
        raise InvalidCode("This is not a regapp access code (it should start with R1).")
    if len(code) != len(VERSION) + RANDOM_SYMBOLS + 1:
        raise InvalidCode("The code has the wrong length; check for a missing or extra character.")
    if any(symbol not in ALPHABET for symbol in code):
        raise InvalidCode("The code contains a character that access codes never use.")
    if _luhn_sum(code, double_first=False) % 32:
        raise InvalidCode("The code has a typo: its check character does not match.")
    return code


def grouped(code: str) -> str:
    """``R1-XXXXX-...`` for reading aloud and typing."""
    body = code[len(VERSION) :]
    return "-".join([VERSION, *(body[i : i + 5] for i in range(0, len(body), 5))])
