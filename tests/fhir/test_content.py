"""HTTP-dates of the version headers (RFC 9110 section 5.6.7): IMF-fixdate in GMT, whatever the instant's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from fhir_server.fhir.content import http_date


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 11, 22, 3, 6, 40, 507000, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 2, 29, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2030, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-8))),
    ],
)
def test_http_date_is_the_imf_fixdate_in_gmt(instant: datetime) -> None:
    assert http_date(instant) == format_datetime(instant.astimezone(UTC), usegmt=True)


def test_http_date_of_a_known_instant() -> None:
    assert http_date(datetime(2026, 11, 22, 8, 36, 40, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == (
        "Sun, 22 Nov 2026 03:06:40 GMT"
    )
