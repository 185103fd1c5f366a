"""Which day a run processes: the batch-day arithmetic and every way a run can start (table-driven)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from modelguard import batch_days
from modelguard.config import ScheduleConfig

UTC = ScheduleConfig()
BERLIN = ScheduleConfig(timezone="Europe/Berlin")
REHEARSAL = ScheduleConfig.model_validate({"batch_deadline": "6h", "rehearsal": {
    "day_length": "4m", "start": "2026-11-29T10:00:00+00:00", "first_day": "2026-10-01"}})


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("interval_start", "schedule", "day"), [
    # The scheduled run after midnight covers the day that just ended.
    ("2026-11-28T00:00:00+00:00", UTC, "2026-11-28"),
    # Berlin's day 2026-11-28 starts at 23:00 UTC the evening before.
    ("2026-11-27T23:00:00+00:00", BERLIN, "2026-11-28"),
    # Across the spring DST change the day is still named by its local midnight.
    ("2026-03-28T23:00:00+00:00", BERLIN, "2026-03-29"),
    # Rehearsal: the third 4-minute interval after the start is the third day.
    ("2026-11-29T10:08:00+00:00", REHEARSAL, "2026-10-03"),
])
def test_a_data_interval_names_its_day(interval_start: str, schedule: ScheduleConfig, day: str) -> None:
    assert batch_days.day_of_interval(at(interval_start), schedule) == day
    # Airflow hands the task pendulum DateTimes: the same day (a pendulum Interval cannot be floor-divided)
    import pendulum

    assert batch_days.day_of_interval(pendulum.instance(at(interval_start)), schedule) == day


@pytest.mark.parametrize(("now", "schedule", "day"), [
    ("2026-11-29T00:30:00+00:00", UTC, "2026-11-28"),
    ("2026-11-29T23:59:00+00:00", UTC, "2026-11-28"),
    # 23:30 UTC is already the 30th in Berlin: the 29th is complete.
    ("2026-11-29T23:30:00+00:00", BERLIN, "2026-11-29"),
    ("2026-11-29T10:09:00+00:00", REHEARSAL, "2026-10-02"),
])
def test_the_latest_complete_day(now: str, schedule: ScheduleConfig, day: str) -> None:
    assert batch_days.latest_complete_day(at(now), schedule) == day


def test_the_deadline_is_the_day_end_plus_the_configured_wait_scaled_in_a_rehearsal() -> None:
    assert batch_days.deadline("2026-11-28", UTC) == at("2026-11-29T06:00:00+00:00")
    assert batch_days.deadline("2026-11-28", BERLIN) == dt.datetime(2026, 11, 29, 6, tzinfo=ZoneInfo("Europe/Berlin"))
    # Day 2026-10-02 ends at 10:08; 6 h of a 4-minute day is 60 s.
    assert batch_days.deadline("2026-10-02", REHEARSAL) == at("2026-11-29T10:09:00+00:00")
    assert batch_days.poke_seconds(REHEARSAL) == 5.0 and batch_days.poke_seconds(UTC) == 300.0


def test_the_rehearsal_clock_maps_wall_time_into_the_batch_day() -> None:
    assert batch_days.batch_clock(at("2026-11-29T10:06:00+00:00"), REHEARSAL) == at("2026-10-02T12:00:00+00:00")


def _context(run_type: str, params: dict | None = None, interval_start: str | None = None,
             events: list[dict] | None = None) -> dict:
    return {
        "params": params or {},
        "dag_run": SimpleNamespace(run_type=run_type),
        "data_interval_start": at(interval_start) if interval_start else None,
        "triggering_asset_events": {"asset": [SimpleNamespace(extra=e) for e in events or []]},
    }


NOW = at("2026-11-29T03:00:00+00:00")


@pytest.mark.parametrize(("context", "days"), [
    pytest.param(_context("scheduled", interval_start="2026-11-28T00:00:00+00:00"), ["2026-11-28"], id="scheduled"),
    pytest.param(_context("backfill", interval_start="2026-11-02T00:00:00+00:00"), ["2026-11-02"], id="backfill"),
    pytest.param(_context("manual", {"batch_id": "2026-11-20"}), ["2026-11-20"], id="manual-with-param"),
    # Airflow 3 manual runs have no logical date by default: the latest complete day, never today.
    pytest.param(_context("manual"), ["2026-11-28"], id="manual-without-param"),
    pytest.param(_context("asset_triggered", events=[{"batch_id": "2026-11-27"}]), ["2026-11-27"], id="one-event"),
    # Coalesced events: a release of an old day and the daily ingest reach one downstream run.
    pytest.param(_context("asset_triggered", events=[{"batch_ids": ["2026-11-25"], "batch_id": "2026-11-25"},
                                                     {"batch_ids": ["2026-11-28"], "batch_id": "2026-11-28"},
                                                     {"batch_ids": ["2026-11-28", "2026-11-26"]}]),
                 ["2026-11-25", "2026-11-26", "2026-11-28"], id="coalesced-events"),
    # An approval event from the registry watcher carries no day: the latest complete day.
    pytest.param(_context("asset_triggered", events=[{"from_trigger": True, "payload": {}}]), ["2026-11-28"],
                 id="registry-event"),
])
def test_every_way_a_run_starts_gives_its_days(context: dict, days: list[str]) -> None:
    from modelguard.dag_support import batch_id_from, batch_ids_from

    assert batch_ids_from(context, now=NOW) == days
    assert batch_id_from(context, now=NOW) == days[-1]
