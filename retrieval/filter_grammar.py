"""What a ``--where`` filter may say: one boolean expression over the index's columns.

A filter typed into the UI or passed to the CLI/API is spliced into a DuckDB query, so it is
parsed first (DuckDB's own parser, ``json_serialize_sql``) and its syntax tree is walked against
an allow-list: column references to known columns, literals, comparisons, AND/OR/NOT, IN,
BETWEEN, LIKE/ILIKE, IS NULL, CASE, casts to plain types, arithmetic and a few pure functions.
Anything else (a second statement, comments, a subquery, a table function, a setting or
environment lookup, an unknown function or column) is one :class:`FilterError` naming the
offending token; the condition never reaches the query then.
"""

from __future__ import annotations

import json
from typing import Any

from vidsearch.errors import VidsearchError

PREFIX = "SELECT 1 WHERE ("  # parenthesised as the filter runs (``WHERE (<condition>)``): what is checked is what runs
NO_LOCATION = 2**64 - 1

OPERATORS = frozenset(
    {"+", "-", "*", "/", "//", "%", "**", "^", "||", "~~", "!~~", "~~*", "!~~*", "like_escape"}
    | {"not_like_escape", "ilike_escape", "not_ilike_escape"}
)
FUNCTIONS = frozenset(
    {
        "lower",
        "upper",
        "abs",
        "length",
        "len",
        "strlen",
        "contains",
        "starts_with",
        "ends_with",
        "prefix",
        "suffix",
        "regexp_matches",
        "regexp_full_match",
        "round",
        "floor",
        "ceil",
        "ceiling",
        "sqrt",
        "ln",
        "log",
        "least",
        "greatest",
        "coalesce",
        "ifnull",
        "nullif",
        "list_contains",
        "list_has",
        "array_contains",
        "array_length",
        "list_max",
        "list_min",
        "list_avg",
        "array_cosine_similarity",
        "list_cosine_similarity",
        "array_distance",
        "list_distance",
    }
)
OPERATOR_NODES = frozenset(
    {
        "COMPARE_IN",
        "COMPARE_NOT_IN",
        "OPERATOR_NOT",
        "OPERATOR_IS_NULL",
        "OPERATOR_IS_NOT_NULL",
        "ARRAY_EXTRACT",
        "ARRAY_SLICE",
    }
)
CAST_TYPES = frozenset(
    {"integer", "int", "bigint", "smallint", "double", "float", "real", "varchar", "text", "boolean"}
    | {"date", "timestamp", "timestamp with time zone", "decimal", "array", "list"}
)
CLAUSE_KEYWORDS = frozenset(
    {"order", "group", "having", "limit", "offset", "union", "except", "intersect", "qualify", "window", "using"}
    | {"sample", "from", "select", "into", "returning"}
)


