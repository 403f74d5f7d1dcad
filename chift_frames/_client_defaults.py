"""The API client's defaults and environment variables.

What the command line needs of the client to build its options, without importing requests.
"""

from __future__ import annotations

DEFAULT_DEADLINE = 120.0  # seconds per request: connect, headers and the whole body
DEFAULT_MAX_BODY = 64 * 2**20  # bytes per body, after decompression
DEFAULT_GIVE_UP_AFTER = 60.0  # seconds without any answer from the API before every request stops
ENV = {
    "client_id": "CHIFT_CLIENT_ID",
    "client_secret": "CHIFT_CLIENT_SECRET",
    "account_id": "CHIFT_ACCOUNT_ID",
    "marketplace_id": "CHIFT_MARKETPLACE_ID",
    "base_url": "CHIFT_BASE_URL",
    "give_up_after": "CHIFT_FRAMES_GIVE_UP_AFTER",
}
"""The environment variable of each :meth:`ChiftClient.from_env` setting."""
