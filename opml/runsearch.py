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
class Clause:
    kind: str  # "attribute", "param", "metric" or "tag"
    key: str  # the attribute's column, or the param/metric/tag name
    op: str
    value: str | float


def _key(text: str) -> tuple[str, str]:
    prefix, dot, rest = text.partition(".")
    kinds = {"metrics": "metric", "metric": "metric", "params": "param", "param": "param",
             "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute"}  # fmt: skip
    if dot and prefix.lower() in kinds and rest:
        kind, name = kinds[prefix.lower()], rest.strip("`")
    else:
        kind, name = "attribute", text.strip("`")
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
    clauses: list[Clause] = []
    rest = text.strip()
    while rest:
        if clauses:
            joined = re.match(r"(?i)and\s+", rest)
            if not joined:
                raise InvalidInput(f"expected 'and' before {rest[:40]!r} (clauses are joined with 'and')")
            rest = rest[joined.end() :]
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
            left = f"json_extract({table}.{'params' if clause.kind == 'param' else 'tags'}, ?)"
            left_values = [_json_path(clause.key)]
        if clause.op == "LIKE":
            parts.append(f"(typeof({left}) = 'text' AND {left} GLOB ?)")
            values += [*left_values, *left_values, _glob(str(clause.value))]
        elif clause.op == "ILIKE":
            parts.append(f"(typeof({left}) = 'text' AND {left} LIKE ?)")
            values += [*left_values, *left_values, clause.value]
        else:
            kinds = "('integer', 'real')" if isinstance(clause.value, float) else "('text')"
            parts.append(f"(typeof({left}) IN {kinds} AND {left} {clause.op} ?)")
            values += [*left_values, *left_values, clause.value]
    return (" AND ".join(parts) or "1"), values


def _like(pattern: str, text: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


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
        if not isinstance(left, (int, float)):  # booleans count as 0/1, as in JSON read by SQLite
            return False
        left = float(left)
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
