"""Absolute addresses of this service, from ``YSWD_PUBLIC_URL`` only.

A feed's ids and links, a poster's address and every other link that leaves the
service are built from the configured external base URL, never from the
request's ``Host`` or ``X-Forwarded-*`` headers: anyone can send those, and a
feed reader or a cache would keep whatever they said. Unset, links are relative
(``/public/boards/cedar``) and ids are stable ``urn:yswd:`` names.
"""

from __future__ import annotations

from yswd.settings import Settings


def public_base(settings: Settings) -> str:
    """The external base URL without a trailing slash; ``""`` when it is not set."""
    return (settings.public_url or "").rstrip("/")


def public_link(settings: Settings, path: str) -> str:
    """``path`` (starting with ``/``) under the external base URL, or as it is."""
    return public_base(settings) + path


def board_feed_id(settings: Settings, unit_id: str) -> str:
    """The Atom ``<id>`` of a unit's board feed: its address, or a stable URN."""
    base = public_base(settings)
    return f"{base}/public/boards/{unit_id}" if base else f"urn:yswd:board:{unit_id}"
