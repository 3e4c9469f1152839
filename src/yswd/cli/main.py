"""The ``yswd`` command: serve, demo data, users, projections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from yswd.adapters.progress import on_terminal
from yswd.cli.audit import audit_cli
from yswd.cli.backup import backup_cli
from yswd.cli.store import opened, refusals
from yswd.settings import Settings

if TYPE_CHECKING:
    from yswd.adapters.container import Container

cli = typer.Typer(
    help="yswd: You Said, We Did. Feedback tracking for mental-health services.",
    add_completion=False,
)
users_cli = typer.Typer(help="Manage staff users.")
projections_cli = typer.Typer(help="Read models.")
cli.add_typer(users_cli, name="users")
cli.add_typer(projections_cli, name="projections")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(backup_cli)  # yswd backup, yswd restore, yswd erasure-log


@cli.command()
def serve(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="address to listen on")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="port to listen on")] = 8000,
    demo: Annotated[bool, typer.Option(help="load the demo data first (once)")] = False,
) -> None:
    """Start the web service."""
    import uvicorn

    from yswd.adapters.http.app import create_app
    from yswd.adapters.logs import configure_logging
    from yswd.bootstrap import build

    settings = Settings()
    configure_logging(settings.log_format)
    container = build(settings)
    if demo:
        from yswd.adapters.demo import load_demo

        typer.echo(load_demo(container))
        token = settings.admin_token or _demo_admin_token(container)
        typer.echo(f"demo admin token: {token}")
        typer.echo("  sign in at /staff/ with it, or send 'Authorization: Bearer <token>'")
    typer.echo(f"yswd is serving on http://{host}:{port}/ (public board: /public)")
    # uvicorn logs through ours (log_config=None); its access log is off: it
    # would write raw paths and query strings, ours writes route templates
    uvicorn.run(
        create_app(container),
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        access_log=False,
        **proxy_options(settings),
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options from ``YSWD_TRUSTED_PROXIES``.

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise, so
    anything on the host (or a port forwarded to it) could pick the client address
    that rate limits count. By default no proxy is trusted and the peer is the
    client; behind a load balancer, name its addresses or networks.
    """
    trusted = [part.strip() for part in settings.trusted_proxies.split(",") if part.strip()]
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def _demo_admin_token(container: Container) -> str:
    """A demo without ``YSWD_ADMIN_TOKEN`` still needs a way in: an admin of its own.

    The token is made once and kept in the data folder, so every later
    ``serve --demo`` prints the same one.
    """
    import secrets

    path = container.settings.data_dir / "demo-admin-token"
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
    else:
        token = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token + "\n", encoding="utf-8")
        path.chmod(0o600)
    container.app.ensure_admin(token)
    return token


@cli.command("demo")
def demo_command() -> None:
    """Load realistic demo data drawn from the seed documents (safe to repeat)."""
    from yswd.adapters.demo import load_demo

    with opened() as container:
        typer.echo(load_demo(container))


@users_cli.command("add")
def add_user(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="the person's name")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            metavar="ROLE",
            help="admin, secretary, manager, moderator, advocate, safeguarding_lead or auditor",
        ),
    ],
    scope: Annotated[
        list[str] | None, typer.Option(metavar="UNIT", help="a unit id; repeat for several")
    ] = None,
) -> None:
    """Add a user and print their token (shown only now)."""
    from yswd.aggregates.access import SYSTEM
    from yswd.aggregates.users import Role

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"role must be one of {', '.join(r.value for r in Role)}"
        ) from None
    with opened() as container, refusals():
        written = container.app.create_user(SYSTEM, name, chosen, scope or [])
    typer.echo(f"user id: {written.value.user.user_id}")
    typer.echo(f"token:   {written.value.token}")


minutes_cli = typer.Typer(help="Meeting minutes.")
cli.add_typer(minutes_cli, name="minutes")


