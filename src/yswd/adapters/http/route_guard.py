"""Routers that cannot match a request's path are skipped with one string test.

FastAPI tries a request against each included router in turn, and each router against
each of its routes (a few writes to the request's scope and a regex per route). The
routers are many (``create_app`` includes 31), so a public board, in the 19th, took
about 100 µs of matching before its handler ran, and a gap-box suggestion, in the
14th, about as much: on the soak's two shared cores every request pays that in CPU.

A route's path template is literal text up to its first ``{parameter}``, so a path can
match it only if it starts with that text (or, for a template without parameters, is
that text). A router none of whose routes can match the path answers ``Match.NONE``
at once; any other router is asked exactly as before, in the same order, so the route
that answers a request does not change. The prefixes are read from the routes' own
compiled patterns and are worked out again whenever a router's routes change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


@dataclass(frozen=True)
class Reach:
    """The paths a router's routes can match: exactly these, or starting with these."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def may_match(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)


def literal_start(pattern: str) -> tuple[str, bool] | None:
    """The literal text a compiled route pattern (``^/a/b/(?P<id>[^/]+)$``) begins with,
    and whether that is the whole pattern. None for a pattern not of that form."""
    if not pattern.startswith("^"):
        return None
    text: list[str] = []
    index = 1
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            text.append(pattern[index + 1])
            index += 2
            continue
        if char == "$" and index == len(pattern) - 1:
            return "".join(text), True
        if char == "(":
            return "".join(text), False
        if char in ".^$*+?{}[]|)":
            return None  # not a pattern Starlette compiled from a template
        text.append(char)
        index += 1
    return None


def reach_of(router: _IncludedRouter) -> Reach | None:
    """Where ``router``'s routes can match; None when some route's reach is unknown, or
    when it includes routers of its own (whose changes ``GuardedMatch`` would not see)."""
    if any(isinstance(route, _IncludedRouter) for route in router.original_router.routes):
        return None
    exact: set[str] = set()
    prefixes: set[str] = set()
    for context in router.effective_route_contexts():
        route = context.starlette_route if context.starlette_route is not None else context
        regex = getattr(route, "path_regex", None)
        if not isinstance(regex, re.Pattern):
            return None
        found = literal_start(regex.pattern)
        if found is None:
            return None
        text, whole = found
        (exact if whole else prefixes).add(text)
    return Reach(frozenset(exact), tuple(sorted(prefixes)))


@dataclass
class GuardedMatch:
    """``router.matches``, asked only when the path is within the router's reach."""

    router: _IncludedRouter
    matches: Matcher
    reach: Reach | None = None
    #: the router's ``_routes_version`` the reach was worked out for
    version: int | None = None

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        version = self.router.original_router._routes_version
        if version != self.version:
            self.reach, self.version = reach_of(self.router), version
        if self.reach is None or self.reach.may_match(get_route_path(scope)):
            return self.matches(scope)
        return Match.NONE, {}


def skip_unmatchable_routers(app: FastAPI) -> None:
    """Guard every router included in ``app`` (call it once its routers are included)."""
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter) and not isinstance(route.matches, GuardedMatch):
            route.matches = GuardedMatch(route, route.matches)  # type: ignore[method-assign]
