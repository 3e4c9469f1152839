"""Open311 GeoReport v2 over HTTP: a ward's published items, as FixMyStreet would read them.

The field lists below are the specification's own (wiki.open311.org/GeoReport_v2,
"GET Service List" and "GET Service Requests"), written out here rather than taken
from the code, so a missing or renamed field fails the test.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from tests.clock import days_ago
from tests.e2e.conftest import Api

SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SECRET_NAME = "Zebedee-Contributor-7731"
SECRET_DETAIL = "private-detail-marker-4412"
ORIGINAL_WORDING = "original-wording-marker-9034"


def published(api: Api, forum_id: str = "cedar-cm", **extra: Any) -> str:
    item_id = str(api.raise_item(forum_id, **extra)["id"])
    assert api.post(f"/api/v1/items/{item_id}/publish", {}).status_code == 200
    return item_id


@pytest.fixture
def ward(api: Api) -> dict[str, str]:
    """Cedar ward's community meeting: a done item, an open one, and one never published."""
    api.organisation()
    ids = {
        "laundry": published(
            api,
            title="Laundry",
            you_said="The washing machine has been broken for two weeks.",
            contributor=SECRET_NAME,
            detail=SECRET_DETAIL,
        ),
        "garden": published(
            api, title="Garden", you_said="We would like to use the garden after tea."
        ),
        "older": published(
            api,
            channel="complaint",
            raised_on=days_ago(120),
            title="Visiting",
            you_said="Visiting hours are too short.",
        ),
        "unpublished": str(api.raise_item(title="Secret", you_said=ORIGINAL_WORDING)["id"]),
        "elsewhere": published(api, "elsewhere-cm", title="Parking", you_said="No parking."),
    }
    assert (
        api.post(f"/api/v1/items/{ids['laundry']}/complete", {"we_did": "We fixed it."}).status_code
        == 200
    )
    return ids


def get_json(api: Api, path: str, expect: int = 200, **params: Any) -> Any:
    answer = api.client.get(path, params=params)  # no token: Open311 is public
    assert answer.status_code == expect, answer.text
    if expect == 200:
        assert answer.headers["content-type"].startswith("application/json")
    return answer.json()


def get_xml(api: Api, path: str, **params: Any) -> ElementTree.Element:
    answer = api.client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    return ElementTree.fromstring(answer.content)


def json_errors(answer: Any) -> list[int]:
    """The codes of a GeoReport v2 error list (``[{"code", "description"}]``), checked."""
    assert answer.headers["content-type"].startswith("application/json")
    errors = answer.json()
    assert isinstance(errors, list) and errors, answer.text
    for error in errors:
        assert set(error) == {"code", "description"} and error["description"], error
    assert {error["code"] for error in errors} == {answer.status_code}
    return sorted({error["code"] for error in errors})


def xml_errors(answer: Any) -> list[int]:
    """The codes of a GeoReport v2 ``<errors>`` document, checked."""
    assert answer.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "errors" and len(root), answer.text
    for error in root:
        assert error.tag == "error"
        assert [child.tag for child in error] == ["code", "description"]
        assert error.findtext("description")
    codes = {int(error.findtext("code") or 0) for error in root}
    assert codes == {answer.status_code}
    return sorted(codes)


def test_discovery_names_the_specification_and_both_formats(api: Api) -> None:
    found = get_json(api, "/open311/v2/discovery.json")
    (endpoint,) = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    xml = get_xml(api, "/open311/v2/discovery.xml")
    assert xml.tag == "discovery"
    assert [f.text for f in xml.iter("format")] == ["application/json", "text/xml"]


def test_services_are_the_channels_with_plain_names_in_the_specs_fields(api: Api) -> None:
    services = get_json(api, "/open311/v2/services.json")
    assert all(list(service) == SERVICE_FIELDS for service in services)
    by_code = {service["service_code"]: service for service in services}
    assert by_code["community_meeting"]["service_name"] == "Community meeting"
    assert by_code["gap_box"]["service_name"] == "Gap box"
    assert {s["metadata"] for s in services} == {False}

    xml = get_xml(api, "/open311/v2/services.xml")
    assert xml.tag == "services"
    rows = xml.findall("service")
    assert [[child.tag for child in row] for row in rows] == [SERVICE_FIELDS] * len(services)
    assert [row.findtext("service_code") for row in rows] == list(by_code)
    assert {row.findtext("metadata") for row in rows} == {"false"}


