"""The ward poster: which of the latest outcomes fit on one A4 page, and its QR code.

A poster that runs onto a second sheet gets its second sheet lost, so the page
is filled from an estimate, not left to the printer: each entry's height is
worked out from its text (lines at the poster's type size, see ``PosterSize``)
and the newest entries are taken while they fit. The print stylesheet sets the
same sizes in points and millimetres and clips the item area at its height, so
an estimate that is ever short loses the end of the last entry, never a page.
Long texts are shortened at a word, with the rest on the board.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

import segno

#: the points in a millimetre
PT_MM = 25.4 / 72


@dataclass(frozen=True)
class PosterSize:
    """One type size of the poster. The numbers match ``.poster--<name>`` in yswd.css."""

    name: str
    #: body text, and the item titles, in points
    body_pt: float
    title_pt: float
    line_height: float
    #: characters of body text and of a title on one line of the 186 mm column, kept a
    #: little low (wide letters, words that do not break) so that the estimate errs long
    chars_per_line: int
    title_chars_per_line: int
    #: the longest text shown for one field ("You said", "We did", …)
    text_limit: int
    #: the height of the item area: the A4 page less margins, heading (its unit name on
    #: one line) and "how to tell us"
    items_height_mm: float
    #: the unit's name above the title: its size and the characters on one line
    kicker_pt: float
    kicker_chars_per_line: int
    #: the top rule, padding and gap of each entry
    entry_gap_mm: float = 7.0

    def body_line_mm(self) -> float:
        return self.body_pt * self.line_height * PT_MM

    def title_line_mm(self) -> float:
        return self.title_pt * 1.2 * PT_MM

    def room_mm(self, unit_name: str) -> float:
        """The item area's height under a heading naming ``unit_name`` (which may wrap)."""
        extra_lines = _lines(unit_name, self.kicker_chars_per_line) - 1
        return self.items_height_mm - extra_lines * self.kicker_pt * 1.2 * PT_MM


NORMAL = PosterSize(
    name="normal",
    body_pt=15,
    title_pt=19,
    line_height=1.3,
    chars_per_line=70,
    title_chars_per_line=50,
    text_limit=180,
    items_height_mm=168,
    kicker_pt=20,
    kicker_chars_per_line=44,
)
LARGE = PosterSize(
    name="large",
    body_pt=21,
    title_pt=26,
    line_height=1.25,
    chars_per_line=48,
    title_chars_per_line=34,
    text_limit=120,
    items_height_mm=138,
    kicker_pt=26,
    kicker_chars_per_line=34,
)
SIZES = {size.name: size for size in (NORMAL, LARGE)}


def shorten(text: str, limit: int) -> str:
    """``text`` with its spaces tidied, cut at a word before ``limit`` characters with "…"."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


#: the longest item title shown, and the least of each text the newest item keeps
TITLE_LIMIT = 80
SHORTEST_TEXT = 40

#: the label of each part, as the poster prints it (the template holds the wording)
PART_LABELS = {
    "you_said": "You said:",
    "we_did": "We did:",
    "because": "We couldn't do this, because:",
    "instead": "Instead:",
    "we_said": "We said:",
}


def entry_parts(item: dict[str, Any], limit: int) -> list[tuple[str, str]]:
    """``(part, text)`` of what an item shows: what was said, then what came back.

    ``part`` is a key of ``PART_LABELS``; each text is shortened to ``limit`` characters.
    """
    parts = [("you_said", item["you_said"])]
    if item["status"] == "done" and item.get("we_did"):
        parts.append(("we_did", item["we_did"]))
    elif item["status"] == "couldnt_do" and item.get("because"):
        parts.append(("because", item["because"]))
        if item.get("instead"):
            parts.append(("instead", item["instead"]))
    elif item.get("responses"):
        parts.append(("we_said", item["responses"][-1]["response"]))
    return [(part, shorten(text, limit)) for part, text in parts]


def _lines(text: str, per_line: int) -> int:
    return max(1, math.ceil(len(text) / per_line))


@dataclass(frozen=True)
class PosterEntry:
    """One item as the poster shows it, with the height it takes."""

    item: dict[str, Any]
    title: str
    parts: list[tuple[str, str]]
    #: the ward it came from, on an area's poster
    place: str | None
    height_mm: float


def poster_entry(
    item: dict[str, Any], size: PosterSize, place: str | None = None, limit: int | None = None
) -> PosterEntry:
    """The item as printed at ``size`` (texts cut at ``limit``, the size's own by default)."""
    title = shorten(item["title"], TITLE_LIMIT)
    parts = entry_parts(item, limit or size.text_limit)
    height = size.entry_gap_mm + _lines(title, size.title_chars_per_line) * size.title_line_mm()
    if place:
        height += _lines(place, size.chars_per_line) * size.body_line_mm()
    for part, text in parts:
        # a paragraph's own lines (its label first), and the small gap below it
        shown = f"{PART_LABELS[part]} {text}"
        height += (_lines(shown, size.chars_per_line) + 0.3) * size.body_line_mm()
    return PosterEntry(item, title, parts, place, height)


@dataclass(frozen=True)
class PosterFit:
    """The entries that fit, newest first, and how many outcomes are left for the board."""

    entries: list[PosterEntry]
    more: int


def fit(
    items: list[dict[str, Any]],
    size: PosterSize,
    total: int,
    unit_name: str,
    places: dict[str, str] | None = None,
) -> PosterFit:
    """The newest of ``items`` that fit the item area, keeping room for "And N more".

    Items are taken in order and the first that does not fit ends the poster, so
    a poster always shows the latest outcomes, not older ones that happen to be
    short. An item that does not fit as it is is cut shorter (to ``SHORTEST_TEXT``
    a text) to fill the space left; the newest is always shown.
    ``total`` is how many outcomes there are in all; ``unit_name`` heads the
    poster; ``places`` names the ward of each item (by id) on an area's poster.
    """
    room = size.room_mm(unit_name) - size.body_line_mm() * 1.5
    chosen: list[PosterEntry] = []
    used = 0.0
    for item in items:
        entry = poster_entry(item, size, (places or {}).get(item["id"]))
        limit = size.text_limit
        while used + entry.height_mm > room and limit > SHORTEST_TEXT:
            limit = max(SHORTEST_TEXT, limit * 2 // 3)
            entry = poster_entry(item, size, entry.place, limit)
        if used + entry.height_mm > room and chosen:
            break
        chosen.append(entry)
        used += entry.height_mm
    return PosterFit(chosen, max(0, total - len(chosen)))


def qr_svg(address: str, label: str) -> str:
    """An inline ``<svg>`` QR code of ``address``, sized by the stylesheet, named ``label``.

    Inline markup with no script and no ``style`` attribute: the CSP allows it, and
    it prints sharp at any size.
    """
    code = segno.make(address, error="m", micro=False)
    svg: str = code.svg_inline(
        scale=1,
        border=2,
        dark="#000000",
        light="#ffffff",
        omitsize=True,
        svgclass="poster__qr",
        lineclass=None,
    )
    named = f'<svg role="img" aria-label="{escape(label)}" '
    return svg.replace("<svg ", named, 1)
