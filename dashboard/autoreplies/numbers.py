"""Phone numbers in rules: international format (E.164), however people type them.

E.164 is ``+`` and then 1 to 15 digits, the first of them not 0 (``+15551234567``). People type
spaces, dashes, dots and brackets inside a number (``+1 (555) 123-4567``): those are dropped, as
the engine drops them when it compares numbers (``dashboard.rules.conditions.normalize_number``),
and the number is kept in its plain form. Anything else, a national number (``0301234567``), a
short code (``12345``) or a word, is refused by name, every one of them, not just the first.

Only this module imports nothing of the models, so ``dashboard.models`` can use it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dashboard.rules.conditions import normalize_number

EXAMPLE = "+15551234567"
_E164 = re.compile(r"\+[1-9][0-9]{0,14}")
# Entries end at commas, semicolons and line breaks, and at spaces before the "+" of the next
# number: "+15551234567 +15557654321" is two numbers, "+1 555 123 4567" stays one.
_SEPARATORS = re.compile(r"[\r\n,;]+|\s+(?=\+)")


def split_numbers(text: str) -> list[str]:
    """The entries of a typed list, trimmed, blanks and exact repeats dropped, in typed order."""
    entries = (entry.strip() for entry in _SEPARATORS.split(text))
    return list(dict.fromkeys(entry for entry in entries if entry))


def as_e164(entry: str) -> str | None:
    """``entry`` as a plain E.164 number (``+15551234567``), or None when it is not one."""
    number = normalize_number(entry)
    return number if _E164.fullmatch(number) else None


def not_e164(entry: str) -> str:
    """What to tell the person who typed ``entry``."""
    return f'"{entry}" is not a phone number in international format (E.164), for example {EXAMPLE}'


def e164_problems(entries: Iterable[str]) -> list[str]:
    """One sentence per entry that is not an E.164 number (none when all are)."""
    return [not_e164(entry) for entry in entries if as_e164(entry) is None]


def normalized(entries: Iterable[str]) -> list[str]:
    """The good entries in plain form, each number once (``+1 555…`` and ``+1555…`` are one)."""
    numbers = (as_e164(entry) for entry in entries)
    return list(dict.fromkeys(number for number in numbers if number is not None))
