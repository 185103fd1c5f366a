"""`modelguard init`: the first champion, the expectation suites and the reference profile. Idempotent."""

from __future__ import annotations

import re

import pandas as pd

from modelguard import alias_lock, decisions, model
from modelguard.config import CLASS_NAME, PipelineConfig, model_version_uri
from modelguard.registry import ADOPTED_FROM_TAG, CHAMPION, Registry, RegistryUnavailable
from modelguard.storage import Lake
from modelguard.suites import build_batch_suite, build_label_suite
from modelguard.task_kinds import class_key, task_kind

REFERENCE_HOLDOUT_SHARE = 0.2


def reference_classes(target: pd.Series) -> list:
    """A multiclass target's classes, as the reference data holds them: sorted, integers as integers."""
    keys = {class_key(v) for v in target.dropna().unique()}
    codes = sorted(int(k) for k in keys if re.fullmatch(r"-?\d+", k))
    names = sorted(k for k in keys if not re.fullmatch(r"-?\d+", k))
    if len(keys) < 3:
        raise ValueError(f"reference data: {target.name} has {len(keys)} classes ({sorted(keys)}); a multiclass "
                         "model needs at least 3 (two: task binary_classification)")
    bad = [k for k in names if not CLASS_NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"reference data: {target.name} class {bad[0]!r} cannot name a column or metric; list "
                         "model.classes with names of letters, digits, '_', '.', '-'")
    return [*codes, *names]


def reference_output(profile: dict) -> dict | None:
    """The first champion's outputs on the reference holdout, as init profiled them (`output`); a profile
    written before outputs were profiled by kind held the binary positive rate alone."""
    if profile.get("output"):
        return profile["output"]
    rate = profile.get("predicted_positive_rate")
    return {"predicted_positive_rate": rate} if rate is not None else None


