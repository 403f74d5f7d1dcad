"""Commands printed for a user to paste into a shell: every argument quoted, nothing else.

A dataset root may hold a space, a ``>`` or a ``;``; pasted unquoted, the command would
break, or write over a file. Each argument goes through :func:`shlex.quote` (POSIX shells),
which leaves plain words (``data/acme``, ``s3://bucket/lake``) as they are.
"""

from __future__ import annotations

import os
import shlex

__all__ = ["resume_command", "shell_command"]


def shell_command(*args: str | os.PathLike[str]) -> str:
    """Return ``args`` as one command line, each argument quoted for a POSIX shell.

    Examples
    --------
    >>> shell_command("chift-frames", "diff", "my data>out")
    "chift-frames diff 'my data>out'"
    """
    return " ".join(shlex.quote(os.fspath(arg)) for arg in args)


def resume_command(
    root: str | os.PathLike[str], snapshot_id: str, program: str = "chift-frames"
) -> str:
    """Return the command that finishes snapshot ``snapshot_id`` of dataset ``root``.

    Examples
    --------
    >>> resume_command("data/acme", "s1")
    'chift-frames fetch --out data/acme --resume s1'
    """
    return shell_command(program, "fetch", "--out", root, "--resume", snapshot_id)
