"""What the browser tests share: Chromium driving and page logs come from edgepack.web.chromium (the
one module that knows the executable, the flags and Playwright's quirks); tests import them here."""

from __future__ import annotations

from edgepack.web.chromium import CHROMIUM, CHROMIUM_FLAGS, LOAD_TIMEOUT_MS, PageLog, open_page

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "LOAD_TIMEOUT_MS", "PageLog", "open_page"]
