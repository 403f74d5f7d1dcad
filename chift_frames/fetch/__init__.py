"""Fetch a snapshot: every (consumer, sync) pair of an account, through a bounded pool of workers.

The walk: ``GET /syncs`` lists the pairs (each sync names its consumers) while
``GET /consumers`` names the consumers; then each pair's
``GET /consumers/{consumer_id}/syncs/{syncid}`` and every page of each sync's
``GET /syncs/{syncid}/executions`` are fetched by one pool of ``concurrency`` workers (pages
first). Responses are flattened and written in batches as they arrive, so memory stays flat
however many pairs there are and the writing overlaps the fetching; every response is also
kept in ``raw_responses``. A pair that fails after its retries, answers 404, a redirect, a body
that is not JSON or one over a limit becomes a row of ``fetch_errors`` and the run goes on.
Executions are read in a window pinned when the snapshot starts, checked by reading the first
page again (when there are several), and kept once per ``execution_id``; after a first fetch,
only those since the last fetch's window end (less an hour) and the runs it saw running are
asked for, and only new or changed ones stored (the executions log, ``store.execlog``). The
snapshot is committed ``complete`` only when everything came back; otherwise ``partial``, and
``resume`` fetches what is missing.
Ids are URL-quoted (:func:`~chift_frames.client.api_path`); error messages pass the client's
redactor before they are stored.
"""

from __future__ import annotations

from .rebuild import rebuild_snapshot
from .run import FetchResult, fetch_snapshot, list_pairs

__all__ = ["FetchResult", "fetch_snapshot", "list_pairs", "rebuild_snapshot"]
