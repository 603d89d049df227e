"""The lens laws the round trip rests on: put(doc, get(doc)) == doc and get(put(doc, v)) == v."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings import lens

ANY = lens.Pick(lambda _: True)
PATHS: dict[str, lens.Path] = {
    "birthDate": lens.path("birthDate"),
    "name[0].family": lens.path("name", lens.FIRST, "family"),
    "name[0].given[0]": lens.path("name", lens.FIRST, "given", ANY),
    "phone value": lens.path("telecom", lens.where(system="phone"), "value"),
    "email element": lens.path("telecom", lens.where(system="email")),
    "extension value": lens.path("extension", lens.where(url="http://example.org/x"), "valueString"),
    "meta.profile": lens.path("meta", "profile"),
}

words = st.text(alphabet="abcdefghij XYZ-", min_size=1, max_size=8)
names = st.fixed_dictionaries(
    {},
    optional={"family": words, "given": st.lists(words, min_size=1, max_size=3), "use": st.sampled_from(["official"])},
).filter(bool)
telecoms = st.fixed_dictionaries(
    {"system": st.sampled_from(["phone", "email", "fax"]), "value": words},
    optional={"use": st.sampled_from(["home", "work"]), "rank": st.integers(1, 3)},
)
extensions = st.fixed_dictionaries({"url": st.sampled_from(["http://example.org/x", "http://example.org/y"]),
                                    "valueString": words})  # fmt: skip
documents = st.fixed_dictionaries(
    {},
    optional={
        "birthDate": st.dates().map(lambda d: d.isoformat()),
        "name": st.lists(names, min_size=1, max_size=3),
        "telecom": st.lists(telecoms, min_size=1, max_size=4),
        "extension": st.lists(extensions, min_size=1, max_size=3),
        "meta": st.fixed_dictionaries({"profile": st.lists(words, min_size=1, max_size=2)}),
        "active": st.booleans(),
    },
)
path_names = st.sampled_from(sorted(PATHS))


def _value_for(name: str) -> st.SearchStrategy[Any]:
    if name == "email element":
        return telecoms.map(lambda t: {**t, "system": "email"})
    if name == "meta.profile":
        return st.lists(words, min_size=1, max_size=2)
    return words


@given(documents, path_names)
def test_putting_back_what_was_read_changes_nothing(doc: dict[str, Any], name: str) -> None:
    assert lens.put(doc, PATHS[name], lens.get(doc, PATHS[name])) == doc


@given(documents, path_names, st.data())
def test_reading_what_was_put_gives_it_back(doc: dict[str, Any], name: str, data: st.DataObject) -> None:
    value = data.draw(_value_for(name))
    assert lens.get(lens.put(doc, PATHS[name], value), PATHS[name]) == value


@given(documents, st.sampled_from(["birthDate", "meta.profile"]))
def test_removing_a_value_leaves_it_absent(doc: dict[str, Any], name: str) -> None:
    assert lens.get(lens.put(doc, PATHS[name], None), PATHS[name]) is None


def test_removing_a_value_removes_only_the_first_match() -> None:
    doc = {"telecom": [{"system": "phone", "value": "1"}, {"system": "phone", "value": "2"}]}
    assert lens.get(lens.put(doc, PATHS["phone value"], None), PATHS["phone value"]) == "2"


@given(documents, path_names, st.data())
def test_a_put_changes_nothing_else(doc: dict[str, Any], name: str, data: st.DataObject) -> None:
    before = copy.deepcopy(doc)
    after = lens.put(doc, PATHS[name], data.draw(_value_for(name)))
    assert doc == before  # the input is not modified
    untouched = {PATHS[name][0]}
    assert {k: v for k, v in after.items() if lens.Key(k) not in untouched} == {
        k: v for k, v in before.items() if lens.Key(k) not in untouched
    }


def test_writing_to_a_missing_element_appends_its_template() -> None:
    doc = {"telecom": [{"system": "email", "value": "a@b.c"}]}
    assert lens.put(doc, PATHS["phone value"], "555") == {
        "telecom": [{"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "555"}]
    }


def test_removing_the_last_value_prunes_what_it_leaves_empty() -> None:
    doc = {"telecom": [{"system": "phone", "value": "555"}], "active": True}
    assert lens.put(doc, PATHS["phone value"], None) == {"active": True}
    assert lens.put({"name": [{"family": "Doe"}]}, PATHS["name[0].family"], None) == {}


def test_removing_a_value_drops_the_element_it_was_picked_by() -> None:
    doc = {"telecom": [{"system": "phone", "value": "555", "use": "home"}, {"system": "email", "value": "a@b"}]}
    assert lens.put(doc, PATHS["phone value"], None) == {"telecom": [{"system": "email", "value": "a@b"}]}


def test_the_first_matching_element_is_the_one_read_and_written() -> None:
    doc = {
        "telecom": [
            {"system": "fax", "value": "1"},
            {"system": "phone", "value": "2"},
            {"system": "phone", "value": "3"},
        ]
    }
    assert lens.get(doc, PATHS["phone value"]) == "2"
    assert lens.put(doc, PATHS["phone value"], "9")["telecom"][1:] == [
        {"system": "phone", "value": "9"},
        {"system": "phone", "value": "3"},
    ]


@pytest.mark.parametrize("doc", [{"name": "not a list"}, {"name": [1, 2]}, {"telecom": {"system": "phone"}}])
def test_reading_through_a_value_of_the_wrong_shape_finds_nothing(doc: dict[str, Any]) -> None:
    assert lens.get(doc, PATHS["name[0].family"]) is None
    assert lens.get(doc, PATHS["phone value"]) is None
