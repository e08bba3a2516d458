"""Run search filters, MLflow style: ``metrics.accuracy > 0.91 and params.primary_metric = 'accuracy'``.

A filter is clauses joined by ``and``. Each clause is ``KEY OP VALUE`` where KEY is ``metrics.NAME``,
``params.NAME``, ``tags.NAME`` or a run attribute (``run_id``, ``experiment``, ``status``, ``run_type``,
``compute``, ``display_name``, ``created``; ``attributes.`` in front is allowed), OP one of
``= != > >= < <= LIKE ILIKE`` and VALUE a quoted string or a number. Names with other characters go in
backticks (``metrics.`AUC weighted```). ``LIKE`` uses ``%`` and ``_`` as SQL does; ``ILIKE`` ignores case.

``parse`` turns the text into clauses (InvalidInput says where it stopped making sense); a backend turns
the clauses into SQL (``to_sql``) or checks runs one by one (``matches``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opml.errors import InvalidInput

ATTRIBUTES = {
    "run_id": "id",
    "id": "id",
    "experiment": "experiment",
    "status": "status",
    "run_type": "run_type",
    "compute": "compute",
    "display_name": "display_name",
    "created": "created_at",
}
OPERATORS = ("=", "!=", ">=", "<=", ">", "<", "LIKE", "ILIKE")
MAX_FILTER_LENGTH = 2000
MAX_CLAUSES = 20

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])
      | (?P<operator>!=|>=|<=|=|>|<)
      | (?P<key>(?:[A-Za-z_]\w*\.)?(?:`[^`]+`|[A-Za-z_][\w.]*))
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class RunQuery:
    """A validated run search, as ``Backend.search_runs`` hands it to a backend's ``_search_runs``."""

    clauses: list[Clause]
    experiment: str | None = None
    statuses: tuple[str, ...] = ()
    top_level_only: bool = True
    limit: int = 200
    offset: int = 0


@dataclass(frozen=True)
class Clause:
    kind: str  # "attribute", "param", "metric" or "tag"
    key: str  # the attribute's column, or the param/metric/tag name
    op: str
    value: str | float


def _key(text: str) -> tuple[str, str]:
    prefix, dot, rest = text.partition(".")
    kinds = {
        "metrics": "metric",
        "metric": "metric",
        "params": "param",
        "param": "param",
        "tags": "tag",
        "tag": "tag",
        "attributes": "attribute",
        "attribute": "attribute",
    }
    if dot and prefix.lower() in kinds:
        kind, name = kinds[prefix.lower()], rest.strip("`")
    else:
        kind, name = "attribute", text.strip("`")
    if not name:
        raise InvalidInput(f"{text!r} names nothing: write metrics.NAME, params.NAME or tags.NAME")
    if '"' in name:
        raise InvalidInput(f"names with double quotes cannot be searched: {name!r}")
    if kind == "attribute":
        if name.lower() not in ATTRIBUTES:
            known = ", ".join(sorted(set(ATTRIBUTES) - {"id"}))
            raise InvalidInput(
                f"unknown run attribute {name!r}; use metrics.NAME, params.NAME, tags.NAME or one of: {known}"
            )
        name = ATTRIBUTES[name.lower()]
    return kind, name


def parse(text: str) -> list[Clause]:
    """The clauses of a filter (an empty filter has none). Raises InvalidInput naming the problem."""
    if not isinstance(text, str):
        raise InvalidInput("a run filter is text")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidInput(f"a run filter has at most {MAX_FILTER_LENGTH} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a run filter must be valid text (it holds an unpaired surrogate)") from None
    clauses: list[Clause] = []
    rest = text.strip()
    while rest:
        if clauses:
            joined = re.match(r"(?i)and(\s+|$)", rest)
            if not joined:
                raise InvalidInput(f"expected 'and' before {rest[:40]!r} (clauses are joined with 'and')")
            rest = rest[joined.end() :]
            if not rest:
                raise InvalidInput("a clause must follow 'and'")
        if len(clauses) == MAX_CLAUSES:
            raise InvalidInput(f"a run filter has at most {MAX_CLAUSES} clauses")
        clause, rest = _clause(rest)
        clauses.append(clause)
        rest = rest.strip()
    return clauses


