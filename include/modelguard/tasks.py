"""The functions DAG tasks call: plain values in (batch ids, versions), small JSON-able dicts out.

Each loads the config once (`$MODELGUARD_CONFIG` or the default) and hands it to a stage module.
"""

from __future__ import annotations

from modelguard.config import load_config


def ingest_labels(batch_id: str) -> dict:
    from modelguard.ingest import ingest_labels as run

    return run(load_config(), batch_id)


def ingest_batch(batch_id: str) -> dict:
    from modelguard.ingest import ingest_batch as run

    return run(load_config(), batch_id)


def release_batch(batch_id: str) -> dict:
    from modelguard.ingest import release_batch as run

    return run(load_config(), batch_id)


def release_labels(batch_id: str) -> dict:
    from modelguard.ingest import release_labels as run

    return run(load_config(), batch_id)


def score_batch(batch_id: str) -> dict:
    from modelguard.score import score_batch as run

    return run(load_config(), batch_id)


def drift_report(batch_id: str) -> dict:
    from modelguard.drift import drift_report as run

    return run(load_config(), batch_id)


def measure_performance(batch_id: str) -> dict:
    from modelguard.performance import measure_performance as run

    return run(load_config(), batch_id)


def assess(batch_id: str) -> dict:
    from modelguard.monitor import assess as run

    return run(load_config(), batch_id)


def challenge(batch_id: str, trigger: str | None = None) -> dict:
    from modelguard.challenge import challenge as run

    return run(load_config(), batch_id, trigger=trigger)


def promote(batch_id: str, version: str | None = None, force: bool = False, by: str = "modelguard") -> dict:
    from modelguard.promote import promote as run

    return run(load_config(), batch_id, version=version, force=force, by=by)


def rollback(batch_id: str, version: str | None = None, by: str = "modelguard") -> dict:
    from modelguard.promote import rollback as run

    return run(load_config(), batch_id, version=version, by=by)


def batch_arrival(batch_id: str, wait: bool) -> dict:
    """Has the day's file landed? `waiting` while a scheduled run should keep looking (before the deadline)."""
    import datetime as dt

    from modelguard.batch_days import deadline
    from modelguard.storage import Lake

    config = load_config()
    arrived = Lake(config.storage_root).landing("batches", batch_id) is not None
    until = deadline(batch_id, config.schedule)
    waiting = wait and not arrived and dt.datetime.now(dt.UTC) < until
    return {"batch_id": batch_id, "arrived": arrived, "waiting": waiting, "deadline": until.isoformat()}


# Downstream DAGs run on asset events, which coalesce: one run may carry several days. Each is
# processed, oldest first, so no day is dropped and the policy sees them in order.


def _each(days: list[str], step) -> list[dict]:
    return [step(day) for day in sorted(set(days))]


def score_batches(batch_ids: list[str]) -> dict:
    results = _each(batch_ids, score_batch)
    return {"batch_ids": [r["batch_id"] for r in results], "statuses": {r["batch_id"]: r["status"] for r in results}}


def drift_reports(batch_ids: list[str]) -> list[dict]:
    return _each(batch_ids, drift_report)


def measure_performances(batch_ids: list[str]) -> list[dict]:
    return _each(batch_ids, measure_performance)


def assess_days(batch_ids: list[str]) -> dict:
    """Assess each day in order; says which days ask for a retrain (and why) or a rollback."""
    results = _each(batch_ids, assess)
    return {"batch_ids": [r["batch_id"] for r in results],
            "retrain": {r["batch_id"]: r["retrain"] for r in results if r["retrain"]},
            "rollback": [r["batch_id"] for r in results if r["rollback"]],
            "actions": {r["batch_id"]: r["actions"] for r in results}}


def challenge_days(batch_ids: list[str], trigger: str | None = None) -> list[dict]:
    return _each(batch_ids, lambda day: challenge(day, trigger=trigger))


def promote_days(batch_ids: list[str], version: str | None = None, force: bool = False,
                 by: str = "modelguard") -> list[dict]:
    return _each(batch_ids, lambda day: promote(day, version=version, force=force, by=by))


def rollback_days(batch_ids: list[str], version: str | None = None, by: str = "modelguard") -> list[dict]:
    return _each(batch_ids, lambda day: rollback(day, version=version, by=by))
