"""Session hours of a service (lĩnh vực): parsing, checking and showing them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from server.engine.errors import InvalidRequest

ALWAYS_OPEN = "mon-sun 00:00-24:00"

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_INDEX = {name: index for index, name in enumerate(DAY_NAMES)}
_MINUTES_PER_DAY = 24 * 60
# A closed week and a window later on the same weekday both fall within 8 days.
_SEARCH_DAYS = 8
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")


@dataclass(frozen=True)
class Window:
    """One session: open from `start` to `end` (minutes after midnight) on `days` (0=Monday)."""

    days: frozenset[int]
    start: int
    end: int

    def __post_init__(self) -> None:
        """Refuse a window that no spec could describe, so every Window is sound."""
        if not self.days or not self.days <= frozenset(range(7)):
            raise InvalidRequest(f"window days must be a non-empty set of 0..6, got {self.days}")
        if not 0 <= self.start < self.end <= _MINUTES_PER_DAY:
            raise InvalidRequest(
                f"window must have 0 <= start < end <= 1440 minutes, got {self.start}-{self.end}"
            )

    def covers(self, weekday: int, minute: int) -> bool:
        """Whether the window is open at `minute` after midnight of `weekday`."""
        return weekday in self.days and self.start <= minute < self.end


@dataclass(frozen=True)
class Hours:
    """The session hours of a service: open whenever any of its windows is."""

    windows: tuple[Window, ...]

    def is_open(self, local: datetime) -> bool:
        """Whether the service is in session at the site's local wall-clock time `local`."""
        minute = local.hour * 60 + local.minute
        return any(w.covers(local.weekday(), minute) for w in self.windows)

    def spec(self) -> str:
        """The canonical text form, which parse_hours reads back to equal hours."""
        return ", ".join(
            f"{days} {_format_minute(w.start)}-{_format_minute(w.end)}"
            for w in self.windows
            for days in _day_runs(w.days)
        )

    def next_opening(self, local: datetime) -> datetime | None:
        """The first local time >= `local` when it is open, within 8 days; None if never."""
        if self.is_open(local):
            return local
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(_SEARCH_DAYS):
            weekday = (local.weekday() + offset) % 7
            day = midnight + timedelta(days=offset)
            starts = sorted(w.start for w in self.windows if weekday in w.days)
            for start in starts:
                candidate = day + timedelta(minutes=start)
                if candidate >= local:
                    return candidate
        return None

    def windows_on(self, weekday: int) -> list[tuple[str, str]]:
        """The sessions of `weekday` (0=Monday) as sorted ("HH:MM", "HH:MM") pairs."""
        if weekday not in range(7):
            raise InvalidRequest(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
        spans = sorted({(w.start, w.end) for w in self.windows if weekday in w.days})
        return [(_format_minute(start), _format_minute(end)) for start, end in spans]


@lru_cache(maxsize=256)  # every issue checks its service's hours: parse each spec once
def parse_hours(spec: str) -> Hours:
    """Parse `DAYS HH:MM-HH:MM, ...` (e.g. "mon-fri 07:30-11:30, sat 07:30-11:30")."""
    if not spec.strip():
        raise InvalidRequest("hours spec is empty; expected e.g. 'mon-fri 07:30-11:30'")
    windows = []
    for part in spec.split(","):
        if not part.strip():
            raise InvalidRequest(f"hours spec {spec!r} has an empty entry (a stray comma?)")
        windows.append(_parse_window(part))
    return Hours(tuple(windows))


def _parse_window(part: str) -> Window:
    """Parse one `DAYS HH:MM-HH:MM` entry."""
    text = part.strip().lower()
    # Days are letters and times digits, so the first digit splits the entry unambiguously.
    match = re.search(r"[0-9]", text)
    if match is None:
        raise InvalidRequest(f"hours entry {part.strip()!r} has no time range (HH:MM-HH:MM)")
    days_text, times_text = text[: match.start()].strip(), text[match.start() :]
    if not days_text:
        raise InvalidRequest(f"hours entry {part.strip()!r} has no days (e.g. 'mon-fri')")
    days = _parse_days(days_text, part)
    bounds = [b.strip() for b in times_text.split("-")]
    if len(bounds) != 2:
        raise InvalidRequest(f"bad time range {times_text.strip()!r}: expected HH:MM-HH:MM")
    start = _parse_time(bounds[0], is_end=False)
    end = _parse_time(bounds[1], is_end=True)
    if end <= start:
        raise InvalidRequest(f"bad time range {times_text.strip()!r}: end must be after start")
    return Window(days, start, end)


def _parse_days(text: str, part: str) -> frozenset[int]:
    """Parse `mon` or a range `mon-fri`; a range may wrap past Sunday (`sat-mon`)."""
    names = [n.strip() for n in text.split("-")]
    if len(names) > 2:
        raise InvalidRequest(f"bad days {text!r} in {part.strip()!r}: expected 'mon' or 'mon-fri'")
    for name in names:
        if name not in _DAY_INDEX:
            raise InvalidRequest(
                f"bad day {name!r} in {part.strip()!r}: expected one of {', '.join(DAY_NAMES)}"
            )
    first, last = _DAY_INDEX[names[0]], _DAY_INDEX[names[-1]]
    return frozenset((first + i) % 7 for i in range((last - first) % 7 + 1))


def _parse_time(text: str, *, is_end: bool) -> int:
    """Parse HH:MM into minutes after midnight; 24:00 only as an end."""
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise InvalidRequest(f"bad time {text!r}: expected HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24 and minute == 0:
        if not is_end:
            raise InvalidRequest("bad time '24:00': allowed only as the end of a range")
        return _MINUTES_PER_DAY
    if hour > 23 or minute > 59:
        raise InvalidRequest(f"bad time {text!r}: hours run 00-23 and minutes 00-59")
    return hour * 60 + minute


def _format_minute(minute: int) -> str:
    """Minutes after midnight as HH:MM (1440 is 24:00)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_runs(days: frozenset[int]) -> list[str]:
    """The days as `mon`/`mon-fri` runs; one run unless a hand-built window has gaps."""
    if len(days) == 7:
        return ["mon-sun"]
    # A run starts on a day whose previous day is absent, which also finds wrapping runs.
    runs = []
    for first in sorted(d for d in days if (d - 1) % 7 not in days):
        last = first
        while (last + 1) % 7 in days:
            last = (last + 1) % 7
        name = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]}-{DAY_NAMES[last]}"
        runs.append(name)
    return runs
