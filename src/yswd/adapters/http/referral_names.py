"""Readable names for the printable agenda, shared by the API's ``format=html`` and the
staff page."""

from __future__ import annotations

from typing import Any

from yswd.adapters.container import Container
from yswd.aggregates.errors import DomainError


def referral_names(
    container: Container, sections: dict[str, list[dict[str, Any]]]
) -> dict[str, str]:
    """Readable names of the forums, units and people the agenda's referrals came from."""
    names: dict[str, str] = {}
    for entry in sections["referred"]:
        referral = entry["referral"]
        for key, lookup in (
            ("from_forum_id", container.app.forum),
            ("from_unit_id", container.app.unit),
            ("referred_by", container.app.user),
        ):
            ident = referral.get(key)
            if ident and ident not in names:
                try:
                    names[ident] = lookup(ident).name
                except DomainError:
                    names[ident] = ident
    return names
