"""The ``chift-frames`` command line's grammar: every command, option, check and help text.

It parses and checks; it runs nothing. :mod:`chift_frames.cli` hands it the functions that
carry each command out (``commands``), and calls them.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from ._client_defaults import DEFAULT_DEADLINE, DEFAULT_GIVE_UP_AFTER, DEFAULT_MAX_BODY, ENV
from ._version import __version__
from .errors import (
    ChiftFramesError,
)

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


def build_parser(
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
) -> argparse.ArgumentParser:
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
    demo.set_defaults(func=commands["demo"])

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
    fetch.set_defaults(func=commands["fetch"])

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
    sandbox.set_defaults(func=commands["sandbox"])

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
    rebuild.set_defaults(func=commands["rebuild"])

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
    summary.set_defaults(func=commands["summary"])

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
    q.set_defaults(func=commands["query"], parser=q)

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
    changes.set_defaults(func=commands["diff"])

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
    report.set_defaults(func=commands["report"])

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
    retire.set_defaults(func=commands["prune"])

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
        "layout, turn the executions each snapshot copied into the log, and fill in the "
        "columns added since a snapshot was saved (mapping_values.source_repeats)",
    )
    snaps.add_argument(
        "--compact",
        action="store_true",
        help="write each snapshot's many small parts of a table (an older version's fetch, "
        "a fetch resumed many times) as a few larger ones, for faster queries; run it when "
        "nothing reads the dataset (after --migrate, when both are given)",
    )
    snaps.set_defaults(func=commands["snapshots"])
    return parser
