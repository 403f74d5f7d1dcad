"""Write docs/tables.md from the pinned schemas in chift_frames/schema.py.

Run: ``.venv/bin/python scripts/gen_tables_doc.py``; tests/test_docs.py fails when the file is
stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chift_frames.schema import TABLES, arrow_to_pandas_dtype

OUT = Path(__file__).resolve().parent.parent / "docs" / "tables.md"

INTRO = """\
# Tables

Every table below has one pinned `pyarrow.Schema` in `chift_frames/schema.py`; this page is
generated from it by `.venv/bin/python scripts/gen_tables_doc.py` and a test checks it lists
exactly the columns of the schemas. Keys are named `<entity>_id`, positions `*_index`
(0-based), counts `*_count`; rows keep payload order. Free-form objects are JSON text,
serialised canonically (sorted keys, compact), so equal content gives equal text across
fetches. Timestamps are UTC.
In pandas, strings are `string[pyarrow]`, integers `Int64` and booleans `boolean` (all
nullable), lists are `list<string>[pyarrow]`, timestamps `datetime64[us, UTC]`.
"Null" says whether the column can hold nulls. "Key" names the columns that tell a row from
every other of one snapshot (`TABLES[name].key`): a fetch stores one row per key, keeping the
first copy of an entry that a list answer repeats and counting the copies left out in the
manifest's `info.duplicates`; an answer about another pair than the one asked for is a row
of `payload_errors` for the pair asked for.

How the tables link:

```
consumer_syncs (consumer_id, sync_id)
├── mappings (…, mapping_index)
│   └── mapping_values (…, mapping_index, value_index)
├── skipped_mappings (…, name)
└── flows (…, flow_id)
    └── datastores (…, flow_id, datastore_index)
        └── datastore_columns (…, flow_id, datastore_index, column_index)
payload_errors: records left out by flatten(..., on_error="collect")
```
"""


# How a table is stored, where that differs from one copy per snapshot
NOTES = {
    "executions": (
        "Stored as a log: a fetch stores only the executions the dataset does not hold as "
        "they are (new ones, and runs that have ended since a fetch saw them running), and a "
        "nightly fetch asks Chift only for those since the last fetch's window end (less an "
        "hour) and for the runs it saw running. Each snapshot still shows the executions of "
        "its whole window (`info.executions_since` on, by the time they started), each in "
        "its latest state, through `cf.load`, the views and the reports; readers of the "
        "folders see each stored row once (docs/readers.md says how to get one snapshot's)."
    ),
}


def render() -> str:
    parts = [INTRO]
    for table in TABLES.values():
        parts.append(f"\n## `{table.name}`\n\nEach row: {table.row}.\n")
        if table.name in NOTES:
            parts.append(f"\n{NOTES[table.name]}\n")
        if table.key:
            key = ", ".join(f"`{column}`" for column in table.key)
            parts.append(f"\nKey: {key} (unique in a snapshot).\n")
        else:
            parts.append("\nKey: none (rows are kept as the answers give them).\n")
        parts.append("\n| column | type | pandas dtype | null | description |\n")
        parts.append("|---|---|---|---|---|\n")
        for field in table.schema:
            dtype = arrow_to_pandas_dtype(field.type) or str(field.type).replace("tz=", "")
            if str(field.type).startswith("timestamp"):
                dtype = "datetime64[us, UTC]"
            null = "yes" if field.nullable else "no"
            parts.append(
                f"| `{field.name}` | `{field.type}` | `{dtype}` | {null} | "
                f"{table.describe(field.name)} |\n"
            )
    return "".join(parts)


def main() -> int:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