def time_split(frame: pd.DataFrame, timestamp_column: str | None, holdout_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier rows to train on, about the latest `holdout_share` to evaluate on (no look-ahead).

    With timestamps the cut falls on a day boundary, so the holdout has whole days (a partial day
    would skew time-of-day features and look like drift against every batch).
    """
    if not timestamp_column:
        cut = int(len(frame) * (1 - holdout_share))
        return frame.iloc[:cut], frame.iloc[cut:]
    days = pd.to_datetime(frame[timestamp_column]).dt.floor("D")
    cut_day = days.sort_values().iloc[int(len(frame) * (1 - holdout_share))]
    if cut_day == days.min():
        cut_day = days.max()
    return frame[days < cut_day], frame[days >= cut_day]


def initialise(config: PipelineConfig, champion: str | None = None, rebase_reference: bool = False) -> dict:
    """Build suites and profile from `reference/train.parquet`, train and register the first champion.

    With `champion` (default `model.champion`), a `models:/<name>/<version>` URI of the project's own
    registry, the first champion is that version, adopted as it is (not retrained) when the registered model
    has no champion yet; its baseline is its score on the same reference holdout.

    Idempotent: once written, the reference profile and scores stay the first champion's (what drift and
    output anomalies are judged against), whichever version serves now. `rebase_reference` rebuilds them
    with the current champion, and records that with a line in the decision log.
    """
    source = champion or config.model.champion
    if source:
        model_version_uri(source)  # a malformed URI is refused before anything is written
    lake = Lake(config.storage_root)
    if not lake.reference_train.exists():
        raise FileNotFoundError(f"no reference data at {lake.reference_train}; run `modelguard simulate` or add it")
    reference = pd.read_parquet(lake.reference_train)
    missing = [c for c in [config.model.target, config.model.id_column] if c not in reference.columns]
    if missing:
        raise ValueError(f"reference data lacks columns: {', '.join(missing)}")

    if config.model.task == "multiclass_classification" and config.model.classes is None:
        config = config.model_copy(update={"model": config.model.model_copy(
            update={"classes": reference_classes(reference[config.model.target])})})
    known = task_kind(config.model).label_values
    if known is not None:  # the label suite will refuse any other value: say so now, not on every label file
        unexpected = set(reference[config.model.target].dropna().unique()) - set(known)
        if unexpected:
            raise ValueError(f"reference data: {config.model.target} holds {sorted(map(str, unexpected))[:5]}, not "
                             f"among the classes {list(known)} ({'model.classes' if len(known) > 2 else 'binary: 0/1'})")
    lake.write_json(build_batch_suite(reference, config), lake.expectation_suite("batches"))
    lake.write_json(build_label_suite(config), lake.expectation_suite("labels"))

    registry = Registry(config)
    reference_hash = model.data_hash(reference)
    current = registry.by_alias(CHAMPION)
    train, holdout = time_split(reference, config.model.timestamp_column, REFERENCE_HOLDOUT_SHARE)
    first = current is None  # a first champion now: any profile in the lake is another model's
    if first:
        version = _adopt(config, registry, source, holdout, reference_hash) if source \
            else _train_first(config, registry, train, holdout, reference_hash)
        with alias_lock.hold(config, "init", registry=registry) as lock:  # set last: the version is complete
            lock.set(CHAMPION, version, expect=None)  # a concurrent init that set one first wins; rerun init
        current = registry.by_alias(CHAMPION)
    adopted = registry.find_by_tag(ADOPTED_FROM_TAG, source) if source else None
    kept = None if first else lake.read_json(lake.reference_profile)
    rebased = bool(kept) and rebase_reference
    if kept and lake.reference_scored.exists() and not rebase_reference:
        profile = kept  # a rerun after a promotion keeps the drift references
    else:
        # the profiled version: the one an earlier init profiled (its scores file lost), else the champion
        profiled = registry.get(kept["champion_version"]) if kept and not rebase_reference else current
        if profiled is None:
            raise ValueError(f"the reference profile names v{kept['champion_version']}, which the registry no "
                             "longer has; run `modelguard init --rebase-reference` to profile the current champion")
        profile = _profile(config, lake, registry.load(profiled.version), profiled, holdout, len(reference),
                           reference_hash)
        if rebased:
            decisions.record(lake, batch_id=None, dag_id="modelguard_init", action="no_action",
                             alert="reference_rebased", model_version=profiled.version,
                             previous_reference=kept.get("champion_version"),
                             reason=f"reference profile re-based on v{profiled.version} (was "
                                    f"v{kept.get('champion_version')}) by `modelguard init --rebase-reference`")
    return {"champion_version": current.version, "reference_rows": len(reference),
            "adopted_from": current.tags.get(ADOPTED_FROM_TAG), "adopted": adopted.version if adopted else None,
            "reference_version": profile["champion_version"], "reference_rebased": rebased, **profile["baseline"]}


def _profile(config: PipelineConfig, lake: Lake, estimator, version, holdout: pd.DataFrame, rows: int,
             reference_hash: str) -> dict:
    """Score the reference holdout with `version` and write `reference/scored.parquet` and `profile.json`."""
    kind = task_kind(config.model)
    scored = holdout.copy()
    scores = model.predict_scores(estimator, config.model, holdout)
    scored["score"] = kind.summary(scores)  # what drift compares each day's champion scores with
    lake.write_parquet(scored, lake.reference_scored)
    profile = {
        "rows": rows,
        "data_hash": reference_hash,
        "champion_version": version.version,
        # the champion's outputs on the holdout (e.g. predicted_positive_rate): what output anomalies are judged by
        "output": kind.output(pd.Series(kind.decision(scores))),
        **({"classes": list(config.model.classes)} if config.model.classes else {}),
        "baseline": {k.removeprefix("metric_"): float(v) for k, v in version.tags.items() if k.startswith("metric_")},
    }
    lake.write_json(profile, lake.reference_profile)
    return profile


def _metric_tags(metrics: dict[str, float]) -> dict[str, float]:
    return {f"metric_{k}": round(v, 5) for k, v in metrics.items()}


def _train_first(config: PipelineConfig, registry: Registry, train: pd.DataFrame, holdout: pd.DataFrame,
                 reference_hash: str) -> str:
    """Train the first champion with `model.estimator` on the reference, evaluated on its holdout."""
    estimator = model.fit(config.model, train)
    scores = model.predict_scores(estimator, config.model, holdout)
    metrics = model.evaluate(config.model, holdout[config.model.target], scores)
    version, _ = registry.register(
        estimator,
        train_key=f"init:{reference_hash}",
        run_name="champion-init",
        metrics=metrics,
        tags={"trigger": "init", "train_window": "reference", "train_rows": len(train),
              # no `approval`: the first champion is the operator's choice at init (trigger=init), never an
              # approval a person gave in the registry, which only the registry server may attest
              "data_hash": reference_hash, "promoted_by": "modelguard init",
              **_metric_tags(metrics)},
    )
    return version


def _adopt(config: PipelineConfig, registry: Registry, uri: str, holdout: pd.DataFrame, reference_hash: str) -> str:
    """Copy the team's version `uri` into the pipeline's registered model, untrained; its baseline metrics are
    its scores on the reference holdout. Nothing is written to the registry unless it loads and scores."""
    existing = registry.find_by_tag(ADOPTED_FROM_TAG, uri)
    if existing is not None:
        return existing.version
    try:
        estimator = registry.load_source(uri)
    except (ValueError, RegistryUnavailable):
        raise
    except Exception as error:  # noqa: BLE001 - a model that does not load (missing library, broken artifact)
        raise ValueError(f"{uri} does not load: {str(error).splitlines()[0][:300]}") from None
    try:
        scores = model.predict_scores(estimator, config.model, holdout)
    except Exception as error:  # noqa: BLE001 - wrong columns, a schema it enforces, labels instead of scores
        raise ValueError(f"{uri} cannot score the reference data: {str(error).splitlines()[0][:500]}") from None
    metrics = model.evaluate(config.model, holdout[config.model.target], scores)
    version, _ = registry.adopt(uri, tags={
        "trigger": "init", "train_window": "external", "data_hash": reference_hash,
        "promoted_by": "modelguard init --champion", **_metric_tags(metrics)})
    return version
