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


def score_batch(batch_id: str) -> dict:
    from modelguard.score import score_batch as run

    return run(load_config(), batch_id)


def drift_report(batch_id: str) -> dict:
    from modelguard.monitor import drift_report as run

    return run(load_config(), batch_id)


def measure_performance(batch_id: str) -> dict:
    from modelguard.monitor import measure_performance as run

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
