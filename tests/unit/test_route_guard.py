"""The route guard skips routers that cannot match, and never changes which route answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from yswd.adapters.http.app import create_app
from yswd.adapters.http.route_guard import GuardedMatch, literal_start, skip_unmatchable_routers
from yswd.bootstrap import build

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def test_literal_start_reads_starlettes_patterns() -> None:
    assert literal_start(r"^/api/v1/items$") == ("/api/v1/items", True)
    assert literal_start(r"^/api/v1/items/(?P<item_id>[^/]+)/respond$") == (
        "/api/v1/items/",
        False,
    )
    assert literal_start(r"^/public/gap\-boxes/(?P<box_id>[^/]+)$") == ("/public/gap-boxes/", False)
    assert literal_start(r"^/static/(?P<path>.*)$") == ("/static/", False)
    assert literal_start(r"^/feed\.atom$") == ("/feed.atom", True)
    assert literal_start(r"^/a.b$") is None  # not compiled from a template
    assert literal_start(r"/no/anchor$") is None


def _scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }


def _first_match(routes: list[BaseRoute], scope: dict[str, Any], guarded: bool) -> Any:
    """What the app's router would pick: the first full match, else the first partial."""
    partial = None
    for index, route in enumerate(routes):
        matches: Callable[[Scope], tuple[Match, Scope]] = route.matches
        if not guarded and isinstance(route.matches, GuardedMatch):
            matches = route.matches.matches
        match, child = matches(dict(scope))
        if match == Match.FULL:
            return ("full", index, child.get("endpoint"))
        if match == Match.PARTIAL and partial is None:
            partial = ("partial", index, child.get("endpoint"))
    return partial


def _example(template: str) -> str:
    path = re.sub(r"\{[^}:]+:path\}", "css/site.css", template)
    return re.sub(r"\{[^}]+\}", "x1", path)


def _templates(app: FastAPI) -> list[str]:
    found = []
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            found += [context.path_format for context in route.effective_route_contexts()]
        else:
            found.append(getattr(route, "path", "/"))
    return found


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(build(memory=True), manage_lifecycle=False)


def test_every_router_of_the_app_is_guarded_with_a_known_reach(app: FastAPI) -> None:
    included = [r for r in app.router.routes if isinstance(r, _IncludedRouter)]
    assert len(included) > 20
    scope = _scope("GET", "/nowhere")
    for route in included:
        assert isinstance(route.matches, GuardedMatch)
        route.matches(scope)
        assert route.matches.reach is not None, route.original_router.routes


def test_the_same_route_answers_with_and_without_the_guard(app: FastAPI) -> None:
    paths = set()
    for template in _templates(app):
        example = _example(template)
        paths |= {example, example + "/", example.rstrip("/") or "/", example + "/x1"}
    paths |= {"/", "/nowhere", "/api/v1", "/api/v1/", "/public", "/public/", "/b/x1", "/static"}
    routes = app.router.routes
    checked = 0
    for path in sorted(paths):
        for method in METHODS:
            scope = _scope(method, path)
            assert _first_match(routes, scope, True) == _first_match(routes, scope, False), (
                method,
                path,
            )
            checked += 1
    assert checked > 1000


def test_a_route_added_later_is_found() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/one")
    def one() -> dict[str, int]:
        return {"n": 1}

    app.include_router(router)
    skip_unmatchable_routers(app)
    included = next(r for r in app.router.routes if isinstance(r, _IncludedRouter))
    assert included.matches(_scope("GET", "/two"))[0] == Match.NONE

    @router.get("/two")
    def two() -> dict[str, int]:
        return {"n": 2}

    assert included.matches(_scope("GET", "/two"))[0] == Match.FULL
    assert included.matches(_scope("GET", "/three"))[0] == Match.NONE
