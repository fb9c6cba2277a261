"""Where Athena accepts the `?` of a parameterized query: a walk over sqlglot's tree.

Athena, "Use parameterized queries", Considerations and limitations
(https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html):
parameters can be placed only in the WHERE clause (`SELECT ? FROM table` is not supported),
and a `?` inside quotes is text, not a parameter. DuckDB accepts both, so only this walk
catches them before a real run does.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import TokenType


def athena_parameter_markers(sql: str) -> list[exp.Placeholder]:
    """Every `?` of one Athena statement, in the order Athena binds ExecutionParameters."""
    return list(sqlglot.parse_one(sql, read="athena").find_all(exp.Placeholder))


def _clause_of(node: exp.Expression) -> str:
    """The clause a `?` sits in: WHERE only if a Where comes before the enclosing SELECT."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Where):
            return "WHERE"
        if isinstance(parent, exp.Select):
            return "SELECT (list, JOIN, GROUP BY, HAVING, ORDER BY or LIMIT)"
        parent = parent.parent
    return "outside any SELECT"


def athena_parameter_problems(sql: str) -> list[str]:
    """What Athena would refuse or misread about this statement's `?` (empty: nothing)."""
    problems = [
        f"`?` in {clause}: Athena takes parameters only in a WHERE clause"
        for clause in map(_clause_of, athena_parameter_markers(sql))
        if clause != "WHERE"
    ]
    for token in Dialect.get_or_raise("athena").tokenize(sql):
        if token.token_type == TokenType.STRING and "?" in token.text:
            problems.append(f"`?` inside the quoted text '{token.text}' is not a parameter")
    return problems
