"""Access codes: strong, compact, and a typo is caught before any database lookup."""

import math

import pytest

from regapp.tickets import codes
from regapp.tickets.codes import ALPHABET, InvalidCode, grouped, new_code, normalise


def test_code_has_version_prefix_and_at_least_128_random_bits():
    code = new_code()
    assert code.startswith("R1")
    assert codes.RANDOM_SYMBOLS * math.log2(len(ALPHABET)) >= 128
    assert len(code) == 2 + codes.RANDOM_SYMBOLS + 1
    assert normalise(code) == code


def test_codes_are_all_different():
    assert len({new_code() for _ in range(2000)}) == 2000


def test_typed_code_is_case_insensitive_grouped_and_folds_look_alikes():
    code = new_code()
    typed = grouped(code).lower()
    assert typed.count("-") == 6
    assert normalise(typed) == code
    assert normalise(" ".join(grouped(code).split("-"))) == code
    look_alike = code.replace("0", "O").replace("1", "I")
    assert normalise(look_alike) == code
    assert normalise(code.replace("1", "l")) == code


@pytest.mark.parametrize("position", range(2, 32))
def test_any_single_mistyped_symbol_is_caught(position):
    code = new_code()
    for wrong in ALPHABET:
        if wrong == code[position]:
            continue
        typo = code[:position] + wrong + code[position + 1 :]
        with pytest.raises(InvalidCode, match="typo"):
            normalise(typo)


def test_most_swapped_neighbours_are_caught():
    caught = total = 0
    for _ in range(200):
        code = new_code()
        for i in range(2, len(code) - 1):
            if code[i] == code[i + 1]:
                continue
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            total += 1
            try:
                normalise(swapped)
            except InvalidCode:
                caught += 1
    assert caught / total > 0.95


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "start with R1"),
        ("https://evil.example/", "start with R1"),
        ("R1ABC", "wrong length"),
        ("R1" + "U" * 30, "never use"),
    ],
)
def test_malformed_codes_say_why(typed, reason):
    with pytest.raises(InvalidCode, match=reason):
        normalise(typed)
