"""Tests of session hours: parsing, is_open, next_opening, spec round-trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.errors import InvalidRequest
from server.engine.hours import ALWAYS_OPEN, DAY_NAMES, Hours, Window, parse_hours

OFFICE = "mon-fri 07:30-11:30, mon-fri 13:30-17:00, sat 07:30-11:30"
ICT = timezone(timedelta(hours=7))
WEEKDAYS = frozenset(range(5))


def at(day: int, hhmm: str, second: int = 0) -> datetime:
    """A naive local time in the week of Monday 2026-11-23 (day 0) and the next."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, 23, hour, minute, second) + timedelta(days=day)


def test_parse_office_hours() -> None:
    hours = parse_hours(OFFICE)
    assert hours == Hours(
        (
            Window(WEEKDAYS, 450, 690),
            Window(WEEKDAYS, 810, 1020),
            Window(frozenset({5}), 450, 690),
        )
    )


def test_always_open() -> None:
    hours = parse_hours(ALWAYS_OPEN)
    assert hours.windows == (Window(frozenset(range(7)), 0, 1440),)
    for day in range(7):
        for hhmm in ("00:00", "07:30", "12:00", "23:59"):
            assert hours.is_open(at(day, hhmm, 59))
    assert hours.spec() == ALWAYS_OPEN


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("mon", {0}),
        ("sun", {6}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat-mon", {5, 6, 0}),
        ("fri-tue", {4, 5, 6, 0, 1}),
        ("tue-mon", set(range(7))),
        ("mon-mon", {0}),
        ("MON-Fri", {0, 1, 2, 3, 4}),
        ("sat - sun", {5, 6}),
    ],
)
def test_day_ranges(spec: str, days: set[int]) -> None:
    assert parse_hours(f"{spec} 08:00-09:00").windows[0].days == frozenset(days)


@pytest.mark.parametrize(
    "spec",
    [
        "  MON-FRI   07:30-11:30 ,mon-fri 13:30-17:00,  SAT 07:30-11:30  ",
        "mon-fri 07:30 - 11:30, mon-fri 13:30-17:00, sat 7:30-11:30",
        "Mon-Fri\t07:30-11:30,\nmon-fri 13:30-17:00, Sat 07:30-11:30",
    ],
)
def test_case_and_whitespace_tolerant(spec: str) -> None:
    assert parse_hours(spec) == parse_hours(OFFICE)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("mon-fri 07:30-11:30,", "empty entry"),
        ("mon-fri 07:30-11:30,, sat 07:30-11:30", "empty entry"),
        ("monday 07:30-11:30", "'monday'"),
        ("mon-fry 07:30-11:30", "'fry'"),
        ("thứ2 07:30-11:30", "'thứ'"),
        ("mon-wed-fri 07:30-11:30", "'mon-wed-fri'"),
        ("07:30-11:30", "no days"),
        ("mon-fri", "no time range"),
        ("mon-fri 25:00-26:00", "'25:00'"),
        ("mon-fri 07:60-08:00", "'07:60'"),
        ("mon-fri 24:00-24:00", "24:00"),
        ("mon-fri 07:30-24:01", "'24:01'"),
        ("mon-fri 0730-1130", "'0730'"),
        ("mon-fri 07:30", "HH:MM-HH:MM"),
        ("mon-fri 07:30-", "''"),
        ("mon-fri 07:30-11:30-12:00", "HH:MM-HH:MM"),
        ("mon-fri 11:30-07:30", "end must be after start"),
        ("mon-fri 07:30-07:30", "end must be after start"),
        ("mon-fri 7.30-11.30", "'7.30'"),
    ],
)
def test_bad_specs_name_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_hours(spec)
    assert named in info.value.message


def test_24_00_allowed_as_end() -> None:
    hours = parse_hours("sat 20:00-24:00")
    assert hours.windows == (Window(frozenset({5}), 1200, 1440),)
    assert hours.is_open(at(5, "23:59", 59))
    assert not hours.is_open(at(6, "00:00"))


@pytest.mark.parametrize(
    ("day", "hhmm", "second", "open_"),
    [
        (0, "07:29", 59, False),
        (0, "07:30", 0, True),
        (0, "11:29", 59, True),
        (0, "11:30", 0, False),
        (2, "12:30", 0, False),
        (2, "13:30", 0, True),
        (4, "16:59", 30, True),
        (4, "17:00", 0, False),
        (5, "08:00", 0, True),
        (5, "14:00", 0, False),
        (6, "08:00", 0, False),
        (0, "00:00", 0, False),
    ],
)
def test_is_open(day: int, hhmm: str, second: int, open_: bool) -> None:
    assert parse_hours(OFFICE).is_open(at(day, hhmm, second)) is open_


def test_is_open_uses_wall_clock_of_aware_datetimes() -> None:
    hours = parse_hours(OFFICE)
    assert hours.is_open(at(0, "08:00").replace(tzinfo=ICT))
    assert not hours.is_open(at(0, "12:00").replace(tzinfo=ICT))


def test_spec_canonical() -> None:
    spec = "  MON-FRI 7:30-11:30, sat-MON 13:00 - 24:00, Sun 00:00-01:05 "
    assert parse_hours(spec).spec() == "mon-fri 07:30-11:30, sat-mon 13:00-24:00, sun 00:00-01:05"
    assert parse_hours(OFFICE).spec() == OFFICE
    assert parse_hours("tue-mon 08:00-09:00").spec() == "mon-sun 08:00-09:00"


