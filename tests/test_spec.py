"""The schema chift_frames validates against is the official one, and the samples follow it."""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_vendored_schema_equals_the_official_spec() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import vendor_spec
    finally:
        sys.path.pop(0)
    official = vendor_spec.standalone_schema(vendor_spec.load_official(), "SyncConsumerItem")
    vendored = json.loads(
        (files("chift_frames") / "spec" / "sync_consumer_item.schema.json").read_text("utf-8")
    )
    assert vendored == official, "run python scripts/vendor_spec.py"
