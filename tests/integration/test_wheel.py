"""What ``pip install .`` installs must run: the README's first command, from a wheel.

The tests run against the editable install, which reads every file from ``src/``;
a file the wheel leaves out (package data missing from ``pyproject.toml``) only
fails on a fresh machine, at start-up. Until session 7 ``disclosure_terms.toml``
was left out and ``yswd serve --demo`` stopped with ``FileNotFoundError``. These
tests build the wheel from this tree, check it holds every file of ``src/yswd``,
and start the demo service from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .servers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "yswd"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, built from a clean copy of it: setuptools would take
    whatever an earlier build left in ``build/lib`` (deleted modules, and data files
    the package-data leaves out) into a wheel built in place."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(out), str(tree)],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )  # fmt: skip
    (built,) = out.glob("yswd-*.whl")
    return built


def package_files() -> set[str]:
    """Every file of ``src/yswd`` a checkout holds, as a path inside the wheel."""
    found = set()
    for path in PACKAGE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            found.add(path.relative_to(PACKAGE.parent).as_posix())
    return found


def test_the_wheel_holds_every_file_of_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        inside = set(archive.namelist())
    missing = sorted(package_files() - inside)
    assert not missing, f"pyproject.toml's package-data leaves out: {missing}"


def healthy(base: str) -> bool:
    """Whether the service at ``base`` answers its health check (not listening yet: no)."""
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtual environment with the wheel in it (its dependencies: this one's)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield python


def test_the_demo_service_starts_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed), "-c", "import yswd; print(yswd.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert str(ROOT / "src") not in where, "the wheel's copy must be the one imported"
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YSWD_")},
        "YSWD_DATA_DIR": str(tmp_path / "data"),
        "YSWD_ADMIN_TOKEN": "demo-admin-token",
    }
    with log.open("w") as out:
        serve = subprocess.Popen(
            [str(installed), "-m", "yswd", "serve", "--demo", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while not healthy(base):
            assert serve.poll() is None, f"yswd serve stopped:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        admin = {"Authorization": "Bearer demo-admin-token"}
        items = httpx.get(f"{base}/api/v1/items", headers=admin, timeout=10)
        assert items.status_code == 200 and items.json()["items"], "the demo data is there"
        for page in ("/", "/staff/sign-in", "/docs"):
            answer = httpx.get(base + page, timeout=10, follow_redirects=True)
            assert answer.status_code == 200, (page, answer.text[:300])
    finally:
        serve.terminate()
        serve.wait(timeout=30)
