"""What the ``chift-frames`` commands print: summaries, changes, tables and next steps."""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd

from ._shell import shell_command
from .errors import PartialSnapshotWarning
from .frames import Frames
from .reports import Summary, summarise
from .store import (
    display_root,
    snapshot_manifest,
)
from .store.completeness import completeness
from .store.filesystems import open_root
from .store.manifests import committed_manifests, replacements


def _plural(count: int, word: str, plural: str | None = None) -> str:
    """Return ``"1 row"``, ``"2 rows"``, ``"1,200 rows"``."""
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _summarise(root: str | os.PathLike[str], snapshot: str) -> Summary:
    with warnings.catch_warnings():  # the CLI says so itself, in _print_summary
        warnings.simplefilter("ignore", PartialSnapshotWarning)
        return summarise(root, snapshot=snapshot)


def _resolve(root: str | os.PathLike[str], snapshot: str) -> dict[str, object]:
    """Return the manifest of ``snapshot`` (``latest`` or an id) of ``root``."""
    return snapshot_manifest(root, snapshot)


def _print_summary(
    summary: Summary,
    root: str | os.PathLike[str],
    manifest: dict[str, object],
    *,
    errors: bool = True,
) -> None:
    where = display_root(root)
    snapshot_id = str(manifest["snapshot_id"])
    status = str(manifest.get("status"))
    print(f"Snapshot {snapshot_id} in {where} ({status}, finished {manifest.get('finished_at')})")
    note = completeness(manifest).note(where)  # partial, or filtered
    if note:
        print(f"Note: {note}")
    for line in _replacement_notes(root, manifest):
        print(f"Note: {line}")
    print()
    print("Rows per table:")
    width = max(len(name) for name in summary.rows)
    for name, count in summary.rows.items():
        print(f"  {name:<{width}}  {count:>9,}")
    print()
    print(f"Setups incomplete (status not active): {summary.incomplete:,} of {summary.pairs:,}")
    if not errors:
        with pd.option_context("display.width", 120, "display.max_colwidth", 40):
            _print_tops(summary)
        return
    with pd.option_context("display.width", 120, "display.max_colwidth", 40):
        _print_tops(summary)
        print(f"\nErrors: {len(summary.errors):,}")
        if len(summary.errors):
            print(summary.errors.head(10).to_string(index=False))
            if len(summary.errors) > 10:
                print(
                    f"... and {len(summary.errors) - 10:,} more (tables fetch_errors and "
                    "payload_errors)"
                )


def _replacement_notes(root: str | os.PathLike[str], manifest: dict[str, object]) -> list[str]:
    """Say what a rebuild replaced, and what replaced this snapshot, if anything."""
    snapshot_id = str(manifest["snapshot_id"])
    info = manifest.get("info")
    source = info.get("rebuilt_from") if isinstance(info, dict) else None
    replaced = replacements(committed_manifests(open_root(root)))
    notes = []
    if source and replaced.get(str(source)) == snapshot_id:
        notes.append(
            f"rebuilt from the raw responses of snapshot {source}, which it replaces "
            f"(latest, all, diff and trends read this one; prune removes {source})"
        )
    if snapshot_id in replaced:
        by = replaced[snapshot_id]
        how = "its rebuild" if source != by else "a later resume of the snapshot it rebuilt"
        notes.append(
            f"snapshot {snapshot_id} was replaced by {how} {by}: latest, all, diff and trends "
            f"read {by}, and prune removes {snapshot_id}"
        )
    return notes


def _print_tops(summary: Summary) -> None:
    if len(summary.top_consumers):
        print("\nConsumers with the most unmapped values:")
        print(summary.top_consumers.drop(columns=["sync_id"]).to_string(index=False))
    if len(summary.top_mappings):
        print("\nMappings with the most unmapped values:")
        print(summary.top_mappings.to_string(index=False))


