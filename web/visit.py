"""A visit of the demo page in Chromium, and the in-page timing harness it carries.

The gate (edgepack.web.gate) and the benchmark (edgepack.web.browser_bench) both open a bundle's
demo page in a fresh context, wait for it to start, and call the page helpers of
``edgepack/timing.mjs`` (web/src/timing.mjs, shipped in every bundle): the JavaScript lives in that
module, covered by ``node --test web/test/``, never in Python strings.
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import quote

from edgepack.errors import TargetError
from edgepack.web.chromium import LOAD_TIMEOUT_MS, open_page

TIMING_MODULE = "edgepack/timing.mjs"  # the bundle path of web/src/timing.mjs
# The one call into the page: import the harness (same origin: the CSP allows it; a function, not a
# string to eval, which the CSP forbids) and run one of its page helpers on the demo's pipeline.
_CALL = ("async ([module, name, args]) => (await import(new URL(module, location.href)))"
         ".page[name](globalThis.edgepackDemo, args)")


class PageError(TargetError):
    pass


def call(page, name: str, *args):
    """``page.<name>(demo, args)`` of the page's timing.mjs; its return value (plain JSON)."""
    return page.evaluate(_CALL, [TIMING_MODULE, name, list(args)])


@contextmanager
def open_demo(browser, url: str, text: str | None = None):
    """A fresh context on the demo page; yields (page, log) once the first result (or ready) is in.

    ``log`` is the visit's :class:`edgepack.web.chromium.PageLog`, with ``marks``: the cold-start
    marks (ms since navigation start) and the pipeline's info. A page that shows an error raises
    PageError.
    """
    done = "body[data-runs], body[data-state=error]" if text else "body:not([data-state=loading])"
    with open_page(browser, url + "index.html" + (f"#text={quote(text)}" if text else ""), wait_for=done,
                   timeout_ms=LOAD_TIMEOUT_MS) as (page, log):
        if page.get_attribute("body", "data-state") == "error":
            raise PageError(f"{url}index.html: the demo page failed to start: {page.inner_text('#error')}")
        log.marks = call(page, "marks")
        yield page, log
