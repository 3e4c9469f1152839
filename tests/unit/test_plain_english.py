"""The plain-English check on real lines from the seeds' minutes and guides."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yswd.aggregates.plain_english import (
    READING_EASE_TARGET,
    Glossary,
    check_fields,
    check_public_text,
    load_glossary,
    nhs_number_valid,
    reading_ease,
)
from yswd.settings import Settings

TODAY = date(2026, 11, 23)

# lines from the Salford Mental Health Development Board's agenda and minutes (seed 004)
AGENDA_CQUIN = "Involvement in CQUIN"
CLEAN = "We fixed the washing machine on Cedar ward. It works again now."
CATERING = (
    "Simple things like microwaves in the ward kitchens so that patients can make "
    "themselves a light supper."
)
CONTACT = (
    "Apologies/queries please contact Jan Gibson (Admin Inistrator to the Board) "
    "Telephone 0161 212 5631 or Email: jan.gibson@salford.nhs.uk"
)
LEGAL = (
    "Part 7 section 138 of the Local Government and Public Involvement in Health (LGPIH) "
    "Act 2007 requires authorities to take those steps they consider appropriate to involve "
    "representatives of local persons in the exercise of any of their functions."
)
MEETING = "Minutes of the meeting held on 11th October 2010 and Matters Arising"


def kinds(warnings: list) -> list[tuple[str, str | None]]:
    return [(w.kind, w.excerpt) for w in warnings]


def test_involvement_in_cquin_is_flagged_with_a_plain_suggestion() -> None:
    warnings = check_public_text("you_said", AGENDA_CQUIN, today=TODAY)
    assert kinds(warnings) == [("jargon", "CQUIN")]
    (warning,) = warnings
    assert warning.field == "you_said"
    assert "Commissioning for Quality and Innovation" in warning.message
    assert warning.suggestion is not None
    assert "pays the hospital for improving quality" in warning.suggestion
    assert warning.as_dict() == {
        "kind": "jargon",
        "field": "you_said",
        "message": warning.message,
        "excerpt": "CQUIN",
        "suggestion": warning.suggestion,
    }


@pytest.mark.parametrize("line", [CLEAN, CATERING, "Menus have been completely revamped."])
def test_a_clean_sentence_passes(line: str) -> None:
    assert check_public_text("we_did", line, today=TODAY) == []


@pytest.mark.parametrize(
    ("line", "term"),
    [
        ("Subgroups \u2013 website, topics, MoJ, evaluation", "MoJ"),
        ("Care Planning and CPA", "CPA"),
        ("Closer work with CRGs, national structures", "CRGs"),
        ("Monitor against contracts and KPI's", "KPI's"),
        ("PCTs will form clusters during 2011/12 to consolidate capacity", "PCTs"),
        ("iv. ATOS", "ATOS"),
        ("It will be connected to the MHIP", "MHIP"),
        ("MHIP and NMHDU tasked Making Space", "NMHDU"),
        ("Speak to your local LINk about it", "LINk"),
    ],
)
def test_the_seeds_abbreviations_are_jargon(line: str, term: str) -> None:
    found = [w for w in check_public_text("response", line, today=TODAY) if w.kind == "jargon"]
    assert term in [w.excerpt for w in found]
    assert all(w.suggestion and w.suggestion.startswith("Say ") for w in found)


def test_case_matters_where_the_abbreviation_has_its_own_case() -> None:
    assert check_public_text("response", "There is a link on the notice board.") == []
    assert check_public_text("response", "Ask the moj.") == []
    assert kinds(check_public_text("response", "Ask the MoJ.")) == [("jargon", "MoJ")]
    # a phrase entry that is not case-sensitive still matches in any case
    assert kinds(check_public_text("response", "Going forward we will ask.")) == [
        ("jargon", "Going forward")
    ]


def test_only_whole_words_are_jargon() -> None:
    assert check_public_text("response", "The CPAP machine and KPIX radio.") == []


def test_meeting_minutes_line_is_flagged_for_jargon_but_not_as_a_birth_date() -> None:
    warnings = check_public_text("you_said", MEETING, today=TODAY)
    assert kinds(warnings) == [("jargon", "Matters Arising")]


def test_long_official_wording_gets_a_reading_ease_score_and_a_target() -> None:
    warnings = check_public_text("response", LEGAL, today=TODAY)
    ease = [w for w in warnings if w.kind == "reading_ease"]
    assert len(ease) == 1
    score = reading_ease(LEGAL)
    assert score is not None and score < READING_EASE_TARGET
    assert f"{score:.0f} out of 100" in ease[0].message
    assert "Aim for 60" in ease[0].message
    assert ease[0].suggestion
    assert ("jargon", "LGPIH") in kinds(warnings)


def test_short_texts_are_not_scored() -> None:
    assert reading_ease("Involvement in CQUIN") is None
    assert reading_ease(CATERING) is not None


def test_contact_details_from_the_agenda_are_identifiers_and_masked() -> None:
    warnings = check_public_text("response", CONTACT, today=TODAY)
    identifiers = [w for w in warnings if w.kind == "identifier"]
    messages = " ".join(w.message for w in identifiers)
    assert "phone number" in messages
    assert "email address" in messages
    for warning in identifiers:
        assert warning.excerpt is not None
        assert "212 5631" not in warning.excerpt
        assert "jan.gibson" not in warning.excerpt


@pytest.mark.parametrize(
    "phone", ["07700 900123", "+44 161 212 5631", "(0161) 212 5631", "+44 (0)20 7946 0000"]
)
def test_uk_phone_numbers(phone: str) -> None:
    warnings = check_public_text("response", f"Ring {phone} for help.", today=TODAY)
    assert [w.kind for w in warnings] == ["identifier"]
    assert "phone number" in warnings[0].message


def test_valid_and_invalid_nhs_numbers() -> None:
    assert nhs_number_valid("9434765919")
    assert nhs_number_valid("4010232137")
    assert not nhs_number_valid("9434765918")  # wrong check digit
    assert not nhs_number_valid("1234567890")  # the check digit would be 10: never issued
    for written in ("943 476 5919", "943-476-5919", "9434765919"):
        warnings = check_public_text("you_said", f"My number is {written}.", today=TODAY)
        assert [w.kind for w in warnings] == ["identifier"]
        assert "NHS number" in warnings[0].message
        excerpt = warnings[0].excerpt
        assert excerpt is not None and excerpt.endswith("19") and "476" not in excerpt
    assert check_public_text("you_said", "My number is 943 476 5918.", today=TODAY) == []


def test_dates_of_birth() -> None:
    cued = check_public_text("you_said", "He was born on 13/12/2009 in Salford.", today=TODAY)
    assert [w.kind for w in cued] == ["identifier"]
    assert "date of birth" in cued[0].message
    assert cued[0].excerpt == "••/••/2009"
    dob = check_public_text("you_said", "DOB 1984-02-29", today=TODAY)
    assert [w.kind for w in dob] == ["identifier"]
    # a full date that would make someone an adult is a possible birth date
    adult = check_public_text("you_said", "On 3 March 1971 it started.", today=TODAY)
    assert [w.kind for w in adult] == ["identifier"]
    # a recent date with no cue is just a date
    assert check_public_text("you_said", "The meeting on 13/12/2025 agreed it.", today=TODAY) == []
    assert check_public_text("you_said", "Not a date: 31/02/1980 born.", today=TODAY) == []


def test_the_contributors_name_is_an_identifier() -> None:
    warnings = check_public_text(
        "you_said", "Ada Marker says the garden is locked.", contributor="ada  marker"
    )
    assert [w.kind for w in warnings] == ["identifier"]
    assert "name of the person who raised this" in warnings[0].message
    part = check_public_text("you_said", "Marker says it is locked.", contributor="Ada Marker")
    assert [w.kind for w in part] == ["identifier"]
    assert "part of the name" in part[0].message
    assert check_public_text("you_said", "The garden is locked.", contributor="Ada Marker") == []
    assert check_public_text("you_said", "Ask the Mr there.", contributor="Mr Li") == []


def test_check_fields_names_each_field_and_skips_missing_ones() -> None:
    warnings = check_fields(
        {"because": "The CPA review said no.", "instead": None, "we_did": CLEAN},
        today=TODAY,
    )
    assert [(w.field, w.kind, w.excerpt) for w in warnings] == [("because", "jargon", "CPA")]


def test_a_glossary_from_a_file_given_in_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "glossary.toml"
    path.write_text('[[term]]\nterm = "tribunal"\nplain = "the hearing"\ncase_sensitive = false\n')
    monkeypatch.setenv("YSWD_GLOSSARY_FILE", str(path))
    glossary = load_glossary(Settings().glossary_file)
    assert [t.term for t in glossary.terms] == ["tribunal"]
    warnings = check_public_text("response", "The Tribunal and the CQUIN.", glossary=glossary)
    assert kinds(warnings) == [("jargon", "Tribunal")]


def test_the_shipped_glossary_has_a_plain_wording_for_every_term() -> None:
    glossary = load_glossary(None)
    terms = {t.term for t in glossary.terms}
    for seed in ("CPA", "CQUIN", "ATOS", "MoJ", "CRG", "PCT", "KPI", "MHIP", "NMHDU", "LINk"):
        assert seed in terms
    assert all(t.plain.strip() for t in glossary.terms)


def test_a_malformed_glossary_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 'term' and 'plain'"):
        Glossary.from_toml('[[term]]\nterm = "CPA"\n')


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=600),
    contributor=st.one_of(st.none(), st.text(max_size=40)),
)
def test_the_check_never_raises(text: str, contributor: str | None) -> None:
    for warning in check_public_text("you_said", text, contributor=contributor, today=TODAY):
        assert warning.kind in {"reading_ease", "jargon", "identifier"}
        assert warning.message


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "CQUIN",
                "0161 212 5631",
                "943 476 5919",
                "born",
                "13/12/1984",
                "a@b.co",
                "\u2019s",
                "(0)",
                "+44",
                "LINk",
                " ",
                ".",
                "word",
                "\n",
                "Ada",
            ]
        ),
        max_size=40,
    )
)
def test_the_check_never_raises_on_near_misses(parts: list[str]) -> None:
    check_public_text("response", "".join(parts), contributor="Ada Marker", today=TODAY)


def test_a_missing_or_broken_glossary_stops_start_up(tmp_path: Path) -> None:
    from yswd.bootstrap import build

    with pytest.raises(FileNotFoundError):
        build(Settings(glossary_file=tmp_path / "missing.toml"), memory=True)
    broken = tmp_path / "broken.toml"
    broken.write_text('[[term]]\nterm = "CPA"\n')
    with pytest.raises(ValueError):
        build(Settings(glossary_file=broken), memory=True)
