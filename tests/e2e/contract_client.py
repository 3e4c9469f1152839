"""The service as an outsider meets it: `yswd serve` in a subprocess, driven with httpx."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

START_SECONDS = 90  # generous: the box is shared and loaded


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def yswd_command() -> list[str]:
    executable = shutil.which("yswd")
    return [executable] if executable else [sys.executable, "-m", "yswd.cli"]


@dataclass
class Served:
    """One `yswd serve` process over one data folder; restartable on the same folder."""

    data_dir: Path
    admin_token: str
    workdir: Path
    port: int = 0
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "YSWD_DATA_DIR": str(self.data_dir),
            "YSWD_ADMIN_TOKEN": self.admin_token,
        }
        for name in ("YSWD_DATABASE_URL", "YSWD_NATS_URL"):
            env.pop(name, None)
        log = (self.workdir / f"serve-{len(self.output)}.log").open("w")
        self.process = subprocess.Popen(
            [*yswd_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"yswd serve exited early:\n{self.log()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"yswd serve did not come up:\n{self.log()}")

    def log(self) -> str:
        return "".join(path.read_text() for path in sorted(self.workdir.glob("serve-*.log")))

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.append(self.log())
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown work at all, as in a power cut of the process."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.output.append(self.log())
        self.process = None

    def client(self, token: str | None = None) -> Client:
        return Client(self.url, token)

    def admin(self) -> Client:
        return self.client(self.admin_token)


class Client:
    """httpx with a bearer token (or none) and a few contract-shaped helpers."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def as_user(self, token: str) -> Client:
        """Another client to the same service, with ``token``."""
        return Client(self.url, token)

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return self.http.post(path, json=body, headers=headers)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def created(self, path: str, body: Any, **headers: str) -> dict[str, Any]:
        answer = self.post(path, body, **headers)
        assert answer.status_code == 201, (path, answer.status_code, answer.text)
        return dict(answer.json())

    def ok(self, path: str, body: Any = None, **headers: str) -> dict[str, Any]:
        answer = self.post(path, body, **headers)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return dict(answer.json())

    def read(self, path: str, **params: Any) -> Any:
        answer = self.get(path, **params)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()
