"""The time window a monitoring run looks at, and the capture folders that can hold it.

SageMaker files each captured record under the UTC hour it was written
(`.../<variant>/yyyy/mm/dd/hh/`), so a window maps to the hour folders it overlaps; the
records themselves are then filtered by their own `inferenceTime`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
HOUR: Final = timedelta(hours=1)


class WindowError(ValueError):
    """A window that cannot be used: unparseable duration, or end before start."""


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `1h`, `2d` or `1w` as a positive timedelta."""
    match = _DURATION.match(text)
    if not match or int(match[1]) == 0:
        raise WindowError(
            f"{text!r} is not a duration; use a positive number and a unit: "
            "s, m, h, d or w (e.g. 30m, 1h, 7d)"
        )
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def utc(moment: datetime) -> datetime:
    """The moment as an aware UTC datetime (naive input is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise WindowError(f"window end {self.end:%Y-%m-%dT%H:%M:%SZ} is not after its start")

    @classmethod
    def last(cls, since: timedelta | str, end: datetime | None = None) -> Window:
        """The `since` long window that ends at `end` (default: now)."""
        span = parse_duration(since) if isinstance(since, str) else since
        finish = utc(end) if end is not None else datetime.now(UTC)
        return cls(finish - span, finish)

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= utc(moment) < self.end

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def day(self) -> str:
        """The UTC day the window ends in (what a day-long deduplication is keyed by)."""
        return (self.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")

    def hours(self) -> Iterator[datetime]:
        """The start of every UTC hour the window overlaps, oldest first."""
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        while hour < self.end:
            yield hour
            hour += HOUR

    def to_dict(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end)}


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as SageMaker and EventBridge write times."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def hour_folder(hour: datetime) -> str:
    """`yyyy/mm/dd/hh`: SageMaker's folder for records captured in that UTC hour."""
    return utc(hour).strftime("%Y/%m/%d/%H")
