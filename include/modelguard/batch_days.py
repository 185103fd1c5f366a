"""Which batch day a moment belongs to: pure functions of the `schedule` config (no Airflow, no I/O).

A batch day is a calendar day in `schedule.timezone`. Under `schedule.rehearsal` time is compressed:
batch day `first_day + n` runs from `start + n * day_length` to `start + (n + 1) * day_length` of
wall-clock time, and waits (the batch deadline, the poke interval) shrink by the same factor.
Light on purpose: DAG files import it at parse time.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from modelguard.config import ScheduleConfig

DAY = dt.timedelta(days=1)
_CANONICAL_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Set by `modelguard replay` while it runs a day's cycle: that day is "today" for its runs' `batch_id` Param (a
# simulated timeline may lie anywhere on the calendar). Only a process's own environment sets it, never a conf.
REPLAY_DAY_ENV = "MODELGUARD_REPLAY_DAY"


def parse_batch_id(batch_id: object) -> dt.date:
    """A batch id is a batch day written YYYY-MM-DD, and nothing else. The canonical form only: Python 3.11's
    `date.fromisoformat` also reads `20261001` and `2026-W40-1`, which would name other files than the day's."""
    if isinstance(batch_id, str) and _CANONICAL_DAY.fullmatch(batch_id):
        try:
            return dt.date.fromisoformat(batch_id)
        except ValueError:
            pass
    raise ValueError(f"batch_id must be a date YYYY-MM-DD, got {batch_id!r}")


def is_batch_id(value: object) -> bool:
    """Does `value` name a batch day (YYYY-MM-DD)?"""
    try:
        parse_batch_id(value)
    except ValueError:
        return False
    return True


def requested_day(value: object, now: dt.datetime, schedule: ScheduleConfig, name: str = "Param batch_id",
                  today: dt.date | None = None) -> str:
    """A day a person asked for (a DAG's `batch_id` Param, a CLI argument): a batch day that has begun at `now`.

    A later day is refused: its files cannot have landed, and acting on it would, e.g., expire every pending
    approval. Days from data intervals, asset events and the lake are not checked here (a simulated timeline
    may lie anywhere on the calendar). `today` overrides the clock (a replay's day).
    """
    try:
        day = parse_batch_id(value)
    except ValueError:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, got {value!r}; nothing was done") from None
    clock = ("in the replay" if today else "on the rehearsal's clock" if schedule.rehearsal
             else f"in {schedule.timezone}")
    today = today or day_at(now, schedule)
    if day > today:
        raise ValueError(f"{name} {value} is after today ({today.isoformat()} {clock}): a day is processed only "
                         "once it has begun; nothing was done")
    return str(value)


def _aware(moment: dt.datetime) -> dt.datetime:
    """A plain, timezone-aware UTC datetime: Airflow hands pendulum DateTimes, whose differences are
    pendulum Intervals that cannot be floor-divided by a timedelta."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    m = moment.astimezone(dt.UTC)
    return dt.datetime(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=dt.UTC)


def scale(schedule: ScheduleConfig) -> float:
    """Wall-clock seconds per batch-day second (1 outside a rehearsal)."""
    return schedule.rehearsal.day_length / DAY if schedule.rehearsal else 1.0


def wall_duration(schedule: ScheduleConfig, duration: dt.timedelta) -> dt.timedelta:
    """A duration in batch time (a deadline, a wait) as wall-clock time."""
    return duration * scale(schedule)


def day_at(moment: dt.datetime, schedule: ScheduleConfig) -> dt.date:
    """The batch day a wall-clock instant falls in."""
    moment = _aware(moment)
    if schedule.rehearsal:
        r = schedule.rehearsal
        return r.first_day + dt.timedelta(days=(moment - r.start) // r.day_length)
    return moment.astimezone(ZoneInfo(schedule.timezone)).date()


def day_of_interval(interval_start: dt.datetime, schedule: ScheduleConfig) -> str:
    """The batch day of a scheduled run: the day its data interval covers (the day that just ended)."""
    # A small nudge past the start, so an interval that starts exactly at midnight is that day.
    return day_at(_aware(interval_start) + dt.timedelta(microseconds=1), schedule).isoformat()


def latest_complete_day(now: dt.datetime, schedule: ScheduleConfig) -> str:
    """The last batch day that has fully ended at `now` (what a manual run without a day processes)."""
    return (day_at(now, schedule) - DAY).isoformat()


def day_start(batch_id: str, schedule: ScheduleConfig) -> dt.datetime:
    """The wall-clock instant a batch day begins (timezone-aware)."""
    day = dt.date.fromisoformat(batch_id)
    if schedule.rehearsal:
        r = schedule.rehearsal
        return r.start + (day - r.first_day).days * r.day_length
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(schedule.timezone))


def day_end(batch_id: str, schedule: ScheduleConfig) -> dt.datetime:
    """The wall-clock instant a batch day ends (the next day's start; DST-safe in the zone)."""
    return day_start((dt.date.fromisoformat(batch_id) + DAY).isoformat(), schedule)


def deadline(batch_id: str, schedule: ScheduleConfig) -> dt.datetime:
    """Until when ingest waits for the day's file before it records `missing_batch`."""
    return day_end(batch_id, schedule) + wall_duration(schedule, schedule.batch_deadline)


def poke_seconds(schedule: ScheduleConfig) -> float:
    """How often (wall-clock seconds) ingest looks for a late file; never more often than every 5 s."""
    return max(5.0, wall_duration(schedule, schedule.poke_interval).total_seconds())


def batch_clock(now: dt.datetime, schedule: ScheduleConfig) -> dt.datetime:
    """`now` on the batch clock (timezone-aware): rows stamped after it come from the future."""
    now = _aware(now)
    if not schedule.rehearsal:
        return now
    r = schedule.rehearsal
    into = (now - r.start) / scale(schedule)
    first = dt.datetime.combine(r.first_day, dt.time(), tzinfo=ZoneInfo(schedule.timezone))
    return first + into
