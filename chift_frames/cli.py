"""The ``chift-frames`` command: parse arguments, call the library, print; nothing more."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import _cli_parser
from ._cli_parser import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    SHAPE_NAMES,
    UsageError,
)
from ._cli_print import (
    _clip,
    _command_prefix,
    _next_steps,
    _plural,
    _print_changes,
    _print_summary,
    _resolve,
    _summarise,
)
from ._client_defaults import ENV
from ._shell import printed_program, program, resume_command, shell_command
from .errors import (
    ChiftFramesError,
    FilteredSnapshotWarning,
    PartialSnapshotWarning,
    UnreachableError,
)
from .export import compute_report_tables, compute_reports, save_html, save_reports, write_csv
from .history import diff, diff_notes, pick_snapshots
from .redact import Redactor
from .reports import REPORTS, parse_one_apis, report_script
from .store import (
    clean,
    compact,
    display_root,
    list_snapshots,
    load,
    migrate,
    prune,
    query,
    snapshot_states,
    upload_file,
    upload_files,
    url_under,
)
from .store.completeness import briefs, completeness, completeness_of_listed

__all__ = ["COMMANDS", "EXIT_USAGE", "SHAPE_NAMES", "build_parser", "main"]

if TYPE_CHECKING:  # the API client and the fetch are imported by the commands that use them
    from .fetch import FetchResult


DEMO_ACCOUNT = "00000000-0000-4000-8000-0000000000de"  # any UUID: the sandbox is lenient


def _report_fetch(result: FetchResult, again: str | None = None) -> int:
    """Print how a fetch ended; return the exit status.

    ``again`` replaces the resume command of a partial snapshot (the demo's sandbox is gone).
    """
    # DuckDB summarises the snapshot on disk: memory stays flat whatever the account's size
    manifest = _resolve(result.root, result.snapshot_id)
    _print_summary(_summarise(result.root, result.snapshot_id), result.root, manifest, errors=False)
    _print_duplicates(result.duplicates)
    if result.complete:
        print(f"\nSnapshot {result.snapshot_id} is complete: {_plural(result.pairs_ok, 'pair')}.")
        return EXIT_OK
    what = (
        [f"{result.pairs_failed:,} of {_plural(result.pairs, 'pair')} failed"]
        if result.pairs_failed
        else [f"{result.pairs_ok:,} of {_plural(result.pairs, 'pair')} were fetched"]
    )
    if result.executions_failed:
        what.append(f"the executions of {_plural(result.executions_failed, 'sync')} failed")
    if result.connections_failed:
        what.append(f"the connections of {_plural(result.connections_failed, 'consumer')} failed")
    with warnings.catch_warnings():  # said just above
        warnings.simplefilter("ignore", PartialSnapshotWarning)
        tables = load(
            result.root,
            result.snapshot_id,
            tables=["fetch_errors", "payload_errors", "consumers", "syncs"],
        )
    columns = [
        *("table", "consumer", "sync", "http_status", "path", "message"),
        *("consumer_id", "sync_id"),
    ]
    parts = [
        tables.fetch_errors.assign(table="fetch_errors", path=""),
        tables.payload_errors.assign(table="payload_errors", http_status=""),
    ]
    # names first, as people know them; the ids after, for --consumer and --sync
    consumer_names = dict(zip(tables.consumers.consumer_id, tables.consumers.name, strict=True))
    sync_names = dict(zip(tables.syncs.sync_id, tables.syncs.name, strict=True))
    parts = [
        p.assign(
            consumer=p.consumer_id.map(consumer_names).fillna(""),
            sync=p.sync_id.map(sync_names).fillna(""),
        )[columns].astype(object)
        for p in parts
    ]
    failed = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    holding = " and ".join(sorted(set(failed.table))) or "fetch_errors"
    print(
        f"\nSnapshot {result.snapshot_id} is partial: {'; '.join(what)}. "
        f"What failed ({'tables' if ' and ' in holding else 'table'} {holding}):"
    )
    print(failed.head(20).to_string(index=False))
    if len(failed) > 20:
        print(f"... and {len(failed) - 20:,} more (tables fetch_errors and payload_errors)")
    print(
        again
        or f"Fetch them again with: {resume_command(display_root(result.root), result.snapshot_id)}"
    )
    return EXIT_PARTIAL


def _print_duplicates(duplicates: dict[str, dict[str, int]]) -> None:
    """Say, in one line, which entries the answers listed twice (each was kept once)."""
    counts = [
        f"{table} {n['identical'] + n['conflicting']:,}"
        + (f" ({n['conflicting']:,} conflicting)" if n["conflicting"] else "")
        for table, n in sorted(duplicates.items())
        if n["identical"] + n["conflicting"]
    ]
    if counts:
        print(
            "\nRepeated entries left out, the first copy of each kept: "
            + ", ".join(counts)
            + " (info.duplicates in the manifest)"
        )


def cmd_demo(args: argparse.Namespace) -> int:
    """Fetch a made-up account from the sandbox twice, with changes between, and summarise."""
    from .client import ChiftClient
    from .fetch import fetch_snapshot
    from .sandbox import Sandbox
    from .world import World

    # the demo's sandbox goes with it: its snapshots cannot be resumed, only made again
    again = "run the demo again: " + shell_command(program(), *_demo_argv(args))
    started: list[str] = []
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    world = World(
        consumers=args.consumers, syncs=args.syncs, seed=args.seed, now=now, shape=args.shape
    )
    with Sandbox(world) as sandbox:
        print(
            f"Sandbox serving a made-up account ({_plural(args.consumers, 'consumer')}, "
            f"{_plural(args.syncs, 'sync')}, {_plural(world.pair_count, 'pair')}) at {sandbox.url}"
        )
        with ChiftClient(
            "demo-client", "demo-secret", DEMO_ACCOUNT, base_url=sandbox.url
        ) as client:
            progress = None if not args.quiet else False

            def fetch_demo() -> FetchResult:
                return fetch_snapshot(
                    client,
                    args.out,
                    concurrency=args.concurrency,
                    progress=progress,
                    on_start=started.append,
                )

            try:
                first = fetch_demo()
                print(f"Fetched snapshot {first.snapshot_id}; the consumers change their setups...")
                sandbox.evolve()
                result = fetch_demo()
            except BaseException as exc:  # Ctrl-C, an error: no --resume, which cannot work
                if started and getattr(exc, "__notes__", None):
                    exc.__notes__ = [
                        f"Snapshot {started[-1]} in {display_root(args.out)} is left partial; "
                        f"the demo's sandbox is gone, so it cannot be resumed: {again}"
                    ]
                raise
    status = _report_fetch(result, again=f"The demo's sandbox is gone: {again}")
    _print_changes(
        diff(args.out, first.snapshot_id, result.snapshot_id), first.snapshot_id, result.snapshot_id
    )
    _next_steps(args.out)
    return status


def _demo_argv(args: argparse.Namespace) -> list[str]:
    """Return the arguments of ``demo`` that make this demo again."""
    argv = ["demo", "--out", display_root(args.out)]
    defaults = build_parser().parse_args(["demo"])
    for name in ("consumers", "syncs", "seed", "shape", "concurrency"):
        if getattr(args, name) != getattr(defaults, name):
            argv += [f"--{name}", str(getattr(args, name))]
    return argv + (["--quiet"] if args.quiet else [])


def cmd_diff(args: argparse.Namespace) -> int:
    """Print what changed between two snapshots."""
    _apply_engine_options(args)
    before, after = pick_snapshots(args.dir, args.from_id, args.to_id)
    picked = args.from_id is None and args.to_id is None
    for _, note in diff_notes(args.dir, before, after, picked=picked):
        print(f"Note: {note}")
    with warnings.catch_warnings():  # said just above
        warnings.simplefilter("ignore", PartialSnapshotWarning)
        warnings.simplefilter("ignore", FilteredSnapshotWarning)
        changes = diff(args.dir, before, after)
    _print_changes(changes, before, after, rows=args.rows)
    return EXIT_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch a snapshot from the Chift API, credentials from the environment."""
    from .client import ChiftClient
    from .fetch import fetch_snapshot

    def started(snapshot_id: str) -> None:
        print(
            f"Fetching snapshot {snapshot_id} into {args.out}; if this run stops, finish it "
            f"with: {resume_command(args.out, snapshot_id)}",
            file=sys.stderr,
            flush=True,
        )

    given = {} if args.give_up_after is None else {"give_up_after": args.give_up_after}
    try:
        client = ChiftClient.from_env(
            max_rps=args.max_rps,
            pool_size=args.concurrency,
            deadline=args.deadline,
            max_body=int(args.max_body_mib * 2**20),
            **given,  # else $CHIFT_FRAMES_GIVE_UP_AFTER, else the default
        )
    except ValueError as exc:  # a malformed CHIFT_BASE_URL, a negative --deadline...
        raise UsageError(str(exc)) from None
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        # Arrow's default allocator (mimalloc) keeps what a batch freed for the next: over a
        # long fetch that is a peak which grows with the account. The C library's gives it
        # back (a heavy fetch's peak, 20,000 pairs against 2,000: 1.59x with mimalloc, 1.48x
        # with it; README, "The fetch's memory"). A user's own choice of pool stands.
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    # The closing summary runs in DuckDB: import it while the fetch waits on the network,
    # rather than after the last answer
    warm_up = threading.Thread(
        target=importlib.import_module, args=("duckdb",), name="chift-warm-up", daemon=True
    )
    warm_up.start()
    with client, contextlib.ExitStack() as stack:
        stack.callback(warm_up.join)  # never leave an import half done at exit
        result = fetch_snapshot(
            client,
            args.out,
            sync_ids=args.sync,
            consumer_ids=args.consumer,
            consumers_status=args.consumers_status,
            concurrency=args.concurrency,
            resume=args.resume,
            progress=False if args.quiet else None,
            executions_since=args.executions_since,
            executions=not args.no_executions,
            connections=not args.no_connections,
            connection_data=args.connection_data,
            on_start=started,
        )
    return _report_fetch(result)


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox API until interrupted."""
    from .sandbox import Faults, Sandbox
    from .world import World

    try:
        faults = Faults(
            rate_429=args.rate_429,
            rate_5xx=args.rate_5xx,
            rate_drop=args.rate_drop,
            latency=args.latency,
            token_ttl=args.token_ttl,
            revoke_every=args.revoke_every,
            fail_pairs=args.fail_pairs,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    world = World(
        consumers=args.consumers,
        syncs=args.syncs,
        seed=args.seed,
        generation=args.generation,
        shape=args.shape,
    )
    try:
        sandbox = Sandbox(
            world,
            host=args.host,
            port=args.port,
            client_id=args.client_id,
            client_secret=args.client_secret,
            faults=faults,
        )
    except OSError as exc:
        raise UsageError(
            f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
            " (is another sandbox running? pick another --port, or 0 for any free one)"
        ) from None
    print(f"Sandbox serving {_plural(world.pair_count, 'pair')} at {sandbox.url} (Ctrl-C to stop)")
    client_id = args.client_id or "any"
    secret = "<the --client-secret you gave>" if args.client_secret else "any"
    variables = {
        "CHIFT_BASE_URL": sandbox.url,
        "CHIFT_CLIENT_ID": client_id,
        "CHIFT_CLIENT_SECRET": secret,
        "CHIFT_ACCOUNT_ID": DEMO_ACCOUNT,
    }
    print(f"  {shell_command('export', *(f'{k}={v}' for k, v in variables.items()))}", flush=True)
    if faults.fail_pairs:
        print(
            f"  {faults.fail_pairs:.0%} of the pairs fail a first fetch (503 for their first "
            f"{_plural(faults.fail_pair_asks, 'ask')}); a --resume afterwards gets through",
            flush=True,
        )
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Re-derive every table of a snapshot from its raw responses."""
    from .fetch import rebuild_snapshot

    source = str(_resolve(args.dir, args.snapshot)["snapshot_id"])
    snapshot_id = rebuild_snapshot(args.dir, source)
    print(
        f"Rebuilt snapshot {source} of {display_root(args.dir)} from its raw responses as "
        f"{snapshot_id}, which takes its place (latest, all, diff and trends skip {source}; "
        "prune removes it)"
    )
    print()
    _print_summary(_summarise(args.dir, snapshot_id), args.dir, _resolve(args.dir, snapshot_id))
    return EXIT_OK


def _apply_engine_options(args: argparse.Namespace) -> None:
    """Hand ``--memory-limit`` and ``--temp-directory`` to every DuckDB connection opened."""
    if getattr(args, "memory_limit", None):
        os.environ["CHIFT_FRAMES_MEMORY_LIMIT"] = args.memory_limit
    if getattr(args, "temp_directory", None):
        os.environ["CHIFT_FRAMES_TEMP_DIRECTORY"] = str(args.temp_directory)


def cmd_summary(args: argparse.Namespace) -> int:
    """Print the summary of a snapshot."""
    _apply_engine_options(args)
    if args.snapshot == "all":
        raise UsageError("summary takes one snapshot: give its id, or leave --snapshot out")
    manifest = _resolve(args.dir, args.snapshot)
    _print_summary(_summarise(args.dir, str(manifest["snapshot_id"])), args.dir, manifest)
    return EXIT_OK


_SQL_WORDS = ("select", "with", "from", "describe", "show", "summarize", "pivot", "values")


def _looks_like_sql(text: str) -> bool:
    words = text.split(None, 1)
    return bool(words) and words[0].lower().rstrip("(") in _SQL_WORDS and not os.path.exists(text)


def cmd_query(args: argparse.Namespace) -> int:
    """Run SQL over a dataset and print the result."""
    if _looks_like_sql(args.dir):
        folder = "DIR" if _looks_like_sql(args.sql) else args.sql
        args.parser.error(
            f"{args.dir!r} is SQL, given where the dataset goes: the folder comes first, then "
            f"the SQL: {shell_command(program(), 'query', folder, args.dir)}"
        )
    _apply_engine_options(args)
    result = query(args.dir, args.sql, snapshot=args.snapshot)
    note = _snapshots_note(args.dir, args.snapshot)
    if note:  # on stderr: stdout stays the data
        print(f"chift-frames: note: {note}", file=sys.stderr)
    if args.format == "csv":
        write_csv(result, sys.stdout)
    elif args.format == "json":
        print(result.to_json(orient="records", date_format="iso", force_ascii=False))
    elif result.empty:  # not pandas' "Empty DataFrame"
        columns = f"; columns: {', '.join(map(str, result.columns))}" if len(result.columns) else ""
        print(f"(no rows{columns})")
    else:
        shown = result.head(args.max_rows)
        with pd.option_context("display.width", 200):
            print(_clip(shown, args.max_width).to_string(index=False))
        total = _plural(len(result), "row")
        if len(result) > len(shown):
            print(
                f"({total}; the first {len(shown):,} shown: --max-rows N shows more, "
                "--format csv or json gives them all)"
            )
        else:
            print(f"({total})")
    return EXIT_OK


def _snapshots_note(root: str, snapshot: str) -> str | None:
    """Return one line on the partial or filtered snapshots ``snapshot`` reads, or None."""
    if snapshot != "all":
        return completeness(_resolve(root, snapshot)).note(display_root(root))
    scopes = completeness_of_listed(list_snapshots(root))
    odd = [c for c in scopes if not c.is_whole]
    if not odd:
        return None
    return (
        f"{len(odd):,} of {_plural(len(scopes), 'snapshot')} read are partial or filtered, "
        f"and count only what they hold: {briefs(odd)}"
    )


def _is_url(text: str) -> bool:
    return "://" in text


def cmd_report(args: argparse.Namespace) -> int:
    """Write every report of a snapshot as files, and optionally as one HTML page."""
    one_apis = parse_one_apis(args.one_api or [])
    if args.sql:
        if args.engine != "duckdb":
            raise UsageError("--engine computes the reports; --sql prints one: use --dialect")
        if args.sql not in REPORTS:
            raise ChiftFramesError(f"no report {args.sql!r}; reports: {', '.join(REPORTS)}")
        print(_report_sql(args, one_apis), end="")
        return EXIT_OK
    _apply_engine_options(args)
    if args.snapshot == "all":
        raise ChiftFramesError("report takes one snapshot: give its id, or leave --snapshot out")
    snapshot_id = args.snapshot
    if args.engine == "spark":
        reports, snapshot_id = _spark_reports(args, one_apis)
    else:
        if snapshot_id == "latest":  # resolved first, so the files and the page name it
            ids = list_snapshots(args.dir).snapshot_id
            snapshot_id = str(ids.iloc[-1]) if len(ids) else snapshot_id
        # DuckDB reads the files; Parquet files alone are written from its Arrow answers
        compute = (
            compute_report_tables if args.format == "parquet" and not args.html else compute_reports
        )
        reports = compute(args.dir, snapshot=snapshot_id, one_apis=one_apis)
    out = args.out or url_under(args.dir, "reports", snapshot_id)
    with tempfile.TemporaryDirectory(prefix="chift-frames-report-") as tmp:
        # object stores get the files written locally first, then uploaded whole
        folder = Path(tmp) / "reports" if _is_url(out) else Path(out)
        paths = save_reports(args.dir, folder, args.format, reports=reports)
        if _is_url(out):
            upload_files(paths, out)
        print(f"Reports of snapshot {snapshot_id} in {display_root(out)}:")
        note = _snapshots_note(args.dir, snapshot_id)
        if note:
            print(f"Note: {note}")
        width = max(len(p.name) for p in paths)
        for path, report in zip(paths, reports.values(), strict=True):
            rows = "row" if len(report) == 1 else "rows"
            print(f"  {path.name:<{width}}  {len(report):>9,} {rows}")
        if args.html:
            page_path = Path(tmp) / "report.html" if _is_url(args.html) else Path(args.html)
            page = save_html(
                args.dir, page_path, snapshot=snapshot_id, snapshot_id=snapshot_id, reports=reports
            )
            if _is_url(args.html):
                upload_file(page, args.html)
            print(f"HTML page: {display_root(args.html) if _is_url(args.html) else page}")
    return EXIT_OK


def _spark_reports(
    args: argparse.Namespace, one_apis: dict[int, str]
) -> tuple[dict[str, pd.DataFrame], str]:
    """Every report computed by Spark (the session running, else a local one), and the snapshot."""
    from .reports._spark import SparkSource, compute_spark_reports, spark_session, spark_snapshot

    snapshot_id = spark_snapshot(args.dir, args.snapshot)  # the latest complete one
    with spark_session() as spark:
        source = SparkSource(args.dir, spark, spark_root=args.views)
        return compute_spark_reports(source, snapshot=snapshot_id, one_apis=one_apis), snapshot_id


def _report_sql(args: argparse.Namespace, one_apis: dict[int, str]) -> str:
    """Return the SQL of ``report --sql``: the views first with ``--views``, in ``--dialect``."""
    from .reports._dialects import to_dialect
    from .reports._script import report_tables, snapshot_views
    from .store.read import tables_lacking_added

    snapshot = args.snapshot
    head = ""
    if args.views:
        if snapshot == "latest":  # the latest complete one: a partial one misses pairs
            listed = list_snapshots(args.dir)
            complete = listed[listed.status == "complete"].snapshot_id
            if not len(complete):
                raise ChiftFramesError(f"{display_root(args.dir)} holds no complete snapshot")
            snapshot = str(complete.iloc[-1])
        manifest = _resolve(args.dir, snapshot)
        snapshot = str(manifest["snapshot_id"])
        tables = report_tables(args.sql)
        views = snapshot_views(
            args.views,
            snapshot,
            tables,
            dialect=args.dialect,
            manifest=manifest,
            lacking=tables_lacking_added(args.dir, manifest, tables),
        )
        files = args.dialect in ("duckdb", "spark")
        where = display_root(args.views) if files else args.views
        head = (
            f"-- Views over snapshot {snapshot} of {where}: the table\n"
            "-- folders hold every snapshot, and the report reads one.\n"
            + (views if files else to_dialect(views, args.dialect))
            + "\n"
        )
    sql = report_script(args.sql, args.dir, snapshot=snapshot, one_apis=one_apis)
    return head + to_dialect(sql, args.dialect)


def cmd_prune(args: argparse.Namespace) -> int:
    """Remove whole snapshots that the retention policy does not keep."""
    removed = prune(
        args.dir,
        keep_last=args.keep_last,
        keep_daily=args.keep_daily,
        keep_weekly=args.keep_weekly,
        keep_monthly=args.keep_monthly,
        dry_run=args.dry_run,
    )
    kept = len(set(list_snapshots(args.dir).snapshot_id) - set(removed))
    verb = "Would remove" if args.dry_run else "Removed"
    print(f"{verb} {_plural(len(removed), 'snapshot')} of {display_root(args.dir)}; {kept:,} kept.")
    for snapshot_id in removed:
        print(f"  {snapshot_id}")
    return EXIT_OK


def cmd_snapshots(args: argparse.Namespace) -> int:
    """List every snapshot, abandoned ones too, and optionally clean up after crashed writers."""
    if args.migrate:
        moved = migrate(args.dir)
        print(
            f"Moved {_plural(len(moved), 'snapshot')} written by version 0.1 to the current layout."
        )
    status = EXIT_OK
    if args.compact:
        done = compact(args.dir)
        parts = sum(done.merged.values())
        print(
            f"Compacted {_plural(len(done.merged), 'snapshot')}: {_plural(parts, 'small part')} "
            "written again as larger ones."
        )
        if done.skipped:  # each said why in a warning on stderr
            left = len(done.skipped)
            were = "it was" if left == 1 else "they were"
            print(f"{_plural(left, 'snapshot')} left as {were}: see the warnings above.")
            status = EXIT_FATAL
    if args.clean:
        touched = clean(args.dir, dry_run=args.dry_run)
        verb = "Would clean" if args.dry_run else "Cleaned"
        print(f"{verb} what crashed writers left of {_plural(len(touched), 'snapshot')}", end="")
        print(": " + ", ".join(touched) if touched else ".")
    states = snapshot_states(args.dir)
    if states.empty:
        print(f"No snapshot in {display_root(args.dir)}.")
        return status
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(states.to_string(index=False))
    return status


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo,
    "diff": cmd_diff,
    "fetch": cmd_fetch,
    "prune": cmd_prune,
    "query": cmd_query,
    "rebuild": cmd_rebuild,
    "report": cmd_report,
    "sandbox": cmd_sandbox,
    "snapshots": cmd_snapshots,
    "summary": cmd_summary,
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``chift-frames`` command (see :mod:`chift_frames._cli_parser`)."""
    return _cli_parser.build_parser(COMMANDS)


def _print_notes(exc: BaseException, redact: Callable[[str], str]) -> None:
    for note in getattr(exc, "__notes__", []):
        print(redact(f"chift-frames: {note}"), file=sys.stderr)


class _StderrWarnings(logging.Handler):
    """Print the library's warnings on stderr, each once per command, in one line."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__(logging.WARNING)
        self.redact = redact
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split("\n"))
        if message not in self.seen:
            self.seen.add(message)
            print(self.redact(f"chift-frames: warning: {message}"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chift-frames``; return the exit status (0 ok, 1 fatal, 2 partial, 130 Ctrl-C).

    A usage error exits through ``SystemExit`` with status 64, as argparse does.
    """
    args = build_parser().parse_args(argv)
    # the library redacts what it raises; this is the last line of defence before stderr
    redact = Redactor([os.environ.get(ENV["client_secret"], "")]).text
    from .store.manifests import forget_warnings

    forget_warnings()  # each command says once what it skips (a damaged manifest)
    handler = _StderrWarnings(redact)
    library = logging.getLogger("chift_frames")
    library.addHandler(handler)
    try:
        with printed_program(f"{_command_prefix()}chift-frames"):
            return _run(args, redact)
    finally:
        library.removeHandler(handler)


def _run(args: argparse.Namespace, redact: Callable[[str], str]) -> int:
    try:
        status: int = args.func(args)
    except ChiftFramesError as exc:
        message = " ".join(str(exc).split("\n"))  # one line, whatever the source
        print(redact(f"chift-frames: error: {message}"), file=sys.stderr)
        _print_notes(exc, redact)
        if isinstance(exc, UnreachableError) and exc.snapshot_id:  # what came is saved
            return EXIT_PARTIAL
        return EXIT_FATAL
    except KeyboardInterrupt as exc:
        print("chift-frames: interrupted", file=sys.stderr)
        _print_notes(exc, redact)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`chift-frames query ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
