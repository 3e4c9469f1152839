"""Which characters free text may not hold, wherever it comes in (API, pages, imports).

Control characters (tabs and line breaks are fine), and the invisible and
direction-changing ones: zero-width spaces and joiners, the bidirectional
embeddings, overrides and isolates (U+202E turns "gnp.exe" around), the line
and paragraph separators, and the byte-order mark. Each can make the text on a
public board say something other than what a moderator read.
"""

from __future__ import annotations

import re

CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
#: U+200B-U+200F, U+202A-U+202E, U+2028, U+2029, U+2060-U+2064, U+2066-U+2069, U+FEFF,
#: written as regex escapes so the same text serves Python and JSON Schema patterns
INVISIBLE_CLASS = r"\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069\ufeff"

CONTROL = re.compile(f"[{CONTROL_CLASS}]")
INVISIBLE = re.compile(f"[{INVISIBLE_CLASS}]")


CONTROL_WORDS = "control characters"
INVISIBLE_WORDS = "invisible or direction-changing characters"


def refused_kind(value: str) -> str | None:
    """Which kind of character ``value`` may not hold, in words (``CONTROL_WORDS`` or
    ``INVISIBLE_WORDS``); None when it holds neither. A fixed phrase, so a sentence
    made of it can be translated."""
    if CONTROL.search(value):
        return CONTROL_WORDS
    if INVISIBLE.search(value):
        return INVISIBLE_WORDS
    return None


def refused_characters(value: str) -> str | None:
    """What is wrong with ``value``'s characters, in words, naming an invisible one's
    code point (for staff and programs); None when nothing is."""
    if CONTROL.search(value):
        return CONTROL_WORDS
    found = INVISIBLE.search(value)
    if found:
        return f"{INVISIBLE_WORDS} (it has U+{ord(found.group()):04X})"
    return None
