"""Benchmark: fetch pairs from the sandbox with 50 ms of latency per request.

Each measurement runs in a fresh process against a sandbox in another process, so the figures
are the fetch's own: pairs per second against the ideal (concurrency / latency), and peak
memory (VmHWM) of the fetching process. Targets (issue 3): at least 80 % of the ideal rate at
concurrency 8 and 32; peak memory for 20,000 pairs under 1.5x that for 2,000.

Run: python benchmarks/bench_fetch.py            (about 3 minutes on 2 cores)
     python benchmarks/bench_fetch.py --quick    (smaller counts, to try it out)
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCOUNT = "00000000-0000-4000-8000-0000000000be"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(consumers: int, latency: float) -> tuple[subprocess.Popen[bytes], str]:
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
            "3",
            "--latency",
            str(latency),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", metavar="URL")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.concurrency, args.pairs)
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


if __name__ == "__main__":
    main()
