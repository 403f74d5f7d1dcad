"""Where a dataset lives: a local folder or an object store, behind one small interface.

A root is a path (``data/prod``) or a URL (``s3://bucket/prefix``, ``gs://…``, ``az://…``,
``abfs://…``, ``file:///…``). Object stores are reached through pyarrow's filesystems, or
fsspec when pyarrow has none for the scheme; credentials come from each cloud's standard
chain (for S3: the AWS environment variables, profile or role, and ``AWS_ENDPOINT_URL``; for
Azure's ``abfs://``: ``AZURE_STORAGE_ACCOUNT_KEY``, else Azure's default credential).
A URL that carries credentials itself is refused, so they never reach a message or a file.

Object stores can't rename: every write here is a whole-object PUT, visible all at once or
not at all, and :meth:`Root.create` is a conditional create where the store offers one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pyarrow.fs as pafs

from ..errors import StoreError

__all__ = ["Root", "display_root", "open_root", "upload_file", "upload_files", "url_under"]

log = logging.getLogger(__name__)

SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "file")
# schemes whose URL names the container before the @ (abfs://container@account...): not a user
_CONTAINER_AT_HOST = ("abfs", "abfss")
# query parameters of pyarrow's URIs that would carry a credential
_SECRET_PARAMS = {"access_key", "secret_key", "session_token", "account_key", "sas_token"}
# what pathlib makes of a URL: Path("s3://b/k") is "s3:/b/k"
_MANGLED = re.compile(r"^(" + "|".join(SCHEMES) + r"):/(?!/)")
MAX_SMALL_FILE = 64 * 1024 * 1024  # manifests, locks and plans are far smaller


def _root_text(root: str | os.PathLike[str]) -> str:
    text = os.fspath(root)
    if not isinstance(text, str):
        raise StoreError(f"a dataset root must be a path or a URL, not {type(root).__name__}")
    if not isinstance(root, str) and _MANGLED.match(text):
        # a URL that went through pathlib.Path lost one slash; give it back
        scheme, rest = text.split(":/", 1)
        text = f"{scheme}:///{rest}" if scheme == "file" else f"{scheme}://{rest}"
    return text


def display_root(root: str | os.PathLike[str]) -> str:
    """Return how to write ``root`` on a command line: a path, or its URL (no credentials)."""
    text = _root_text(root)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if parts.username and parts.scheme.lower() in _CONTAINER_AT_HOST:
        host = f"{parts.username}@{host}"  # abfs://container@account.dfs.core.windows.net
    return f"{parts.scheme}://{host}{parts.path}"


@contextlib.contextmanager
def _io(url: str, what: str, rel: str) -> Iterator[None]:
    """Turn a filesystem's OSError into a StoreError that says what failed, and where."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreError(f"cannot {what} {rel or '/'} in {url}: {_reason(exc)}") from None


