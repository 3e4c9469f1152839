"""What the application layer needs from outside, as Protocols (its ports).

The composition root (``yswd.bootstrap``) fills each one: the key store and the
shredding mapper from ``adapters.crypto``, clip storage from ``adapters.clips``,
the queries of the read models from ``projections``, and the container itself
for catching the read models up. A test can hand in anything of the same shape.

The event store is not a port here: it is the eventsourcing ``Application``
(``yswd.application.service.Yswd``), which the unit of work wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent

from yswd.aggregates.access import Principal

#: the time a command happens at (tests and the demo loader fix it)
Clock = Callable[[], datetime]
#: new aggregate ids (tests fix them)
IdFactory = Callable[[], str]


def normalise_name(name: str) -> str:
    """One contributor, however their name was typed: case and spaces folded.

    Both sides of erasure agree on it: the shredding mapper derives a
    contributor's key from it, and the erasure finds their items by it.
    """
    return " ".join(name.split()).casefold()


# -- keys and crypto-shredding ------------------------------------------------------


class KeyStore(Protocol):
    """Where data keys and the service secret live, apart from the events."""

    def secret(self) -> bytes: ...

    def get(self, key_id: str) -> bytes | None: ...

    def get_or_create(self, key_id: str) -> bytes: ...

    def destroy(self, key_id: str) -> bool: ...

    def close(self) -> None: ...


#: the Ed25519 key that signs audit checkpoints, from its file (made on first use)
SigningKeyFile = Callable[[Path], Ed25519PrivateKey]


class Shredding(Protocol):
    """Crypto-shredding, as erasure and the audit check use it (the shredding mapper)."""

    def contributor_key_id(self, contributor: str) -> str:
        """The id of the data key that seals this contributor's fields."""

    def destroy_key(self, key_id: str) -> bool:
        """Destroy a data key for every process; the fields it sealed read as erased."""

    def seal_ok(self, stored: StoredEvent) -> bool:
        """Whether a stored row is exactly as this service wrote it."""


# -- clip storage -------------------------------------------------------------------


class PendingClip(Protocol):
    """An upload in progress: bytes go in, and it is either committed or discarded."""

    size: int
    head: bytes

    def write(self, chunk: bytes) -> None: ...

    def sha256(self) -> str: ...

    def commit(self) -> str:
        """Make the bytes durable and return their storage key."""

    def discard(self) -> None:
        """Forget the upload (no-op once committed)."""


class ClipStore(Protocol):
    """Stores clip bytes under opaque keys."""

    def begin(self) -> PendingClip: ...

    def size(self, key: str) -> int | None:
        """The stored size, or None when there are no bytes under ``key``."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes from ``start`` up to, not including, ``end``, in chunks."""

    def delete(self, key: str) -> bool:
        """Remove the bytes; True if there were any."""


class ClipIndex(Protocol):
    """Which clips an item has (the clips read model)."""

    def clip_ids(self, item_id: str) -> list[str]: ...

    def public_clips(self, item_id: str) -> list[dict[str, Any]]:
        """What the public may see of an item's clips."""


# -- read models --------------------------------------------------------------------


class ReadModelSync(Protocol):
    """Where the read models run in this process, brings them up to date on demand.

    Scaled out, workers apply the events and both calls do nothing.
    """

    def refresh_read_models(self) -> None:
        """Apply every stored event now (an audit is about to read the read models)."""

    def after_write(self, position: int | None) -> None:
        """Apply this write before answering (the answer reads the read models)."""


class ChainLink(Protocol):
    """One row of the audit hash chain: the event at a log position, and its hash."""

    @property
    def position(self) -> int: ...

    @property
    def originator_id(self) -> str: ...

    @property
    def originator_version(self) -> int: ...

    @property
    def hash(self) -> str: ...


class AuditTrail(Protocol):
    """The read models an audit answers from: the hash chain, the access log, item rows."""

    def chain_hashes(self, aggregate_id: str) -> dict[int, str]:
        """An aggregate's chain hashes, by version."""

    def chain_hashes_by_position(self) -> dict[int, str]:
        """Every chain hash, by log position."""

    def chain_links(self) -> Iterator[ChainLink]:
        """Every chain row in log order (read in batches)."""

    def reads(
        self,
        *,
        user_id: str | None,
        item_id: str | None,
        limit: int,
        offset: int,
        within: Principal | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Recorded reads of identifiable data, newest first, and how many there are;
        with ``within``, only reads of items in that principal's scope."""

    def contributors(self) -> list[tuple[str, str]]:
        """(item id, contributor) of every item row that names a contributor."""


class WriteAheadLog(Protocol):
    """The read models' database log, where copies of overwritten pages may linger."""

    def truncate(self) -> None:
        """Fold the log into the database and empty it (after an erasure)."""


class ErasureLog(Protocol):
    """Where erasures are noted outside the data folder, so a restore can re-apply them.

    A backup made before an erasure still holds the person's key; the restore
    replays every erasure noted after the backup's position (``yswd restore
    --erasure-log``). ``note`` must not raise: the erasure has already happened.
    """

    def note(self, erasure: Any, position: int | None, actor: str = "") -> None: ...

