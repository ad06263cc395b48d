"""Property-based tests of the filter parser (issue 29): any filters value ends in a
FilterSpec or a RequestError naming the filter key (the location of a filter), with a
short message; never another exception. No database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrec.errors import RequestError
from kgrec.filters import FilterSpec, parse_filters

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NASTY = st.sampled_from(["-", "--", "exclude_items", "genre", "-genre", "\x00", "\u202e",
                         "\u200b", " ", "", "a" * 201, "x" * 5000, "MATCH (n) DETACH DELETE n", "'", "\\"])
TEXT = st.one_of(NASTY, st.text(max_size=10))
LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, st.binary(max_size=5))
VALUES = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4)
                      | st.tuples(inner, inner) | st.dictionaries(TEXT, inner, max_size=3)
                      | st.frozensets(st.integers(), max_size=3), max_leaves=12)



def _nested(depth: int) -> Any:
    value: Any = "Comedy"
    for _ in range(depth):
        value = [value]
    return value


DEEP = st.integers(1, 5_000).map(_nested)
FILTERS = st.one_of(st.dictionaries(st.one_of(TEXT, st.integers(), st.none()),
                                    st.one_of(VALUES, DEEP), max_size=5), VALUES)


def _check(filters: Any, kinds: list[str] | None) -> None:
    try:
        spec = parse_filters(filters, kinds)
    except RequestError as e:
        message = str(e)
        assert message.startswith("filter"), message
        assert len(message) < 600, message
        return
    assert isinstance(spec, FilterSpec)


@FUZZ
@given(filters=FILTERS, kinds=st.one_of(st.none(), st.lists(TEXT, max_size=4)))
def test_any_filters_end_in_a_spec_or_a_located_request_error(filters: Any,
                                                              kinds: list[str] | None) -> None:
    _check(filters, kinds)


@pytest.mark.parametrize("depth", [50, 5_000, 100_000])
def test_deeply_nested_filter_values_are_a_request_error(depth: int) -> None:
    with pytest.raises(RequestError, match=r"filters\['genre'\]: value \[\[\["):
        parse_filters({"genre": _nested(depth)})


@pytest.mark.parametrize("filters", [
    {"x" * 5000: "Comedy"}, {"genre": "x" * 5000}, {"exclude_items": ["\u202e" * 5000]},
    {"-": "a"}, {("tuple", "key"): "a"}, {"genre": range(3)}, {"genre": b"bytes"},
])
def test_request_errors_stay_short_whatever_the_input(filters: Any) -> None:
    with pytest.raises(RequestError) as info:
        parse_filters(filters, ["genre"])
    assert str(info.value).startswith("filter") and len(str(info.value)) < 600
