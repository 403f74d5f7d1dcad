"""Benchmark: wall time and peak memory of `report`, `summary`, `diff` and `trends` by size.

Not a timed test. It writes the sandbox's made-up world straight to datasets (flatten and
save, no HTTP): accounts of 2,000, 20,000 and (with ``--pairs 200000``) 200,000 (consumer,
sync) pairs over two syncs, two snapshots each (the world evolves between them), with the
account's consumers and syncs and 30 days of executions (what a fetch takes by default).
Each command then runs as its own process under ``/usr/bin/time``, which gives its wall time
and peak memory (maximum resident set).

``report`` at ``--compare-pairs`` (20,000) runs side by side with the pandas version of
commit 247a0a6 (``git archive`` of that commit, run with ``PYTHONPATH``); both read the same
dataset, whose format has not changed since. Trends run over ``--trends-snapshots`` (30)
snapshots of ``--trends-pairs`` pairs: the two built snapshots, then copies of them written
again as new snapshots (the figures repeat; the work does not shrink).

``--as-issue`` builds the dataset the way issue 8 did when it measured 247a0a6: that commit's
own sandbox (12,500 consumers, 2 syncs, no latency) fetched by that commit's ``chift-frames
fetch --concurrency 8`` (20,036 pairs, 45-58 MB: its executions depend on the day), then
times ``report`` with and without the HTML page, old and new alternated, ``--repeat`` times
(this version reads a copy moved to today's layout by ``chift-frames snapshots --migrate``,
and a copy of that whose small parts ``snapshots --compact`` merged).
With ``--shape heavy`` it builds issue 21's account likewise: 12,500 consumers of that shape
served by this version's sandbox (that commit's has no shapes), fetched twice by that
commit's fetch, as issue 21 measured it (two snapshots fetched by ``chift-frames fetch``).

    python benchmarks/bench_reports.py                       # 2,000 and 20,000 pairs
    python benchmarks/bench_reports.py --pairs 2000 20000 200000   # as in the README
    python benchmarks/bench_reports.py --pairs 200000 --no-compare --no-trends
    python benchmarks/bench_reports.py --as-issue [--repeat 3]
    python benchmarks/bench_reports.py --as-issue --shape heavy   # issue 21's account
    python benchmarks/bench_reports.py --shape light heavy skewed --pairs 2000 20000 --no-trends
    python benchmarks/bench_reports.py --shape heavy --pairs 200000 --queries --no-compare \
        --no-trends

``--shape`` builds each named shape of :data:`chift_frames.world.SHAPES` (``light``, the
default, ``heavy``, ``skewed``, ``hourly``); a command that fails is a row that says so.
``--queries`` also runs each SQL query of the README's tour with ``chift-frames query``
(every row as CSV, thrown away).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chift_frames import flatten
from chift_frames.flatten import flatten_consumers, flatten_executions, flatten_syncs
from chift_frames.schema import TABLES
from chift_frames.store import SnapshotWriter, list_snapshots, snapshot_manifest
from chift_frames.world import SHAPES, World

REPO = Path(__file__).resolve().parent.parent
SYNCS = 2
LINK_SHARE = 0.8  # World's default: the share of consumers linked to each sync
BATCH = 5_000


def build(root: Path, pairs: int, execution_days: int, seed: int = 0, shape: str = "light") -> None:
    """Write two snapshots of a world of about ``pairs`` pairs, of ``shape``, to ``root``."""
    consumers = max(1, round(pairs / (SYNCS * LINK_SHARE)))
    world = World(consumers=consumers, syncs=SYNCS, seed=seed, shape=shape)
    for _ in range(2):
        writer = SnapshotWriter(root)
        batch: list[tuple[str, dict]] = []
        for consumer_id, sync_id in world.pairs():
            batch.append((consumer_id, world.consumer_sync(consumer_id, sync_id)))
            if len(batch) == BATCH:
                writer.write(flatten(batch))
                batch = []
        if batch:
            writer.write(flatten(batch))
        writer.write(
            {
                "consumers": flatten_consumers(world.consumer_items()),
                "syncs": flatten_syncs(world.sync_items()),
            }
        )
        for item in world.sync_items():
            runs = world.executions(item["syncid"], days=execution_days)
            writer.write({"executions": flatten_executions(item["syncid"], runs)})
        writer.commit("complete", pairs_ok=world.pair_count, pairs_failed=0)
        world.evolve()


def copy_snapshots(root: Path, total: int) -> None:
    """Add snapshots to ``root`` until it holds ``total``: copies of the existing ones."""
    existing = list_snapshots(root).snapshot_id.tolist()
    for i in range(len(existing), total):
        source = snapshot_manifest(root, existing[i % len(existing)])
        writer = SnapshotWriter(root)
        for name in TABLES:
            for part in source["files"].get(name, []):
                writer.write({name: pq.read_table(root / part, schema=TABLES[name].schema)})
        writer.commit("complete", **source.get("info", {}))


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``argv`` as its own process; return (wall seconds, peak RSS in MiB).

    ``/usr/bin/time`` starts the process, so its peak is its own: a child forked straight
    from this (large) benchmark process would count the pages it was forked with. A command
    that fails raises :class:`CommandFailedError` with its last line; one that ran a query
    again with the machine's room (it ran out of the default memory limit) prints a note.
    """
    # as a user's Python runs it: modules compiled once and read from __pycache__ afterwards
    # (a machine that sets PYTHONDONTWRITEBYTECODE would compile every module at every run)
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        timed = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *argv]
        done = subprocess.run(
            timed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO.parent
        )
        if done.returncode != 0:
            lines = [x for x in done.stderr.decode().splitlines() if x.strip()]
            raise CommandFailedError(
                lines[-2 if lines and lines[-1].startswith("Command exited") else -1]
            )
        wall, peak_kib = report.read().split()[-2:]
    if b"ran out of its default memory limit" in done.stderr:
        # finished, but not within its default limit: the figure is not the default's
        # the command and its dataset, or the Python of a command run with -c (trends)
        words = argv[argv.index("chift_frames") + 1 :] if "chift_frames" in argv else argv[1:]
        command = " ".join(str(a) for a in words[:2])
        print(f"  note: `{command}` ran a query again with the machine's room", flush=True)
    return float(wall), int(peak_kib) / 1024


