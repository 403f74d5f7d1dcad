"""Benchmark: fetch 2,000 pairs into s3:// (moto's S3 server) and into a local folder.

The sandbox (50 ms of latency per request) and moto_server each run in their own process;
every fetch runs in a fresh process, alternating local and S3, and the figures are the
fetch's own wall time, commit included. What it shows: the cost of the object store's
round trips (staging, state, commit copies) relative to a local disk.

Run: python benchmarks/bench_store.py              (about 2 minutes on 2 cores)
     python benchmarks/bench_store.py --quick      (500 pairs, one round)
Needs the test extra (moto[server], boto3).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_fetch import ACCOUNT, free_port, start_sandbox

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto_server did not start")


def child(url: str, root: str, concurrency: int, pairs: int) -> None:
    """Fetch ``pairs`` pairs into ``root`` and print the figures as JSON."""
    from chift_frames import ChiftClient, fetch_snapshot
    from chift_frames.fetch import list_pairs

    with ChiftClient("bench", "bench", ACCOUNT, base_url=url, pool_size=concurrency) as client:
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
            executions=False,
        )
        elapsed = time.perf_counter() - start
    print(json.dumps({"pairs": result.pairs_ok, "seconds": elapsed}))


def measure(url: str, root: str, concurrency: int, pairs: int, env: dict[str, str]) -> float:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            url,
            "--root",
            root,
            "--concurrency",
            str(concurrency),
            "--pairs",
            str(pairs),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return float(r["pairs"]) / float(r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", metavar="URL")
    parser.add_argument("--root")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.root, args.concurrency, args.pairs)
        return
    pairs, rounds = (500, 1) if args.quick else (args.pairs, args.rounds)
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"sandbox latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}, "
        f"{pairs:,} pairs, moto_server on 127.0.0.1"
    )
    sandbox, url = start_sandbox(consumers=pairs // 2 + 100, latency=args.latency)
    moto, endpoint = start_moto()
    env = {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}
    try:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")
        rates: dict[str, list[float]] = {"local": [], "s3": []}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(rounds):
                rates["local"].append(measure(url, f"{tmp}/run-{i}", args.concurrency, pairs, env))
                rates["s3"].append(
                    measure(url, f"s3://bench/run-{i}", args.concurrency, pairs, env)
                )
        print(f"\n{'root':>6} {'pairs/s (median)':>17} {'runs':>24}")
        for name, values in rates.items():
            runs = ", ".join(f"{v:.1f}" for v in values)
            print(f"{name:>6} {statistics.median(values):>17.1f} {runs:>24}")
        ratio = statistics.median(rates["s3"]) / statistics.median(rates["local"])
        print(f"\ns3 / local throughput: {ratio:.2f}")
    finally:
        for proc in (sandbox, moto):
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
