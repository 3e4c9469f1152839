"""The possible-disclosure check: it finds disclosures in people's own words, and
stays quiet about broken kettles."""

from __future__ import annotations

from pathlib import Path

import pytest

from yswd.aggregates.possible_disclosure import (
    KIND_POSSIBLE_DISCLOSURE,
    DisclosureTerms,
    disclosure_warnings,
    load_disclosure_terms,
)

TERMS = load_disclosure_terms()


@pytest.mark.parametrize(
    ("text", "concern"),
    [
        ("He hit me when the staff left.", "harm"),
        ("she punched her in the corridor", "harm"),
        ("I feel unsafe on the ward at night", "harm"),
        ("I am scared of him", "harm"),
        ("A nurse took my money", "abuse"),
        ("he touched me inappropriately", "abuse"),
        ("I am being bullied by another patient", "abuse"),
        ("I want to kill myself", "self_harm"),
        ("I have been self-harming again", "self_harm"),
        ("I self harm when it is noisy", "self_harm"),
        ("I want to die", "self_harm"),
        ("He said he is going to kill the nurse", "threat"),
        ("someone has a knife in their room", "threat"),
    ],
)
def test_disclosures_are_found(text: str, concern: str) -> None:
    assert concern in {term.concern for term, _ in TERMS.find(text)}


@pytest.mark.parametrize(
    "text",
    [
        "the kettle is broken",
        "We hit our target for activities this month",
        "The food is killing me, it is so bland",
        "Can we cut the grass more often?",
        "The door is broken",
        "Please can we have a pool table",
        "I am dying for a decent cup of tea",
        "The heating is on all night",
    ],
)
def test_everyday_wording_raises_no_false_alarm(text: str) -> None:
    assert TERMS.find(text) == []


def test_a_warning_suggests_a_flag_and_names_the_field() -> None:
    [warning] = disclosure_warnings({"title": "Nights", "you_said": "He hit me."}, TERMS)
    assert warning.kind == KIND_POSSIBLE_DISCLOSURE
    assert warning.field == "you_said"
    assert warning.excerpt == "hit me"
    assert warning.suggestion is not None and "flag" in warning.suggestion


def test_a_service_can_use_its_own_list(tmp_path: Path) -> None:
    own = tmp_path / "terms.toml"
    own.write_text('[[term]]\nwords = ["kettle", "is broken"]\nconcern = "harm"\n')
    terms = load_disclosure_terms(own)
    assert [term.concern for term, _ in terms.find("the kettle is broken")] == ["harm"]
    assert terms.find("he hit me") == []


@pytest.mark.parametrize(
    "toml",
    [
        '[[term]]\nconcern = "harm"\n',
        '[[term]]\nwords = []\nconcern = "harm"\n',
        '[[term]]\nwords = ["hit"]\nconcern = "nonsense"\n',
        'term = "not a list"\n',
    ],
)
def test_a_bad_list_is_refused(toml: str) -> None:
    with pytest.raises(ValueError):
        DisclosureTerms.from_toml(toml)
