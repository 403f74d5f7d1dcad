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
    ):
        assert issubclass(getattr(chift_frames, name), chift_frames.ChiftFramesError), name
    assert issubclass(chift_frames.AuthError, chift_frames.ChiftError)