def _command_prefix() -> str:
    """Return how this ``chift-frames`` was run, such as ``.venv/bin/``, for lines to paste."""
    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("chift-frames")
    if here is not None and on_path and Path(on_path).resolve() == here.resolve():
        return ""  # found on PATH: the bare name works
    if here is not None and here.name == "chift-frames" and here.parent != Path():
        try:
            return f"{here.parent.resolve().relative_to(Path.cwd().resolve())}/"
        except ValueError:
            return f"{here.parent}/"
    return ".venv/bin/" if Path(".venv/bin/chift-frames").exists() else ""


def _next_steps(root: str | os.PathLike[str]) -> None:
    bin_ = _command_prefix()
    program = f"{bin_}chift-frames"
    where = display_root(root)
    sql = (
        "SELECT sync_name, count(*) AS unmapped FROM mapping_values "
        "JOIN consumer_syncs USING (consumer_id, sync_id) WHERE NOT is_mapped GROUP BY ALL"
    )
    page = f"{where.rstrip('/')}/report.html"
    print("\nNext:")
    print(f"  {shell_command(program, 'query', where, sql)}")
    print(f"  {shell_command(program, 'diff', where)}")
    print(f"  {shell_command(program, 'report', where, '--html', page)}")
    print(
        f'  {bin_}pip install -e ".[notebooks]" && {bin_}jupyter lab '
        "notebooks/explore_syncs.ipynb   # Jupyter is in the notebooks extra"
    )


_ID_COLUMNS = ("consumer_id", "sync_id", "flow_id", "connection_id")


def _print_changes(changes: Frames, before: str, after: str, rows: int = 5) -> None:
    print(f"\nWhat changed from {before} to {after}:")
    width = max(len(name) for name in changes)
    for name, table in changes.items():
        counts = table.change.value_counts().sort_index()
        detail = ", ".join(f"{n:,} {kind}" for kind, n in counts.items()) or "none"
        print(f"  {name:<{width}}  {detail}")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        for name, table in changes.items():  # example rows of every kind of change
            if len(table) and rows > 0:
                shown = min(rows, len(table))
                print(f"\n{name} (first {shown:,} of {len(table):,}, ids left out):")
                names_first = table.drop(columns=[c for c in _ID_COLUMNS if c in table])
                if {"before", "after"} <= set(names_first.columns):
                    names_first = _what_changed(names_first)
                print(_clip(names_first.head(rows), 60).to_string(index=False))


def _what_changed(table: pd.DataFrame) -> pd.DataFrame:
    """Replace ``before`` and ``after`` with one column: the keys that changed, for JSON."""
    head = table.drop(columns=["before", "after"])
    return head.assign(
        what_changed=[
            _json_changes(b, a) for b, a in zip(table["before"], table["after"], strict=True)
        ]
    )


def _json_changes(before: object, after: object) -> str:
    """Return how ``before`` became ``after``; for two JSON objects, only the keys that changed.

    Examples
    --------
    >>> _json_changes('{"from_date": "21/09", "send_reports": true}',
    ...               '{"from_date": "21/09", "send_reports": false}')
    'send_reports: true → false'
    >>> _json_changes("inactive", "active")
    'inactive → active'
    """
    old, new = _as_json(before), _as_json(after)
    if isinstance(old, dict) and isinstance(new, dict):
        return "; ".join(_key_changes(old, new, "")) or "(same keys and values)"
    if pd.isna(before) and pd.isna(after):  # type: ignore[call-overload]
        return ""
    return f"{_shown(before)} → {_shown(after)}"


def _key_changes(old: dict[str, object], new: dict[str, object], prefix: str) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += _key_changes(a, b, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}: {_shown_json(a)} → {_shown_json(b)}")
    return out


_ABSENT = object()


def _as_json(value: object) -> object:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shown_json(value: object) -> str:
    return "(none)" if value is _ABSENT else json.dumps(value, ensure_ascii=False)


def _shown(value: object) -> str:
    return "(none)" if value is None or value is pd.NA else str(value)


def _clip(frame: pd.DataFrame, width: int = 32) -> pd.DataFrame:
    """Return ``frame`` with long text cut to ``width`` characters (ending in "…")."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            text = out[column].astype("string")
            long = text.str.len() > width
            out[column] = text.where(~long.fillna(False), text.str.slice(0, width - 1) + "…")
    return out
