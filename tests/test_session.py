"""RTH calendar: DST transitions, holidays, early closes, epoch-ms lookups."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.errors import InputError
from spxcc_core.session import NEW_YORK, get_calendar, ny_date_of_ms


def utc_ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=dt.UTC).timestamp() * 1000)


CAL = get_calendar()


def test_regular_day_before_spring_forward_is_est() -> None:
    # Friday 2024-03-08: EST (UTC-5) → 09:30 NY = 14:30 UTC, 16:00 NY = 21:00 UTC
    day = CAL.session("2024-03-08")
    assert day.open_ms == utc_ms(2024, 3, 8, 14, 30)
    assert day.close_ms == utc_ms(2024, 3, 8, 21, 0)
    assert not day.early_close


def test_first_session_after_spring_forward_is_edt() -> None:
    # DST began Sunday 2024-03-10; Monday opens 09:30 EDT (UTC-4) = 13:30 UTC
    day = CAL.session("2024-03-11")
    assert day.open_ms == utc_ms(2024, 3, 11, 13, 30)
    assert day.close_ms == utc_ms(2024, 3, 11, 20, 0)


def test_dst_sunday_has_23_hours_and_no_session() -> None:
    day = CAL.session("2024-03-10")
    assert not day.is_session
    assert day.day_end_ms - day.day_start_ms == 23 * 3_600_000
    # fall back: Sunday 2024-11-03 has 25 hours
    fall = CAL.session("2024-11-03")
    assert fall.day_end_ms - fall.day_start_ms == 25 * 3_600_000


def test_first_session_after_fall_back_is_est() -> None:
    day = CAL.session("2024-11-04")
    assert day.open_ms == utc_ms(2024, 11, 4, 14, 30)
    assert day.close_ms == utc_ms(2024, 11, 4, 21, 0)


def test_independence_day_is_a_holiday() -> None:
    day = CAL.session("2024-07-04")
    assert not day.is_session
    assert day.known
    assert day.minutes_since_open(utc_ms(2024, 7, 4, 15)) is None
    assert not CAL.is_rth(utc_ms(2024, 7, 4, 15))


def test_day_after_thanksgiving_closes_at_13() -> None:
    # Friday 2024-11-29: 13:00 EST = 18:00 UTC
    day = CAL.session("2024-11-29")
    assert day.open_ms == utc_ms(2024, 11, 29, 14, 30)
    assert day.close_ms == utc_ms(2024, 11, 29, 18, 0)
    assert day.early_close
    assert CAL.is_rth(utc_ms(2024, 11, 29, 17, 59))
    assert not CAL.is_rth(utc_ms(2024, 11, 29, 18, 0))
    assert not CAL.session("2024-11-28").is_session  # Thanksgiving


def test_epoch_ms_maps_to_new_york_date_not_utc_date() -> None:
    # 2024-07-02 01:00 UTC is still 2024-07-01 21:00 in New York
    ms = utc_ms(2024, 7, 2, 1)
    assert CAL.day_for_ms(ms).session_id == "2024-07-01"
    assert not CAL.is_rth(ms)


def test_minutes_since_open() -> None:
    # 2024-03-11 13:30 UTC is the open; 13:45:30 is 15.5 minutes later
    assert CAL.minutes_since_open(utc_ms(2024, 3, 11, 13, 45) + 30_000) == 15.5
    assert CAL.minutes_since_open(utc_ms(2024, 3, 11, 13, 0)) == -30.0


def test_outside_calendar_range_is_unknown_without_session() -> None:
    day = CAL.day_for_ms(0)  # 1969-12-31 in New York
    assert day.session_id == "1969-12-31"
    assert not day.known and not day.is_session


def test_bad_session_id_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="'2024-13-01' is not a YYYY-MM-DD date"):
        CAL.session("2024-13-01")


@given(st.integers(min_value=utc_ms(2001, 1, 1, 0), max_value=utc_ms(2034, 12, 31, 0)))
def test_day_for_ms_contains_the_instant_and_opens_at_0930_ny(ms: int) -> None:
    cal = get_calendar()
    day = cal.day_for_ms(ms)
    assert day.day_start_ms <= ms < day.day_end_ms
    assert day.session_id == ny_date_of_ms(ms).isoformat()
    if day.open_ms is not None:
        local = dt.datetime.fromtimestamp(day.open_ms / 1000, tz=NEW_YORK)
        assert (local.hour, local.minute) == (9, 30)
        assert local.date().isoformat() == day.session_id
