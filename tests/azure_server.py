"""A real Azure Blob API for the tests: Azurite (Microsoft's emulator) in its own process.

The client code under test is the code users run: pyarrow's Azure filesystem, given the
account key by ``AZURE_STORAGE_ACCOUNT_KEY`` and pointed at Azurite by the ``abfs://`` URL's
own query (``blob_storage_authority``, ``dfs_storage_authority``, ``enable_tls=false``).
Azurite comes from npm (``.ci/run`` installs it); without it these tests skip, or fail under
``CHIFT_FRAMES_TEST_ALL=1`` (see ``tests/components.py``).
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.s3_server import free_port

STARTUP_TIMEOUT = 30.0  # seconds for Azurite to answer
ACCOUNT = "devstoreaccount1"  # Azurite's well-known development account and key
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    port: int

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    def create_container(self, name: str) -> str:
        """Create container ``name``; return the ``abfs://`` URL of a folder in it."""
        self.filesystem().create_dir(name)
        query = (
            f"blob_storage_authority={self.authority}&dfs_storage_authority={self.authority}"
            "&enable_tls=false"
        )
        return f"abfs://{name}@{ACCOUNT}.dfs.core.windows.net/lake?{query}"

    def filesystem(self) -> Any:
        import pyarrow.fs as pafs

        return pafs.AzureFileSystem(
            account_name=ACCOUNT,
            account_key=KEY,
            blob_storage_authority=self.authority,
            dfs_storage_authority=self.authority,
            blob_storage_scheme="http",
            dfs_storage_scheme="http",
        )

    def names(self, container: str) -> list[str]:
        """Every blob of ``container``, as paths inside it."""
        import pyarrow.fs as pafs

        infos = self.filesystem().get_file_info(pafs.FileSelector(container, recursive=True))
        prefix = f"{container}/"
        return sorted(i.path.removeprefix(prefix) for i in infos if i.type == pafs.FileType.File)


@contextmanager
def azurite_server(binary: str) -> Iterator[Azurite]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as location:
        proc = subprocess.Popen(
            [
                binary,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                location,
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("Azurite did not start") from None
                    time.sleep(0.1)
            yield Azurite(port)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