def test_requests_map_published_items_as_the_contract_says(api: Api, ward: dict[str, str]) -> None:
    found = get_json(api, "/open311/v2/requests.json", jurisdiction_id="cedar")
    assert all(list(row) == REQUEST_FIELDS for row in found)
    by_id = {row["service_request_id"]: row for row in found}
    # the default window is GeoReport's: the last 90 days; other units are not Cedar's
    assert set(by_id) == {ward["laundry"], ward["garden"]}

    laundry = by_id[ward["laundry"]]
    assert laundry["status"] == "closed"
    assert laundry["status_notes"] == "We fixed it."
    assert laundry["service_code"] == "community_meeting"
    assert laundry["service_name"] == "Community meeting"
    assert laundry["description"] == "The washing machine has been broken for two weeks."
    assert laundry["agency_responsible"] == "Cedar ward"
    assert laundry["requested_datetime"] == "2026-11-02T00:00:00+00:00"
    # no due_on: the target is raised_on + 28 days
    assert laundry["expected_datetime"] == "2026-11-30T00:00:00+00:00"
    staff = api.get(f"/api/v1/items/{ward['laundry']}").json()
    assert laundry["updated_datetime"] == staff["updated_at"]
    assert by_id[ward["garden"]]["status"] == "open"
    assert by_id[ward["garden"]]["status_notes"] is None

    one = get_json(api, f"/open311/v2/requests/{ward['laundry']}.json")
    assert one == [laundry]


def test_the_xml_form_carries_the_same_requests(api: Api, ward: dict[str, str]) -> None:
    rows = get_json(api, "/open311/v2/requests.json", jurisdiction_id="cedar")
    xml = get_xml(api, "/open311/v2/requests.xml", jurisdiction_id="cedar")
    assert xml.tag == "service_requests"
    requests = xml.findall("request")
    assert [[child.tag for child in row] for row in requests] == [REQUEST_FIELDS] * len(rows)
    for row, element in zip(rows, requests, strict=True):
        for field in REQUEST_FIELDS:
            assert (element.findtext(field) or None) == row[field], field
    one = get_xml(api, f"/open311/v2/requests/{ward['garden']}.xml")
    assert [r.findtext("service_request_id") for r in one.findall("request")] == [ward["garden"]]


def test_filters_and_paging_follow_the_specification(api: Api, ward: dict[str, str]) -> None:
    def ids(**params: Any) -> set[str]:
        found = get_json(api, "/open311/v2/requests.json", jurisdiction_id="cedar", **params)
        return {row["service_request_id"] for row in found}

    assert ids(status="closed") == {ward["laundry"]}
    assert ids(status="open") == {ward["garden"]}
    assert ids(status="open,closed") == {ward["laundry"], ward["garden"]}
    assert ids(service_code="complaint") == set()
    window = {"start_date": days_ago(130), "end_date": days_ago(100)}
    assert ids(**window, service_code="complaint") == {ward["older"]}
    assert ids(start_date=f"{days_ago(130)}T00:00:00Z", end_date=f"{days_ago(100)}T23:59:59Z") == {
        ward["older"]
    }
    assert ids(service_request_id=ward["older"]) == {ward["older"]}  # ids need no window
    first = get_json(api, "/open311/v2/requests.json", jurisdiction_id="cedar", page_size=1, page=1)
    second = get_json(
        api, "/open311/v2/requests.json", jurisdiction_id="cedar", page_size=1, page=2
    )
    assert len(first) == len(second) == 1
    assert {first[0]["service_request_id"], second[0]["service_request_id"]} == {
        ward["laundry"],
        ward["garden"],
    }
    everyone = get_json(api, "/open311/v2/requests.json")
    assert ward["elsewhere"] in {row["service_request_id"] for row in everyone}


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "0"},
        {"end_date": "2026-13-01"},
        {"start_date": "2026-11-02T09:30:00"},  # no time zone
        {"start_date": "2026-01-01", "end_date": "2026-11-01"},  # more than 90 days
        {"start_date": "2026-11-02", "end_date": "2026-11-01"},
        {"status": "pending"},
        {"service_code": "carrier_pigeon"},
        {"page_size": "1001"},
        {"page": "0"},
    ],
)
def test_bad_filters_are_refused_in_georeport_errors_in_both_forms(
    api: Api, ward: dict[str, str], params: dict[str, str]
) -> None:
    answer = api.client.get("/open311/v2/requests.json", params=params)
    assert 400 <= answer.status_code < 500, answer.text
    assert json_errors(answer) == [answer.status_code]
    answer = api.client.get("/open311/v2/requests.xml", params=params)
    assert 400 <= answer.status_code < 500, answer.text
    assert xml_errors(answer) == [answer.status_code]


