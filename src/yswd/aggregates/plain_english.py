"""The plain-English check: the seeds' "Quality Checker or Translator" as code.

Before anything becomes public (the wording a moderator publishes, a
response, what we did, why we could not), staff see warnings about:

- reading ease: the Flesch reading-ease score of a text long enough to
  measure, against a target of 60 ("plain English");
- jargon: words from a glossary (``glossary.toml`` in this package, or the file
  named by ``YSWD_GLOSSARY_FILE``), each with a plainer wording;
- possible identifiers: the contributor's name, NHS numbers with a valid
  check digit, UK phone numbers, email addresses and dates of birth.

Warnings never block anything: a person decides. The check is pure (no I/O
beyond reading the glossary file once) and never raises on any text. It logs
nothing, and identifiers other than the contributor's own name are masked in
the excerpts it returns, so a warning can be shown or stored without
repeating the number it found.

Words and sentences are counted with ``textstat``. Its English syllable count
needs the CMU dictionary from NLTK's downloader, which a machine without
network access cannot fetch, so syllables are counted the way textstat does
for words missing from that dictionary (``pyphen`` hyphenation), raised to a
vowel-group estimate where hyphenation undercounts.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyphen

#: texts shorter than this are not given a reading-ease score (too short to measure)
MIN_WORDS_FOR_READING_EASE = 12
#: Flesch reading ease at or above which a text counts as plain English
READING_EASE_TARGET = 60.0
#: a full date this many years ago or more could be someone's date of birth
ADULT_AGE = 18
OLDEST_AGE = 110
#: how far before a date a "born"/"DOB" cue may stand
DOB_CUE_WINDOW = 40

KIND_READING_EASE = "reading_ease"
KIND_JARGON = "jargon"
KIND_IDENTIFIER = "identifier"


@dataclass(frozen=True)
class WordingWarning:
    """One thing staff should look at before a text goes public."""

    kind: str  # "reading_ease" | "jargon" | "identifier"
    field: str  # which text: "you_said", "response", "we_did", "because", "instead", ...
    message: str  # plain-English explanation for staff
    excerpt: str | None  # the offending words, if any (identifiers masked)
    suggestion: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the glossary --------------------------------------------------------------------


@dataclass(frozen=True)
class GlossaryTerm:
    """A piece of jargon and what to say instead."""

    term: str
    plain: str
    meaning: str | None = None
    case_sensitive: bool = True

    def pattern(self) -> re.Pattern[str]:
        words = r"\s+".join(re.escape(part) for part in self.term.split())
        flags = 0 if self.case_sensitive else re.IGNORECASE
        # whole words only; a plural or possessive ending still counts (PCTs, KPI's)
        return re.compile(rf"(?<![\w-]){words}(?:s|'s|\u2019s)?(?![\w-])", flags)


class Glossary:
    """The jargon to flag, loaded from a TOML file of ``[[term]]`` tables."""

    def __init__(self, terms: Iterable[GlossaryTerm]) -> None:
        self.terms = tuple(terms)
        self._patterns = [(term, term.pattern()) for term in self.terms]

    @classmethod
    def from_toml(cls, text: str) -> Glossary:
        raw = tomllib.loads(text)
        entries = raw.get("term", [])
        if not isinstance(entries, list):
            raise ValueError("a glossary holds a list of [[term]] tables")
        terms = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("term") or not entry.get("plain"):
                raise ValueError(f"every glossary term needs 'term' and 'plain': {entry!r}")
            terms.append(
                GlossaryTerm(
                    term=str(entry["term"]),
                    plain=str(entry["plain"]),
                    meaning=str(entry["meaning"]) if entry.get("meaning") else None,
                    case_sensitive=bool(entry.get("case_sensitive", True)),
                )
            )
        return cls(terms)

    def find(self, text: str) -> Iterable[tuple[GlossaryTerm, str]]:
        """Each term used in ``text``, once, with the words as written."""
        for term, pattern in self._patterns:
            found = pattern.search(text)
            if found is not None:
                yield term, found.group(0)


@lru_cache(maxsize=8)
def load_glossary(path: str | Path | None = None) -> Glossary:
    """The glossary in ``path``, or the one shipped with yswd (cached per path)."""
    if path is None or str(path) == "":
        text = resources.files("yswd").joinpath("glossary.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return Glossary.from_toml(text)


# -- reading ease ----------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@lru_cache(maxsize=1)
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_GB")


def _syllables(word: str) -> int:
    word = word.lower()
    by_hyphenation = len(_hyphenator().positions(word)) + 1
    groups = len(_VOWEL_GROUPS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and groups > 1:
        groups -= 1  # a silent final e
    return max(1, by_hyphenation, groups)


def warm_up() -> None:
    """Load the reading-ease counter now (the web app does, so no request waits for it)."""
    reading_ease("This sentence is only here to load the counter before anyone asks for it now.")


def reading_ease(text: str) -> float | None:
    """Flesch reading ease (higher is easier; 60+ is plain English), or None if too short."""
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS_FOR_READING_EASE:
        return None
    # imported here: textstat pulls in nltk and scipy, about 2 s of start-up that
    # every yswd process (the CLI, each worker) paid before its first check
    import textstat

    sentences = max(1, int(textstat.sentence_count(text)))
    word_count = max(len(words), int(textstat.lexicon_count(text)))
    syllables = sum(_syllables(word) for word in words)
    score = 206.835 - 1.015 * (word_count / sentences) - 84.6 * (syllables / len(words))
    return round(score, 1)


def _describe(score: float) -> str:
    if score < 30:
        return "very hard to read"
    if score < 50:
        return "hard to read"
    return "fairly hard to read"


def _longest_sentence(text: str) -> str:
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    longest = max(sentences, key=lambda s: len(_WORD.findall(s)), default=text.strip())
    return longest if len(longest) <= 200 else longest[:197].rstrip() + "..."


def _reading_ease_warnings(field: str, text: str) -> list[WordingWarning]:
    score = reading_ease(text)
    if score is None or score >= READING_EASE_TARGET:
        return []
    return [
        WordingWarning(
            kind=KIND_READING_EASE,
            field=field,
            message=(
                f"This is {_describe(score)}: its reading-ease score is {score:.0f} out of 100. "
                f"Aim for {READING_EASE_TARGET:.0f} or more so that everyone on the ward can "
                "follow it."
            ),
            excerpt=_longest_sentence(text),
            suggestion="Use short sentences (about 15 words) and everyday words.",
        )
    ]


# -- jargon ----------------------------------------------------------------------------


def _jargon_warnings(field: str, text: str, glossary: Glossary) -> list[WordingWarning]:
    warnings = []
    for term, written in glossary.find(text):
        meaning = f' ("{term.meaning}")' if term.meaning else ""
        warnings.append(
            WordingWarning(
                kind=KIND_JARGON,
                field=field,
                message=f'"{written}"{meaning} is jargon that patients may not know.',
                excerpt=written,
                suggestion=f'Say "{term.plain}" instead.',
            )
        )
    return warnings


# -- identifiers ---------------------------------------------------------------------

_NHS_NUMBER = re.compile(r"(?<![\d+])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
_PHONE = re.compile(r"(?<![\w+])(?:\+\s?44[\s-]?(?:\(0\)[\s-]?)?|\(?0)\d[\d\s()-]{7,15}\d(?!\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATES = (
    # 13/12/1984, 13-12-1984, 13.12.1984
    (re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)"), ("d", "m", "y")),
    # 1984-12-13
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), ("y", "m", "d")),
    # 13th December 1984, 13 Dec 1984
    (
        re.compile(
            rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\.?,?\s+(\d{{4}})(?!\d)", re.I
        ),
        ("d", "M", "y"),
    ),
    # December 13th, 1984
    (
        re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.I),
        ("M", "d", "y"),
    ),
)
_DOB_CUE = re.compile(r"\b(?:born|d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s?day)\b", re.I)
_NAME_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})


def nhs_number_valid(digits: str) -> bool:
    """Whether ten digits form an NHS number: the modulus 11 check digit matches."""
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(d) * weight for d, weight in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def mask(value: str, keep: int = 2) -> str:
    """Every letter and digit but the last ``keep`` replaced, so a warning never repeats it."""
    significant = [i for i, ch in enumerate(value) if ch.isalnum()]
    hidden = set(significant[:-keep] if keep else significant)
    return "".join("•" if i in hidden else ch for i, ch in enumerate(value))


def _identifier(field: str, what: str, excerpt: str, suggestion: str) -> WordingWarning:
    return WordingWarning(
        kind=KIND_IDENTIFIER,
        field=field,
        message=f"This may identify someone: it looks like {what}.",
        excerpt=excerpt,
        suggestion=suggestion,
    )


def _name_warnings(field: str, text: str, contributor: str | None) -> list[WordingWarning]:
    if not contributor or not contributor.strip():
        return []
    parts = contributor.split()
    whole = re.compile(
        r"(?<!\w)" + r"\s+".join(re.escape(part) for part in parts) + r"(?!\w)", re.I
    )
    found = whole.search(text)
    if found is not None:
        return [
            _identifier(
                field,
                "the name of the person who raised this",
                found.group(0),
                "Take the name out; public boards never name the person who raised an item.",
            )
        ]
    warnings = []
    for part in dict.fromkeys(parts):
        bare = part.strip(".,")
        if len(bare) < 3 or bare.casefold() in _NAME_TITLES:
            continue
        # a part of the name, written as a name (capitalised), on its own
        part_found = re.search(rf"(?<!\w){re.escape(bare.capitalize())}(?!\w)", text)
        if part_found is None and bare != bare.capitalize():
            part_found = re.search(rf"(?<!\w){re.escape(bare)}(?!\w)", text)
        if part_found is not None:
            warnings.append(
                _identifier(
                    field,
                    "part of the name of the person who raised this",
                    part_found.group(0),
                    "Check that this word is not about the person who raised the item; "
                    "if it is, take it out.",
                )
            )
    return warnings


def _number_warnings(field: str, text: str) -> list[WordingWarning]:
    warnings = []
    nhs_spans: list[tuple[int, int]] = []
    for found in _NHS_NUMBER.finditer(text):
        if nhs_number_valid("".join(found.groups())):
            nhs_spans.append(found.span())
            warnings.append(
                _identifier(
                    field,
                    "an NHS number",
                    mask(found.group(0)),
                    "Take the NHS number out; it belongs only in the clinical record.",
                )
            )
    for found in _PHONE.finditer(text):
        start, end = found.span()
        if any(start < s_end and s_start < end for s_start, s_end in nhs_spans):
            continue
        digits = re.sub(r"\D", "", found.group(0))
        national = digits[2:] if digits.startswith("44") and "+" in found.group(0) else digits
        national = national.removeprefix("0")
        if 9 <= len(national) <= 10:
            warnings.append(
                _identifier(
                    field,
                    "a phone number",
                    mask(found.group(0).strip()),
                    "Take the phone number out, or use the ward's or team's public number.",
                )
            )
    for found in _EMAIL.finditer(text):
        address = found.group(0)
        local, _, domain = address.partition("@")
        warnings.append(
            _identifier(
                field,
                "an email address",
                f"{mask(local, 1)}@{domain}",
                "Take the email address out, or use a team's shared address.",
            )
        )
    return warnings


def _as_date(parts: Mapping[str, str]) -> date | None:
    try:
        month = int(parts["m"]) if "m" in parts else _MONTHS[parts["M"].lower().rstrip(".")]
        return date(int(parts["y"]), month, int(parts["d"]))
    except (KeyError, ValueError):
        return None


def _date_warnings(field: str, text: str, today: date) -> list[WordingWarning]:
    warnings = []
    seen: set[tuple[int, int]] = set()
    for pattern, order in _DATES:
        for found in pattern.finditer(text):
            if found.span() in seen:
                continue
            when = _as_date(dict(zip(order, found.groups(), strict=True)))
            if when is None:
                continue
            before = text[max(0, found.start() - DOB_CUE_WINDOW) : found.start()]
            cued = _DOB_CUE.search(before) is not None
            age = today.year - when.year - ((today.month, today.day) < (when.month, when.day))
            if cued or ADULT_AGE <= age <= OLDEST_AGE:
                seen.add(found.span())
                what = "a date of birth" if cued else "a date of birth (a full date long ago)"
                warnings.append(
                    _identifier(
                        field,
                        what,
                        mask(found.group(0), keep=4),
                        "Take out dates of birth; if this is another date, say what it is.",
                    )
                )
    return warnings


# -- the check ------------------------------------------------------------------------


def check_public_text(
    field: str,
    text: str,
    *,
    contributor: str | None = None,
    glossary: Glossary | None = None,
    today: date | None = None,
) -> list[WordingWarning]:
    """Warnings about one text that is about to be made public (empty when it is fine)."""
    if not isinstance(text, str) or not text.strip():
        return []
    glossary = glossary if glossary is not None else load_glossary(None)
    today = today or date.today()
    warnings = [
        *_name_warnings(field, text, contributor),
        *_number_warnings(field, text),
        *_date_warnings(field, text, today),
        *_jargon_warnings(field, text, glossary),
        *_reading_ease_warnings(field, text),
    ]
    return list(dict.fromkeys(warnings))  # the same thing found twice is said once


def check_fields(
    fields: Mapping[str, str | None],
    *,
    contributor: str | None = None,
    glossary: Glossary | None = None,
    today: date | None = None,
) -> list[WordingWarning]:
    """``check_public_text`` over several texts; a missing (None) text is skipped."""
    warnings: list[WordingWarning] = []
    for field, text in fields.items():
        if text:
            warnings.extend(
                check_public_text(
                    field, text, contributor=contributor, glossary=glossary, today=today
                )
            )
    return warnings