@minutes_cli.command("import")
def import_minutes(
    file: Annotated[str, typer.Argument(help="a .csv file, or a Markdown list (.md)")],
    forum: Annotated[
        str, typer.Option("--forum", metavar="FORUM", help="the forum the meeting belongs to")
    ],
    dry_run: Annotated[bool, typer.Option(help="check every row, import nothing")] = False,
) -> None:
    """Import a meeting's items into the local store: all rows or none."""
    import json
    from pathlib import Path

    from yswd.aggregates.access import SYSTEM

    path = Path(file)
    fmt = "csv" if path.suffix.lower() == ".csv" else "markdown"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"error: cannot read {file}: {error}", err=True)
        raise typer.Exit(2) from None
    with opened() as container, refusals(), on_terminal() as bars:
        answer = container.minutes.run(
            SYSTEM, forum, text, fmt, dry_run=dry_run, progress=bars.counter("importing rows")
        )
    for row in answer.body["rows"]:
        typer.echo(f"row {row['row']}: {'ok' if row['ok'] else '; '.join(row['errors'])}")
    if answer.status_code >= 400:
        typer.echo("nothing was imported", err=True)
        raise typer.Exit(1)
    if answer.body["committed"]:
        already = " (already imported before: nothing new)" if answer.replayed else ""
        count = len(answer.body["items"])
        typer.echo(f"imported {count} {'item' if count == 1 else 'items'}{already}")
        for item in answer.body["items"]:
            typer.echo(json.dumps({"id": item["id"], "title": item["title"]}))
    else:
        typer.echo(f"{len(answer.body['items'])} items would be imported (dry run)")


@projections_cli.command("rebuild")
def rebuild(
    name: Annotated[str | None, typer.Argument(help="one read model; all by default")] = None,
) -> None:
    """Drop read models and rebuild them from every stored event."""
    with opened() as container:
        names = [name] if name else None
        if name and name not in container.read_models:
            known = ", ".join(container.read_models)
            typer.echo(f"unknown read model {name!r}; known: {known}")
            raise typer.Exit(2)
        total = container.runner.head()
        with typer.progressbar(length=total, label="rebuilding") as bar:
            applied = container.runner.rebuild(names, progress=bar.update)
    typer.echo(f"applied {applied} events")


@projections_cli.command("status")
def projection_status() -> None:
    """Print each read model's position and lag."""
    with opened() as container:
        for model, lag in container.runner.lag().items():
            typer.echo(f"{model}: position {lag['position']} of {lag['head']} (lag {lag['lag']})")


nats_cli = typer.Typer(help="The NATS JetStream event relay.")
cli.add_typer(nats_cli, name="nats")


@cli.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(metavar="PORT", help="serve Prometheus metrics at :PORT/metrics"),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS", help="address for the metrics port (0.0.0.0 for every interface)"
        ),
    ] = "127.0.0.1",
) -> None:
    """Run the projections and the NATS relay (if YSWD_NATS_URL is set) until stopped."""
    from yswd.adapters.logs import configure_logging
    from yswd.adapters.worker import Worker

    settings = Settings()
    configure_logging(settings.log_format)
    with opened(settings) as container:
        running = Worker(container)
        if metrics_port is not None:
            running.serve_metrics(metrics_port, metrics_host)
        running.run_until_signalled()


@nats_cli.command("tail")
def nats_tail(
    subject: Annotated[
        str, typer.Option("--subject", metavar="SUBJECT", help="subject filter")
    ] = "yswd.events.>",
    count: Annotated[
        int | None, typer.Option(metavar="N", help="stop after this many messages")
    ] = None,
) -> None:
    """Print events from the YSWD_EVENTS stream as they arrive."""
    from yswd.adapters.nats_relay import tail

    url = Settings().nats_url
    if not url:
        typer.echo("YSWD_NATS_URL is not set", err=True)
        raise typer.Exit(2)
    tail(url, subject, count)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
