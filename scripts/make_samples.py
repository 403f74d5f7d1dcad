"""Write data/samples/: the raw responses of a small made-up Chift account, as JSON.

The account is ``World(consumers=3, syncs=3, seed=SEED)`` from ``chift_frames.world``: three
consumers, each linked to two or three syncs, eight consumer-sync pairs in all. The seed was
picked because this small account still shows what real setups look like: complete and
incomplete setups, a consumer who only opened the link (null mappings), unmapped, hidden and
skipped mappings, timer and event triggers, and a cron schedule that does not parse.

Layout under data/samples/ (one file per API response body, pretty-printed, keys in the API's
order)::

    consumers.json                                GET /consumers
    syncs.json                                    GET /syncs
    consumer_syncs/<consumer_id>__<sync_id>.json  GET /consumers/{consumer_id}/syncs/{syncid}
    connections/<consumer_id>.json                GET /consumers/{consumer_id}/connections

Run: ``python scripts/make_samples.py`` (``--check`` only compares, exit status 1 when the
files differ). tests/test_samples.py fails when the committed samples are stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chift_frames.world import World

SEED = 194
OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
PAIR_DIR = "consumer_syncs"
SEPARATOR = "__"  # neither a consumer id nor a sync id (both UUIDs) holds two underscores


def to_json(body: Any) -> str:
    """Return ``body`` as the text of a sample file."""
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def pair_file(consumer_id: str, sync_id: str) -> str:
    """Return the path, relative to the samples folder, of one consumer-sync response."""
    return f"{PAIR_DIR}/{consumer_id}{SEPARATOR}{sync_id}.json"


def render(seed: int = SEED) -> dict[str, str]:
    """Return every sample file: text by path relative to the samples folder."""
    world = World(consumers=3, syncs=3, seed=seed)
    files = {
        "consumers.json": to_json(world.consumer_items()),
        "syncs.json": to_json(world.sync_items()),
    }
    for consumer_id, sync_id in world.pairs():
        files[pair_file(consumer_id, sync_id)] = to_json(world.consumer_sync(consumer_id, sync_id))
    for consumer in world.consumer_items():
        consumer_id = consumer["consumerid"]
        files[f"connections/{consumer_id}.json"] = to_json(world.connection_items(consumer_id))
    return files


def on_disk(out: Path) -> dict[str, str]:
    """Return the sample files found under ``out``: text by relative path."""
    return {
        path.relative_to(out).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(out.rglob("*.json"))
    }


def stale_files(out: Path = OUT) -> list[str]:
    """Return the sample files under ``out`` that are missing, different or left over."""
    wanted, found = render(), on_disk(out)
    return sorted(p for p in wanted.keys() | found.keys() if wanted.get(p) != found.get(p))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="samples folder")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    wanted, stale = render(), stale_files(args.out)
    if args.check:
        for path in stale:
            print(f"stale: {args.out / path}")
        return 1 if stale else 0
    if not stale:
        print(f"{args.out} is up to date")
    for path in stale:
        target = args.out / path
        if path not in wanted:
            target.unlink()
            print(f"removed {target}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
