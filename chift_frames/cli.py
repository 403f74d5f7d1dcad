"""The ``chift-frames`` command: parse arguments, call the library, print; nothing more."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import ipaddress
import logging
import math
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd

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
from ._client_defaults import DEFAULT_DEADLINE, DEFAULT_GIVE_UP_AFTER, DEFAULT_MAX_BODY, ENV
from ._shell import printed_program, program, resume_command, shell_command
from ._version import __version__
from .errors import (
    ChiftFramesError,
    FilteredSnapshotWarning,
    PartialSnapshotWarning,
    UnreachableError,
)
from .export import compute_reports, save_html, save_reports, write_csv
from .history import diff, diff_notes, pick_snapshots
from .redact import Redactor
from .reports import REPORTS, parse_one_apis, report_script
from .store import (
    clean,
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

if TYPE_CHECKING:  # the API client and the fetch are imported by the commands that use them
    from .fetch import FetchResult

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 64, 130


EXIT_CODES = """exit status:
  0    done (a fetch: the snapshot is complete)
  1    an error, told in one line on stderr (bad credentials, URL, id, query...)
  2    the snapshot is partial: the failed pairs and the command that finishes it are printed;
       or the API stopped answering (--give-up-after) and what came is saved as partial
  64   a usage error: a missing or malformed argument (argparse's message)
  130  interrupted (Ctrl-C): the snapshot is saved as partial; the command that finishes it
       is printed"""

EXIT_CODES_COMMAND = """exit status:
  0    done
  1    an error, told in one line on stderr (a folder that is not a dataset, an unknown
       snapshot, a failed query...)
  64   a usage error: a missing or malformed argument (argparse's message)
  130  interrupted (Ctrl-C)"""

EXIT_CODES_SANDBOX = """exit status:
  0    stopped with Ctrl-C
  1    an error, told in one line on stderr (a busy port, a bad fault rate...)
  64   a usage error: a missing or malformed argument (argparse's message)"""


ROOT_HELP = "dataset folder, or a URL: s3://bucket/prefix, gs://…, az://…, abfs://…, file:///…"


class UsageError(ChiftFramesError):
    """A mistake in what the user asked for: printed as one line, exit status 1."""


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
            try:
                first = fetch_snapshot(
                    client,
                    args.out,
                    concurrency=args.concurrency,
                    progress=progress,
                    on_start=started.append,
                )
                print(f"Fetched snapshot {first.snapshot_id}; the consumers change their setups...")
                sandbox.evolve()
                result = fetch_snapshot(
                    client,
                    args.out,
                    concurrency=args.concurrency,
                    progress=progress,
                    on_start=started.append,
                )
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
        # DuckDB reads the files
        reports = compute_reports(args.dir, snapshot=snapshot_id, one_apis=one_apis)
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

    snapshot = args.snapshot
    head = ""
    if args.views:
        if snapshot == "latest":  # the latest complete one: a partial one misses pairs
            listed = list_snapshots(args.dir)
            complete = listed[listed.status == "complete"].snapshot_id
            if not len(complete):
                raise ChiftFramesError(f"{display_root(args.dir)} holds no complete snapshot")
            snapshot = str(complete.iloc[-1])
        else:
            snapshot = str(_resolve(args.dir, snapshot)["snapshot_id"])
        views = snapshot_views(
            args.views,
            snapshot,
            report_tables(args.sql),
            dialect=args.dialect,
            manifest=_resolve(args.dir, snapshot),
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
    if args.clean:
        touched = clean(args.dir, dry_run=args.dry_run)
        verb = "Would clean" if args.dry_run else "Cleaned"
        print(f"{verb} what crashed writers left of {_plural(len(touched), 'snapshot')}", end="")
        print(": " + ", ".join(touched) if touched else ".")
    states = snapshot_states(args.dir)
    if states.empty:
        print(f"No snapshot in {display_root(args.dir)}.")
        return EXIT_OK
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(states.to_string(index=False))
    return EXIT_OK


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """Return an argparse type: a whole number from ``low`` (to ``high``), else a usage error."""
    span = f"of at least {low:,}" if high is None else f"from {low:,} to {high:,}"

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {span}")
        return value

    return whole


def _number(
    low: float, high: float | None = None, *, above: bool = False
) -> Callable[[str], float]:
    """Return an argparse type: a finite number at least (or ``above``) ``low``, to ``high``."""
    span = f"above {low:g}" if above else f"of at least {low:g}"
    if high is not None:
        span = f"above {low:g}, at most {high:g}" if above else f"from {low:g} to {high:g}"

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        too_low = value <= low if above else value < low
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number {span}")
        return value

    return number


def _text(text: str) -> str:
    """Return ``text`` unless it is empty: an empty folder, id or name is a slip, never "."."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give a value")
    return text


def _folder(text: str) -> Path:
    return Path(_text(text))


_positive = _whole(1)
_not_negative = _whole(0)
_MAX_CONSUMERS = 1_000_000  # a made-up world is built in memory: more would not fit
_MAX_CONCURRENCY = 512  # one thread and one connection each


def _loopback(text: str) -> str:
    """Return ``text`` when it is a loopback address (the sandbox serves plain http)."""
    try:
        loopback = text == "localhost" or ipaddress.IPv4Address(text).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a loopback address such as 127.0.0.1 or localhost (the sandbox "
            "serves made-up data over plain http, which fetch only reads from this machine)"
        )
    return text


def _memory_size(text: str) -> str:
    """Return ``text`` when DuckDB reads it as a memory limit, such as ``2GB``."""
    import duckdb

    with duckdb.connect(":memory:") as con:
        try:
            con.execute("SET memory_limit = ?", [text])
        except duckdb.Error:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a size DuckDB reads, such as 2GB, 512MiB or 80%"
            ) from None
    return text


def _utc_date(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date such as 2026-11-01"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep descriptions and epilogs as written; show each option's default, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "%(default)" in text
            or "default:" in text
            or not _has_default(action)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def _has_default(action: argparse.Action) -> bool:
    """Whether ``action`` has a default worth showing: 0 is one, None, False and [] are not."""
    default = action.default
    return not (
        default is None or default is False or default == [] or default == argparse.SUPPRESS
    )


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with 64 (EX_USAGE), not 2 (partial)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """Add an argument; one that takes text without a type refuses an empty value."""
        takes_text = kwargs.get("action", "store") in ("store", "append")
        if takes_text and "type" not in kwargs and "choices" not in kwargs:
            kwargs["type"] = _text
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _command(
    sub: Any, name: str, summary: str, description: str = "", epilog: str = EXIT_CODES_COMMAND
) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` starts with ``summary`` (and ``description``)."""
    text = summary[0].upper() + summary[1:] + "." + (f"\n\n{description}" if description else "")
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=text, epilog=epilog
    )
    return parser


SHAPE_NAMES = ("light", "heavy", "skewed", "hourly")  # world.SHAPES, without importing it


def _world_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--consumers", type=_whole(0, _MAX_CONSUMERS), default=200, help="consumers in the account"
    )
    parser.add_argument("--syncs", type=_whole(1, 100), default=3, help="syncs in the account")
    parser.add_argument("--seed", type=int, default=0, help="seed of the made-up account")
    parser.add_argument(
        "--shape",
        choices=SHAPE_NAMES,
        default="light",
        help="how heavy the account is: light (about 27 mapping values per pair), heavy "
        "(hundreds, more flows and datastore columns), skewed (1%% of consumers hold half "
        "the values) or hourly (flows run every hour) (default: %(default)s)",
    )


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-limit",
        type=_memory_size,
        metavar="SIZE",
        help="DuckDB's memory limit before it spills to disk, such as 2GB "
        "(default: $CHIFT_FRAMES_MEMORY_LIMIT, else 256MiB, and a query that runs out of it "
        "runs again with a quarter of the machine's memory)",
    )
    parser.add_argument(
        "--temp-directory",
        type=_folder,
        metavar="DIR",
        help="where DuckDB spills, a folder of yours alone (default: "
        "$CHIFT_FRAMES_TEMP_DIRECTORY, else chift_frames/duckdb in ~/.cache)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``chift-frames``."""
    parser = _Parser(
        prog="chift-frames",
        description="Tidy tables of Chift consumer-sync setups, as a Parquet dataset.",
        epilog="Run chift-frames COMMAND --help for a command's options. "
        "Exit status: 0 done, 1 error, 2 partial snapshot, 64 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        sub,
        "demo",
        "fetch a made-up account from the built-in sandbox and summarise it",
        "Serves a made-up account on a free local port, fetches it, lets the consumers change "
        "their setups, fetches it again, then prints the summary and what changed.",
        epilog=EXIT_CODES,
    )
    demo.add_argument("--out", default="data/demo", help=ROOT_HELP)
    _world_arguments(demo)
    demo.add_argument(
        "--concurrency",
        type=_whole(1, _MAX_CONCURRENCY),
        default=8,
        metavar="N",
        help="requests in flight",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo)

    fetch = _command(
        sub,
        "fetch",
        "fetch every consumer-sync pair from the Chift API into a snapshot",
        "Credentials come from CHIFT_CLIENT_ID, CHIFT_CLIENT_SECRET and CHIFT_ACCOUNT_ID\n"
        "(optional: CHIFT_MARKETPLACE_ID, CHIFT_BASE_URL, default https://api.chift.eu).\n"
        "A fetch that stops (an error, Ctrl-C) is saved as partial and prints the command\n"
        "that finishes it: chift-frames fetch --out DIR --resume SNAPSHOT_ID.",
        epilog=EXIT_CODES,
    )
    fetch.add_argument("--out", required=True, help=ROOT_HELP)
    fetch.add_argument(
        "--sync",
        action="append",
        default=[],
        metavar="ID_OR_NAME",
        help="only this sync, by id or name such as 'POS → Accounting' (repeatable)",
    )
    fetch.add_argument(
        "--consumer",
        action="append",
        default=[],
        metavar="ID_OR_NAME",
        help="only this consumer, by id or name (repeatable)",
    )
    fetch.add_argument(
        "--consumers-status",
        choices=["all", "enabled", "not_enabled"],
        help="which linked consumers GET /syncs lists (default: not sent, and Chift lists all)",
    )
    fetch.add_argument(
        "--concurrency",
        type=_whole(1, _MAX_CONCURRENCY),
        default=8,
        metavar="N",
        help="requests in flight",
    )
    fetch.add_argument(
        "--max-rps",
        type=_number(0, above=True),
        metavar="RATE",
        help="at most this many requests per second (default: no cap)",
    )
    fetch.add_argument(
        "--resume", metavar="SNAPSHOT_ID", help="finish an interrupted or partial snapshot"
    )
    fetch.add_argument(
        "--executions-since",
        type=_utc_date,
        metavar="DATE",
        help="fetch executions that started since then (ISO date; default: 30 days ago)",
    )
    fetch.add_argument("--no-executions", action="store_true", help="do not fetch executions")
    fetch.add_argument(
        "--no-connections",
        action="store_true",
        help="do not fetch each consumer's connections (GET /consumers/{id}/connections)",
    )
    fetch.add_argument(
        "--connection-data",
        action="store_true",
        help="keep each connection's `data` (may hold the consumer's own settings) in the "
        "connections table and the raw responses; left out by default",
    )
    fetch.add_argument(
        "--deadline",
        type=_number(0, 86400, above=True),
        default=DEFAULT_DEADLINE,
        metavar="SECONDS",
        help="longest a request may take, body included (default: %(default)g)",
    )
    fetch.add_argument(
        "--max-body-mib",
        type=_number(0, above=True),
        default=DEFAULT_MAX_BODY / 2**20,
        metavar="MIB",
        help="largest response accepted, after decompression (default: %(default)g)",
    )
    fetch.add_argument(
        "--give-up-after",
        type=_number(0),
        metavar="SECONDS",
        help="stop when the API has not answered at all for this long (every request refused, "
        "unresolved, reset or timed out): what came is saved as partial, exit status 2; 0: "
        f"never (default: ${ENV['give_up_after']}, else {DEFAULT_GIVE_UP_AFTER:g})",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=cmd_fetch)

    sandbox = _command(
        sub,
        "sandbox",
        "serve the offline stand-in for the Chift API",
        "Serves a made-up account until Ctrl-C, with optional faults; it prints the\n"
        "environment variables that point chift-frames fetch at it.",
        epilog=EXIT_CODES_SANDBOX,
    )
    sandbox.add_argument(
        "--port", type=_whole(0, 65535), default=8800, help="port (0: any free one)"
    )
    sandbox.add_argument(
        "--host",
        type=_loopback,
        default="127.0.0.1",
        help="address to serve on: a loopback address such as 127.0.0.1 or localhost (the "
        "client refuses plain http:// to any other host)",
    )
    _world_arguments(sandbox)
    sandbox.add_argument("--client-id", help="insist on this clientId")
    sandbox.add_argument("--client-secret", help="insist on this clientSecret")
    sandbox.add_argument("--latency", type=_number(0, 3600), default=0.0, help="seconds per answer")
    sandbox.add_argument("--rate-429", type=_number(0, 1), default=0.0, help="share answered 429")
    sandbox.add_argument("--rate-5xx", type=_number(0, 1), default=0.0, help="share answered 5xx")
    sandbox.add_argument("--rate-drop", type=_number(0, 1), default=0.0, help="share dropped")
    sandbox.add_argument(
        "--fail-pairs",
        type=_number(0, 1),
        default=0.0,
        metavar="SHARE",
        help="share of pairs that fail a whole first fetch (503), so that it ends partial "
        "and --resume finishes it",
    )
    sandbox.add_argument("--token-ttl", type=_whole(1), default=1800, help="token lifetime, s")
    sandbox.add_argument(
        "--revoke-every",
        type=_not_negative,
        default=0,
        help="revoke a token after this many requests (0: never)",
    )
    sandbox.add_argument(
        "--generation",
        type=_whole(0, 1000),
        default=0,
        help="start the world this many evolutions ahead (POST /sandbox/evolve adds one)",
    )
    sandbox.set_defaults(func=cmd_sandbox)

    rebuild = _command(
        sub,
        "rebuild",
        "re-derive a snapshot's tables from its raw responses",
        "Without the network. The rebuild is written as a new snapshot that replaces the old\n"
        "one: it keeps the old one's fetch times and names it (rebuilt_from), and latest, all,\n"
        "diff and trends skip the replaced snapshot (chift-frames snapshots lists it, marked).\n"
        "That stays readable by its id until prune removes it.",
    )
    rebuild.add_argument("dir", help=ROOT_HELP)
    rebuild.add_argument("--snapshot", default="latest", help="snapshot id (default: latest)")
    rebuild.set_defaults(func=cmd_rebuild)

    summary = _command(
        sub,
        "summary",
        "print the summary of a snapshot",
        "Names the snapshot, and says when it is partial or was interrupted (pairs fetched\n"
        "against pairs expected, and the command that finishes it), or filtered (--sync...);\n"
        "and what a rebuild replaced, or which rebuild replaced the snapshot.",
    )
    summary.add_argument("dir", help=ROOT_HELP)
    summary.add_argument("--snapshot", default="latest", help="snapshot id (default: latest)")
    _engine_options(summary)
    summary.set_defaults(func=cmd_summary)

    q = _command(
        sub,
        "query",
        "run DuckDB SQL over a dataset; every table is a view",
        "With --snapshot all each view stacks every snapshot, with a leading snapshot_id.\n"
        "A note on stderr says when a snapshot read is partial or filtered (stdout: the data).",
    )
    q.add_argument("dir", help=ROOT_HELP)
    q.add_argument("sql", help="the SQL to run")
    q.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table: for reading (rows and long text cut); csv, json: every row, whole",
    )
    q.add_argument("--snapshot", default="latest", help="snapshot id, latest or all")
    q.add_argument("--max-rows", type=_positive, default=50, help="rows shown in table format")
    q.add_argument(
        "--max-width",
        type=_positive,
        default=40,
        metavar="CHARS",
        help="longest text shown in a table cell, in characters",
    )
    _engine_options(q)
    q.set_defaults(func=cmd_query, parser=q)

    changes = _command(
        sub,
        "diff",
        "print what changed between two snapshots",
        "Pairs added or removed; status changes; mapping values added, removed, mapped,\n"
        "unmapped or retargeted; flows enabled, disabled or changed; datastore columns; and\n"
        "connections added, removed or changing status. Python: chift_frames.diff(DIR).\n"
        "By default the two latest complete, unfiltered snapshots; a note says when a snapshot\n"
        "compared is partial or filtered, and what that does to the changes.",
    )
    changes.add_argument("dir", help=ROOT_HELP)
    changes.add_argument(
        "--from",
        dest="from_id",
        metavar="ID",
        help="the earlier snapshot (default: the complete one before --to, filtered alike)",
    )
    changes.add_argument(
        "--to",
        dest="to_id",
        metavar="ID",
        help="the later snapshot (default: the latest complete, unfiltered one)",
    )
    changes.add_argument(
        "--rows", type=_not_negative, default=10, help="example rows to show per table"
    )
    _engine_options(changes)
    changes.set_defaults(func=cmd_diff)

    report = _command(sub, "report", "write every report of a snapshot, and an HTML page")
    report.add_argument("dir", help=ROOT_HELP)
    report.add_argument(
        "--out", help="folder or URL for the report files (default: DIR/reports/SNAPSHOT_ID)"
    )
    report.add_argument(
        "--format", choices=["parquet", "csv"], default="parquet", help="file format"
    )
    report.add_argument(
        "--html", metavar="FILE", help="also write this HTML page (a path or a URL)"
    )
    report.add_argument("--snapshot", default="latest", help="snapshot id (default: latest)")
    report.add_argument(
        "--sql",
        metavar="NAME",
        help="print the SQL of report NAME, one statement to paste into `query`, DuckDB or "
        "(with --dialect) another engine over one-snapshot views, and stop; what chift_frames "
        "computes for it comes first, as CTEs of literals",
    )
    report.add_argument(
        "--one-api",
        metavar="NUMBER=API",
        action="append",
        help="the unified API a sync connection's one_api number stands for, as the "
        "connections' api names it (repeatable; e.g. --one-api 1=Accounting); Chift does not "
        "document it. A number not given counts every connection of the consumer "
        "(monitoring_states says so in its note)",
    )
    report.add_argument(
        "--dialect",
        choices=["duckdb", "spark", "trino", "snowflake", "bigquery", "postgres"],
        default="duckdb",
        help="with --sql: the SQL engine to print for (through sqlglot)",
    )
    report.add_argument(
        "--views",
        metavar="ROOT",
        help="with --sql: first print the views of one snapshot (the latest complete one, or "
        "--snapshot) over the dataset at ROOT as the engine reaches it; for trino, "
        "snowflake, bigquery and postgres, ROOT is the schema of its external tables. With "
        "--engine spark: the dataset as Spark reaches it (default: DIR)",
    )
    report.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="what computes the reports: DuckDB, or Spark (pip install 'chift-frames[spark]', "
        "and Java) on the session running, else a local one, over the latest complete "
        "snapshot or --snapshot; the same files either way",
    )
    _engine_options(report)
    report.set_defaults(func=cmd_report)

    retire = _command(
        sub,
        "prune",
        "remove whole snapshots by a retention policy",
        "Keeps the N latest snapshots, and the latest of each of the last D days, W weeks\n"
        "and M months (UTC); removes the others, manifest first, then files. Snapshots that\n"
        "a rebuild replaced are removed too.",
    )
    retire.add_argument("dir", help=ROOT_HELP)
    retire.add_argument(
        "--keep-last",
        type=_positive,
        required=True,
        metavar="N",
        help="keep the N latest snapshots",
    )
    retire.add_argument(
        "--keep-daily", type=_not_negative, default=0, metavar="D", help="also the latest of D days"
    )
    retire.add_argument(
        "--keep-weekly",
        type=_not_negative,
        default=0,
        metavar="W",
        help="also the latest of W weeks",
    )
    retire.add_argument(
        "--keep-monthly",
        type=_not_negative,
        default=0,
        metavar="M",
        help="also the latest of M months",
    )
    retire.add_argument("--dry-run", action="store_true", help="only say what would go")
    retire.set_defaults(func=cmd_prune)

    snaps = _command(
        sub, "snapshots", "list every snapshot, abandoned ones too, with how to resume them"
    )
    snaps.add_argument("dir", help=ROOT_HELP)
    snaps.add_argument(
        "--clean",
        action="store_true",
        help="drop never-committed snapshots and what crashed writers left (not live ones)",
    )
    snaps.add_argument("--dry-run", action="store_true", help="with --clean: only say what")
    snaps.add_argument(
        "--migrate",
        action="store_true",
        help="move snapshots written by version 0.1 (snapshot=<id> folders) to the current "
        "layout, and turn the executions each snapshot copied into the log",
    )
    snaps.set_defaults(func=cmd_snapshots)
    return parser


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
