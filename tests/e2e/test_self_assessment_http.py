"""The eight stages assessed: a unit scores its involvement in the commissioning cycle, 1 to 5.

Seed 004, Appendix I. Cedar ward's manager records two assessments, the later one
first; the public list gives them oldest first, and the metrics page charts them.
"""

from __future__ import annotations

from typing import Any

from tests.clock import days_ahead
from tests.e2e.conftest import Api
from tests.e2e.test_staff_pages import Browser

PATH = "/api/v1/units/cedar/self-assessments"
PUBLIC = "/public/api/v1/units/cedar/self-assessments"

STAGE_NAMES = {
    "1": "Assessing needs",
    "2": "Review current service provision",
    "3": "Specify and agree quality outcomes",
    "4": "Design services and pathways",
    "5": "Contract with providers. Shape structure and supply",
    "6": "Manage demand and ensure appropriate access to care",
    "7": "Clinical decision making",
    "8": "Manage quality performance and outcomes",
}
AUTUMN = {"1": 3, "2": 4, "3": 2, "4": 3, "5": 1, "6": 2, "7": 4, "8": 3}  # 22 / 8 = 2.75
SPRING = {"1": 1, "2": 2, "3": 2, "4": 2, "5": 1, "6": 1, "7": 2, "8": 1}  # 12 / 8 = 1.5


def assessments(api: Api) -> list[dict[str, Any]]:
    answer = api.client.get(PUBLIC)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["assessments"])


def test_a_manager_records_assessments_and_the_public_reads_them_oldest_first(api: Api) -> None:
    api.organisation()
    manager = api.user("manager", "cedar")
    autumn = api.post(
        PATH,
        {"assessed_on": "2026-10-01", "stages": AUTUMN, "notes": "Users now sit on the panel."},
        manager,
    )
    assert autumn.status_code == 201, autumn.text
    body = autumn.json()
    assert body["stages"] == AUTUMN
    assert body["stage_names"] == STAGE_NAMES
    assert body["average"] == 2.75
    assert body["assessed_on"] == "2026-10-01"
    assert body["notes"] == "Users now sit on the panel."
    spring = api.post(PATH, {"assessed_on": "2026-04-01", "stages": SPRING})  # the admin
    assert spring.status_code == 201, spring.text

    listed = assessments(api)
    assert [(a["assessed_on"], a["average"], a["notes"]) for a in listed] == [
        ("2026-04-01", 1.5, None),
        ("2026-10-01", 2.75, "Users now sit on the panel."),
    ]
    assert listed[0]["stages"] == SPRING
    # no staff identity in the public answer
    assert manager not in str(listed) and "recorded_by" not in listed[0]


def test_who_may_record_one(api: Api) -> None:
    api.organisation()
    body = {"assessed_on": "2026-10-01", "stages": AUTUMN}
    for role, scope in (("manager", "willow"), ("secretary", "cedar"), ("moderator", "cedar")):
        assert api.post(PATH, body, api.user(role, scope)).status_code == 403, role
    assert api.client.post(PATH, json=body).status_code == 401
    assert api.post(PATH, body, api.user("manager", "meadowbank")).status_code == 201
    assert len(assessments(api)) == 1


def test_bad_assessments_are_422_and_change_nothing(api: Api) -> None:
    api.organisation()
    missing_stage = {k: v for k, v in AUTUMN.items() if k != "8"}
    for body in (
        {"assessed_on": "2026-10-01", "stages": missing_stage},
        {"assessed_on": "2026-10-01", "stages": {**AUTUMN, "9": 3}},
        {"assessed_on": "2026-10-01", "stages": {**AUTUMN, "3": 0}},
        {"assessed_on": "2026-10-01", "stages": {**AUTUMN, "3": 6}},
        {"assessed_on": "2026-10-01", "stages": {**AUTUMN, "3": "3"}},
        {"assessed_on": "2026-10-01", "stages": {**AUTUMN, "3": 2.5}},
        {"assessed_on": "1 October 2026", "stages": AUTUMN},
        {"assessed_on": days_ahead(1), "stages": AUTUMN},  # after today
        {"stages": AUTUMN},
        {"assessed_on": "2026-10-01"},
        {"assessed_on": "2026-10-01", "stages": AUTUMN, "notes": "x" * 4001},
    ):
        answer = api.post(PATH, body)
        assert answer.status_code == 422, (body, answer.text)
    assert (
        api.post(
            "/api/v1/units/nowhere/self-assessments",
            {"assessed_on": "2026-10-01", "stages": AUTUMN},
        ).status_code
        == 404
    )
    assert api.client.get("/public/api/v1/units/nowhere/self-assessments").status_code == 404
    assert assessments(api) == []


def test_the_metrics_page_charts_them_with_a_table(api: Api) -> None:
    api.organisation()
    api.post(PATH, {"assessed_on": "2026-10-01", "stages": AUTUMN})
    api.post(PATH, {"assessed_on": "2026-04-01", "stages": SPRING})
    page = api.client.get("/public/metrics/cedar")
    assert page.status_code == 200
    text = page.text
    assert "Bar chart: average self-assessment score over time, out of 5" in text
    assert "1 April 2026: 1.5 out of 5; 1 October 2026: 2.75 out of 5." in text
    for name in STAGE_NAMES.values():
        assert name in text
    assert text.index("2026-04-01") < text.index("2026-10-01")


def test_the_staff_form_records_one(api: Api) -> None:
    api.organisation()
    browser = Browser(api)
    assert browser.sign_in(api.user("manager", "cedar")).status_code == 303
    page = browser.get("/staff/self-assessments", unit="cedar")
    assert page.status_code == 200
    assert "Manage demand and ensure appropriate access to care" in page.text
    form = {"unit_id": "cedar", "assessed_on": "2026-10-01", "notes": "First time."}
    form.update({f"stage-{number}": str(score) for number, score in AUTUMN.items()})
    answer = browser.submit("/staff/self-assessments?unit=cedar", "/staff/self-assessments", form)
    assert answer.status_code == 303, answer.text
    assert [a["stages"] for a in assessments(api)] == [AUTUMN]
    # a stage left unscored: the form comes back with the error, and nothing is stored
    del form["stage-4"]
    again = browser.submit("/staff/self-assessments?unit=cedar", "/staff/self-assessments", form)
    assert again.status_code == 422
    assert "Choose a score for Design services and pathways" in again.text
    assert len(assessments(api)) == 1
    # a secretary may not use it
    secretary = Browser(api)
    secretary.sign_in(api.user("secretary", "cedar"))
    assert secretary.get("/staff/self-assessments").status_code == 403
