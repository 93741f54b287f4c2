"""What a page did that a clean load must not do: shared by the web and Pyodide browser tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PageLog:
    origin: str
    requests: list[str] = field(default_factory=list)
    responses: dict[str, dict] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    off_origin: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)

    def assert_clean(self):
        problems = {
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "failed requests": self.failed,
            "off-origin requests": self.off_origin,
            "HTTP errors": self.bad_status,
        }
        bad = {k: v for k, v in problems.items() if v}
        assert not bad, f"page was not clean: {bad}"
