"""The pure rules of safe rollout (opml.rollout): names, splits, mirror, a newcomer's share, schema changes."""

from __future__ import annotations

import pytest

from opml.errors import InvalidInput
from opml.rollout import (
    check_deployment_name,
    check_mirror,
    check_traffic,
    live_deployment,
    schema_differences,
    with_newcomer,
)


@pytest.mark.parametrize("name", ["blue", "green", "v12", "a-b-c", "x" * 32])
def test_deployment_names_azure_accepts(name):
    assert check_deployment_name(f" {name} ") == name


@pytest.mark.parametrize("name", ["", "ab", "Blue", "2fast", "blue-", "x" * 33, "blue green", "../x", None, 7])
def test_deployment_names_refused_with_the_rule(name):
    with pytest.raises(InvalidInput, match="deployment name"):
        check_deployment_name(name)


def test_a_split_is_completed_with_zeros_and_must_sum_to_100():
    assert check_traffic({"green": 100}, ["blue", "green"], {}) == {"blue": 0, "green": 100}
    assert check_traffic({"blue": 90.0, "green": 10}, ["blue", "green"], {}) == {"blue": 90, "green": 10}
    with pytest.raises(InvalidInput, match=r"add up to 100 %, got 95 % \(blue=90, green=5\)"):
        check_traffic({"blue": 90, "green": 5}, ["blue", "green"], {})
    with pytest.raises(InvalidInput, match=r"unknown deployment.*'red'.*blue, green"):
        check_traffic({"blue": 50, "red": 50}, ["blue", "green"], {})
    for bad in (-10, 101, 12.5, True, "50", None, float("nan"), float("inf"), float("-inf"), 1e300):
        with pytest.raises(InvalidInput, match="whole percent"):
            check_traffic({"blue": bad, "green": 50}, ["blue", "green"], {})
    with pytest.raises(InvalidInput, match="whole percent"):
        check_mirror({"green": float("nan")}, ["blue", "green"], {"blue": 100})
    with pytest.raises(InvalidInput, match="must map"):
        check_traffic([("blue", 100)], ["blue"], {})


def test_live_traffic_never_goes_to_the_mirrored_deployment():
    with pytest.raises(InvalidInput, match="receives mirror traffic"):
        check_traffic({"blue": 50, "green": 50}, ["blue", "green"], {"green": 10})
    assert check_traffic({"blue": 100}, ["blue", "green"], {"green": 10}) == {"blue": 100, "green": 0}


def test_mirror_goes_to_one_idle_deployment_at_most_half_the_requests():
    names, traffic = ["blue", "green", "red"], {"blue": 100, "green": 0, "red": 0}
    assert check_mirror({"green": 50}, names, traffic) == {"blue": 0, "green": 50, "red": 0}
    assert check_mirror({}, names, traffic) == {"blue": 0, "green": 0, "red": 0}
    with pytest.raises(InvalidInput, match="at most 50"):
        check_mirror({"green": 51}, names, traffic)
    with pytest.raises(InvalidInput, match="one deployment at a time"):
        check_mirror({"green": 10, "red": 10}, names, traffic)
    with pytest.raises(InvalidInput, match="takes 100 % of live traffic"):
        check_mirror({"blue": 10}, names, traffic)


@pytest.mark.parametrize(
    ("before", "share", "after"),
    [
        ({}, 0, {"new": 100}),
        ({"blue": 100}, 10, {"blue": 90, "new": 10}),
        ({"blue": 100}, 0, {"blue": 100, "new": 0}),
        ({"blue": 50, "green": 50}, 33, {"blue": 34, "green": 33, "new": 33}),
        ({"blue": 70, "green": 30, "red": 0}, 100, {"blue": 0, "green": 0, "red": 0, "new": 100}),
        ({"a": 1, "b": 1, "c": 98}, 50, {"a": 1, "b": 0, "c": 49, "new": 50}),
    ],
)
def test_a_newcomer_takes_its_share_and_the_others_keep_their_proportions(before, share, after):
    result = with_newcomer(before, "new", share)
    assert result == after and sum(result.values()) == 100


def test_the_live_deployment_is_the_one_with_most_traffic_the_oldest_on_a_tie():
    assert live_deployment({"blue": 50, "green": 50}, ["blue", "green"]) == "blue"
    assert live_deployment({"blue": 10, "green": 90}, ["blue", "green"]) == "green"
    assert live_deployment({"blue": 0}, ["blue"]) is None


def test_schema_differences_name_added_removed_and_retyped_columns():
    endpoint = [{"name": "age", "type": "numeric"}, {"name": "job", "type": "categorical"}, {"name": "x", "type": "x"}]
    same = [
        {"name": "job", "type": "categorical", "categories": ["a"]},
        {"name": "age", "type": "numeric"},
        {"name": "x", "type": "x"},
    ]
    assert schema_differences(endpoint, same) == []
    other = [{"name": "age", "type": "categorical"}, {"name": "job", "type": "categorical"}, {"name": "y", "type": "x"}]
    assert schema_differences(endpoint, other) == [
        "new column(s) y",
        "no column(s) x",
        "column age is categorical (was numeric)",
    ]
