"""Shared test helpers: writing small exports and running the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# One hypothesis profile for the whole suite: no per-example deadline (a 2-core CI machine
# under load makes timings meaningless), no example database left in the tree, and the
# same examples on every CI run so a failure is reproducible from the log. Locally,
# HYPOTHESIS_PROFILE=explore searches more widely with fresh examples.
settings.register_profile(
    "ci",
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "sample_data"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def write_file(tmp_path):
    """write_file(name, text, encoding='utf-8') -> Path: a small export in tmp_path."""

    def _write(name: str, text: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return path

    return _write


@pytest.fixture
def write_config(tmp_path):
    """write_config(yaml_text) -> Path of tmp_path/segtool.yaml."""

    def _write(text: str, name: str = "segtool.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    os.environ.pop("FORCE_COLOR", None)
