"""Extract the JSON Schemas chift_frames validates against from Chift's official OpenAPI spec.

The official spec ships in the ``chift`` SDK on PyPI (``chift/openapi/openapi.json``). This script
copies the closure of each root schema, with ``$ref``s rewritten to ``#/$defs/...``, into
``chift_frames/spec/``. ``tests/test_spec.py`` checks the copy still equals the official spec.

Run: ``python scripts/vendor_spec.py`` (needs ``pip install chift``).
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

ROOTS = {"sync_consumer_item": "SyncConsumerItem"}
OUT = Path(__file__).resolve().parent.parent / "chift_frames" / "spec"
PREFIX = "#/components/schemas/"


def load_official() -> dict[str, Any]:
    return json.loads((files("chift.openapi") / "openapi.json").read_text(encoding="utf-8"))


def standalone_schema(spec: dict[str, Any], root: str) -> dict[str, Any]:
    """Return ``root`` as a standalone JSON Schema holding every schema it references."""
    components = spec["components"]["schemas"]
    defs: dict[str, Any] = {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(PREFIX):
                    name = value[len(PREFIX) :]
                    if name not in defs:
                        defs[name] = None  # placeholder against cycles
                        defs[name] = rewrite(components[name])
                    out[key] = "#/$defs/" + name
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    body = rewrite(components[root])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"{root} from Chift's OpenAPI spec {spec['info'].get('version')}, "
        "vendored by scripts/vendor_spec.py from the chift SDK",
        **body,
        "$defs": dict(sorted(defs.items())),
    }


def main() -> int:
    spec = load_official()
    for filename, root in ROOTS.items():
        path = OUT / f"{filename}.schema.json"
        path.write_text(
            json.dumps(standalone_schema(spec, root), indent=1) + "\n", encoding="utf-8"
        )
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