@dataclass(frozen=True)
class Root:
    """A dataset root: a filesystem and a base path in it.

    Paths given to the methods are relative to the root, with ``/`` separators; they are
    built by this package, never taken from a file as they are (see ``manifests``).
    """

    fs: pafs.FileSystem
    base: str
    url: str
    local: bool
    scheme: str = "file"
    endpoint: str | None = None  # an S3 endpoint given in the URL (endpoint_override=)

    def __str__(self) -> str:
        return self.url

    def full(self, rel: str) -> str:
        """Return the path of ``rel`` in the filesystem."""
        return f"{self.base}/{rel}" if rel else self.base

    def exists(self, rel: str) -> bool:
        """Whether file ``rel`` exists."""
        with _io(self.url, "look at", rel):
            info = self.fs.get_file_info(self.full(rel))
        return bool(info.type == pafs.FileType.File)

    def is_dir(self, rel: str = "") -> bool:
        """Whether ``rel`` is a folder (on object stores: a prefix holding objects)."""
        with _io(self.url, "look at", rel):
            info = self.fs.get_file_info(self.full(rel))
        return bool(info.type == pafs.FileType.Directory)

    def read(self, rel: str, limit: int = MAX_SMALL_FILE) -> bytes:
        """Return the bytes of file ``rel``; at most ``limit`` bytes are accepted."""
        try:
            with self.fs.open_input_stream(self.full(rel)) as fh:
                data: bytes = fh.read(limit + 1)
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {rel} in {self.url}: {_reason(exc)}") from None
        if len(data) > limit:
            raise StoreError(f"{rel} in {self.url} is larger than {limit:,} bytes")
        return data

    def write(self, rel: str, data: bytes, *, sync: bool = True) -> None:
        """Write file ``rel`` whole: readers see the old content or the new, never a mix.

        On a local disk the file is also flushed to the disk (fsync) unless ``sync`` is false.
        """
        path = self.full(rel)
        try:
            if self.local:
                tmp = _write_temporary(path, data, sync=sync)
                try:
                    os.replace(tmp, path)
                except BaseException:
                    _unlink(tmp)
                    raise
                if sync:
                    _sync_folder(path.rsplit("/", 1)[0])
            else:  # one PUT: visible whole at close, or not at all
                with self.fs.open_output_stream(path) as out:
                    out.write(data)
        except OSError as exc:
            raise StoreError(f"cannot write {rel} in {self.url}: {_reason(exc)}") from None

    def create(self, rel: str, data: bytes) -> bool:
        """Create file ``rel`` only if it does not exist; return whether this call created it.

        The file appears whole or not at all. Local folders write a temporary file, flush it
        to the disk, then hard-link it to its name (which fails if the name exists), so a
        crash never leaves a truncated file under the name; S3 a conditional PUT
        (``If-None-Match: *``) when boto3 is installed. Other stores get a check, a write and
        a read-back, which narrows the race without closing it (said in docs/security.md).
        """
        path = self.full(rel)
        if self.local:
            with _io(self.url, "create", rel):
                return _create_local(path, data)
        if self.scheme == "s3":
            region = getattr(self.fs, "region", None) or None
            created = _s3_create(path, data, region, self.endpoint)
            if created is not None:
                return created
        if self.exists(rel):
            return False
        self.write(rel, data)
        return self.read(rel) == data

    def entries(self, rel: str = "") -> list[str]:
        """Names of the entries directly in folder ``rel``, sorted; none when it is missing."""
        selector = pafs.FileSelector(self.full(rel), allow_not_found=True, recursive=False)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            raise StoreError(f"cannot list {rel or '/'} in {self.url}: {_reason(exc)}") from None
        return sorted(info.base_name for info in infos)

    def list_files(self, rel: str) -> list[str]:
        """Paths (relative to the root) of every file under folder ``rel``, sorted."""
        selector = pafs.FileSelector(self.full(rel), allow_not_found=True, recursive=True)
        with _io(self.url, "list", rel):
            infos = self.fs.get_file_info(selector)
        start = len(self.base) + 1
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)

    def delete(self, rel: str) -> None:
        """Delete file ``rel``; a missing file is fine."""
        with contextlib.suppress(FileNotFoundError), _io(self.url, "delete", rel):
            self.fs.delete_file(self.full(rel))

    def delete_dir(self, rel: str) -> None:
        """Delete folder ``rel`` and everything in it; a missing folder is fine."""
        with contextlib.suppress(FileNotFoundError), _io(self.url, "delete", rel):
            info = self.fs.get_file_info(self.full(rel))
            if info.type == pafs.FileType.Directory:
                self.fs.delete_dir(self.full(rel))

    def copy(self, src: str, dst: str) -> None:
        """Copy file ``src`` to ``dst`` (server-side on object stores)."""
        with _io(self.url, "copy", src):
            if self.local:
                os.makedirs(self.full(dst).rsplit("/", 1)[0], exist_ok=True)
            self.fs.copy_file(self.full(src), self.full(dst))

    def move(self, src: str, dst: str) -> None:
        """Put file ``src`` at ``dst``: a rename on a local disk, a copy then a delete elsewhere."""
        with _io(self.url, "move", src):
            if self.local:
                os.makedirs(self.full(dst).rsplit("/", 1)[0], exist_ok=True)
                os.replace(self.full(src), self.full(dst))
            else:
                self.fs.copy_file(self.full(src), self.full(dst))
        if not self.local:
            self.delete(src)


