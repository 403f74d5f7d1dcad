"""Point the commands at a sandbox: the ``CHIFT_*`` variables that ``fetch`` reads."""

from __future__ import annotations

import os

import pytest

from chift_frames.sandbox import Sandbox

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"


def point_at(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: Sandbox,
    *,
    client_id: str = "id",
    client_secret: str = "secret",
    account: str = ACCOUNT,
    clean: bool = False,
) -> None:
    """Set the credentials and ``CHIFT_BASE_URL`` of ``sandbox``.

    ``clean`` first drops every other ``CHIFT_*`` variable, as on a machine that has none.
    """
    if clean:
        for key in [k for k in os.environ if k.startswith("CHIFT_")]:
            monkeypatch.delenv(key)
    for key, value in {
        "CHIFT_CLIENT_ID": client_id,
        "CHIFT_CLIENT_SECRET": client_secret,
        "CHIFT_ACCOUNT_ID": account,
        "CHIFT_BASE_URL": sandbox.url,
    }.items():
        monkeypatch.setenv(key, value)