class FilterError(VidsearchError, ValueError):
    """A filter that cannot run; ``reason`` is its one-line cause (no DuckDB internals)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def check_condition(con: Any, where: str, columns: list[str]) -> set[str]:
    """The (lower-case) columns ``where`` reads; raises FilterError for anything not allowed.

    ``con`` is a DuckDB connection (used only to tokenize and parse, never to run ``where``)."""
    import duckdb

    text = where.strip()
    if not text:
        raise _refuse(where, "the condition is empty", columns)
    tokens = duckdb.tokenize(text)
    for i, (pos, kind) in enumerate(tokens):
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(text)
        token = text[pos:end].strip()
        if kind == duckdb.token_type.comment:
            raise _refuse(where, f"comments are not allowed ({token[:2]!r})", columns)
        if kind == duckdb.token_type.operator and ";" in token:
            raise _refuse(where, "';' is not allowed: a filter is a single condition", columns)
    parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [PREFIX + text + ")"]).fetchall()[0][0])
    if parsed.get("error"):
        raise _refuse(where, parsed.get("error_message", "syntax error"), columns)
    statements = parsed.get("statements", [])
    node = statements[0]["node"] if len(statements) == 1 else {}
    if not _bare_select(node):
        keyword = next(
            (
                text[pos:].split(None, 1)[0]
                for pos, kind in tokens
                if kind == duckdb.token_type.keyword and text[pos:].split(None, 1)[0].lower() in CLAUSE_KEYWORDS
            ),
            "a second clause",
        )
        raise _refuse(where, f"{keyword!r} is not allowed: a filter is a single condition", columns)
    used: set[str] = set()
    _walk(node["where_clause"], text, {c.lower() for c in columns}, used, where, columns)
    return used


def _bare_select(node: dict) -> bool:
    """``SELECT 1 WHERE (<expr>)`` and nothing more: no FROM, CTE, modifiers or grouping."""
    return (
        node.get("type") == "SELECT_NODE"
        and node.get("where_clause") is not None
        and not node.get("modifiers")
        and not node.get("cte_map", {}).get("map")
        and node.get("from_table", {}).get("type") == "EMPTY"
        and len(node.get("select_list", [])) == 1
        and not node.get("group_expressions")
        and not node.get("group_sets")
        and node.get("having") is None
        and node.get("qualify") is None
        and node.get("sample") is None
    )


def _walk(expr: dict, text: str, known: set[str], used: set[str], where: str, columns: list[str]) -> None:
    """Check one expression node and its children against the allow-list."""

    def go(child: dict | None) -> None:
        if child is not None:
            _walk(child, text, known, used, where, columns)

    cls, kind = expr.get("class"), expr.get("type")
    if cls == "CONSTANT":
        return
    if cls == "COLUMN_REF":
        names = expr.get("column_names", [])
        name = ".".join(names)
        if len(names) != 1 or name.lower() not in known:
            raise _refuse(where, f'unknown column "{name}"', columns)
        used.add(name.lower())
        return
    if cls == "CONJUNCTION" or (cls == "OPERATOR" and kind in OPERATOR_NODES):
        for child in expr.get("children", []):
            go(child)
        return
    if cls == "COMPARISON":
        go(expr.get("left"))
        go(expr.get("right"))
        return
    if cls == "BETWEEN":
        for key in ("input", "lower", "upper"):
            go(expr.get(key))
        return
    if cls == "CASE":
        for check in expr.get("case_checks", []):
            go(check.get("when_expr"))
            go(check.get("then_expr"))
        go(expr.get("else_expr"))
        return
    if cls == "CAST":
        _check_type(expr.get("type_expr") or {}, where, columns)
        go(expr.get("child"))
        return
    if cls == "FUNCTION":
        name = str(expr.get("function_name", "")).lower()
        if expr.get("schema") or expr.get("catalog") or name not in FUNCTIONS | OPERATORS:
            shown = ".".join(p for p in (expr.get("catalog"), expr.get("schema"), name) if p)
            raise _refuse(where, f'function "{shown}" is not allowed in filters', columns)
        if expr.get("filter") is not None or expr.get("distinct") or (expr.get("order_bys") or {}).get("orders"):
            raise _refuse(where, f'"{_token(expr, text) or name}" is not allowed in filters', columns)
        for arg in expr.get("arguments", expr.get("children", [])):
            go(arg.get("expression") if "expression" in arg else arg)
        return
    if cls == "SUBQUERY":
        raise _refuse(where, f"subqueries are not allowed ({_token(expr, text) or 'SELECT'!r})", columns)
    shown = _token(expr, text) or f"{cls} {kind}".lower()
    raise _refuse(where, f'"{shown}" is not allowed in filters', columns)


def _check_type(type_expr: dict, where: str, columns: list[str]) -> None:
    name = str(type_expr.get("type_name", "")).lower()
    if name not in CAST_TYPES or type_expr.get("schema") or type_expr.get("catalog"):
        raise _refuse(where, f'cast to "{name}" is not allowed in filters', columns)
    for child in type_expr.get("children", []):
        if isinstance(child, dict) and child.get("class") == "TYPE":
            _check_type(child, where, columns)


def _token(expr: dict, text: str) -> str:
    """The condition's text of an expression node (empty when the parser gives no location)."""
    start, length = expr.get("query_location", NO_LOCATION), expr.get("query_location_length", 0)
    if start == NO_LOCATION or start < len(PREFIX):
        return ""
    piece = text[start - len(PREFIX) : start - len(PREFIX) + max(length, 1)]
    return piece.strip()[:60]


def _refuse(where: str, reason: str, columns: list[str]) -> FilterError:
    return FilterError(f"bad filter {where!r}: {reason}. Columns: {', '.join(columns)}", reason)
