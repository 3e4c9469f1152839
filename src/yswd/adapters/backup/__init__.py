"""Backups of the embedded store that restore, and prove it.

``backup`` copies a running embedded store (``YSWD_DATA_DIR``) into one archive,
while ``serve`` goes on taking writes; ``restore`` checks an archive completely
before it writes anything, then proves the restored store against the backup's
own signed checkpoint. Scaled out (``YSWD_DATABASE_URL``) the database is backed
up with PostgreSQL's own tools: see docs/operations/backup.md.

The modules: ``archive`` (``backup``), ``restore`` (``restore``), ``erasures``
(``reapply_erasures``, also for a PostgreSQL restore) and ``copies``, what they
share (the archive's layout, the errors, ``Progress``, a store opened on a copy).

What the data folder holds, and so what a backup holds:

- ``yswd.sqlite3``: the event store and every read model, in one SQLite file (WAL);
- ``keys.sqlite3``: the contributors' data keys and the service secret;
- ``clips/<key>.clip`` (or ``YSWD_CLIPS_DIR``): diary-room recordings' bytes.

The archive (``.tar.gz``; every member under ``yswd-backup/``)::

    yswd-backup/manifest.json        what this is: positions, head hash, checkpoint, checksums
    yswd-backup/manifest.sha256      the SHA-256 of manifest.json
    yswd-backup/data/yswd.sqlite3    events + read models (SQLite online backup)
    yswd-backup/data/keys.sqlite3    the key store (SQLite online backup)
    yswd-backup/data/clips/<key>.clip

Consistency while writes go on:

1. The event store is copied with SQLite's online backup API in a single step:
   one read transaction, so the copy is one committed state of events and read
   models together (WAL: writers are not blocked meanwhile).
2. Then the key store. A data key is created before the first event sealed
   under it is committed, so every event in the copy finds its key in this later
   copy, unless the key was destroyed in between: an erasure under way. The
   backup finishes that erasure in the copy (``forget`` on the copy), so no
   plaintext row outlives its key.
3. The copy is opened as a store of its own: read models caught up, the chain
   verified and a checkpoint signed (as ``yswd audit checkpoint``) over the
   copy's own events. The manifest's position and head hash are the copy's, so
   the archive holds every event up to its position by construction.
4. Clip files are copied last, and only those the copy's events still point to:
   a clip's bytes are made durable before its event is stored, so each one is
   there; one deleted since (withdrawn, erased) is listed as gone.

A checksum covers every member, a digest covers the manifest, gzip's CRC covers
the stream and its header must be exactly what ``backup`` writes: one flipped
byte anywhere, or a truncated file, is refused.
"""
