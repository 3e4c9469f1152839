"""Repeated issues: which open or recent items of a unit read like a new one.

Pure Python TF-IDF cosine over the items' title and wording, computed locally
(no outside service). ``rank`` is pure and unit-tested; ``similar_items`` reads
the candidates from the ``rm_items`` read model (owned by ``staff_items``),
limited to the caller's scope.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select

from yswd.aggregates.access import Principal
from yswd.aggregates.item import Item
from yswd.projections.item_tables import items
from yswd.projections.staff_item_queries import OPEN_STATUSES, StaffItemQueries

#: items raised within this many days count as "recent" even when closed
RECENT_DAYS = 365
#: candidates scoring below this are not shown
MIN_SCORE = 0.2
MAX_CANDIDATES = 10
#: at most this many rows of one unit are compared
MAX_SCANNED = 5000

_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS_TEXT = """
    a about after again all also am an and any are as at be been before being but by can
    could did do does doing for from had has have having he her here him his how i if in
    into is it its just me more most my no not now of on once only or other our out over own
    same she so some such than that the their them then there these they this those through
    to too under until up very was we were what when where which while who why will with
    would you your yours said say says
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def tokens(text: str) -> list[str]:
    """Lower-case words without stop words, with a crude plural fold ('machines' -> 'machine')."""
    words = []
    for word in _WORD.findall(text.casefold()):
        if word in STOP_WORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


def _vector(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    return {term: (1 + math.log(n)) * idf[term] for term, n in counts.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def rank(query: str, candidates: Sequence[tuple[str, str]]) -> list[tuple[str, float]]:
    """Every candidate ``(id, text)`` scored 0..1 against ``query``, best first.

    IDF is smoothed over the query and the candidates (``log((1+N)/(1+df)) + 1``),
    so words every item uses ("ward", "staff") count for less than rare ones.
    """
    documents = [Counter(tokens(query))] + [Counter(tokens(text)) for _, text in candidates]
    total = len(documents)
    frequency: Counter[str] = Counter()
    for document in documents:
        frequency.update(document.keys())
    idf = {term: math.log((1 + total) / (1 + df)) + 1 for term, df in frequency.items()}
    wanted = _vector(documents[0], idf)
    scored = [
        (candidate_id, round(_cosine(wanted, _vector(document, idf)), 3))
        for (candidate_id, _), document in zip(candidates, documents[1:], strict=True)
    ]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))


def item_text(title: str, you_said: str) -> str:
    return f"{title}. {you_said}"


def similar_items(
    engine: Engine,
    staff_items: StaffItemQueries,
    principal: Principal,
    item: Item,
    today: date,
    *,
    min_score: float = MIN_SCORE,
    limit: int = MAX_CANDIDATES,
) -> list[dict[str, Any]]:
    """Open items, or items raised in the last year, of the item's unit that read like it."""
    since = (today - timedelta(days=RECENT_DAYS)).isoformat()
    query = (
        select(items.c.doc)
        .where(items.c.unit_id == item.unit_id)
        .where(items.c.item_id != item.item_id)
        .where(or_(items.c.status.in_(OPEN_STATUSES), items.c.raised_on >= since))
        .order_by(items.c.raised_on.desc())
        .limit(MAX_SCANNED)
    )
    scope = staff_items.scope_filter(principal)
    if scope is not None:
        query = query.where(scope)
    with engine.connect() as conn:
        docs = [json.loads(doc) for doc in conn.scalars(query)]
    own_repeats = {entry["item_id"] for entry in item.repeats}
    docs = [doc for doc in docs if doc["id"] not in own_repeats]
    by_id = {doc["id"]: doc for doc in docs}
    scored = rank(
        item_text(item.title, item.original_you_said),
        [(doc["id"], item_text(doc["title"], doc["original_you_said"])) for doc in docs],
    )
    return [
        {"score": score, "item": _summary(by_id[candidate_id])}
        for candidate_id, score in scored[:limit]
        if score >= min_score
    ]


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    keys: Iterable[str] = (
        "id",
        "forum_id",
        "unit_id",
        "title",
        "you_said",
        "status",
        "raised_on",
        "repeat_of",
        "times_raised",
    )
    return {key: doc.get(key) for key in keys}
