"""Reading whole numbers from text a client sent (headers, query parameters, ids).

``str.isdigit`` accepts digits ``int`` refuses (``²``) and ``int`` refuses texts of over 4,300 digits, so a bare
``int(value) if value.isdigit()`` answers a crafted value with a 500. :func:`whole_number` reads ASCII digits only,
and no more of them than the caller can use.
"""

from __future__ import annotations


def whole_number(text: str, max_digits: int = 18) -> int | None:
    """The whole number ``text`` spells in ASCII digits (leading zeros allowed); None when it is not one, or has
    more than ``max_digits`` significant digits."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= max_digits else None
