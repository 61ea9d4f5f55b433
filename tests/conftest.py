"""Shared fixtures: the repository root and a helper to build models from text."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import semdsl

ROOT = Path(__file__).resolve().parent.parent

# `semdsl run` keeps finished tasks in ~/.cache/semdsl by default: the tests get a cache
# of their own, so no test reads another session's (or the user's) stored results
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="semdsl-test-cache-")


@pytest.fixture
def root() -> Path:
    return ROOT


def build(text: str, params=None, seed: int = 1, **kw):
    """Check and compile model text (a helper for tests)."""
    return semdsl.compile(semdsl.loads(text, "test.sem"), params, seed=seed, **kw)
