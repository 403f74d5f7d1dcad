"""A real S3 API for the tests: moto's server in its own process, and a proxy that can fail PUTs.

The client code under test is the code users run: pyarrow's S3 filesystem (and boto3 for
conditional creates), configured by the standard AWS environment variables, with
``AWS_ENDPOINT_URL`` pointing at the proxy on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STARTUP_TIMEOUT = 30.0  # seconds for moto_server to answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Faults:
    """PUTs whose path matches ``fail_put`` get a 500, while it is set."""

    fail_put: Callable[[str], bool] | None = None
    puts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _proxy(upstream_port: int, faults: Faults) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                raw = b""
                while True:
                    line = self.rfile.readline()
                    raw += line
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    chunk = self.rfile.read(size + 2)
                    raw += chunk
                    if size == 0:
                        # trailers, up to the empty line
                        while chunk not in (b"\r\n", b"\n", b""):
                            chunk = self.rfile.readline()
                            raw += chunk
                        return raw
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self) -> None:
            body = self._body()
            if self.command == "PUT":
                with faults.lock:
                    faults.puts.append(self.path)
                    fail = faults.fail_put is not None and faults.fail_put(self.path.split("?")[0])
                if fail:
                    message = (
                        b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    )
                    self.send_response(500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                    return
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            try:
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # the 100-continue was answered here already; headers and body go in one send
                headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                head = self.command == "HEAD"  # its Content-Length is the object's size
                for key, value in response.getheaders():
                    skip = ("transfer-encoding", "connection") + (
                        () if head else ("content-length",)
                    )
                    if key.lower() not in skip:
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 (http.server names)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class S3:
    """A running S3 API: its endpoint (the proxy), the fault switch, and the env it needs."""

    endpoint: str
    faults: Faults
    env: dict[str, str]

    def create_bucket(self, name: str) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, **_keys()).create_bucket(Bucket=name)
        return f"s3://{name}"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, **_keys())
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": "test-key-id",
        "aws_secret_access_key": "test-secret-canary-s3",
        "region_name": "us-east-1",
    }


@contextmanager
def moto_server() -> Iterator[S3]:
    """Start ``moto_server`` on a free port of 127.0.0.1 and a proxy before it; stop both."""
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = None
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)
        faults = Faults()
        proxy = _proxy(port, faults)
        endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
        env = {
            "AWS_ACCESS_KEY_ID": _keys()["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": _keys()["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        yield S3(endpoint, faults, env)
    finally:
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def environ_with(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env}
