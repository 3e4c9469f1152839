"""Possible disclosures: wording that suggests harm, abuse, self-harm or a threat.

People disclose at community meetings and in gap boxes, in their own words. When
an item's wording reads like a disclosure, staff are warned (``possible_disclosure``)
and asked whether to flag it for safeguarding. The check only suggests: a person
decides, and nothing is flagged by it.

The words live in a plain TOML list shipped with yswd (``disclosure_terms.toml``),
which a service can replace (``YSWD_DISCLOSURE_TERMS_FILE``). Each term's ``words``
are places in a sentence, one after another, each a choice of ``|``-separated
wordings, so ``["hit|punched", "me|her"]`` matches "he hit me" and not "we hit our
target".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from yswd.aggregates.plain_english import WordingWarning

KIND_POSSIBLE_DISCLOSURE = "possible_disclosure"

CONCERNS = {
    "harm": "someone being harmed",
    "abuse": "abuse",
    "self_harm": "self-harm or suicide",
    "threat": "a threat to someone",
}

SUGGESTION = (
    "If this could be a safeguarding concern, flag it for safeguarding now: it leaves "
    "the ordinary queue and goes to a safeguarding lead. Nothing has been flagged yet."
)


@dataclass(frozen=True)
class DisclosureTerm:
    """A phrase that may mean someone is at risk, and which kind of risk."""

    words: tuple[str, ...]
    concern: str

    def pattern(self) -> re.Pattern[str]:
        places = []
        for place in self.words:
            choices = [
                r"\s+".join(re.escape(part).replace(r"\-", r"[\s-]?") for part in choice.split())
                for choice in place.split("|")
                if choice.strip()
            ]
            places.append("(?:" + "|".join(choices) + ")")
        return re.compile(r"(?<![\w-])" + r"\s+".join(places) + r"(?![\w-])", re.IGNORECASE)


class DisclosureTerms:
    """The list of phrases, compiled once."""

    def __init__(self, terms: Iterable[DisclosureTerm]) -> None:
        self.terms = tuple(terms)
        self._patterns = [(term, term.pattern()) for term in self.terms]

    @classmethod
    def from_toml(cls, text: str) -> DisclosureTerms:
        entries = tomllib.loads(text).get("term", [])
        if not isinstance(entries, list):
            raise ValueError("a disclosure word list holds a list of [[term]] tables")
        terms = []
        for entry in entries:
            words = entry.get("words") if isinstance(entry, dict) else None
            if (
                not isinstance(words, list)
                or not words
                or not all(isinstance(place, str) and place.strip("| ") for place in words)
            ):
                raise ValueError(f"every disclosure term needs a list of 'words': {entry!r}")
            concern = str(entry.get("concern", "harm"))
            if concern not in CONCERNS:
                raise ValueError(f"'concern' must be one of {', '.join(CONCERNS)}: {entry!r}")
            terms.append(DisclosureTerm(words=tuple(words), concern=concern))
        return cls(terms)

    def find(self, text: str) -> list[tuple[DisclosureTerm, str]]:
        """Each matching term with the words as written, at most one per concern."""
        found: dict[str, tuple[DisclosureTerm, str]] = {}
        for term, pattern in self._patterns:
            match = pattern.search(text)
            if match is not None and term.concern not in found:
                found[term.concern] = (term, match.group(0))
        return list(found.values())


@lru_cache(maxsize=8)
def load_disclosure_terms(path: str | Path | None = None) -> DisclosureTerms:
    """The word list in ``path``, or the one shipped with yswd (cached per path)."""
    if path is None or str(path) == "":
        text = resources.files("yswd").joinpath("disclosure_terms.toml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return DisclosureTerms.from_toml(text)


def disclosure_warnings(
    fields: Mapping[str, str | None], terms: DisclosureTerms
) -> list[WordingWarning]:
    """One ``possible_disclosure`` warning per field and kind of concern found."""
    warnings = []
    for field, text in fields.items():
        if not text:
            continue
        for term, words in terms.find(text):
            warnings.append(
                WordingWarning(
                    kind=KIND_POSSIBLE_DISCLOSURE,
                    field=field,
                    message=(
                        f"This may be a disclosure of {CONCERNS[term.concern]} "
                        f"(it says \u201c{words}\u201d)."
                    ),
                    excerpt=words,
                    suggestion=SUGGESTION,
                )
            )
    return warnings
