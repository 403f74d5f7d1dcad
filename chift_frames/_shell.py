"""Commands printed for a user to paste into a shell: every argument quoted, nothing else.

A dataset root may hold a space, a ``>`` or a ``;``; pasted unquoted, the command would
break, or write over a file. Each argument goes through :func:`shlex.quote` (POSIX shells),
which leaves plain words (``data/acme``, ``s3://bucket/lake``) as they are.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator

__all__ = ["printed_program", "program", "resume_command", "shell_command"]

_program = "chift-frames"


def program() -> str:
    """Return the program that printed commands start with (``chift-frames`` by default)."""
    return _program


@contextlib.contextmanager
def printed_program(name: str) -> Iterator[None]:
    """Start every command printed within with ``name``, such as ``.venv/bin/chift-frames``.

    The command line sets it to the path it was run by, so that a resume command it prints
    (in an error's note too) runs as printed from where the user is.
    """
    global _program
    before, _program = _program, name
    try:
        yield
    finally:
        _program = before


def shell_command(*args: str | os.PathLike[str]) -> str:
    """Return ``args`` as one command line, each argument quoted for a POSIX shell.

    Examples
    --------
    >>> shell_command("chift-frames", "diff", "my data>out")
    "chift-frames diff 'my data>out'"
    """
    return " ".join(shlex.quote(os.fspath(arg)) for arg in args)


def resume_command(
    root: str | os.PathLike[str], snapshot_id: str, program: str | None = None
) -> str:
    """Return the command that finishes snapshot ``snapshot_id`` of dataset ``root``.

    ``program`` defaults to :func:`program`.

    Examples
    --------
    >>> resume_command("data/acme", "s1")
    'chift-frames fetch --out data/acme --resume s1'
    """
    return shell_command(program or _program, "fetch", "--out", root, "--resume", snapshot_id)