class CommandFailedError(Exception):
    """A measured command exited non-zero."""


def cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "chift_frames", *map(str, args)]


def old_code(work: Path, commit: str) -> Path:
    target = work / f"old-{commit}"
    if not (target / "chift_frames").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, "chift_frames"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def readme_queries() -> list[str]:
    """Return the SQL of the README's tour: its shell query, then each ``cf.query``."""
    tour = (REPO / "README.md").read_text(encoding="utf-8").split("## A short tour", 1)[1]
    found = re.findall(r'chift-frames query data/demo "(.*?)"', tour, re.S)
    return found + re.findall(r'cf\.query\("data/demo", """(.*?)"""', tour, re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_as_issue(work: Path, commit: str, shape: str = "light") -> tuple[Path, Path, Path]:
    """Fetch the issue's account with ``commit``'s fetch; return its three layouts.

    ``light``: issue 8's account, from ``commit``'s own sandbox, fetched once. Another shape:
    issue 21's, from this version's sandbox of that shape (``commit``'s has no shapes),
    fetched twice (two snapshots), both times by ``commit``'s ``chift-frames fetch``. The
    layouts: as ``commit`` wrote it, a copy after ``snapshots --migrate``, and a copy of that
    after ``snapshots --compact``.
    """
    name = f"issue-{commit}" if shape == "light" else f"issue-{commit}-{shape}"
    old_root, new_root = work / name, work / f"{name}-migrated"
    compacted = work / f"{name}-compacted"
    env = {**os.environ, "PYTHONPATH": str(old_code(work, commit))}
    if not (old_root / "_snapshots").is_dir():
        port = free_port()
        serve = ["--port", port, "--consumers", 12_500, "--syncs", 2]
        sandbox = subprocess.Popen(
            cli(
                "sandbox", *serve, *([] if shape == "light" else ["--latency", 0, "--shape", shape])
            ),
            env=env if shape == "light" else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO.parent if shape == "light" else REPO,
        )
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            fetch_env = {
                **env,
                "CHIFT_BASE_URL": f"http://127.0.0.1:{port}",
                "CHIFT_CLIENT_ID": "bench",
                "CHIFT_CLIENT_SECRET": "bench-secret-value",
                "CHIFT_ACCOUNT_ID": "00000000-0000-4000-8000-0000000000be",
            }
            for _ in range(1 if shape == "light" else 2):
                wall, peak = measure(
                    cli("fetch", "--out", old_root, "--concurrency", 8, "--quiet"), fetch_env
                )
                print(f"fetched {old_root} with {commit} in {wall:.0f} s ({peak:.0f} MiB)")
        finally:
            sandbox.terminate()
            sandbox.wait()
    if not (new_root / "_snapshots").is_dir():
        shutil.rmtree(new_root, ignore_errors=True)
        shutil.copytree(old_root, new_root)
        subprocess.run(cli("snapshots", new_root, "--migrate"), check=True, capture_output=True)
    if not (compacted / "_snapshots").is_dir():
        shutil.rmtree(compacted, ignore_errors=True)
        shutil.copytree(new_root, compacted)
        wall, peak = measure(cli("snapshots", compacted, "--compact"))
        print(f"compacted a copy of {new_root} in {wall:.1f} s ({peak:.0f} MiB)")
    return old_root, new_root, compacted


def measure_as_issue(work: Path, commit: str, repeat: int, shape: str = "light") -> None:
    old_root, new_root, compacted = build_as_issue(work, commit, shape)
    size = sum(f.stat().st_size for f in old_root.rglob("*.parquet")) / 2**20
    manifest = snapshot_manifest(new_root)
    which = "issue 8's account" if shape == "light" else f"issue 21's account ({shape})"
    print(
        f"\n{which}: {manifest['rows']['consumer_syncs']:,} pairs, "
        f"{manifest['rows']['mapping_values']:,} values, "
        f"{manifest['rows']['executions']:,} executions; {size:.0f} MiB"
    )
    env = {**os.environ, "PYTHONPATH": str(old_code(work, commit))}
    out = work / "out-issue"
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for version, root, run_env in (
            (f"pandas ({commit})", old_root, env),
            ("DuckDB (this version)", new_root, None),
            ("DuckDB (this version, `snapshots --compact`)", compacted, None),
        ):
            for name, page in (("report", True), ("report (files only)", False)):
                argv = cli("report", root, "--out", out / "files")
                argv += ["--html", str(out / "page.html")] if page else []
                runs.setdefault((name, version), []).append(measure(argv, run_env))
    print("\n| command | version | wall time (median) | peak memory |")
    print("|---|---|---|---|")
    for (name, version), results in runs.items():
        walls = sorted(w for w, _ in results)
        peaks = sorted(p for _, p in results)
        print(
            f"| `{name}` | {version} | {walls[0]:.1f}-{walls[-1]:.1f} s "
            f"({statistics.median(walls):.1f} s) | {peaks[0]:,.0f}-{peaks[-1]:,.0f} MiB |"
        )
    # each round ran the versions one after the other: its ratio is the least disturbed by
    # what else the machine did, slower or faster for minutes at a time
    old = f"pandas ({commit})"
    for (name, version), results in runs.items():
        if version != old:
            ratios = [o / n for (o, _), (n, _) in zip(runs[name, old], results, strict=True)]
            rounds = ", ".join(f"{r:.1f}x" for r in ratios)
            print(
                f"`{name}`, {version}: faster round by round {rounds} "
                f"(median {statistics.median(ratios):.1f}x)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument(
        "--shape", nargs="+", choices=list(SHAPES), default=["light"], help="account shapes"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_reports")
    parser.add_argument("--execution-days", type=int, default=30)
    parser.add_argument("--compare-pairs", type=int, default=20_000)
    parser.add_argument("--old-commit", default="247a0a6")
    parser.add_argument("--no-compare", action="store_true", help="skip the old pandas version")
    parser.add_argument("--no-trends", action="store_true")
    parser.add_argument("--trends-pairs", type=int, default=20_000)
    parser.add_argument("--trends-snapshots", type=int, default=30)
    parser.add_argument(
        "--queries",
        action="store_true",
        help="also run each SQL query of the README's tour (`chift-frames query DIR SQL`)",
    )
    parser.add_argument(
        "--as-issue",
        action="store_true",
        help="the issue's own account, fetched by --old-commit: issue 8's (light), or issue "
        "21's (--shape heavy)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, with --as-issue")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.as_issue:
        for shape in args.shape:
            measure_as_issue(args.work, args.old_commit, args.repeat, shape)
        return

    def dataset(shape: str, pairs: int) -> Path:
        root = args.work / f"{shape}-pairs-{pairs}"
        if not (root / "_snapshots").is_dir() or len(list_snapshots(root)) < 2:
            shutil.rmtree(root, ignore_errors=True)
            start = time.perf_counter()
            build(root, pairs, args.execution_days, shape=shape)
            print(f"built {root} in {time.perf_counter() - start:.0f} s", flush=True)
        return root

    def run(label: str, shape: str, pairs: int, version: str, argv: list[str], **kw: Any) -> None:
        try:
            wall, peak = measure(argv, **kw)
        except CommandFailedError as exc:
            rows.append((label, shape, pairs, version, f"fails: {exc}", ""))
            print(f"  {label:<20} fails: {exc}", flush=True)
            return
        rows.append((label, shape, pairs, version, f"{wall:.1f} s", f"{peak:,.0f} MiB"))
        print(f"  {label:<20} {wall:7.1f} s  {peak:7.0f} MiB", flush=True)

    rows: list[tuple[str, str, int, str, str, str]] = []
    for shape in args.shape:
        for pairs in args.pairs:
            root = dataset(shape, pairs)
            manifest = snapshot_manifest(root)
            size = sum(f.stat().st_size for f in root.rglob("*.parquet")) / 2**20
            print(
                f"\n{shape}: {manifest['rows']['consumer_syncs']:,} pairs, "
                f"{manifest['rows']['mapping_values']:,} values, "
                f"{manifest['rows']['executions']:,} executions per snapshot; {size:.0f} MiB",
                flush=True,
            )
            out = args.work / f"out-{shape}-{pairs}"
            commands = {
                "report": cli("report", root, "--out", out, "--html", out / "report.html"),
                "report (files only)": cli("report", root, "--out", out),
                "summary": cli("summary", root),
                "diff": cli("diff", root),
            }
            if args.queries:
                for number, sql in enumerate(readme_queries(), 1):
                    commands[f"README query {number}"] = cli("query", root, sql, "--format", "csv")
            for name, argv in commands.items():
                run(name, shape, pairs, "DuckDB (this version)", argv)
            if pairs == args.compare_pairs and not args.no_compare:
                env = {**os.environ, "PYTHONPATH": str(old_code(args.work, args.old_commit))}
                old = {
                    "report": cli("report", root, "--out", out / "old", "--html", out / "old.html"),
                    "report (files only)": cli("report", root, "--out", out / "old"),
                }
                for name, argv in old.items():
                    run(name, shape, pairs, f"pandas ({args.old_commit})", argv, env=env)

    if not args.no_trends:
        root = args.work / f"trends-{args.trends_pairs}"
        if not root.is_dir():
            build(root, args.trends_pairs, args.execution_days)
        copy_snapshots(root, args.trends_snapshots)
        code = f"import chift_frames as cf; print(len(cf.trends({str(root)!r})))"
        label = f"trends ({args.trends_snapshots} snapshots)"
        print()
        run(
            label, "light", args.trends_pairs, "DuckDB (this version)", [sys.executable, "-c", code]
        )

    print("\n| command | shape | pairs | version | wall time | peak memory |")
    print("|---|---|---|---|---|---|")
    for name, shape, pairs, version, wall, peak in rows:
        print(f"| `{name}` | {shape} | {pairs:,} | {version} | {wall} | {peak} |")


if __name__ == "__main__":
    main()
