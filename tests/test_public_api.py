"""The public surface is short and pinned."""

from __future__ import annotations

import chift_frames


def test_public_api_is_pinned() -> None:
    assert sorted(chift_frames.__all__) == sorted(
        [
            "TABLES",
            "ApiError",
            "AuthError",
            "ChiftClient",
            "ChiftError",
            "ChiftFramesError",
            "FetchResult",
            "FilteredSnapshotWarning",
            "Frames",
            "MissingFieldsWarning",
            "NotFoundError",
            "PartialSnapshotWarning",
            "PayloadError",
            "RateLimitError",
            "SnapshotWriter",
            "StoreError",
            "TransportError",
            "UnknownFieldsWarning",
            "UnreachableError",
            "__version__",
            "connect",
            "diff",
            "fetch_snapshot",
            "flatten",
            "list_snapshots",
            "load",
            "query",
            "rebuild_snapshot",
            "save",
            "to_canonical_json",
            "trends",
        ]
    )
    for name in chift_frames.__all__:
        assert hasattr(chift_frames, name), name


def test_errors_share_one_base() -> None:
    for name in (
        "PayloadError",
        "StoreError",
        "ChiftError",
        "AuthError",
        "NotFoundError",
        "RateLimitError",
        "ApiError",
        "TransportError",
        "UnreachableError",
    ):
        assert issubclass(getattr(chift_frames, name), chift_frames.ChiftFramesError), name
    assert issubclass(chift_frames.AuthError, chift_frames.ChiftError)


def test_the_version_is_the_installed_packages() -> None:
    from importlib.metadata import version

    assert chift_frames.__version__ == version("chift-frames")


def test_analysis_starts_without_the_api_client() -> None:
    import subprocess
    import sys

    # the command line and the analysis import no HTTP client until a command needs one
    code = (
        "import sys, chift_frames.cli, chift_frames.export, chift_frames.history; "
        "print(sorted(m for m in ('requests', 'chift_frames.client', 'chift_frames.fetch', "
        "'chift_frames.sandbox') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    # and the public names still reach them
    assert chift_frames.fetch_snapshot.__module__ == "chift_frames.fetch.run"
    assert "ChiftClient" in dir(chift_frames)
