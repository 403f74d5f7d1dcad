"""Execution reports on a small hand-made snapshot, checked row by row."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from chift_frames import Frames, flatten
from chift_frames.flatten import flatten_executions
from chift_frames.reports import consumer_flow_runs, flow_runs, stale_flows
from chift_frames.schema import to_pandas

S, F1, F2 = "sync-1", "flow-1", "flow-2"


def payload(flows: list[str]) -> dict[str, Any]:
    return {
        "syncid": S,
        "sync_name": "POS",
        "status": "active",
        "link_createdon": "2026-01-01T00:00:00Z",
        "enabled_flows": [
            {
                "id": f,
                "name": f"Flow {f[-1]}",
                "values": {},
                "trigger": {"id": "trigger-1", "type": "timer", "cronschedule": "0 5 * * *"},
            }
            for f in flows
        ],
    }


def run(i: int, consumer: str, flow: str, start: str, end: str | None, status: str) -> dict:
    return {
        "id": f"e{i}",
        "parentexecutionid": "p",
        "start": start,
        "end": end,
        "status": status,
        "consumer_id": consumer,
        "flow_id": flow,
    }


def snapshot() -> Frames:
    frames = flatten(
        [("c1", payload([F1, F2])), ("c2", payload([F1]))], fetched_at="2026-03-10T12:00:00Z"
    )
    runs = [
        run(1, "c1", F1, "2026-03-10T05:00:00Z", "2026-03-10T05:01:40Z", "success"),
        run(2, "c1", F1, "2026-03-09T05:00:00Z", "2026-03-09T05:00:10Z", "error"),
        run(3, "c2", F1, "2026-03-05T05:00:00Z", "2026-03-05T05:00:30Z", "success"),
        run(4, "c2", F1, "2026-03-10T05:00:00Z", None, "running"),
        run(5, "c1", F2, "2026-03-10T06:00:00Z", "2026-03-10T06:00:20Z", "failed"),
    ]
    tables = dict(frames)
    tables["executions"] = to_pandas(flatten_executions(S, runs))
    return Frames(tables)


def records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    clean = df[columns].astype(object)
    return clean.where(clean.notna(), None).to_dict("records")


def test_flow_runs() -> None:
    out = flow_runs(snapshot())
    assert records(
        out,
        [
            "flow_id",
            "run_count",
            "success_count",
            "failure_count",
            "running_count",
            "success_share",
            "duration_p50_s",
        ],
    ) == [
        {
            "flow_id": F1,
            "run_count": 4,
            "success_count": 2,
            "failure_count": 1,
            "running_count": 1,
            "success_share": 2 / 3,
            "duration_p50_s": 30.0,
        },
        {
            "flow_id": F2,
            "run_count": 1,
            "success_count": 0,
            "failure_count": 1,
            "running_count": 0,
            "success_share": 0.0,
            "duration_p50_s": 20.0,
        },
    ]
    assert out.flow_name.tolist() == ["Flow 1", "Flow 2"]


def test_consumer_flow_runs_and_a_custom_success_status() -> None:
    out = consumer_flow_runs(snapshot())
    assert records(out, ["consumer_id", "flow_id", "success_share"]) == [
        {"consumer_id": "c1", "flow_id": F2, "success_share": 0.0},
        {"consumer_id": "c1", "flow_id": F1, "success_share": 0.5},
        {"consumer_id": "c2", "flow_id": F1, "success_share": 1.0},
    ]
    lenient = consumer_flow_runs(snapshot(), success_statuses=("success", "failed"))
    assert lenient.set_index("flow_id").loc[F2, "success_share"] == 1.0


def test_stale_flows_uses_the_snapshot_time_not_the_clock() -> None:
    out = stale_flows(snapshot(), window="2D")
    assert records(out, ["consumer_id", "flow_id", "hours_since_success"]) == [
        {"consumer_id": "c1", "flow_id": F2, "hours_since_success": None},
        {"consumer_id": "c2", "flow_id": F1, "hours_since_success": 5 * 24 + 7.0},
    ]
    assert stale_flows(snapshot(), window="6D").consumer_id.tolist() == ["c1"]


def test_stale_flows_without_any_time() -> None:
    frames = dict(snapshot())
    frames["consumer_syncs"] = frames["consumer_syncs"].assign(fetched_at=pd.NaT)
    # now falls back to the latest execution start, 2026-03-10T06:00Z
    assert stale_flows(Frames(frames)).hours_since_success.tolist()[1] == 5 * 24 + 1.0
    frames["executions"] = frames["executions"].iloc[0:0]
    # nothing to measure against: the flows that never succeeded, without hours
    out = stale_flows(Frames(frames))
    assert out.flow_id.tolist() == [F1, F2, F1] and out.hours_since_success.isna().all()
    assert stale_flows(flatten([("c1", payload([F1]))]), now="2026-03-10").flow_id.tolist() == [F1]


def test_execution_reports_without_executions() -> None:
    frames = flatten([("c1", payload([F1]))], fetched_at="2026-03-10T12:00:00Z")
    assert flow_runs(frames).empty and consumer_flow_runs(frames).empty
    assert stale_flows(frames).flow_id.tolist() == [F1]
    assert pa.Table.from_pandas(flow_runs(frames)).num_rows == 0


def random_snapshot(seed: int) -> tuple[Frames, pd.DataFrame]:
    """A snapshot whose executions name flows the flows table lacks, and null ids."""
    import random

    rng = random.Random(seed)
    consumers = ["c1", "c2", "c3", "c4"]
    flows = [F1, F2, "flow-3"]
    pairs = [(c, payload(rng.sample(flows, rng.randint(0, 3)))) for c in consumers[:3]]
    frames = dict(flatten(pairs, fetched_at="2026-03-10T12:00:00Z"))
    if rng.random() < 0.3:  # frames given by hand may list a flow twice
        frames["flows"] = pd.concat([frames["flows"], frames["flows"].head(1)], ignore_index=True)
    runs = []
    for i in range(rng.randint(0, 40)):
        day, hour = rng.randint(1, 10), rng.randint(0, 23)
        start = f"2026-03-{day:02d}T{hour:02d}:00:00Z"
        end = None if rng.random() < 0.2 else f"2026-03-{day:02d}T{hour:02d}:05:00Z"
        consumer = rng.choice(consumers)
        flow = rng.choice([*flows, "flow-9"])
        runs.append(run(i, consumer, flow, start, end, rng.choice(["success", "error", "ok"])))
    executions = to_pandas(flatten_executions(S, runs))
    if len(executions) and rng.random() < 0.5:  # frames given by hand may hold null ids
        column = rng.choice(["flow_id", "consumer_id"])
        executions.loc[executions.index[:: rng.randint(2, 5)], column] = None
    frames["executions"] = executions
    return Frames(frames), frames["executions"]


def keyed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = ("consumer_id", "sync_id", "flow_id")
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in ids))


@pytest.mark.parametrize("seed", range(60))
def test_run_reports_group_every_execution_by_its_ids(seed: int) -> None:
    """The numbered ids group and match the executions as the ids themselves do."""
    frames, runs = random_snapshot(seed)
    ok = runs.status.isin(["success", "ok"])
    keys = ["consumer_id", "sync_id", "flow_id"]
    by = runs.assign(ok=ok, running=runs["end"].isna()).groupby(keys, dropna=False)
    expected = by.agg(
        run_count=("ok", "size"),
        success_count=("ok", "sum"),
        running_count=("running", "sum"),
        last_started_at=("start", "max"),
    )
    expected["last_success_at"] = runs[ok].groupby(keys, dropna=False).start.max()
    columns = [*keys, *expected.columns]
    got = consumer_flow_runs(frames, success_statuses=("success", "ok"))
    assert keyed(records(got, columns)) == keyed(records(expected.reset_index(), columns))

    # stale_flows: each flow's latest success among the executions with its three ids
    now = pd.Timestamp("2026-03-10T12:00:00Z")
    window = pd.Timedelta("3D")
    successes = runs[ok].dropna(subset=keys).groupby(keys).start.max().rename("last_success_at")
    listed = frames["flows"].drop_duplicates(keys).join(successes, on=keys)
    stale = listed[listed.last_success_at.isna() | (listed.last_success_at < now - window)]
    got = stale_flows(frames, window=window, now=now, success_statuses=("success", "ok"))
    columns = [*keys, "last_success_at"]
    assert keyed(records(got.drop_duplicates(keys), columns)) == keyed(records(stale, columns))
    assert len(got) == len(stale.merge(frames["flows"][keys], on=keys))


@pytest.mark.parametrize("seed", range(12))
def test_flow_runs_percentiles_are_exact_on_any_durations(seed: int) -> None:
    # durations to the millisecond, repeated or not, flows of one run, of runs all still
    # running, of hundreds: the percentiles are quantile_cont's (DuckDB's own interpolation
    # is compiled to a fused multiply-add, which SQL cannot write: the last bit may differ)
    import duckdb
    import numpy as np

    rng = np.random.default_rng(seed)
    flows = [f"flow-{i}" for i in range(int(rng.integers(1, 7)))]
    runs, i = [], 0
    for flow in flows:
        size = int(rng.choice([1, 2, 3, 7, 50, 400]))
        running_only = rng.random() < 0.15
        whole_seconds = rng.random() < 0.3  # many equal durations
        for _ in range(size):
            i += 1
            start = pd.Timestamp("2026-03-01T00:00:00Z") + pd.Timedelta(
                milliseconds=int(rng.integers(0, 8 * 86_400_000))
            )
            ms = int(rng.integers(0, 60)) * 1000 if whole_seconds else int(rng.integers(0, 90_000))
            ended = not running_only and rng.random() < 0.9
            end = (start + pd.Timedelta(milliseconds=ms)).isoformat() if ended else None
            runs.append(run(i, "c1", flow, start.isoformat(), end, "success"))
    frames = dict(flatten([("c1", payload(flows))], fetched_at="2026-03-10T12:00:00Z"))
    frames["executions"] = to_pandas(flatten_executions(S, runs))
    out = flow_runs(Frames(frames)).set_index("flow_id")

    executions = pa.Table.from_pandas(frames["executions"][["flow_id", "duration_s"]])
    con = duckdb.connect()
    con.register("e", executions)
    expected = dict(
        con.sql(
            "SELECT flow_id, quantile_cont(duration_s, [0.5, 0.9, 0.99]) FROM e GROUP BY flow_id"
        ).fetchall()
    )
    assert set(out.index) == set(expected)
    for flow, want in expected.items():
        got = out.loc[flow, ["duration_p50_s", "duration_p90_s", "duration_p99_s"]].tolist()
        if want is None:  # every run still running: no duration
            assert all(pd.isna(g) for g in got), (flow, got)
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=0), (flow, got, want)
            durations = frames["executions"].query("flow_id == @flow").duration_s.dropna()
            assert np.allclose(got, np.quantile(durations, [0.5, 0.9, 0.99]), rtol=1e-12)
