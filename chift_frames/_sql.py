"""SQL text that this package writes: one way to quote a string."""

from __future__ import annotations

__all__ = ["quote"]


def quote(text: str) -> str:
    """Return ``text`` as a SQL string literal, its single quotes doubled.

    The standard form, which DuckDB, Spark, Trino and the others sqlglot writes for all read.

    Examples
    --------
    >>> print(quote("it's"))
    'it''s'
    """
    return "'" + text.replace("'", "''") + "'"
