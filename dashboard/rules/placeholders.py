"""Reply templates: ``{sender}``, ``{our_number}`` and ``{time}``, with ``{{``/``}}`` for literal braces.

Templates are parsed with ``string.Formatter`` but never passed to ``str.format``: only the known
names are substituted, so a template cannot reach attributes or indexes of the values.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

PLACEHOLDERS: dict[str, str] = {
    "sender": "the number that wrote to us",
    "our_number": "our number that received the message",
    "time": "the time of the message in the account's time zone, e.g. 14:05",
}

_known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def _parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(template))


def template_problem(template: str) -> str | None:
    """The sentence to show an admin for a reply template that cannot be sent, or None."""
    if not template.strip():
        return "The reply text is empty."
    try:
        parts = _parse(template)
    except ValueError as exc:
        return f"The reply text has unbalanced braces ({exc}). Write {{{{ or }}}} for a literal brace."
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "":
            return f"The reply text has an empty placeholder {{}}. Available: {_known}."
        if name not in PLACEHOLDERS:
            return f"Unknown placeholder {{{name}}} in the reply text. Available: {_known}."
        if spec or conversion:
            return f"Placeholder {{{name}}} takes no format or conversion; write it as {{{name}}}."
    return None


def fill(template: str, values: Mapping[str, str]) -> str:
    """Substitute a template that ``template_problem`` accepted."""
    out: list[str] = []
    for literal, name, _spec, _conversion in _parse(template):
        out.append(literal)
        if name is not None:
            out.append(values[name])
    return "".join(out)
