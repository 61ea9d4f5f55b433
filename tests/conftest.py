"""Shared fixtures: the repository root and a helper to build models from text."""

from __future__ import annotations

from pathlib import Path

import pytest

import semdsl

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    return ROOT


def build(text: str, params=None, seed: int = 1, **kw):
    """Check and compile model text (a helper for tests)."""
    return semdsl.compile(semdsl.loads(text, "test.sem"), params, seed=seed, **kw)
