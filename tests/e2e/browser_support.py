"""What every browser test needs: a real server in a thread, Debian's Chromium, and axe-core."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import uvicorn

from yswd.adapters.http.app import create_app
from yswd.bootstrap import Container

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.2 AA, and every level below it
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = (
    "needs /usr/bin/chromium and node_modules/axe-core (npm install --prefix tests/e2e axe-core@4)"
)


def browser_missing() -> bool:
    return not CHROMIUM.exists() or not AXE.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(container: Container, start_seconds: float = 20) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port; yields its base URL.

    The container is closed afterwards.
    """
    port = free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    try:
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()


#: every page listens for Content-Security-Policy violations from its first byte on
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""


class CspWatchedBrowser:
    """Chromium, whose every context and page notes the CSP violations it raises.

    The page's own listener (``securitypolicyviolation``) and the console both
    count; ``axe_violations`` reports them with axe's findings, so every browser
    test that checks a page for accessibility also checks it keeps to the CSP.
    """

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    def new_context(self, **options: Any) -> Any:
        return watch_csp(self._browser.new_context(**options))

    def new_page(self, **options: Any) -> Any:
        page = self._browser.new_page(**options)
        watch_csp(page.context)
        _watch_console(page)
        return page


#: CSP complaints Chromium wrote to each page's console
_CONSOLE_CSP: dict[Any, list[str]] = {}


def _watch_console(page: Any) -> None:
    if page in _CONSOLE_CSP:
        return
    found: list[str] = []
    _CONSOLE_CSP[page] = found

    def note(message: Any) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", note)


def watch_csp(context: Any) -> Any:
    context.add_init_script(CSP_LISTENER)
    context.on("page", _watch_console)
    return context


def csp_violations(page: Any) -> list[str]:
    """The CSP violations the page has raised so far, one line each."""
    found = list(_CONSOLE_CSP.get(page, []))
    with suppress(Exception):  # a page with JavaScript off has no listener
        found += page.evaluate("() => window.__cspViolations || []")
    return [f"content-security-policy: {line}" for line in dict.fromkeys(found)]


def chromium_env() -> dict[str, str]:
    """The environment Chromium starts in: the tests' own, without libfaketime preloaded.

    The moved-clock step of ``scripts/test.sh`` runs the tests under ``faketime``, which
    preloads libfaketime into every process they start. Chromium does not work under it:
    it spins, launching takes ~7 s instead of 0.6 s and one page load ~20 s instead of
    0.4 s (measured with libfaketime 0.9.10 and Debian 12's Chromium), so every
    ``page.goto`` times out. That step proves that the *app* takes no date from the
    machine, and the app runs in the test process (and its children), which keep the
    moved clock. The browser is a client with a clock of its own, as a real one is, and
    ``yswd.js`` reads no date; so Chromium alone starts with the machine's real clock.
    Nothing changes without faketime.
    """
    env = dict(os.environ)
    preload = [lib for lib in env.pop("LD_PRELOAD", "").split() if "faketime" not in lib]
    if preload:
        env["LD_PRELOAD"] = " ".join(preload)
    return env


def launch_chromium(playwright: Any) -> Any:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=chromium_env()
    )
    return CspWatchedBrowser(browser)


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.2 AA findings on the page as it stands, one line each, and any
    Content-Security-Policy violation the page raised.

    axe is evaluated through the browser's DevTools protocol rather than added as an
    inline ``<script>``, which the page's CSP (rightly) refuses.
    """
    page.evaluate(AXE.read_text() + "\n;true")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    return [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
    ] + csp_violations(page)


def sideways_scroll(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """The system Chromium, launched once for a module's browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
