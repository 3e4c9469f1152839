"""``yswd audit``: histories, chain checks, exports and recorded reads, at the console.

Whoever runs these commands can read the data folder (or database) directly,
so they act as the system principal. ``verify`` and ``export`` show a progress
bar on stderr when it is a terminal; what they print on stdout is the same either way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from yswd.adapters.progress import Quiet, on_terminal
from yswd.cli.store import opened, refusals
from yswd.settings import Settings

audit_cli = typer.Typer(help="Audit trails: histories, tamper checks, exports.")


@audit_cli.command("verify")
def verify_command(
    against: Annotated[
        Path | None, typer.Option(metavar="FILE", help="also re-check a signed checkpoint file")
    ] = None,
    trusted_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY", help="the checkpoint must be signed by this public key (base64)"
        ),
    ] = None,
) -> None:
    """Recompute the hash chain over every stored event; exit 1 if any is bad."""
    from yswd.aggregates.access import SYSTEM

    saved = json.loads(against.read_text()) if against else None
    with opened() as container:
        if saved is None:
            with on_terminal() as bars:
                answer = container.audit.verify(SYSTEM, bars.counter("checking the chain"))
        else:
            answer = container.audit.verify_against(SYSTEM, saved, trusted_key)
    typer.echo(json.dumps(answer, indent=2))
    if not answer["ok"]:
        raise typer.Exit(1)


@audit_cli.command("checkpoint")
def checkpoint_command(
    out: Annotated[
        Path, typer.Option(metavar="FILE", help="where to write the signed checkpoint (JSON)")
    ],
    key: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Ed25519 signing key (PEM); created if missing. Keep it off the host.",
        ),
    ] = None,
) -> None:
    """Sign the log's count and head hash now, so later rewrites can be shown up."""
    from yswd.aggregates.access import SYSTEM

    settings = Settings()
    with opened(settings) as container, refusals(exit_code=1):
        signing_key = container.audit.signing_key(
            key or settings.data_dir.parent / "yswd-audit-signing-key.pem"
        )
        saved = container.audit.checkpoint(SYSTEM, signing_key)
    out.write_text(json.dumps(saved, indent=2) + "\n")
    typer.echo(f"checkpoint of {saved['count']} events written to {out}")
    typer.echo(f"public key: {saved['public_key']}")


@audit_cli.command("history")
def history_command(
    item_id: Annotated[str, typer.Argument(help="the item's id")],
    as_of: Annotated[
        str | None, typer.Option(metavar="INSTANT", help="an ISO 8601 instant")
    ] = None,
) -> None:
    """Print an item's events up to an instant, and its state then, as JSON."""
    from yswd.aggregates.access import SYSTEM
    from yswd.application.audit import parse_instant

    with opened() as container, refusals():
        answer = container.audit.history(SYSTEM, item_id, parse_instant(as_of))
    typer.echo(json.dumps(answer, indent=2))


@audit_cli.command("export")
def export_command(
    output: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="write JSON Lines to this file (default: stdout)"),
    ] = None,
) -> None:
    """Write every stored event, with its hashes, as JSON Lines for an external auditor."""
    from yswd.aggregates.access import SYSTEM

    count = 0
    with opened() as container:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        # events printed on the terminal would tear through a bar drawn on it
        quiet = output is None and sys.stdout.isatty()
        try:
            with Quiet() if quiet else on_terminal() as bars:
                for record in container.audit.export(SYSTEM, bars.counter("exporting events")):
                    stream.write(json.dumps(record, sort_keys=True) + "\n")
                    count += 1
        finally:
            if output:
                stream.close()
    if output:
        typer.echo(f"wrote {count} events to {output}")


@audit_cli.command("reads")
def reads_command(
    user_id: Annotated[
        str | None, typer.Option(metavar="ID", help="only this member of staff's reads")
    ] = None,
    item_id: Annotated[
        str | None, typer.Option(metavar="ID", help="only reads of this item")
    ] = None,
    limit: Annotated[int, typer.Option(metavar="N", min=1, max=100_000)] = 100,
    offset: Annotated[int, typer.Option(metavar="N", min=0)] = 0,
) -> None:
    """List recorded reads of identifiable data, newest first: who, when, what (JSON)."""
    from yswd.aggregates.access import SYSTEM

    with opened() as container:
        answer = container.audit.reads(
            SYSTEM, user_id=user_id, item_id=item_id, limit=limit, offset=offset
        )
    typer.echo(json.dumps(answer, indent=2))
