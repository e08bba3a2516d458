"""Run search: the filter language, its SQL on a local workspace, and the same answers run by run."""

from __future__ import annotations

import pytest

from opml.backends.base import Backend
from opml.backends.local import LocalBackend
from opml.errors import InvalidInput
from opml.runsearch import Clause, RunQuery, matches, parse


def test_filters_parse_into_clauses():
    assert parse("") == []
    assert parse("metrics.accuracy > 0.91 and params.primary_metric = 'accuracy'") == [
        Clause("metric", "accuracy", ">", 0.91),
        Clause("param", "primary_metric", "=", "accuracy"),
    ]
    assert parse("status != \"Failed\" AND run_id ILIKE '%ABC%'") == [
        Clause("attribute", "status", "!=", "Failed"),
        Clause("attribute", "id", "ILIKE", "%ABC%"),
    ]
    assert parse("metrics.`AUC weighted` >= 1e-3 and tags.owner = 'it''s me'") == [
        Clause("metric", "AUC weighted", ">=", 0.001),
        Clause("tag", "owner", "=", "it's me"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accuracy > 0.9", "unknown run attribute 'accuracy'"),
        ("metrics.accuracy 0.9", "expected an operator"),
        ("metrics.accuracy > 'high'", "compares with a number"),
        ("status = Failed", "expected a quoted text or a number"),
        ("status = 'Failed' or status = 'Canceled'", "expected 'and'"),
        ("params.x NOT LIKE 'a%'", "NOT LIKE is not supported"),
        ("run_id LIKE 3", "quoted pattern"),
        ("x" * 3000, "at most 2000 characters"),
    ],
)
def test_bad_filters_say_what_is_wrong(text, message):
    with pytest.raises(InvalidInput, match=message):
        parse(text)


@pytest.fixture
def runs(local_backend: LocalBackend) -> LocalBackend:
    """Twelve finished runs over two experiments, with params, tags and metrics (some logged twice)."""
    for index in range(12):
        run = local_backend.runs.insert(
            experiment="bank" if index % 2 else "cars",
            run_type="automl" if index % 3 else "command",
            compute="cpu-cluster",
            params={
                "primary_metric": "accuracy" if index % 4 else "AUC_weighted",
                "max_iterations": index,
                "label_column": "y",
                "nested": {"a": 1},
            },
            tags={"owner": "ana" if index < 6 else "Bob"},
        )
        local_backend.runs.log_metrics(run.id, {"accuracy": 0.5})
        local_backend.runs.log_metrics(run.id, {"accuracy": 0.85 + index / 100, "AUC_weighted": 0.9})
        local_backend.runs.finish(run.id, "Failed" if index == 7 else "Completed")
    return local_backend


FILTERS = [
    "metrics.accuracy > 0.91",
    "metrics.accuracy > 0.91 and params.primary_metric = 'accuracy'",
    "metrics.accuracy <= 0.5",  # an earlier value does not count: the last one does
    "params.max_iterations >= 6 and params.max_iterations < 9",
    "params.max_iterations > 'a'",  # numbers never compare with text
    "params.primary_metric LIKE 'AUC%'",
    "params.primary_metric LIKE 'auc%'",  # LIKE is case-sensitive
    "params.primary_metric ILIKE 'auc%'",
    "params.nested = 'x'",
    "tags.owner = 'Bob' and experiment = 'bank'",
    "status = 'Failed'",
    "run_type != 'command'",
    "run_id LIKE 'bank_%'",
    "metrics.missing > 0",
    "created > '2000-01-01'",
]


@pytest.mark.parametrize("text", FILTERS)
def test_sql_search_gives_the_same_runs_as_checking_each_run(runs: LocalBackend, text):
    clauses = parse(text)
    expected = [r.id for r in runs.list_runs(limit=100) if matches(r, runs.get_run_metrics(r.id), clauses)]
    page = runs.search_runs(filter=text, limit=100)
    assert [r.id for r in page.runs] == expected and page.total == len(expected)
    # The generic search (any backend without SQL) agrees too.
    generic = Backend._search_runs(runs, RunQuery(clauses, limit=100))
    assert [r.id for r in generic.runs] == expected


def test_search_finds_what_it_should(runs: LocalBackend):
    found = runs.search_runs(filter="metrics.accuracy > 0.91 and params.primary_metric = 'accuracy'").runs
    assert {r.params["max_iterations"] for r in found} == {7, 9, 10, 11}
    assert runs.search_runs(filter="status = 'Failed'").runs[0].params["max_iterations"] == 7
    assert runs.search_runs(statuses=["Failed"]).total == 1
    assert runs.search_runs(experiment="bank", filter="tags.owner = 'Bob'").total == 3