def _write_temporary(path: str, data: bytes, *, sync: bool = True) -> str:
    """Write ``data`` to a fresh hidden file beside ``path``; return its path.

    Hidden (a leading dot) so that no folder reader lists it; ``clean`` removes those that a
    crash left.
    """
    folder, name = path.rsplit("/", 1)
    os.makedirs(folder, exist_ok=True)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _create_local(path: str, data: bytes) -> bool:
    """Give ``path`` the content ``data`` if it does not exist, atomically; whether it did."""
    if os.path.lexists(path):
        return False
    tmp = _write_temporary(path, data)
    try:
        try:
            os.link(tmp, path)  # atomic, and refuses an existing name
        except FileExistsError:
            return False
        except OSError:
            # a filesystem without hard links: a check then a rename narrows the race
            if os.path.lexists(path):
                return False
            os.replace(tmp, path)
        _sync_folder(path.rsplit("/", 1)[0])
        return True
    finally:
        _unlink(tmp)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sync_folder(folder: str) -> None:
    """Flush a folder's entries to the disk, so a rename survives a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform that can't open folders (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reason(exc: BaseException) -> str:
    # pyarrow's S3 errors can be long; the first line says what happened. Google's status
    # then repeats itself in error_info={...}
    text = str(exc).strip()
    return text.splitlines()[0].split(" error_info={", 1)[0] if text else type(exc).__name__


def _s3_create(path: str, data: bytes, region: str | None, endpoint: str | None) -> bool | None:
    """Conditional PUT through boto3; None when boto3 is not installed.

    The bucket's region and any endpoint of the URL are the ones pyarrow uses; the rest
    (credentials, ``AWS_ENDPOINT_URL``) comes from the same standard chain.
    """
    try:
        import boto3
        from botocore.exceptions import ClientError
    except ImportError:  # pragma: no cover - the test extra installs boto3 with moto
        return None
    bucket, key = path.split("/", 1)
    # the standard chain: env, profile, role, AWS_ENDPOINT_URL
    client = boto3.client("s3", region_name=region, endpoint_url=endpoint)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            return False
        raise StoreError(f"cannot create s3://{bucket}/{key}: {code or status}") from None
    return True


def open_root(root: str | os.PathLike[str] | Root) -> Root:
    """Return the :class:`Root` of a path or URL.

    Raises
    ------
    StoreError
        For an unknown scheme, a URL that carries credentials, or a store that can't be
        reached.
    """
    if isinstance(root, Root):
        return root
    text = _root_text(root)
    if "://" not in text:
        base = os.path.abspath(text).replace(os.sep, "/").rstrip("/") or "/"
        return Root(pafs.LocalFileSystem(), base, text, local=True)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise StoreError(
            f"unknown scheme {scheme!r} in the dataset root: use a path, or a URL starting "
            f"with {', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.password or (parts.username and scheme not in _CONTAINER_AT_HOST):
        raise StoreError(
            "the dataset URL must not carry credentials; give them through the environment "
            "(for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role; for "
            "Azure: AZURE_STORAGE_ACCOUNT_KEY)"
        )
    if any(key.lower() in _SECRET_PARAMS for key, _ in parse_qsl(parts.query)):
        raise StoreError(
            "the dataset URL must not carry credentials in its query; give them through the "
            "environment instead"
        )
    url = display_root(text)
    if scheme == "file":
        base = parts.path.rstrip("/") or "/"
        return Root(pafs.LocalFileSystem(), base, url, local=True)
    try:
        fs, base = pafs.FileSystem.from_uri(text)
    except OSError as exc:  # pyarrow knows the scheme but cannot reach the store: say so
        raise StoreError(
            f"cannot reach {url}: {_reason(exc)} (check the network, the bucket's name and "
            "the store's endpoint)"
        ) from None
    except (ValueError, NotImplementedError) as exc:
        fs, base = _fsspec(text, scheme, exc)
    fs = _with_gcs_retry_limit(_with_azure_key(fs))
    query = dict(parse_qsl(parts.query))
    endpoint = None
    if scheme == "s3" and query.get("endpoint_override"):
        endpoint = query["endpoint_override"]
        if "://" not in endpoint:
            endpoint = f"{query.get('scheme', 'https')}://{endpoint}"
    return Root(fs, base.rstrip("/"), url, local=False, scheme=scheme, endpoint=endpoint)


GCS_RETRY_LIMIT = timedelta(seconds=15)


def _with_gcs_retry_limit(fs: pafs.FileSystem) -> pafs.FileSystem:
    """Give a GCS filesystem a bound on its retries (pyarrow's default: 15 minutes).

    Offline, or without Google credentials, each call would retry silently for that long;
    bounded, it fails in seconds with Google's reason, which the caller prints.
    """
    if type(fs).__name__ != "GcsFileSystem":
        return fs
    _, (options,) = fs.__reduce__()
    if options.get("retry_time_limit") is not None:  # the URL set one
        return fs
    given = {name: value for name, value in options.items() if value not in ("", None)}
    return pafs.GcsFileSystem(**{**given, "retry_time_limit": GCS_RETRY_LIMIT})


def _with_azure_key(fs: pafs.FileSystem) -> pafs.FileSystem:
    """Give an Azure filesystem the account key of ``AZURE_STORAGE_ACCOUNT_KEY``, if set.

    pyarrow reads a key only from the URL, where this package refuses it; without one it
    uses Azure's default credential chain (a managed identity, ``az login``...), which
    stays the way when the variable is not set.
    """
    key = os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
    if not key or type(fs).__name__ != "AzureFileSystem":
        return fs
    _, (options,) = fs.__reduce__()
    given = {name: value for name, value in options.items() if value}
    return pafs.AzureFileSystem(**{**given, "account_key": key})


def _fsspec(url: str, scheme: str, first: BaseException) -> tuple[pafs.FileSystem, str]:
    """Open ``url`` through fsspec when pyarrow has no filesystem for it."""
    try:
        import fsspec
    except ImportError:
        raise StoreError(
            f"cannot open {display_root(url)}: {_reason(first)} (installing fsspec and the "
            f"package for {scheme}:// may help)"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError, OSError) as exc:
        raise StoreError(f"cannot open {display_root(url)}: {_reason(exc)}") from None
    handler: Any = pafs.FSSpecHandler(fs)
    return pafs.PyFileSystem(handler), str(path)


def url_under(root: str | os.PathLike[str], *parts: str) -> str:
    """Return the path or URL of ``parts`` under ``root``; a URL keeps its query.

    The query holds how to reach the store (an S3 ``endpoint_override``, an Azure
    ``blob_storage_authority``...), so what is written under a root goes where the root is.
    """
    text = _root_text(root)
    if "://" not in text:
        return os.path.join(text, *parts)
    url = urlsplit(text)
    path = "/".join([url.path.rstrip("/"), *parts])
    return urlunsplit((url.scheme, url.netloc, path, url.query, ""))


def upload_file(path: Path, target: str) -> None:
    """Write local file ``path`` whole at ``target``, a URL of a file (its query kept)."""
    url = urlsplit(_root_text(target))
    folder, _, name = url.path.rstrip("/").rpartition("/")
    upload_files([path], urlunsplit((url.scheme, url.netloc, folder, url.query, "")), [name])


def upload_files(
    paths: list[Path], folder: str | os.PathLike[str], names: list[str] | None = None
) -> None:
    """Copy local files into ``folder`` (a path or URL), each written whole."""
    target = open_root(folder)
    for path, name in zip(paths, names or [p.name for p in paths], strict=True):
        target.write(name, path.read_bytes())
