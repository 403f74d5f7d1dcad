"""The ``chift-frames`` command: parse arguments, call the library, print; nothing more."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import ChiftFramesError
from .reports import Summary, summarise
from .store import load, query

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL = 0, 1, 2


def _print_summary(summary: Summary, root: Path, snapshot_id: str | None = None) -> None:
    title = f"Snapshot {snapshot_id} in {root}" if snapshot_id else f"Latest snapshot in {root}"
    print(title)
    print()
    print("Rows per table:")
    width = max(len(name) for name in summary.rows)
    for name, count in summary.rows.items():
        print(f"  {name:<{width}}  {count:>9,}")
    print()
    print(f"Setups incomplete (status not active): {summary.incomplete:,} of {summary.pairs:,}")
    with pd.option_context("display.width", 120, "display.max_colwidth", 40):
        if len(summary.top_consumers):
            print("\nConsumers with the most unmapped values:")
            print(summary.top_consumers.drop(columns=["sync_id"]).to_string(index=False))
        if len(summary.top_mappings):
            print("\nMappings with the most unmapped values:")
            print(summary.top_mappings.to_string(index=False))
        print(f"\nErrors: {len(summary.errors):,}")
        if len(summary.errors):
            print(summary.errors.head(10).to_string(index=False))


def _next_steps(root: Path) -> None:
    print("\nNext:")
    print("  jupyter lab notebooks/explore_syncs.ipynb")
    print(
        f'  chift-frames query {root} "SELECT sync_id, count(*) FROM mapping_values '
        'WHERE NOT is_mapped GROUP BY ALL"'
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """Build a snapshot of a made-up account, save it, and print its summary."""
    from .flatten import flatten
    from .store import save
    from .world import World

    world = World(consumers=args.consumers, syncs=args.syncs, seed=args.seed)
    records = ((c, world.consumer_sync(c, s)) for c, s in world.pairs())
    frames = flatten(records, fetched_at=datetime.now(UTC))
    snapshot_id = save(frames, args.out)
    _print_summary(summarise(load(args.out, snapshot_id)), args.out, snapshot_id)
    _next_steps(args.out)
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    """Print the summary of a snapshot."""
    frames = load(args.dir, args.snapshot)
    _print_summary(
        summarise(frames), args.dir, None if args.snapshot == "latest" else args.snapshot
    )
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    """Run SQL over a dataset and print the result."""
    result = query(args.dir, args.sql, snapshot=args.snapshot)
    if args.format == "csv":
        result.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(result.to_json(orient="records", date_format="iso", force_ascii=False))
    else:
        with pd.option_context(
            "display.width", 200, "display.max_rows", args.max_rows, "display.max_colwidth", 60
        ):
            print(result.to_string(index=False, max_rows=args.max_rows))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``chift-frames``."""
    parser = argparse.ArgumentParser(
        prog="chift-frames",
        description="Tidy tables of Chift consumer-sync setups, as a Parquet dataset.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="build a snapshot of a made-up account and summarise it")
    demo.add_argument("--out", type=Path, default=Path("data/demo"), help="dataset folder")
    demo.add_argument("--consumers", type=int, default=200, help="consumers in the account")
    demo.add_argument("--syncs", type=int, default=3, help="syncs in the account")
    demo.add_argument("--seed", type=int, default=0, help="seed of the made-up account")
    demo.set_defaults(func=cmd_demo)

    summary = sub.add_parser("summary", help="print the summary of a snapshot")
    summary.add_argument("dir", type=Path, help="dataset folder")
    summary.add_argument("--snapshot", default="latest", help="snapshot id (default: latest)")
    summary.set_defaults(func=cmd_summary)

    q = sub.add_parser("query", help="run DuckDB SQL over a dataset; every table is a view")
    q.add_argument("dir", type=Path, help="dataset folder")
    q.add_argument("sql", help="the SQL to run")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.add_argument("--snapshot", default="latest", help="snapshot id, latest or all")
    q.add_argument("--max-rows", type=int, default=50, help="rows shown in table format")
    q.set_defaults(func=cmd_query)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chift-frames``; return the exit status (0 ok, 1 fatal, 2 partial)."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except ChiftFramesError as exc:
        print(f"chift-frames: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print("chift-frames: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