def test_search_pages_through_every_run(runs: LocalBackend):
    everything = [r.id for r in runs.list_runs(limit=100)]
    pages = [runs.search_runs(limit=5, offset=offset) for offset in (0, 5, 10)]
    assert [p.total for p in pages] == [12, 12, 12]
    assert [r.id for p in pages for r in p.runs] == everything
    assert runs.search_runs(limit=5, offset=20).runs == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be between 1 and 1000"),
        ({"limit": 5000}, "limit must be between 1 and 1000"),
        ({"offset": -1}, "offset must be between 0 and"),
        ({"statuses": ["Done"]}, "unknown run status"),
        ({"filter": "nonsense"}, "unknown run attribute"),
    ],
)
def test_bad_searches_are_refused(runs: LocalBackend, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        runs.search_runs(**kwargs)


def test_child_runs_are_searched_when_asked(runs: LocalBackend):
    parent = runs.runs.list(limit=1)[0]
    runs.runs.insert(
        experiment=parent.experiment,
        run_type="automl_trial",
        compute="cpu-cluster",
        params={"algorithm": "LightGBM"},
        parent_id=parent.id,
    )
    assert runs.search_runs(filter="params.algorithm = 'LightGBM'").total == 0
    assert runs.search_runs(filter="params.algorithm = 'LightGBM'", top_level_only=False).total == 1


@pytest.fixture
def odd_runs(local_backend: LocalBackend) -> LocalBackend:
    """Runs whose values SQL and Python could read differently: non-ASCII keys, lists, booleans, big ints."""
    values = [
        ({"cmd": ["python", "train.py"], "flag": True, "big": 2**53 + 1}, {"équipe": "data", "owner": "Zoë"}),
        ({"cmd": "python train.py", "flag": 1, "big": 2**53}, {"équipe": "ops", "owner": "zoë"}),
    ]
    for params, tags in values:
        local_backend.runs.insert(experiment="odd", run_type="command", compute="cpu-cluster", params=params, tags=tags)
    return local_backend


@pytest.mark.parametrize(
    "text",
    [
        "tags.`équipe` = 'data'",
        "params.cmd LIKE '%train%'",
        "params.cmd = 'python train.py'",
        "params.flag = 1",
        "params.big = 9007199254740992",
        "params.big > 9007199254740992",
        "tags.owner ILIKE 'zoë'",
        "tags.owner ILIKE 'ZOË'",
    ],
)
def test_sql_and_run_by_run_agree_on_odd_values(odd_runs: LocalBackend, text):
    clauses = parse(text)
    expected = [r.id for r in odd_runs.list_runs(limit=10) if matches(r, {}, clauses)]
    assert [r.id for r in odd_runs.search_runs(filter=text).runs] == expected
    assert expected or text.endswith("'ZOË'")  # each filter but the non-ASCII fold matches something


def test_like_matches_as_sql_does_and_never_backtracks_for_long():
    import itertools
    import re
    from types import SimpleNamespace

    def reference(pattern: str, text: str) -> bool:
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, text, re.DOTALL) is not None

    for pattern in map("".join, itertools.product("a%_b", repeat=4)):
        for text in map("".join, itertools.product("ab", repeat=5)):
            run = SimpleNamespace(display_name=text)
            assert matches(run, {}, parse(f"display_name LIKE '{pattern}'")) == reference(pattern, text)
    hard = SimpleNamespace(display_name="a" * 2000)  # a backtracking regex takes minutes on this one
    assert not matches(hard, {}, parse("display_name LIKE '%a%a%a%a%a%a%a%a%a%b'"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"offset": 2**63}, "offset must be between 0 and"),
        ({"statuses": "Completed"}, "statuses must be a list"),
        ({"statuses": [None]}, "statuses must be a list"),
        ({"experiment": ["a"]}, "experiment must be a name"),
        ({"filter": "status = '\ud800'"}, "valid text"),
        ({"filter": "status = 'Completed' and"}, "a clause must follow 'and'"),
        ({"filter": " and ".join(["metrics.a > 0"] * 21)}, "at most 20 clauses"),
        ({"filter": "metrics.`` = 1"}, "names nothing"),
        ({"filter": "tags.`say \"hi\"` = 'x'"}, "double quotes"),
    ],
)
def test_odd_searches_are_refused_with_a_message(local_backend: LocalBackend, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        local_backend.search_runs(**kwargs)
