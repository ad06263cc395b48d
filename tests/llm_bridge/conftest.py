"""Fixtures for llm_bridge tests: the real packaged MiniLM, loaded once per session."""

from __future__ import annotations

import pytest

from kgrec.settings import EncoderSettings
from llm_bridge import TextEncoder


@pytest.fixture(scope="session")
def encoder() -> TextEncoder:
    """The packaged all-MiniLM-L6-v2 on CPU (shared: tests must not mutate it)."""
    enc = TextEncoder(EncoderSettings(device="cpu"))
    enc.encode(["warm up"], show_progress=False)
    return enc