def test_unknown_jurisdictions_and_requests_are_404(api: Api, ward: dict[str, str]) -> None:
    for fmt in ("json", "xml"):
        for path, params in (
            (f"/open311/v2/requests.{fmt}", {"jurisdiction_id": "atlantis"}),
            (f"/open311/v2/services.{fmt}", {"jurisdiction_id": "atlantis"}),
            (f"/open311/v2/requests/{ward['unpublished']}.{fmt}", {}),
            (f"/open311/v2/requests/no-such-item.{fmt}", {}),
        ):
            answer = api.client.get(path, params=params)
            errors = xml_errors(answer) if fmt == "xml" else json_errors(answer)
            assert errors == [404], (path, answer.text)


def test_no_such_resource_and_a_method_open311_lacks_are_georeport_errors_too(
    api: Api,
) -> None:
    assert json_errors(api.client.get("/open311/v2/tickets.json")) == [404]
    assert xml_errors(api.client.get("/open311/v2/tickets.xml")) == [404]
    # GeoReport's POST of a new request is not offered: yswd's Open311 is read only
    posted = api.client.post("/open311/v2/requests.json", json={"service_code": "complaint"})
    assert json_errors(posted) == [405]
    assert "GET" in posted.headers["allow"]


def test_errors_elsewhere_keep_the_apis_own_shape(api: Api) -> None:
    for path in ("/public/api/v1/boards/atlantis", "/open311/v3/requests.json"):
        answer = api.client.get(path)
        assert answer.status_code == 404
        assert answer.json()["detail"], path


def test_the_openapi_document_describes_georeport_errors(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    error = document["components"]["schemas"]["Open311ErrorOut"]
    assert set(error["required"]) == {"code", "description"}
    operations = [
        methods["get"]
        for path, methods in document["paths"].items()
        if path.startswith("/open311/v2/")
    ]
    assert len(operations) == 8
    for operation in operations:
        refusals = {c: r for c, r in operation["responses"].items() if c.startswith(("4", "5"))}
        assert {"404", "422"} <= set(refusals), operation["operationId"]
        for refusal in refusals.values():
            if operation["operationId"].endswith("_xml"):
                assert list(refusal["content"]) == ["text/xml"]
            else:
                schema = refusal["content"]["application/json"]["schema"]
                assert schema["type"] == "array"
                assert schema["items"] == {"$ref": "#/components/schemas/Open311ErrorOut"}


def test_only_published_items_and_nothing_personal(api: Api, ward: dict[str, str]) -> None:
    everything = b""
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml"):
        for params in ({}, {"start_date": days_ago(130), "end_date": days_ago(41)}):
            answer = api.client.get(path, params=params)
            assert answer.status_code == 200
            everything += answer.content
    assert ward["unpublished"].encode() not in everything
    for secret in (SECRET_NAME, SECRET_DETAIL, ORIGINAL_WORDING, "A admin"):
        assert secret.encode() not in everything


def test_a_safeguarding_flagged_item_never_reaches_open311(api: Api) -> None:
    api.organisation()
    flagged = api.raise_item(title="Worried", you_said="Something happened.", safeguarding=True)
    assert api.post(f"/api/v1/items/{flagged['id']}/publish", {}).status_code == 409
    found = get_json(api, "/open311/v2/requests.json")
    assert flagged["id"] not in {row["service_request_id"] for row in found}
    get_json(api, f"/open311/v2/requests/{flagged['id']}.json", 404)
    assert flagged["safeguarding"]["flagged_at"]


def test_a_published_item_flagged_later_leaves_open311_at_once(
    api: Api, ward: dict[str, str]
) -> None:
    flag = api.post(f"/api/v1/items/{ward['garden']}/safeguarding", {"reason": "A worry."})
    assert flag.status_code == 200, flag.text
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml"):
        assert ward["garden"].encode() not in api.client.get(path).content
    get_json(api, f"/open311/v2/requests/{ward['garden']}.json", 404)
