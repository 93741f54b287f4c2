"""Driving headless Chromium: the one place that knows the executable, the flags and Playwright's quirks.

Used by the wasm speed gate (edgepack.web.gate), ``edgepack bench --target wasm``
(edgepack.web.browser_bench) and the test suite's ``browser`` fixture (tests/conftest.py) and page
helpers (tests/browser_support.py). Chromium is Debian's /usr/bin/chromium (``EDGEPACK_CHROMIUM``
overrides) driven through Playwright's Python API; a browser is never downloaded
(``playwright install`` is not needed and must not run: no network).
"""

from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from edgepack.errors import TargetError

CHROMIUM = Path(os.environ.get("EDGEPACK_CHROMIUM", "/usr/bin/chromium"))
# Headless and offline: no sandbox (containers and CI runners lack the namespaces it needs), no GPU,
# no background traffic (updates, sync, QUIC probes) that would fail or be counted as page requests.
# No --user-data-dir here: Playwright refuses it in launch() and gives every launch a fresh temporary
# profile of its own, removed on close; every context is a fresh profile state on top.
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
LOAD_TIMEOUT_MS = 90_000  # 2 slow CI cores; a timeout is an error, never a timing assertion


def available() -> str | None:
    """None when Chromium + Playwright can run here, else why not (a sentence a user can act on)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install playwright; no browser download needed)"
    return None


@contextmanager
def launch(purpose: str = "wasm benchmark"):
    """One headless Chromium; raises TargetError naming ``purpose`` when none can run here.

    Playwright's sync API allows one per thread and refuses a thread whose asyncio loop runs: call
    from :func:`on_own_thread` where the caller may already be inside one (a test session's browser).
    """
    why = available()
    if why:
        raise TargetError(f"{purpose}: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def version(browser) -> str:
    return f"Chromium {browser.version} (headless)"


def on_own_thread(fn):
    """Run ``fn`` on a fresh thread. Playwright's sync API refuses to start on a thread whose asyncio
    loop is running -- a Jupyter kernel, or a caller already inside sync_playwright (a test session's
    shared browser) -- so the gate and the benchmark never share the caller's thread."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        box: dict = {}

        def target():
            try:
                box["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # re-raised on the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"edgepack-{fn.__name__}")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return run


# ---------------------------------------------------------------- what a page did
@dataclass
class PageLog:
    """Everything a page (and its workers) did that a clean load must not do, and what it fetched."""

    origin: str
    requests: list[str] = field(default_factory=list)
    responses: dict[str, dict] = field(default_factory=dict)  # url -> response headers
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    off_origin: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    marks: dict | None = None  # a demo-page visit's cold-start marks (edgepack.web.visit)
    _request_objects: list = field(default_factory=list, repr=False)

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors

    def problems(self) -> dict[str, list[str]]:
        found = {"console errors": self.console_errors, "page errors": self.page_errors,
                 "failed requests": self.failed, "off-origin requests": self.off_origin,
                 "HTTP errors": self.bad_status}
        return {k: v for k, v in found.items() if v}

    def assert_clean(self):
        bad = self.problems()
        assert not bad, f"page was not clean: {bad}"

    def wire_bytes(self) -> list[tuple[str, int]]:
        """(url, response body bytes as they crossed the wire, encoded) where Chromium reports them."""
        out = []
        for request in self._request_objects:
            try:
                out.append((request.url, request.sizes()["responseBodySize"]))
            except Exception:  # a request that never completed has no sizes
                pass
        return out

    def watch(self, context, page) -> None:
        """Record the context's requests (its workers' too) and the page's errors."""
        def on_request(request):
            self.requests.append(request.url)
            self._request_objects.append(request)
            if not request.url.startswith(self.origin + "/"):
                self.off_origin.append(request.url)

        def on_response(response):
            self.responses[response.url] = response.headers
            if response.status >= 400:
                self.bad_status.append(f"{response.status} {response.url}")

        context.on("request", on_request)
        context.on("response", on_response)
        context.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))


@contextmanager
def open_page(browser, url: str, *, wait_for: str | None = "body:not([data-state=loading])",
              timeout_ms: int = LOAD_TIMEOUT_MS, viewport: dict | None = None):
    """A fresh context and page on ``url`` with a :class:`PageLog`; yields (page, log) once
    ``wait_for`` (a CSS selector) matches. The context is closed on exit."""
    context = browser.new_context(viewport=viewport or {"width": 1000, "height": 800})
    page = context.new_page()
    log = PageLog(origin="{0.scheme}://{0.netloc}".format(urlsplit(url)))
    log.watch(context, page)
    try:
        page.goto(url)
        if wait_for:
            page.wait_for_selector(wait_for, timeout=timeout_ms)
        yield page, log
    finally:
        context.close()