def test_spec_of_hand_built_gapped_window_splits_into_runs() -> None:
    hours = Hours((Window(frozenset({0, 2, 3, 6}), 60, 120),))
    assert hours.spec() == "wed-thu 01:00-02:00, sun-mon 01:00-02:00"  # sun-mon wraps
    again = parse_hours(hours.spec())
    for day in range(7):
        assert again.windows_on(day) == hours.windows_on(day)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": frozenset(), "start": 0, "end": 60},
        {"days": frozenset({7}), "start": 0, "end": 60},
        {"days": frozenset({0}), "start": 60, "end": 60},
        {"days": frozenset({0}), "start": -1, "end": 60},
        {"days": frozenset({0}), "start": 0, "end": 1441},
    ],
)
def test_window_refuses_impossible_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        Window(**kwargs)  # type: ignore[arg-type]


def test_windows_on() -> None:
    hours = parse_hours(
        "mon-fri 13:30-17:00, mon-fri 07:30-11:30, sat 07:30-11:30, mon 07:30-11:30"
    )
    assert hours.windows_on(0) == [("07:30", "11:30"), ("13:30", "17:00")]
    assert hours.windows_on(4) == [("07:30", "11:30"), ("13:30", "17:00")]
    assert hours.windows_on(5) == [("07:30", "11:30")]
    assert hours.windows_on(6) == []
    assert parse_hours(ALWAYS_OPEN).windows_on(3) == [("00:00", "24:00")]
    for bad in (-1, 7):
        with pytest.raises(InvalidRequest):
            hours.windows_on(bad)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(0, "08:00"), at(0, "08:00")),  # open now: now itself
        (at(0, "07:30"), at(0, "07:30")),
        (at(0, "06:00"), at(0, "07:30")),
        (at(0, "07:29", 30), at(0, "07:30")),
        (at(0, "11:30"), at(0, "13:30")),
        (at(0, "12:15"), at(0, "13:30")),
        (at(0, "17:00"), at(1, "07:30")),
        (at(4, "18:00"), at(5, "07:30")),
        (at(5, "11:30"), at(7, "07:30")),  # Saturday noon -> Monday morning
        (at(6, "10:00"), at(7, "07:30")),
    ],
)
def test_next_opening(now: datetime, expected: datetime) -> None:
    assert parse_hours(OFFICE).next_opening(now) == expected


def test_next_opening_a_week_ahead_and_never() -> None:
    weekly = parse_hours("mon 07:30-08:00")
    assert weekly.next_opening(at(0, "08:00")) == at(7, "07:30")
    assert Hours(()).next_opening(at(0, "08:00")) is None
    assert not Hours(()).is_open(at(0, "08:00"))


def test_next_opening_keeps_timezone() -> None:
    now = at(0, "12:00").replace(tzinfo=ICT)
    found = parse_hours(OFFICE).next_opening(now)
    assert found == at(0, "13:30").replace(tzinfo=ICT)
    assert found is not None and found.tzinfo is ICT


@st.composite
def specs(draw: st.DrawFn) -> str:
    """A random valid hours spec, with random case and spacing."""
    entries = []
    for _ in range(draw(st.integers(1, 5))):
        first = draw(st.sampled_from(DAY_NAMES))
        days = first
        if draw(st.booleans()):
            days = f"{first}{draw(st.sampled_from(['-', ' - ']))}{draw(st.sampled_from(DAY_NAMES))}"
        if draw(st.booleans()):
            days = days.upper()
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        entries.append(f"{days} {start // 60}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
    return draw(st.sampled_from([",", ", ", " , "])).join(entries)


moments = st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31))


@given(specs())
def test_spec_round_trips(spec: str) -> None:
    hours = parse_hours(spec)
    assert parse_hours(hours.spec()) == hours
    assert hours.spec() == parse_hours(hours.spec()).spec()


@given(specs(), moments)
def test_is_open_agrees_with_windows_on(spec: str, now: datetime) -> None:
    hours = parse_hours(spec)
    hhmm = f"{now.hour:02d}:{now.minute:02d}"
    in_listed = any(start <= hhmm < end for start, end in hours.windows_on(now.weekday()))
    assert hours.is_open(now) is in_listed


@settings(max_examples=40)
@given(specs(), moments)
def test_next_opening_is_the_first_open_minute(spec: str, now: datetime) -> None:
    hours = parse_hours(spec)
    found = hours.next_opening(now)
    assert found is not None  # every valid spec opens at least weekly
    assert now <= found < now + timedelta(days=8)
    assert hours.is_open(found)
    # Every whole minute strictly between now and the opening is closed.
    probe = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < found:
        assert not hours.is_open(probe)
        probe += timedelta(minutes=1)


@given(
    st.lists(
        st.builds(
            lambda days, start, length: Window(days, start, min(start + length, 1440)),
            st.frozensets(st.integers(0, 6), min_size=1),
            st.integers(0, 1439),
            st.integers(1, 1440),
        ),
        min_size=1,
        max_size=4,
    ),
    moments,
)
def test_spec_of_any_hours_means_the_same(windows: list[Window], now: datetime) -> None:
    hours = Hours(tuple(windows))
    again = parse_hours(hours.spec())
    assert again.is_open(now) is hours.is_open(now)
    assert again.spec() == hours.spec()
