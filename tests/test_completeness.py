"""Partial and filtered snapshots speak up: query, report, diff and trends say so, in one line.

One dataset, fetched from the sandbox: two whole fetches, then one with ``--sync``, then one
that ends partial (a share of pairs fails), the latest. Each reader of it is asked what an
analyst would ask every morning, and must say when the answer counts only part of the
account.
"""

from __future__ import annotations

import json
import warnings
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest

from chift_frames import (
    FilteredSnapshotWarning,
    PartialSnapshotWarning,
    SnapshotWriter,
    StoreError,
    diff,
    list_snapshots,
    trends,
)
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot
from chift_frames.history import pick_snapshots
from chift_frames.sandbox import Faults, Sandbox
from chift_frames.store.completeness import completeness
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"


def _client(url: str) -> ChiftClient:
    return ChiftClient("id", "secret", ACCOUNT, base_url=url, backoff=0.001, max_attempts=2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Whole, whole, filtered (--sync), partial: their ids, the world and the sync chosen."""
    root = tmp_path_factory.mktemp("scopes")
    world = World(consumers=30, syncs=3, seed=7)
    chosen = sorted({s for _, s in world.pairs()})[0]
    with Sandbox(world) as sandbox, _client(sandbox.url) as client:
        whole_1 = fetch_snapshot(client, root, executions=False, progress=False)
        whole_2 = fetch_snapshot(client, root, executions=False, progress=False)
        filtered = fetch_snapshot(client, root, sync_ids=[chosen], executions=False, progress=False)
    with (
        Sandbox(world, faults=Faults(fail_pairs=0.3)) as sandbox,
        _client(sandbox.url) as client,
    ):
        partial = fetch_snapshot(client, root, executions=False, progress=False)
    assert [whole_1.status, whole_2.status, filtered.status] == ["complete"] * 3
    assert partial.status == "partial" and 0 < partial.pairs_ok < world.pair_count
    return {
        "root": root,
        "world": world,
        "sync": chosen,
        "whole_1": whole_1.snapshot_id,
        "whole_2": whole_2.snapshot_id,
        "filtered": filtered.snapshot_id,
        "partial": partial.snapshot_id,
        "partial_ok": partial.pairs_ok,
        "partial_failed": partial.pairs_failed,
        "filtered_pairs": filtered.pairs_ok,
    }


# -- the one helper ----------------------------------------------------------------------------


def test_completeness_reads_status_counts_and_filters_from_the_manifest() -> None:
    def of(status: str, **info: object) -> object:
        return completeness({"snapshot_id": "s1", "status": status, "info": info})

    whole = of("complete", pairs_ok=9, filters={"sync_ids": [], "consumer_ids": []})
    assert whole.is_whole and whole.note("d") is None
    assert of("complete", filters={"consumers_status": "all"}).is_whole  # the API's default
    narrowed = of(
        "complete",
        pairs_ok=5,
        filters={"sync_ids": ["a", "b", "c", "d", "e"], "consumer_ids": ["x"]},
    )
    assert narrowed.is_filtered and not narrowed.is_partial
    assert narrowed.note("d") == (
        "snapshot s1 is filtered (--sync a --sync b --sync c (+2 more) --consumer x): 5 pairs "
        "fetched, only those the filter chose, not the whole account"
    )
    enabled = of("complete", pairs_ok=2, filters={"consumers_status": "enabled"})
    assert enabled.filter_text == "--consumers-status enabled"
    both = of(
        "partial",
        pairs_ok=3,
        pairs_failed=1,
        pairs_expected=4,
        filters={"sync_ids": ["a"]},
    )
    assert both.note("d") == (
        "snapshot s1 is filtered (--sync a) and partial: 3 of 4 pairs fetched, 1 error (table "
        "fetch_errors); finish it with: chift-frames fetch --out d --resume s1"
    )
    # a resumed fetch keeps its first run's facts: once complete, it was not interrupted
    resumed = of("complete", pairs_ok=4, interrupted="KeyboardInterrupt")
    assert resumed.is_whole and not resumed.interrupted


def test_a_resumed_snapshot_that_finished_has_no_warning_on_its_page(tmp_path: Path) -> None:
    from chift_frames.export import render_html

    writer = SnapshotWriter(tmp_path, "s1", info={"interrupted": "KeyboardInterrupt"})
    writer.commit("complete", pairs_ok=0, pairs_failed=0)
    assert 'class="warning"' not in render_html(tmp_path)


# -- query: a note on stderr, the data on stdout untouched -------------------------------------


def test_query_over_a_partial_latest_says_so_on_stderr(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root, world = str(dataset["root"]), dataset["world"]
    assert isinstance(world, World)
    sql = "SELECT count(*) AS n FROM consumer_syncs"
    assert main(["query", root, sql, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert pd.read_csv(StringIO(captured.out)).n.tolist() == [dataset["partial_ok"]]
    assert captured.err.splitlines() == [
        f"chift-frames: note: snapshot {dataset['partial']} is partial: "
        f"{dataset['partial_ok']:,} of {world.pair_count:,} pairs fetched, "
        f"{dataset['partial_failed']:,} pairs failed (table fetch_errors); finish it with: "
        f"chift-frames fetch --out {root} --resume {dataset['partial']}"
    ]


def test_query_over_a_filtered_snapshot_names_its_filter(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(dataset["root"])
    sql = "SELECT count(*) AS n FROM consumer_syncs"
    assert main(["query", root, sql, "--format", "json", "--snapshot", dataset["filtered"]]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"n": dataset["filtered_pairs"]}]
    assert captured.err.splitlines() == [
        f"chift-frames: note: snapshot {dataset['filtered']} is filtered (--sync "
        f"{dataset['sync']}): {dataset['filtered_pairs']:,} pairs fetched, only those the "
        "filter chose, not the whole account"
    ]


def test_query_over_all_snapshots_lists_the_partial_and_filtered_ones_in_one_line(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(dataset["root"])
    sql = "SELECT snapshot_id, count(*) AS n FROM consumer_syncs GROUP BY ALL"
    assert main(["query", root, sql, "--format", "csv", "--snapshot", "all"]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("chift-frames: note: 2 of 4 snapshots read are partial or filtered")
    assert f"{dataset['filtered']}: filtered (--sync {dataset['sync']})" in line
    assert f"{dataset['partial']}: partial, {dataset['partial_ok']:,} of " in line
    assert str(dataset["whole_1"]) not in line


def test_query_over_a_whole_snapshot_says_nothing(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(dataset["root"])
    sql = "SELECT count(*) AS n FROM consumer_syncs"
    assert main(["query", root, sql, "--snapshot", dataset["whole_2"]]) == 0
    assert capsys.readouterr().err == ""


# -- report: on the terminal and on the page ---------------------------------------------------


def test_report_says_a_snapshot_is_partial_or_filtered(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = str(dataset["root"])
    page = tmp_path / "page.html"
    args = ["report", root, "--out", str(tmp_path / "r"), "--format", "csv"]
    assert main([*args, "--snapshot", dataset["filtered"], "--html", str(page)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"Note: snapshot {dataset['filtered']} is filtered (--sync {dataset['sync']}): "
        f"{dataset['filtered_pairs']:,} pairs fetched, only those the filter chose, not the "
        "whole account"
    )
    assert (
        f"<strong>This snapshot is filtered (--sync {dataset['sync']})</strong>: it holds only "
        f"the {dataset['filtered_pairs']:,} consumer-sync pairs the filter chose"
    ) in page.read_text()
    assert main(args) == 0  # the latest: partial
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Reports of snapshot {dataset['partial']} in {tmp_path / 'r'}:"
    assert out[1].startswith(f"Note: snapshot {dataset['partial']} is partial: ")
    assert main([*args, "--snapshot", dataset["whole_1"]]) == 0
    assert "Note:" not in capsys.readouterr().out


# -- diff: like with like by default; the skew named when asked for ----------------------------


def test_diff_compares_the_two_latest_whole_snapshots_by_default(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset["root"]
    assert isinstance(root, Path)
    assert pick_snapshots(root) == (dataset["whole_1"], dataset["whole_2"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn of
        changes = diff(root)
    assert len(changes.pair_changes) == 0
    assert main(["diff", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "Note: comparing the two latest complete, unfiltered snapshots: "
        f"{dataset['whole_1']} and {dataset['whole_2']}"
    )
    assert f"What changed from {dataset['whole_1']} to {dataset['whole_2']}:" in out


def test_diff_to_a_partial_snapshot_says_the_missing_pairs_show_as_removed(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root, world = dataset["root"], dataset["world"]
    assert isinstance(root, Path) and isinstance(world, World)
    note = (
        f"the later snapshot {dataset['partial']} is partial: {dataset['partial_ok']:,} of "
        f"{world.pair_count:,} pairs fetched, {dataset['partial_failed']:,} pairs failed (table "
        "fetch_errors), so the pairs it lacks show as removed; finish it with: chift-frames "
        f"fetch --out {root} --resume {dataset['partial']}"
    )
    with pytest.warns(PartialSnapshotWarning) as caught:
        changes = diff(root, after=str(dataset["partial"]))
    assert [str(w.message) for w in caught] == [f"diff: {note}"]
    removed = (changes.pair_changes.change == "removed").sum()
    assert removed == world.pair_count - int(dataset["partial_ok"])  # type: ignore[call-overload]
    assert main(["diff", str(root), "--to", str(dataset["partial"])]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"Note: {note}"
    assert "Warning" not in captured.err  # said once, as a note


def test_diff_of_a_whole_and_a_filtered_snapshot_says_the_difference_is_partly_the_filter(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset["root"]
    assert isinstance(root, Path)
    note = (
        f"snapshot {dataset['filtered']} is filtered (--sync {dataset['sync']}) and "
        f"{dataset['whole_2']} is not: the pairs outside the filter show as removed, so the "
        "difference is partly the filter"
    )
    with pytest.warns(FilteredSnapshotWarning) as caught:
        diff(root, str(dataset["whole_2"]), str(dataset["filtered"]))
    assert [str(w.message) for w in caught] == [f"diff: {note}"]
    args = ["diff", str(root), "--from", str(dataset["whole_2"]), "--to", str(dataset["filtered"])]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Note: {note}"


def test_diff_compares_filtered_snapshots_alike_when_every_fetch_is_filtered(
    tmp_path: Path,
) -> None:
    world = World(consumers=6, syncs=2, seed=1)
    chosen = sorted({s for _, s in world.pairs()})[-1]
    with Sandbox(world) as sandbox, _client(sandbox.url) as client:
        ids = [
            fetch_snapshot(
                client, tmp_path, sync_ids=[chosen], executions=False, progress=False
            ).snapshot_id
            for _ in range(2)
        ]
        fetch_snapshot(client, tmp_path, executions=False, progress=False)  # one whole
    # one whole snapshot has nothing to compare with; two filtered alike do
    assert pick_snapshots(tmp_path) == (ids[0], ids[1])
    with pytest.raises(StoreError, match=f"filtered as it is \\(--sync {chosen}\\)"):
        pick_snapshots(tmp_path, after=ids[0])


# -- trends: the points marked, and a warning ---------------------------------------------------


def test_trends_mark_partial_and_filtered_snapshots_and_warn(
    dataset: dict[str, object],
) -> None:
    root = dataset["root"]
    assert isinstance(root, Path)
    with pytest.warns((PartialSnapshotWarning, FilteredSnapshotWarning)) as caught:
        got = trends(root)
    by_kind = {type(w.message): str(w.message) for w in caught}
    assert len(caught) == 2 and all("\n" not in text for text in by_kind.values())
    assert by_kind[PartialSnapshotWarning].startswith(
        f"trends: 1 of 4 snapshots is partial; their figures count only the pairs fetched "
        f"(column is_partial): {dataset['partial']}: partial, {dataset['partial_ok']:,} of "
    )
    assert by_kind[FilteredSnapshotWarning].startswith(
        "trends: 1 of 4 snapshots is filtered; their figures count only the pairs their "
        f"filter chose (column is_filtered): {dataset['filtered']}: filtered (--sync "
        f"{dataset['sync']}), {dataset['filtered_pairs']:,} pairs fetched"
    )
    marks = got.groupby("snapshot_id")[["is_partial", "is_filtered"]].first()
    assert marks.to_dict("index") == {
        dataset["whole_1"]: {"is_partial": False, "is_filtered": False},
        dataset["whole_2"]: {"is_partial": False, "is_filtered": False},
        dataset["filtered"]: {"is_partial": False, "is_filtered": True},
        dataset["partial"]: {"is_partial": True, "is_filtered": False},
    }
    assert str(got.is_partial.dtype) == "boolean" and str(got.is_filtered.dtype) == "boolean"
    setups = got.groupby("snapshot_id").setup_count.sum()
    assert setups[dataset["partial"]] == dataset["partial_ok"]  # the drop, now marked
    assert list_snapshots(root).snapshot_id.tolist() == list(
        dict.fromkeys(got.snapshot_id.tolist())
    )


def test_summary_of_a_filtered_snapshot_names_its_filter(
    dataset: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(dataset["root"])
    assert main(["summary", root, "--snapshot", str(dataset["filtered"])]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == (
        f"Note: snapshot {dataset['filtered']} is filtered (--sync {dataset['sync']}): "
        f"{dataset['filtered_pairs']:,} pairs fetched, only those the filter chose, not the "
        "whole account"
    )
