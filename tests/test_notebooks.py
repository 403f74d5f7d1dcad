"""Every notebook runs top to bottom on a fresh demo snapshot, and is committed clean.

The notebooks run in a Jupyter kernel (``python3``) of the interpreter running the tests, so
they import this checkout of chift_frames; a test checks that. They read the snapshot from
``CHIFT_FRAMES_DATA``, set to a demo dataset built in a temporary folder, so running the tests
never writes into the repository's data/.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chift_frames import list_snapshots, reports
from chift_frames.cli import main as chift_frames_cli

with warnings.catch_warnings():
    # jupyter_core before 5.9 warns, once and on import, that its paths move to platformdirs
    # unless JUPYTER_PLATFORM_DIRS is set. Nothing else in the Jupyter stack warns here.
    warnings.filterwarnings(
        "ignore", "Jupyter is migrating its paths to use standard platformdirs", DeprecationWarning
    )
    import nbclient
    import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 180  # seconds; the first cell also pays for the kernel's imports

PROBE = "import sys\nprint(sys.prefix)"
# A warning as Python prints it in a notebook: "<file>:<line>: FutureWarning: <message>"
WARNING_LINE = re.compile(r"^\S.*:\d+: \w*Warning: .*$", re.M)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh demo dataset, outside the repository."""
    out = tmp_path_factory.mktemp("notebook-data") / "demo"
    assert chift_frames_cli(["demo", "--out", str(out), "--quiet"]) == 0
    return out


def run_notebook(path: Path, cwd: Path) -> Any:
    """Execute the notebook at ``path`` with ``cwd`` as working directory; return it executed.

    A first cell is added that prints the kernel's ``sys.prefix``, checked against this
    interpreter's so that a kernel of another Python cannot pass unnoticed.
    """
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix, "the kernel runs another Python"
    return nb


def warnings_in(nb: Any) -> list[str]:
    """The warnings the notebook's cells printed (on stderr, as Python prints them)."""
    return [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
        for line in WARNING_LINE.findall(output["text"])
    ]


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [pytest.param(None, id="none")]
)
def test_notebook_runs_top_to_bottom(
    path: Path | None, demo_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert path is not None, "no notebook in notebooks/"
    monkeypatch.setenv("CHIFT_FRAMES_DATA", str(demo_data))
    nb = run_notebook(path, cwd=path.parent)
    assert not warnings_in(nb), "the notebook raised warnings"


def test_explore_syncs_builds_the_demo_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without CHIFT_FRAMES_DATA, the notebook finds the repository root and builds data/demo.

    A stand-in repository (a pyproject.toml and the notebook) keeps the real data/ untouched.
    """
    monkeypatch.delenv("CHIFT_FRAMES_DATA", raising=False)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    notebook = tmp_path / "notebooks" / "explore_syncs.ipynb"
    notebook.parent.mkdir()
    shutil.copy(ROOT / "notebooks" / "explore_syncs.ipynb", notebook)
    nb = run_notebook(notebook, cwd=notebook.parent)
    assert not warnings_in(nb), "the notebook raised warnings"
    assert not list_snapshots(tmp_path / "data" / "demo").empty


def test_explore_syncs_shows_every_report() -> None:
    nb = nbformat.read(ROOT / "notebooks" / "explore_syncs.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    # a report may take more arguments (one_apis=...) after the frames
    missing = [name for name in reports.REPORTS if f"reports.{name}(frames" not in code]
    assert not missing, f"reports not shown in explore_syncs.ipynb: {missing}"
    # the monitoring states, with the one_api numbers given, and the sync's labels
    assert "reports.monitoring_states(frames, one_apis=ONE_APIS)" in code
    assert "source_label" in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"cells {dirty} hold outputs or execution counts: clear them"


# -- credentials ---------------------------------------------------------------------------------

_NAME = r"[\w-]*(?:secret|token|passw(?:or)?d|api_?key|private_?key)[\w-]*"
CREDENTIALS = {
    "CHIFT_CLIENT_SECRET with a value": re.compile(
        r"CHIFT_CLIENT_SECRET['\"\]]*\s*[=:]\s*['\"]?(?![<.$'\"\s]|os\.|None\b)\S"
    ),
    "clientSecret with a value": re.compile(r"clientSecret['\"]?\s*[=:]\s*['\"][^'\"<$.\s]"),
    "Bearer token": re.compile(r"Bearer\s+(?!<)[A-Za-z0-9\-._~+/]{16,}"),
    "JSON Web Token": re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\."),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "long secret-looking value": re.compile(
        rf"(?i)\b{_NAME}['\"]?\s*[=:]\s*[rb]?['\"]?[A-Za-z0-9+/=_\-]{{20,}}"
    ),
}


def credentials_in(text: str) -> list[str]:
    return [
        f"{kind}: {match.group(0)[:12]}…"
        for kind, pattern in CREDENTIALS.items()
        for match in pattern.finditer(text)
    ]


def strings_of(node: Any) -> Iterator[str]:
    """Every string of a notebook's JSON: cell sources whole, outputs and metadata too."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        if node and all(isinstance(item, str) for item in node):
            yield "".join(node)  # a multi-line source or output, as one text
        for item in node:
            yield from strings_of(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings_of(value)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_holds_no_credentials(path: Path) -> None:
    found = [
        hit
        for text in strings_of(json.loads(path.read_text("utf-8")))
        for hit in credentials_in(text)
    ]
    assert not found, f"{path.name} holds what looks like a credential: {sorted(set(found))}"


@pytest.mark.parametrize(
    "text",
    [
        "CHIFT_CLIENT_SECRET=s3cr3t-value",
        'os.environ["CHIFT_CLIENT_SECRET"] = "abc123"',
        "export CHIFT_CLIENT_SECRET='abc'",
        '{"clientId": "x", "clientSecret": "abc"}',
        "client(clientSecret='hunter2')",
        "Authorization: Bearer 3f9a8c7d6e5b4a39281706f5e4d3c2b1",
        "token = eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        "-----BEGIN RSA PRIVATE KEY-----",
        "api_key = 'AKIAIOSFODNN7EXAMPLEKEY'",
        'access_token: "ZmFrZS10b2tlbi1mb3ItdGVzdHMtb25seQ=="',
        "password=0123456789abcdef0123456789abcdef",
    ],
)
def test_the_credential_patterns_catch(text: str) -> None:
    assert credentials_in(text)


@pytest.mark.parametrize(
    "text",
    [
        'secret = os.environ["CHIFT_CLIENT_SECRET"]',
        "CHIFT_CLIENT_SECRET=<your secret>",
        "export CHIFT_CLIENT_SECRET=$SECRET",
        "CHIFT_CLIENT_SECRET=...",
        "Credentials come from CHIFT_CLIENT_ID, CHIFT_CLIENT_SECRET and CHIFT_ACCOUNT_ID",
        '{"clientSecret": "<secret>"}',
        "Authorization: Bearer <token>",
        "token_ttl=1800",
        "tokens revoked early",
    ],
)
def test_the_credential_patterns_let_pass(text: str) -> None:
    assert not credentials_in(text)
