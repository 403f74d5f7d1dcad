"""Benchmark: fetch pairs from the sandbox with 50 ms of latency per request.

Each measurement runs in a fresh process against a sandbox in another process, so the figures
are the fetch's own: pairs per second against the ideal (concurrency / latency), and peak
memory (VmHWM) of the fetching process. Targets (issue 3): at least 80 % of the ideal rate at
concurrency 8 and 32; peak memory for 20,000 pairs under 1.5x that for 2,000.

The command figures (issue 8) run the whole ``chift-frames fetch`` in a fresh process, through
``cli.main`` as the command does: listing, pairs, executions, commit and the closing summary,
against a 500-pair account (205 consumers, 3 syncs) with 50 ms of latency. The clock starts
once the interpreter is up and ``chift_frames.cli``, with the client and the fetch it imports,
is loaded; the second figure also leaves out the closing summary (timed inside the same run).
Target: pairs per second at least 80 % of the ideal concurrency / latency, at
``--concurrency 16``. Since issue 11 the command also asks
each consumer's connections (205 more requests), so it is also measured against every request
it makes, and with ``--no-connections`` as issue 8 first measured it. After each run a bare
client (threads and GETs, nothing flattened or written) measures what the sandbox and HTTP
allow at that concurrency.

Issue 24: each run of the command also prints its rate counted by every request it makes, the
CPU it spends per request (its imports left out), and the rate counted from the process's
start to its exit (interpreter and imports included). Targets: 90 % of the ideal at
``--concurrency 16``, 80 % at 32; the CPU per request a third lower than before issue 24.

Run: python benchmarks/bench_fetch.py            (about 3 minutes on 2 cores)
     python benchmarks/bench_fetch.py --quick    (smaller counts, to try it out)
     python benchmarks/bench_fetch.py --command [--concurrency 16] [--repeat 5]
                                     [--no-connections]   (the whole command only)
     python benchmarks/bench_fetch.py --memory heavy [--sizes 2000 20000]
                                     (the whole command's peak memory on that shape)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ACCOUNT = "00000000-0000-4000-8000-0000000000be"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(
    consumers: int, latency: float, syncs: int = 3, shape: str = "light"
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chift_frames",
            "sandbox",
            "--port",
            str(port),
            "--consumers",
            str(consumers),
            "--syncs",
            str(syncs),
            "--latency",
            str(latency),
            "--shape",
            shape,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the sandbox did not start")


def child(url: str, concurrency: int, pairs: int) -> None:
    """Fetch ``pairs`` pairs (the first ones /syncs lists) and print the figures as JSON."""
    from chift_frames import ChiftClient, fetch_snapshot
    from chift_frames.fetch import list_pairs

    with (
        tempfile.TemporaryDirectory() as root,
        ChiftClient("bench", "bench", ACCOUNT, base_url=url, pool_size=concurrency) as client,
    ):
        # whole consumers, in order, until their pairs reach the count asked for
        per_consumer: dict[str, int] = {}
        for consumer_id, _ in list_pairs(client.get_json("/syncs")):
            per_consumer[consumer_id] = per_consumer.get(consumer_id, 0) + 1
        consumers, total = [], 0
        for consumer_id, count in per_consumer.items():
            if total >= pairs:
                break
            consumers.append(consumer_id)
            total += count
        start = time.perf_counter()
        result = fetch_snapshot(
            client,
            root,
            consumer_ids=consumers,
            concurrency=concurrency,
            progress=False,
            executions=False,  # pairs only: the rate is compared with concurrency / latency
        )
        elapsed = time.perf_counter() - start
        status = Path("/proc/self/status").read_text()
        peak_kib = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM")).split()[1])
        print(
            json.dumps(
                {
                    "pairs": result.pairs_ok,
                    "failed": result.pairs_failed,
                    "seconds": elapsed,
                    "peak_mib": peak_kib / 1024,
                }
            )
        )


def measure(url: str, concurrency: int, pairs: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            url,
            "--concurrency",
            str(concurrency),
            "--pairs",
            str(pairs),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def command_child(root: str, concurrency: int, connections: bool = True) -> None:
    """Run ``chift-frames fetch`` as the command does (``cli.main``) and print its phases."""
    started = time.perf_counter()
    import chift_frames.cli as cli
    import chift_frames.client
    import chift_frames.fetch  # noqa: F401  (the command imports both before its first request)

    imported = time.perf_counter()
    cpu_at_import = resource.getrusage(resource.RUSAGE_SELF)
    marks: dict[str, float] = {}
    report = cli._report_fetch

    def timed_report(result: object) -> int:
        marks["summary"] = time.perf_counter()
        return report(result)  # type: ignore[arg-type]

    cli._report_fetch = timed_report  # type: ignore[assignment]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        argv = ["fetch", "--out", root, "--concurrency", str(concurrency), "--quiet"]
        status = cli.main(argv + ([] if connections else ["--no-connections"]))
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "status": status,
                "imports": imported - started,
                "command": done - imported,
                "summary": done - marks["summary"],
                "cpu": usage.ru_utime + usage.ru_stime,
                # the command's own CPU (the import left out), for the CPU per request
                "command_cpu": usage.ru_utime
                + usage.ru_stime
                - cpu_at_import.ru_utime
                - cpu_at_import.ru_stime,
            }
        )
    )


def floor_child(concurrency: int) -> None:
    """GET every consumer's connections four times over with bare threads; print the rate.

    Nothing is flattened or written: what the sandbox and the HTTP client allow at this
    concurrency, the ceiling the whole command can approach.
    """
    from chift_frames import ChiftClient

    with ChiftClient.from_env(pool_size=concurrency) as client:
        paths = [f"/consumers/{c['consumerid']}/connections" for c in client.get_json("/consumers")]
        jobs = iter(paths * 4)
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    path = next(jobs, None)
                if path is None:
                    return
                client.get(path).json()

        started = time.perf_counter()
        threads = [threading.Thread(target=work) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({"requests": len(paths) * 4, "seconds": time.perf_counter() - started}))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_command(
    concurrency: int, latency: float, repeat: int, connections: bool = True
) -> None:
    """Run the whole ``chift-frames fetch`` against a 500-pair account, ``repeat`` times."""
    from chift_frames import load

    proc, url = start_sandbox(consumers=205, latency=latency)
    env = {
        **os.environ,
        "CHIFT_BASE_URL": url,
        "CHIFT_CLIENT_ID": "bench",
        "CHIFT_CLIENT_SECRET": "bench-secret-value",
        "CHIFT_ACCOUNT_ID": ACCOUNT,
    }
    ideal = concurrency / latency
    print(
        f"\nThe whole command: chift-frames fetch --concurrency {concurrency} --quiet"
        f"{'' if connections else ' --no-connections'} "
        f"(500 pairs, {latency * 1000:.0f} ms latency, ideal {ideal:.0f} pairs/s)"
    )
    print(
        f"{'run':>3} {'imports':>8} {'command':>8} {'summary':>8} {'cpu':>6} {'sandbox':>8} "
        f"{'requests':>9} {'req/s':>6} {'of ideal':>9} {'cpu/req':>8} {'whole':>7} "
        f"{'pairs/s':>8} {'of ideal':>9} {'no summary':>11} {'of ideal':>9}"
    )
    shares: list[tuple[float, float]] = []
    cpu_per_request: list[float] = []  # the command's CPU (imports left out), ms per request
    whole: list[float] = []  # requests / (process start to exit), the strictest count
    by_request: list[float] = []  # every request the command made, against the same ideal
    floors: list[float] = []  # bare threads and GETs against the same sandbox, run by run
    try:
        for run in range(1, repeat + 1):
            with tempfile.TemporaryDirectory() as root:
                served = cpu_seconds(proc.pid)
                spawned = time.perf_counter()
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--command-child",
                        root,
                        "--concurrency",
                        str(concurrency),
                        *([] if connections else ["--no-connections"]),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                lifetime = time.perf_counter() - spawned  # from the spawn to the exit
                r = json.loads(out.stdout.strip().splitlines()[-1])
                served = cpu_seconds(proc.pid) - served
                frames = load(root, tables=["consumer_syncs", "raw_responses"])
                pairs = len(frames.consumer_syncs)
                requests = len(frames.raw_responses)
            rate = pairs / r["command"]
            bare = pairs / (r["command"] - r["summary"])
            shares.append((rate / ideal, bare / ideal))
            by_request.append(requests / r["command"] / ideal)
            cpu_per_request.append(r["command_cpu"] / requests * 1000)
            whole.append(requests / lifetime / ideal)
            floor = subprocess.run(
                [sys.executable, __file__, "--floor-child", "--concurrency", str(concurrency)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            f = json.loads(floor.stdout.strip().splitlines()[-1])
            floors.append(f["requests"] / f["seconds"] / ideal)
            print(
                f"{run:>3} {r['imports']:>7.2f}s {r['command']:>7.2f}s {r['summary']:>7.2f}s "
                f"{r['cpu']:>5.2f}s {served:>7.2f}s {requests:>9,} "
                f"{requests / r['command']:>6.0f} {by_request[-1]:>8.0%} "
                f"{cpu_per_request[-1]:>6.2f}ms {whole[-1]:>6.0%} {rate:>8.0f} "
                f"{rate / ideal:>8.0%} "
                f"{bare:>10.0f}/s {bare / ideal:>8.0%}"
            )
    finally:
        proc.terminate()
        proc.wait()
    print(
        f"counting every request (lists, pairs, executions pages) instead of pairs, summary "
        f"included: {min(by_request):.0%}-{max(by_request):.0%} "
        f"(median {statistics.median(by_request):.0%})"
    )
    print(
        f"the command's CPU per request (its imports left out): "
        f"{min(cpu_per_request):.2f}-{max(cpu_per_request):.2f} ms "
        f"(median {statistics.median(cpu_per_request):.2f} ms)"
    )
    print(
        f"every request, from the process's start to its exit (interpreter and imports "
        f"included): {min(whole):.0%}-{max(whole):.0%} (median {statistics.median(whole):.0%})"
    )
    print(
        f"a bare client ({concurrency} threads, GETs only, nothing written) against the same "
        f"sandbox, after each run: {min(floors):.0%}-{max(floors):.0%} "
        f"(median {statistics.median(floors):.0%})"
    )
    with_summary = [a for a, _ in shares]
    without = [b for _, b in shares]
    print(
        f"of ideal, summary included: {min(with_summary):.0%}-{max(with_summary):.0%} "
        f"(median {statistics.median(with_summary):.0%}); summary excluded: "
        f"{min(without):.0%}-{max(without):.0%} (median {statistics.median(without):.0%})"
    )


def measure_memory(shape: str, sizes: list[int], concurrency: int) -> None:
    """Run the whole ``chift-frames fetch`` on an account of ``shape`` at each size, twice.

    Each run is its own process under ``/usr/bin/time -v`` against a sandbox of two syncs
    without latency: pairs, executions and connections, with the command's defaults. The
    second run fetches into the same dataset, as a nightly fetch does: it plans its
    executions from the log the first one wrote. Prints the wall time, the peak memory
    (maximum resident set) and the rows fetched, for each.
    """
    from chift_frames.store import snapshot_manifest

    print(
        f"\nThe whole fetch on the {shape} shape (2 syncs, no latency, --concurrency {concurrency})"
    )
    print(
        f"{'pairs':>8} {'fetch':>8} {'executions':>11} {'values':>11} {'status':>9} "
        f"{'wall':>8} {'peak':>9}"
    )
    peaks: dict[str, list[float]] = {"first": [], "nightly": []}
    for pairs in sizes:
        proc, url = start_sandbox(round(pairs / (2 * 0.8)), 0.0, syncs=2, shape=shape)
        env = {
            **os.environ,
            "CHIFT_BASE_URL": url,
            "CHIFT_CLIENT_ID": "bench",
            "CHIFT_CLIENT_SECRET": "bench-secret-value",
            "CHIFT_ACCOUNT_ID": ACCOUNT,
        }
        try:
            with tempfile.TemporaryDirectory() as root:
                argv = [str(Path(sys.executable).with_name("chift-frames")), "fetch", "--out"]
                argv += [root, "--concurrency", str(concurrency), "--quiet"]
                for which in peaks:
                    timed = subprocess.run(
                        ["/usr/bin/time", "-v", *argv], env=env, capture_output=True, text=True
                    )
                    fields = dict(
                        line.strip().split(": ", 1)
                        for line in timed.stderr.splitlines()
                        if ": " in line and line.startswith("\t")
                    )
                    peak = int(fields["Maximum resident set size (kbytes)"]) / 1024
                    wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"]
                    rows = snapshot_manifest(root)["rows"]  # as committed: no table read
                    status = "complete" if timed.returncode == 0 else f"exit {timed.returncode}"
                    print(
                        f"{rows['consumer_syncs']:>8,} {which:>8} {rows['executions']:>11,} "
                        f"{rows['mapping_values']:>11,} {status:>9} {wall:>8} "
                        f"{peak:>6.0f} MiB",
                        flush=True,
                    )
                    peaks[which].append(peak)
        finally:
            proc.terminate()
            proc.wait()
    first, nightly = peaks["first"], peaks["nightly"]
    if len(first) > 1:
        print(f"peak memory, largest / smallest: {first[-1] / first[0]:.2f}x (target <= 1.5x)")
    for size, one, two in zip(sizes, first, nightly, strict=True):
        print(f"{size:,} pairs: the nightly fetch's peak is {two / one:.2f}x the first's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", metavar="URL")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="8 for the pairs, 16 for --command, --memory"
    )
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--command", action="store_true", help="the whole command only")
    parser.add_argument("--command-child", metavar="ROOT")
    parser.add_argument("--floor-child", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the whole command")
    parser.add_argument(
        "--memory",
        metavar="SHAPE",
        help="the whole fetch's peak memory on an account of this shape (heavy, skewed...)",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[2000, 20000], help="pairs, with --memory"
    )
    parser.add_argument(
        "--no-connections",
        action="store_true",
        help="the command without the connections (one request per consumer), as in issue 8",
    )
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = 16 if args.command or args.memory else 8
    if args.child:
        child(args.child, args.concurrency, args.pairs)
        return
    if args.floor_child:
        floor_child(args.concurrency)
        return
    if args.command_child:
        command_child(args.command_child, args.concurrency, not args.no_connections)
        return
    if args.memory:
        measure_memory(args.memory, args.sizes, args.concurrency)
        return
    if args.command:
        measure_command(args.concurrency, args.latency, args.repeat, not args.no_connections)
        return

    small, large, serial = (500, 5000, 100) if args.quick else (2000, 20000, 400)
    print(
        f"Python {platform.python_version()}, {platform.machine()}; sandbox latency "
        f"{args.latency * 1000:.0f} ms per request, in its own process"
    )
    proc, url = start_sandbox(consumers=large // 2 + 100, latency=args.latency)
    try:
        print(f"\n{'concurrency':>11} {'pairs':>7} {'pairs/s':>9} {'ideal':>7} {'of ideal':>9}")
        for concurrency, pairs in ((1, serial), (8, small), (32, small)):
            r = measure(url, concurrency, pairs)
            ideal = concurrency / args.latency
            rate = r["pairs"] / r["seconds"]
            print(
                f"{concurrency:>11} {r['pairs']:>7,.0f} {rate:>9.1f} {ideal:>7.0f} "
                f"{rate / ideal:>8.0%}"
            )
        print(f"\n{'pairs':>7} {'peak memory':>12}   (concurrency 32)")
        peaks = []
        for pairs in (small, large):
            r = measure(url, 32, pairs)
            peaks.append(r["peak_mib"])
            print(f"{r['pairs']:>7,.0f} {r['peak_mib']:>9.0f} MiB")
        print(f"ratio {peaks[1] / peaks[0]:.2f} (target < 1.5)")
    finally:
        proc.terminate()
        proc.wait()
    measure_command(16, args.latency, args.repeat)


if __name__ == "__main__":
    main()
