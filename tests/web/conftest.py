"""Fixtures for the browser tests: a tiny artifact, its bundle, a server, and ONE shared Chromium.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never `playwright install`); each
test gets a fresh browser context (its own profile state) from the one browser of the session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.bundle_support import build_bundle, edgepack_server
from tests.web.tiny_artifact_support import make_tiny_artifact


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory) -> Path:
    return make_tiny_artifact(tmp_path_factory.mktemp("tiny") / "build")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_artifact, tmp_path_factory) -> Path:
    return build_bundle(tiny_artifact, tmp_path_factory.mktemp("dist") / "tiny-wasm", "fp32")


@pytest.fixture(scope="session")
def served_bundle(tiny_bundle):
    with edgepack_server(tiny_bundle) as url:
        yield url
