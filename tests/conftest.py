from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PAYLOADS = Path(__file__).parent / "payloads"


def read_payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def active_pos() -> dict[str, Any]:
    """A realistic, fully set-up POS → Accounting response with every kind of field."""
    return read_payload("active_pos")


@pytest.fixture
def opened_only() -> dict[str, Any]:
    """A consumer who only opened the setup link: null lists, no status, no enabled."""
    return read_payload("opened_only")
