"""``yswd backup`` and ``yswd restore``: the embedded store into one archive, and back.

Progress goes to stderr, as bars on a terminal and not at all otherwise
(``yswd.adapters.progress``); the outcome is one line on stdout. See
``yswd.adapters.backup``, which is handed the composition root's ``build`` to open
the copy it proves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from yswd.adapters.progress import on_terminal
from yswd.cli.store import opened
from yswd.settings import Settings

if TYPE_CHECKING:
    from yswd.adapters.backup.copies import Progress

backup_cli = typer.Typer(help="Backups of the embedded store.")


@backup_cli.command("backup")
def backup_command(
    out: Annotated[
        Path, typer.Argument(help="the archive to write (.tar.gz), or a folder to write it in")
    ],
    key: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Ed25519 key (PEM) that signs the backup's checkpoint; created if missing "
            "(default: as `yswd audit checkpoint`)",
        ),
    ] = None,
    erasure_log: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="the erasure log kept beside the backups: add any erasure it lacks "
            "(default: YSWD_ERASURE_LOG)",
        ),
    ] = None,
) -> None:
    """Back up the running embedded store (events, read models, keys, clips) into one archive."""
    from yswd.adapters.backup.archive import backup
    from yswd.adapters.backup.copies import BackupError
    from yswd.adapters.erasure_log import ErasureLogError
    from yswd.bootstrap import build

    settings = Settings()
    try:
        with on_terminal("bytes") as progress:
            reporter: Progress = progress
            done = backup(
                settings,
                out,
                reporter,
                now=datetime.now(UTC),
                signing_key=key,
                erasure_log=erasure_log or settings.erasure_log,
                build=build,
            )
    except (BackupError, ErasureLogError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    manifest = done.manifest
    typer.echo(done.summary())
    typer.echo(f"checkpoint signed by: {manifest['checkpoint']['public_key']}")
    if manifest["clips_gone"]:
        typer.echo(
            f"{len(manifest['clips_gone'])} clip(s) were deleted while the backup ran "
            "(withdrawn or erased); their bytes are not in it",
            err=True,
        )


@backup_cli.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="an archive written by `yswd backup`")],
    data_dir: Annotated[
        Path, typer.Option(metavar="FOLDER", help="the folder to restore into (empty)")
    ],
    overwrite: Annotated[bool, typer.Option(help="replace what a non-empty folder holds")] = False,
    erasure_log: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="re-apply the erasures this log holds from after the backup "
            "(default: YSWD_ERASURE_LOG)",
        ),
    ] = None,
    trusted_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY", help="the backup's checkpoint must be signed by this public key (base64)"
        ),
    ] = None,
) -> None:
    """Check an archive completely, then restore it and verify it against its own checkpoint."""
    from yswd.adapters.backup.copies import RestoreError
    from yswd.adapters.backup.restore import restore
    from yswd.adapters.erasure_log import ErasureLogError
    from yswd.bootstrap import build

    settings = Settings()
    log = erasure_log or settings.erasure_log
    try:
        with on_terminal("bytes") as progress:
            reporter: Progress = progress
            restored = restore(
                archive,
                data_dir,
                overwrite,
                erasure_log=log,
                trusted_key=trusted_key,
                progress=reporter,
                glossary_file=settings.glossary_file,
                build=build,
            )
    except (RestoreError, ErasureLogError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(restored.summary())


erasure_log_cli = typer.Typer(help="The erasure log kept beside the backups.")
backup_cli.add_typer(erasure_log_cli, name="erasure-log")


def _log_path(given: Path | None, settings: Settings) -> Path:
    path = given or settings.erasure_log
    if path is None:
        typer.echo("error: give --erasure-log FILE (or set YSWD_ERASURE_LOG)", err=True)
        raise typer.Exit(2)
    return path


@erasure_log_cli.command("sync")
def sync_command(
    erasure_log: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="the log to add to (default: YSWD_ERASURE_LOG)"),
    ] = None,
) -> None:
    """Add every erasure the store holds that the log lacks (safe to repeat)."""
    from yswd.adapters.erasure_log import ErasureLogError, sync_log

    settings = Settings()
    path = _log_path(erasure_log, settings)
    with opened(settings) as container:
        try:
            added = sync_log(container.app, path)
        except ErasureLogError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"added {added} erasure(s) to {path}")


@erasure_log_cli.command("reapply")
def reapply_command(
    erasure_log: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="the log to read (default: YSWD_ERASURE_LOG)"),
    ] = None,
    after: Annotated[
        int | None,
        typer.Option(
            metavar="POSITION",
            help="re-apply the erasures logged after this log position "
            "(default: the restored store's last position)",
        ),
    ] = None,
) -> None:
    """After restoring an older database: erase again everyone the log says was erased since.

    For a PostgreSQL restore (`yswd restore` does this itself for the embedded store).
    Run it before the service opens; it is safe to repeat.
    """
    from yswd.adapters.backup.erasures import reapply_erasures
    from yswd.adapters.erasure_log import ErasureLogError, records_after

    settings = Settings()
    path = _log_path(erasure_log, settings)
    # the read models run here, so the erased rows are rendered again before the service
    # opens; the erasures are the log's already, so they are not logged a second time
    here = settings.model_copy(update={"erasure_log": None, "run_projections": True})
    with opened(here) as container:
        head = container.app.recorder.max_notification_id() or 0
        position = head if after is None else after
        try:
            records = records_after(path, position)
        except ErasureLogError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        done = reapply_erasures(container, records)
    typer.echo(
        f"{len(records)} erasure(s) logged after position {position}; "
        f"{len(done)} re-applied, {len(records) - len(done)} already erased here"
    )