def _clause(text: str) -> tuple[Clause, str]:
    key = _TOKEN.match(text)
    if not key or not key.group("key"):
        raise InvalidInput(f"expected a name such as metrics.accuracy at {text[:40]!r}")
    kind, name = _key(key.group("key"))
    text = text[key.end() :]
    op_match = re.match(r"\s*(?:(?P<word>(?i:not\s+)?(?i:i?like))\b|(?P<sign>!=|>=|<=|=|>|<))", text)
    if not op_match:
        raise InvalidInput(f"expected an operator ({', '.join(OPERATORS)}) after {key.group('key')!r}")
    op = (op_match.group("word") or op_match.group("sign")).upper()
    op = re.sub(r"\s+", " ", op)
    if op.startswith("NOT"):
        raise InvalidInput("NOT LIKE is not supported; use != for whole values")
    text = text[op_match.end() :]
    value_match = _TOKEN.match(text)
    if not value_match or not (value_match.group("string") or value_match.group("number")):
        raise InvalidInput(f"expected a quoted text or a number after {key.group('key')} {op}")
    if value_match.group("string"):
        quoted = value_match.group("string")
        value: str | float = quoted[1:-1].replace(quoted[0] * 2, quoted[0])
    else:
        value = float(value_match.group("number"))
    if kind == "metric" and not isinstance(value, float):
        raise InvalidInput(f"metrics.{name} compares with a number, got {value!r}")
    if op in ("LIKE", "ILIKE") and not isinstance(value, str):
        raise InvalidInput(f"{op} compares with a quoted pattern such as '%abc%'")
    return Clause(kind, name, op, value), text[value_match.end() :]


def _json_path(name: str) -> str:
    return '$."' + name.replace('"', '""') + '"'


def _glob(pattern: str) -> str:
    """A LIKE pattern as a case-sensitive GLOB pattern (SQLite's LIKE ignores case)."""
    special = {"*": "[*]", "?": "[?]", "[": "[[]", "%": "*", "_": "?"}
    return "".join(special.get(c, c) for c in pattern)


def to_sql(clauses: list[Clause], table: str = "runs") -> tuple[str, list[Any]]:
    """A WHERE fragment (``1`` when there are no clauses) and its bound parameters, for the runs table of a
    local workspace. Metrics take each metric's last logged value; numbers compare with numbers and text
    with text (a text parameter is never "greater than 5"), as ``matches`` does."""
    parts, values = [], []
    for clause in clauses:
        if clause.kind == "attribute":
            left, left_values = f"{table}.{clause.key}", []
        elif clause.kind == "metric":
            left = (
                f"(SELECT value FROM metrics WHERE metrics.run_id = {table}.id AND metrics.name = ? "
                "ORDER BY metrics.rowid DESC LIMIT 1)"
            )
            left_values = [clause.key]
        else:
            column = f"{table}.{'params' if clause.kind == 'param' else 'tags'}"
            left, left_values = f"json_extract({column}, ?)", [_json_path(clause.key)]
            # JSON's own types: a list or an object is neither text nor a number, a boolean is not a number.
            kind_of, kind_values = f"json_type({column}, ?)", [_json_path(clause.key)]
        if clause.kind in ("attribute", "metric"):
            kind_of, kind_values = f"typeof({left})", left_values
        if clause.op in ("LIKE", "ILIKE"):
            test = "GLOB" if clause.op == "LIKE" else "LIKE"
            pattern = _glob(str(clause.value)) if clause.op == "LIKE" else clause.value
            parts.append(f"({kind_of} = 'text' AND {left} {test} ?)")
            values += [*kind_values, *left_values, pattern]
        else:
            kinds = "('integer', 'real')" if isinstance(clause.value, float) else "('text')"
            parts.append(f"({kind_of} IN {kinds} AND {left} {clause.op} ?)")
            values += [*kind_values, *left_values, clause.value]
    return (" AND ".join(parts) or "1"), values


def _like(pattern: str, text: str, ignore_case: bool) -> bool:
    """SQL's LIKE (``%`` any run, ``_`` one character) in linear-times-pattern time, without regular
    expressions (a backtracking regex takes minutes on ``%a%a%a%a%a%a%b``). Case is folded for ASCII letters
    only, as SQLite does."""
    if ignore_case:
        pattern, text = _ascii_lower(pattern), _ascii_lower(text)
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "_" or pattern[p] == text[t]) and pattern[p] != "%":
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "%":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    return all(c == "%" for c in pattern[p:])


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _attribute(run: Any, column: str) -> Any:
    value = getattr(run, column)
    return value.isoformat() if hasattr(value, "isoformat") else value


def matches(run: Any, metrics: Mapping[str, float], clauses: list[Clause]) -> bool:
    """Whether a run (``opml.entities.Run``) and its metrics satisfy every clause (for backends without SQL)."""
    for clause in clauses:
        if clause.kind == "attribute":
            left = _attribute(run, clause.key)
        elif clause.kind == "metric":
            left = metrics.get(clause.key)
        elif clause.kind == "param":
            left = run.params.get(clause.key)
        else:
            left = run.tags.get(clause.key)
        if not _compare(left, clause.op, clause.value):
            return False
    return True


def _compare(left: Any, op: str, right: str | float) -> bool:
    if left is None:
        return False
    if op in ("LIKE", "ILIKE"):
        return isinstance(left, str) and _like(str(right), left, ignore_case=op == "ILIKE")
    if isinstance(right, float):
        if isinstance(left, bool) or not isinstance(left, (int, float)):  # JSON's true is not a number
            return False
    elif not isinstance(left, str):
        return False
    return {
        "=": left == right,
        "!=": left != right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[op]
