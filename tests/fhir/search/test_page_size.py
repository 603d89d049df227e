"""``_count``, read the same way by search, history, $everything and AuditEvent: a default, a cap, 400 for junk."""

from __future__ import annotations

import pytest

from fhir_server.errors import FhirError
from fhir_server.fhir.search.limits import DEFAULT_COUNT, MAX_COUNT, page_size


def test_absent_is_the_default() -> None:
    assert page_size(None) == DEFAULT_COUNT == 20


@pytest.mark.parametrize(("raw", "count"), [("0", 0), ("7", 7), ("007", 7), ("1000", 1000)])
def test_a_whole_number_up_to_the_maximum_is_taken_as_given(raw: str, count: int) -> None:
    assert page_size(raw) == count


@pytest.mark.parametrize("raw", ["1001", "5000", "0" * 20 + "5000", "9" * 5000])
def test_beyond_the_maximum_is_capped(raw: str) -> None:
    assert page_size(raw) == MAX_COUNT == 1000


@pytest.mark.parametrize("raw", ["", "-1", "+5", "2.5", "ten", "\u00b2", "\u0665"])
def test_anything_but_a_whole_number_is_400_naming_count(raw: str) -> None:
    with pytest.raises(FhirError) as raised:
        page_size(raw)
    assert raised.value.status == 400
    assert raised.value.issues[0].expression == ("_count",)
