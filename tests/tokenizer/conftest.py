"""Fixtures for the tokenizer tests (plain helpers: golden_support.py)."""

from __future__ import annotations

import pytest

from tests.tokenizer.golden_support import load_corpus


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return load_corpus()
