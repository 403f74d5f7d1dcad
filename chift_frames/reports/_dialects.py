"""A report's DuckDB SQL in another engine's dialect: sqlglot, plus the project's own rules.

The reports' SQL is written to carry over: ordered lists are ``list_sort(list(...))``, list
lengths ``array_length``, no list literal is indexed, a window that numbers rows orders them,
and what chift_frames computes comes as CTEs of literals. sqlglot (pinned) translates the
rest. Where it would lose meaning, these rules step in first:

- ``[NOT] MATERIALIZED`` on a CTE is DuckDB's and PostgreSQL's hint: dropped elsewhere;
- ``epoch_us(ts)``, microseconds since the epoch, which sqlglot leaves as it is: each
  engine's own function;
- ``min(x, n)``, the ``n`` smallest values as a list (a bounded state, where a whole list
  of the account would not fit in memory): each engine's own way to keep the first ``n``;
- ``quantile_cont(x, [p, ...])``, several percentiles in one call: Spark's
  ``percentile(x, array(p, ...))`` (its list is then indexed by a literal, which sqlglot
  shifts to each engine's base; an index it cannot see would be left as it is, so the
  reports index by literals only).
"""

from __future__ import annotations

from typing import Any

from ..errors import ChiftFramesError

__all__ = ["DIALECTS", "to_dialect"]

DIALECTS = ("duckdb", "spark", "trino", "snowflake", "bigquery", "postgres")
"""The dialects ``report --sql NAME --dialect`` prints."""

_EPOCH_US = {
    "spark": "UNIX_MICROS({})",
    "bigquery": "UNIX_MICROS({})",
    "trino": "CAST(TO_UNIXTIME({}) * 1000000 AS BIGINT)",
    "snowflake": "DATE_PART(EPOCH_MICROSECOND, {})",
    "postgres": "CAST(EXTRACT(EPOCH FROM {}) * 1000000 AS BIGINT)",
}

_FIRST_N = {
    "spark": "SLICE(SORT_ARRAY(COLLECT_LIST(__arg__)), 1, __n__)",
    "trino": "MIN(__arg__, __n__)",
    "snowflake": "ARRAY_SLICE(ARRAY_SORT(ARRAY_AGG(__arg__)), 0, __n__)",
    "bigquery": "ARRAY_AGG(__arg__ ORDER BY __arg__ LIMIT __n__)",
    "postgres": "(ARRAY_AGG(__arg__ ORDER BY __arg__))[1:__n__]",
}

_KEEPS_MATERIALIZED = frozenset({"duckdb", "postgres"})


def to_dialect(sql: str, dialect: str, *, pretty: bool = True) -> str:
    """Return DuckDB ``sql`` (one statement or several) in ``dialect``, one of :data:`DIALECTS`.

    Raises
    ------
    ChiftFramesError
        When ``dialect`` is not one of :data:`DIALECTS`.
    """
    if dialect not in DIALECTS:
        raise ChiftFramesError(f"no dialect {dialect!r}; dialects: {', '.join(DIALECTS)}")
    if dialect == "duckdb":
        return sql
    import sqlglot

    out = []
    for tree in sqlglot.parse(sql, read="duckdb"):
        if tree is None:
            continue
        tree = _rules(tree, dialect)
        out.append(tree.sql(dialect=dialect, pretty=pretty) + ";")
    return "\n".join(out) + "\n"


def _rules(tree: Any, dialect: str) -> Any:
    from sqlglot import exp

    def rule(node: Any) -> Any:
        if isinstance(node, exp.CTE) and dialect not in _KEEPS_MATERIALIZED:
            node.set("materialized", None)
        if isinstance(node, exp.Anonymous) and str(node.name).lower() == "epoch_us":
            return _fill(_EPOCH_US[dialect].format("__arg__"), __arg__=node.expressions[0])
        if isinstance(node, exp.ArraySort) and _first_n(node.this) and _ascending(node):
            node = node.this  # sorted already, as each engine's first n are
        if _first_n(node):
            return _fill(_FIRST_N[dialect], __arg__=node.this, __n__=node.args["count"])
        if (
            dialect == "spark"
            and isinstance(node, exp.PercentileCont)
            and isinstance(node.expression, exp.Array)
        ):
            return exp.Anonymous(
                this="PERCENTILE", expressions=[node.this.copy(), node.expression.copy()]
            )
        return node

    def _ascending(node: Any) -> bool:
        order = node.args.get("asc")  # None unless the sort says DESC (False)
        return order is None or bool(order.this)

    def _first_n(node: Any) -> bool:
        return isinstance(node, exp.Min) and node.args.get("count") is not None

    def _fill(template: str, **args: Any) -> Any:
        """Parse ``template`` in the dialect; put a copy of ``args[name]`` for each ``name``."""
        replacement: Any = exp.maybe_parse(template, dialect=dialect)
        return replacement.transform(
            lambda n: args[n.name].copy() if isinstance(n, exp.Column) and n.name in args else n
        )

    return tree.transform(rule)
